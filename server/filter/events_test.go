package filter

import (
	"errors"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func TestEventTypeName(t *testing.T) {
	tests := []struct {
		t    forumv1.EventType
		want string
	}{
		{forumv1.EventType_EVENT_TYPE_THREAD_CREATED, "thread.created"},
		{forumv1.EventType_EVENT_TYPE_REPLY_DELETED, "reply.deleted"},
		{forumv1.EventType_EVENT_TYPE_API_TOKEN_CREATED, "api_token.created"},
		{forumv1.EventType_EVENT_TYPE_UNSPECIFIED, ""},
		{forumv1.EventType(999), ""},
	}
	for _, tt := range tests {
		if got := EventTypeName(tt.t); got != tt.want {
			t.Errorf("EventTypeName(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	// Every type's short form and enum name parse back to it.
	for v := range forumv1.EventType_name {
		typ := forumv1.EventType(v)
		if typ == 0 {
			if _, ok := ParseEventType("EVENT_TYPE_UNSPECIFIED"); ok {
				t.Error("EVENT_TYPE_UNSPECIFIED parses")
			}
			continue
		}
		for _, s := range []string{EventTypeName(typ), typ.String()} {
			if got, ok := ParseEventType(s); !ok || got != typ {
				t.Errorf("ParseEventType(%q) = %v, %v; want %v", s, got, ok, typ)
			}
		}
	}
	for _, s := range []string{"", "thread", "thread_created", "THREAD_CREATED", "Thread.Created", "api.token_created", "unspecified"} {
		if got, ok := ParseEventType(s); ok {
			t.Errorf("ParseEventType(%q) = %v, want none", s, got)
		}
	}
}

func TestParseEventsCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{" \t\n", ""},
		{`type = "thread.created"`, `type=thread.created`},
		{`type = EVENT_TYPE_THREAD_CREATED`, `type=thread.created`},
		{`type != api_token.deleted`, `type!=api_token.deleted`},
		{`theme = "themes/knowledge-exchange"`, `theme=knowledge-exchange`},
		{`theme=knowledge-exchange`, `theme=knowledge-exchange`},
		{`thread = threads/12`, `thread=threads/12`},
		{`actor = "users/3"`, `actor=users/3`},
		{`actor = users/3 AND thread = threads/1 AND theme = t AND type = reply.created`, `type=reply.created AND theme=t AND thread=threads/1 AND actor=users/3`},
		{`type = reply.created AND type = EVENT_TYPE_REPLY_CREATED`, `type=reply.created`},
		{`type != reply.created AND type = thread.created`, `type=thread.created AND type!=reply.created`},
		// Themes that look like keywords are values.
		{`theme = and AND theme != or`, `theme=and AND theme!=or`},
	}
	for _, tt := range tests {
		f, err := ParseEvents(tt.in)
		if err != nil {
			t.Errorf("ParseEvents(%q): %v", tt.in, err)
			continue
		}
		got := f.String()
		if got != tt.want {
			t.Errorf("ParseEvents(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := ParseEvents(got)
		if err != nil || again.String() != got {
			t.Errorf("ParseEvents(%q) = %v, %v; want the same canonical form", got, again, err)
		}
		if f.Empty() != (got == "") {
			t.Errorf("ParseEvents(%q).Empty() = %v", tt.in, f.Empty())
		}
	}
}

func TestParseEventsErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{`colour = red`, 0, `unknown field "colour"; fields are type, theme, thread, actor`},
		{`type = thread.created AND kind = x`, 26, `unknown field "kind"`},
		{`type = thread_created`, 7, `invalid type "thread_created": want one of thread.created, thread.updated`},
		{`type = EVENT_TYPE_UNSPECIFIED`, 7, `invalid type`},
		{`type = "Thread.Created"`, 7, `invalid type`},
		{`theme = Health`, 8, `invalid theme "Health"`},
		{`theme = "themes/"`, 8, `invalid theme`},
		{`thread = 12`, 9, `invalid thread "12": want a thread name such as "threads/123"`},
		{`thread = threads/x`, 9, `invalid thread`},
		{`thread = threads/1/replies/2`, 9, `invalid thread`},
		{`actor = alice`, 8, `invalid actor "alice": want a user name such as "users/123"`},
		{`actor = users/0`, 8, `invalid actor`},
		{`type`, 4, `expected = or != after type, not the end of the filter`},
		{`type : thread.created`, 5, `the has operator (:) is not supported here; use type = value`},
		{`type > 3`, 5, `the > operator is not supported`},
		{`type = `, 7, `expected value after =, not the end of the filter`},
		{`type = thread.created OR type = reply.created`, 22, `OR is not supported`},
		{`type = thread.created and theme = t`, 22, `"and" is not an operator`},
		{`type = thread.created AND`, 22, `expected a comparison after AND`},
		{`AND type = thread.created`, 0, `expected a comparison before AND`},
		{`NOT type = thread.created`, 0, `NOT is not supported`},
		{`-type = thread.created`, 0, `negation with - is not supported`},
		{`(type = thread.created)`, 0, `parentheses are not supported`},
		{`actor = "users/1`, 8, `unterminated string`},
		{strings.Repeat(" ", MaxLen+1), MaxLen, `longer than 1000 bytes`},
		{strings.Repeat("type = thread.created AND ", MaxComparisons) + "type = thread.created", 26 * MaxComparisons, `at most 20 comparisons`},
	}
	for _, tt := range tests {
		f, err := ParseEvents(tt.in)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("ParseEvents(%q) = %v, %v; want an *Error", tt.in, f, err)
			continue
		}
		if fe.Pos != tt.pos || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseEvents(%q): %q at %d, want %q at %d", tt.in, fe.Msg, fe.Pos, tt.msg, tt.pos)
		}
		if !strings.HasSuffix(err.Error(), ")") || !strings.Contains(err.Error(), "at offset") {
			t.Errorf("ParseEvents(%q): %q does not give the offset", tt.in, err)
		}
	}
}

func TestEventsMatch(t *testing.T) {
	ev := &forumv1.Event{Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED, Theme: "themes/health", Thread: "threads/7", Actor: "users/3", Resource: "threads/7/replies/2"}
	tests := []struct {
		filter string
		want   bool
	}{
		{``, true},
		{`type = reply.created`, true},
		{`type = EVENT_TYPE_REPLY_CREATED`, true},
		{`type = thread.created`, false},
		{`type != thread.created`, true},
		{`type != reply.created`, false},
		{`theme = health`, true},
		{`theme = "themes/health"`, true},
		{`theme = other`, false},
		{`thread = threads/7`, true},
		{`thread = threads/70`, false},
		{`actor = users/3`, true},
		{`actor != users/3`, false},
		{`type = reply.created AND theme = health AND thread = threads/7 AND actor = users/3`, true},
		{`type = reply.created AND actor = users/4`, false},
		{`type = reply.created AND type = thread.created`, false},
	}
	for _, tt := range tests {
		f, err := ParseEvents(tt.filter)
		if err != nil {
			t.Fatalf("ParseEvents(%q): %v", tt.filter, err)
		}
		if got := f.Match(ev); got != tt.want {
			t.Errorf("%q matches %v: %v, want %v", tt.filter, ev, got, tt.want)
		}
	}
	var nilFilter *Events
	if !nilFilter.Match(ev) || nilFilter.String() != "" || !nilFilter.Empty() {
		t.Error("the nil filter")
	}
	// An event of no theme (a user's) matches no theme equality.
	f, _ := ParseEvents(`theme = health`)
	if f.Match(&forumv1.Event{Type: forumv1.EventType_EVENT_TYPE_USER_UPDATED}) {
		t.Error("an event of no theme matches theme = health")
	}
}
