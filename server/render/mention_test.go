package render

import (
	"slices"
	"strings"
	"testing"
)

// TestMentions checks which `@name`s are mentions, and that each becomes a
// link of class "mention" to MentionPath+name.
func TestMentions(t *testing.T) {
	r := New()
	for _, c := range []struct {
		md    string
		want  []string
		links int // mention links in the HTML
	}{
		{"@ana, can you answer?", []string{"ana"}, 1},
		{"Thanks @Ana.", []string{"ana"}, 1},
		{"@ana and @bob.k and @ana again", []string{"ana", "bob.k"}, 3},
		{"`@ana` in code", nil, 0},
		{"```\n@ana\n```", nil, 0},
		{"    @ana indented code", nil, 0},
		{"> @ana said so", nil, 1},
		{"> quoted\n\n@bob outside", []string{"bob"}, 1},
		{"write to ana@example.org", nil, 0},
		{"@ab is too short", nil, 0},
		{"@1ana starts with a digit", nil, 0},
		{"@@ana", nil, 0},
		{"see @https://example.org", nil, 0},
		{"a path /x@ana", nil, 0},
		{"@" + strings.Repeat("a", 33) + " too long", nil, 0},
		{"@volunteers-kenya- group", []string{"volunteers-kenya"}, 1},
		{"**@ana** in bold", []string{"ana"}, 1},
	} {
		html, got, err := r.Post(c.md)
		if err != nil {
			t.Fatalf("%q: %v", c.md, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q mentions %q, want %q", c.md, got, c.want)
		}
		if n := strings.Count(html, `class="mention"`); n != c.links {
			t.Errorf("%q: %d mention links in %s, want %d", c.md, n, html, c.links)
		}
		if m := r.Mentions(c.md); !slices.Equal(m, c.want) {
			t.Errorf("Mentions(%q) = %q, want %q", c.md, m, c.want)
		}
	}
	html, _, _ := r.Post("hi @ana")
	if want := `<a href="/u/ana" class="mention" rel="nofollow">@ana</a>`; !strings.Contains(html, want) {
		t.Errorf("HTML %s, want it to hold %s", html, want)
	}
}
