package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func TestParseThreadsCanonical(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{`theme = "themes/joint-programmes"`, `theme = "themes/joint-programmes"`},
		{`theme=joint-programmes`, `theme = "themes/joint-programmes"`},
		{`kind = FOLLOW_UP`, `kind = "THREAD_KIND_FOLLOW_UP"`},
		{`kind = THREAD_KIND_FOLLOW_UP`, `kind = "THREAD_KIND_FOLLOW_UP"`},
		{`state != LOCKED`, `state != "THREAD_STATE_LOCKED"`},
		{`tags:health`, `tag = "health"`},
		{`tag = "health" AND tag = "a"`, `tag = "a" AND tag = "health"`},
		{`state = OPEN AND theme = x AND state = OPEN`, `state = "THREAD_STATE_OPEN" AND theme = "themes/x"`},
		{`author.organization = vso AND author.country = "BR"`, `author.country = "BR" AND author.organization = "organizations/vso"`},
		{`author = "users/12" AND follow_up_of = threads/3 AND pinned = true`, `author = "users/12" AND follow_up_of = "threads/3" AND pinned = "true"`},
		{"theme\t=\n\"themes/a\"", `theme = "themes/a"`},
	}
	for _, tt := range tests {
		f, err := ParseThreads(tt.in)
		if err != nil {
			t.Errorf("ParseThreads(%q): %v", tt.in, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseThreads(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := ParseThreads(f.String())
		if err != nil || again.String() != f.String() {
			t.Errorf("re-parse of %q: %v %q", f.String(), err, again)
		}
	}
}

func TestParseThreadsErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{`colour = red`, `unknown field "colour"`},
		{`theme = `, "expected a value"},
		{`theme = "x`, "unterminated string"},
		{`theme = "x\`, "unterminated string"},
		{`state = OPEN OR state = RESOLVED`, "OR is not supported"},
		{`state = OPEN and state = RESOLVED`, "AND (uppercase)"},
		{`NOT state = OPEN`, "NOT is not supported"},
		{`-state = OPEN`, "not supported"},
		{`(state = OPEN)`, "parentheses"},
		{`reply_count > 3`, `unknown field "reply_count"`},
		{`state > OPEN`, "not supported"},
		{`state OPEN`, "expected = or !="},
		{`state = WAITING`, "is not one of LOCKED, OPEN, RESOLVED"},
		{`state = UNSPECIFIED`, "is not one of"},
		{`kind = discussion`, "is not one of"},
		{`pinned = yes`, "true or false"},
		{`author.country = ke`, "alpha-2"},
		{`author.organization = "Bad Org"`, "not an organization"},
		{`theme = "Bad Theme"`, "is not a theme"},
		{`author = "bob"`, "is not a user name"},
		{`follow_up_of = "threads/abc"`, "is not a thread name"},
		{`state:OPEN`, "applies only to tags"},
		{`state = OPEN AND`, "expected a comparison"},
		{`AND state = OPEN`, "expected a comparison before AND"},
		{`state = OPEN state = OPEN`, "join comparisons with AND"},
		{`state = OPEN; drop`, "join comparisons with AND"},
		{strings.Repeat("tag = a AND ", 20) + "tag = b", "at most 20 comparisons"},
		{strings.Repeat(" ", MaxLen+1), "longer than"},
	}
	for _, tt := range tests {
		_, err := ParseThreads(tt.in)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("ParseThreads(%q) = %v, want *Error", tt.in, err)
			continue
		}
		if !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseThreads(%q) = %q, want it to say %q", tt.in, fe.Msg, tt.msg)
		}
	}
}

func TestMatch(t *testing.T) {
	th := &forumv1.Thread{
		Theme: "themes/a", Author: "users/1", Kind: forumv1.ThreadKind_THREAD_KIND_QUESTION,
		State: forumv1.ThreadState_THREAD_STATE_OPEN, Tags: []string{"x", "y"}, Pinned: true,
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{"", true},
		{"theme = a", true},
		{"theme = b", false},
		{"theme != b", true},
		{"kind = QUESTION AND state = OPEN", true},
		{"kind = QUESTION AND state = RESOLVED", false},
		{"tag = x AND tag = y", true},
		{"tag = z", false},
		{"tag != z", true},
		{"pinned = true", true},
		{"pinned = false", false},
		{`author = "users/1"`, true},
		{`follow_up_of = "threads/1"`, false},
		{`author.organization = "organizations/vso"`, true},
		{`author.organization = other`, false},
		{`author.country = KE`, true},
		{`author.country != KE`, false},
	}
	author := &forumv1.User{Name: "users/1", Organization: "organizations/vso", Country: "KE"}
	for _, tt := range tests {
		f, err := ParseThreads(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(th, author); got != tt.want {
			t.Errorf("%q.Match = %v, want %v", tt.filter, got, tt.want)
		}
	}
	var nilFilter *Threads
	if !nilFilter.Match(th, nil) || nilFilter.String() != "" {
		t.Error("a nil filter must match everything")
	}
}

func TestTheme(t *testing.T) {
	for _, tt := range []struct {
		filter string
		theme  string
		ok     bool
	}{
		{"", "", false},
		{"theme = a", "themes/a", true},
		{"theme = a AND state = OPEN", "themes/a", true},
		{"theme = a AND theme = b", "", false},
		{"theme != a", "", false},
	} {
		f, _ := ParseThreads(tt.filter)
		theme, ok := f.Theme()
		if ok != tt.ok || (ok && theme != tt.theme) {
			t.Errorf("%q.Theme() = %q, %v", tt.filter, theme, ok)
		}
	}
}

func FuzzParseThreads(f *testing.F) {
	for _, s := range []string{"", `theme = "themes/a" AND state = OPEN`, `tags:x`, `kind != FOLLOW_UP`, `a = "\"`, "pinned = true AND author = users/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseThreads(s)
		if err != nil {
			return
		}
		again, err := ParseThreads(p.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", p.String(), s, err)
		}
		if again.String() != p.String() {
			t.Fatalf("canonical form not stable: %q → %q", p.String(), again.String())
		}
	})
}

func ExampleParseThreads() {
	f, err := ParseThreads(`theme = joint-programmes AND kind = FOLLOW_UP AND tags:health`)
	if err != nil {
		panic(err)
	}
	fmt.Println(f)
	fmt.Println(f.Match(&forumv1.Thread{Theme: "themes/joint-programmes", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, Tags: []string{"health"}}, nil))
	// Output:
	// kind = "THREAD_KIND_FOLLOW_UP" AND tag = "health" AND theme = "themes/joint-programmes"
	// true
}
