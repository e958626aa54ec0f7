package filter

import (
	"fmt"
	"slices"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
)

// The filter of the event log (EventService.ListEvents and StreamEvents):
// the grammar of ParseThreads (comparisons joined by AND, = and !=, values
// bare or double-quoted), over other fields:
//
//	type    an event type, in its short form ("thread.created",
//	        "api_token.created": EventTypeName) or its enum name
//	        (EVENT_TYPE_THREAD_CREATED)
//	theme   the event's theme: a theme name "themes/x", or its slug "x"
//	thread  the event's thread: a thread name "threads/12"
//	actor   who made the change: a user name "users/3"
//
// As in ParseThreads, a field may appear more than once and every
// comparison must hold: `type = thread.created AND type = reply.created`
// matches nothing.

// eventField is a field that an event filter can test.
type eventField int

// The fields, in the order of the canonical form (Events.String).
const (
	efType eventField = iota
	efTheme
	efThread
	efActor
	numEventFields
)

var eventFieldNames = [numEventFields]string{"type", "theme", "thread", "actor"}

func (f eventField) String() string { return eventFieldNames[f] }

// eventCond is one comparison of an event filter; value is normalised: an
// enum value name (EVENT_TYPE_…), "themes/x", "threads/12", "users/3".
type eventCond struct {
	field eventField
	neg   bool
	value string
}

func (c eventCond) compare(d eventCond) int {
	return compareConds(c.field, c.neg, c.value, d.field, d.neg, d.value)
}

// String returns c's canonical spelling: no spaces, short type names and
// theme slugs (`type=reply.created`, `theme!=health`).
func (c eventCond) String() string {
	op := "="
	if c.neg {
		op = "!="
	}
	v := c.value
	switch c.field {
	case efType:
		v = EventTypeName(forumv1.EventType(forumv1.EventType_value[v]))
	case efTheme:
		v = strings.TrimPrefix(v, "themes/")
	}
	return c.field.String() + op + v
}

// holds reports whether c holds for ev.
func (c eventCond) holds(ev *forumv1.Event) bool {
	var got string
	switch c.field {
	case efType:
		got = ev.GetType().String()
	case efTheme:
		got = ev.GetTheme()
	case efThread:
		got = ev.GetThread()
	case efActor:
		got = ev.GetActor()
	}
	return (got == c.value) != c.neg
}

// Events is a parsed event filter: comparisons that must all hold. A nil
// *Events, like the result of parsing "", matches every event. It never
// changes, so it is safe for concurrent use.
type Events struct {
	conds []eventCond // canonical order, without duplicates
}

// ParseEvents parses an event filter. The empty string (or only
// whitespace) yields the empty filter. An error is an *Error, whose
// message names the offset of the problem and can be shown to the client
// as the description of a violation of field "filter".
func ParseEvents(s string) (*Events, error) {
	if len(s) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the filter is longer than %d bytes", MaxLen)}
	}
	p := parser{s: s}
	var conds []eventCond
	err := p.conjunction(func(t token) error {
		c, err := p.eventComparison(t)
		conds = append(conds, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(conds, eventCond.compare)
	return &Events{conds: slices.Clip(slices.Compact(conds))}, nil
}

// String returns the canonical form of the filter: its comparisons in a
// fixed order (type, theme, thread, actor), each in its shortest spelling,
// joined by " AND ", without duplicates. Spellings of one filter that
// differ only in whitespace, order, repetition, quoting, enum or short type
// names and theme names or slugs have the same canonical form, which a page
// token is bound to. The empty filter's is "".
func (f *Events) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, len(f.conds))
	for i, c := range f.conds {
		parts[i] = c.String()
	}
	return strings.Join(parts, " AND ")
}

// Match reports whether ev satisfies every comparison; the empty filter
// matches every event.
func (f *Events) Match(ev *forumv1.Event) bool {
	if f == nil {
		return true
	}
	for _, c := range f.conds {
		if !c.holds(ev) {
			return false
		}
	}
	return true
}

// Empty reports whether the filter has no comparison (it matches every
// event).
func (f *Events) Empty() bool { return f == nil || len(f.conds) == 0 }

// EventTypeName returns the short form of t: its enum name without
// EVENT_TYPE_, in lower case, with its last underscore a dot
// (EVENT_TYPE_API_TOKEN_CREATED is "api_token.created"). It is "" for
// EVENT_TYPE_UNSPECIFIED and for values the enum lacks.
func EventTypeName(t forumv1.EventType) string {
	name, ok := forumv1.EventType_name[int32(t)]
	if !ok || t == forumv1.EventType_EVENT_TYPE_UNSPECIFIED {
		return ""
	}
	s := strings.ToLower(strings.TrimPrefix(name, "EVENT_TYPE_"))
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		s = s[:i] + "." + s[i+1:]
	}
	return s
}

// ParseEventType returns the event type named s, in its short form
// ("thread.created") or its enum name (EVENT_TYPE_THREAD_CREATED); the
// unspecified type is not one.
func ParseEventType(s string) (forumv1.EventType, bool) {
	if v, ok := forumv1.EventType_value[s]; ok && v != 0 {
		return forumv1.EventType(v), true
	}
	for v := range forumv1.EventType_name {
		if t := forumv1.EventType(v); t != 0 && EventTypeName(t) == s {
			return t, true
		}
	}
	return 0, false
}

// eventTypeNames returns the short forms of every event type, in enum
// order, for error messages.
func eventTypeNames() string {
	values := forumv1.EventType(0).Descriptor().Values()
	names := make([]string, 0, values.Len())
	for i := range values.Len() {
		if n := values.Get(i).Number(); n != 0 {
			names = append(names, EventTypeName(forumv1.EventType(n)))
		}
	}
	return strings.Join(names, ", ")
}

// eventComparison parses a comparison of an event filter starting with t.
func (p *parser) eventComparison(t token) (eventCond, error) {
	if err := fieldToken(t); err != nil {
		return eventCond{}, err
	}
	i := slices.Index(eventFieldNames[:], t.val)
	if i < 0 {
		return eventCond{}, errorf(t.pos, "unknown field %q; fields are %s", t.val, strings.Join(eventFieldNames[:], ", "))
	}
	fd := eventField(i)
	op, v, err := p.operatorAndValue(t, false, false, "is not supported here")
	if err != nil {
		return eventCond{}, err
	}
	value, err := normalizeEvent(fd, v)
	if err != nil {
		return eventCond{}, err
	}
	return eventCond{field: fd, neg: op.kind == tNe, value: value}, nil
}

// normalizeEvent checks the value v of fd and returns it normalised (see
// eventCond.value).
func normalizeEvent(fd eventField, v token) (string, error) {
	value := v.val
	switch fd {
	case efType:
		if t, ok := ParseEventType(value); ok {
			return t.String(), nil
		}
		return "", errorf(v.pos, "invalid type %q: want one of %s (or the enum name, such as EVENT_TYPE_THREAD_CREATED)", value, eventTypeNames())
	case efTheme:
		if slug := strings.TrimPrefix(value, "themes/"); resname.ValidSlug(slug, maxSlug) {
			return "themes/" + slug, nil
		}
		return "", errorf(v.pos, "invalid theme %q: want a theme name such as \"themes/joint-programmes\", or its slug (lowercase letters and digits, single hyphens between, at most %d characters)", value, maxSlug)
	case efThread:
		if n, err := resname.ParseThread(value); err == nil {
			return n.String(), nil
		}
		return "", errorf(v.pos, "invalid thread %q: want a thread name such as \"threads/123\"", value)
	case efActor:
		if n, err := resname.ParseUser(value); err == nil {
			return n.String(), nil
		}
		return "", errorf(v.pos, "invalid actor %q: want a user name such as \"users/123\"", value)
	}
	panic("filter: no normalisation for event field " + fd.String())
}
