// Package filter parses the AIP-160 filter subset that ListThreads accepts.
//
// A filter is a conjunction of comparisons:
//
//	theme = "themes/joint-programmes" AND state = OPEN AND tag = "health"
//
// Fields are theme, author, kind, state, tag (also written tags), follow_up_of,
// pinned, and the author's profile: author.organization and author.country. Operators are = and !=, and the has operator `tags:health`.
// Values are double-quoted strings (with \" and \\ escapes) or bare words;
// kind and state take enum names with or without their prefix (FOLLOW_UP or
// THREAD_KIND_FOLLOW_UP); pinned takes true or false; a theme may be given as
// a bare slug. OR, NOT, parentheses and ordering comparisons are not
// supported and are rejected with a message that says so.
package filter

import (
	"fmt"
	"slices"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Limits on a filter.
const (
	MaxLen         = 1000
	MaxComparisons = 20
)

// Fields are the fields a thread filter may name.
var fields = []string{"theme", "author", "kind", "state", "tag", "follow_up_of", "pinned", "author.organization", "author.country"}

// Threads is a parsed thread filter: every condition must hold.
type Threads struct {
	conds []cond
}

type cond struct {
	field string // one of fields ("tags" is stored as "tag")
	neg   bool   // != instead of =
	value string // normalised: full resource names, full enum names, "true"/"false"
}

// Error is a filter that cannot be parsed. Its message is meant for the
// client that sent it.
type Error struct {
	// Pos is the byte offset in the filter where the problem was found.
	Pos int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Pos) }

// ParseThreads parses a thread filter. The empty string (or only spaces)
// selects every thread and yields an empty, non-nil filter.
func ParseThreads(s string) (*Threads, error) {
	if len(s) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the filter is longer than %d bytes", MaxLen)}
	}
	p := &parser{s: s}
	f := &Threads{}
	p.skipSpace()
	if p.pos == len(s) {
		return f, nil
	}
	for {
		c, err := p.comparison()
		if err != nil {
			return nil, err
		}
		f.conds = append(f.conds, c)
		if len(f.conds) > MaxComparisons {
			return nil, &Error{Pos: p.pos, Msg: fmt.Sprintf("a filter may hold at most %d comparisons", MaxComparisons)}
		}
		p.skipSpace()
		if p.pos == len(s) {
			break
		}
		start := p.pos
		w := p.word()
		switch w {
		case "AND":
			continue
		case "OR", "or":
			return nil, &Error{Pos: start, Msg: "OR is not supported; join comparisons with AND"}
		case "":
			return nil, &Error{Pos: start, Msg: fmt.Sprintf("unexpected %q; join comparisons with AND", s[start:start+1])}
		default:
			return nil, &Error{Pos: start, Msg: fmt.Sprintf("unexpected %q; join comparisons with AND (uppercase)", w)}
		}
	}
	slices.SortFunc(f.conds, func(a, b cond) int {
		return strings.Compare(a.String(), b.String())
	})
	f.conds = slices.CompactFunc(f.conds, func(a, b cond) bool { return a == b })
	return f, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-'
}

// word reads a bare word, or returns "" if none starts here.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) comparison() (cond, error) {
	p.skipSpace()
	start := p.pos
	if p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '(', ')':
			return cond{}, &Error{Pos: start, Msg: "parentheses are not supported"}
		case '-':
			return cond{}, &Error{Pos: start, Msg: "negation with - is not supported; use !="}
		}
	}
	name := p.word()
	switch name {
	case "":
		if p.pos == len(p.s) {
			return cond{}, &Error{Pos: start, Msg: "expected a comparison after AND"}
		}
		return cond{}, &Error{Pos: start, Msg: fmt.Sprintf("expected a field name, found %q", p.s[p.pos:p.pos+1])}
	case "NOT", "not":
		return cond{}, &Error{Pos: start, Msg: "NOT is not supported; use !="}
	case "AND", "OR":
		return cond{}, &Error{Pos: start, Msg: fmt.Sprintf("expected a comparison before %s", name)}
	case "tags":
		name = "tag"
	}
	if !slices.Contains(fields, name) {
		return cond{}, &Error{Pos: start, Msg: fmt.Sprintf("unknown field %q; fields are %s", name, strings.Join(fields, ", "))}
	}
	p.skipSpace()
	opPos := p.pos
	var neg bool
	switch {
	case strings.HasPrefix(p.s[p.pos:], "!="):
		neg = true
		p.pos += 2
	case strings.HasPrefix(p.s[p.pos:], "="):
		p.pos++
	case strings.HasPrefix(p.s[p.pos:], ":"):
		if name != "tag" {
			return cond{}, &Error{Pos: opPos, Msg: fmt.Sprintf("the has operator (:) applies only to tags; use %s = value", name)}
		}
		p.pos++
	case p.pos < len(p.s) && strings.ContainsRune("<>~", rune(p.s[p.pos])):
		return cond{}, &Error{Pos: opPos, Msg: fmt.Sprintf("operator %q is not supported; use = or !=", p.s[p.pos:p.pos+1])}
	default:
		return cond{}, &Error{Pos: opPos, Msg: fmt.Sprintf("expected = or != after %s", name)}
	}
	p.skipSpace()
	valPos := p.pos
	val, err := p.value()
	if err != nil {
		return cond{}, err
	}
	norm, msg := normalise(name, val)
	if msg != "" {
		return cond{}, &Error{Pos: valPos, Msg: msg}
	}
	return cond{field: name, neg: neg, value: norm}, nil
}

func (p *parser) value() (string, error) {
	start := p.pos
	if p.pos == len(p.s) {
		return "", &Error{Pos: start, Msg: "expected a value"}
	}
	if p.s[p.pos] != '"' {
		w := p.word()
		if w == "" {
			return "", &Error{Pos: start, Msg: fmt.Sprintf("expected a value, found %q", p.s[start:start+1])}
		}
		return w, nil
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 == len(p.s) {
				return "", &Error{Pos: start, Msg: "unterminated string"}
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", &Error{Pos: start, Msg: "unterminated string"}
}

// normalise checks a value for field and returns its canonical form, or a
// message saying what is wrong.
func normalise(field, v string) (string, string) {
	switch field {
	case "theme":
		slug := strings.TrimPrefix(v, "themes/")
		if !validSlug(slug, 63) {
			return "", fmt.Sprintf("%q is not a theme (themes/{slug})", v)
		}
		return "themes/" + slug, ""
	case "tag":
		if !validSlug(v, 32) {
			return "", fmt.Sprintf("%q is not a tag (lowercase letters, digits and hyphens)", v)
		}
		return v, ""
	case "author":
		if !validName(v, "users/") {
			return "", fmt.Sprintf("%q is not a user name (users/{id})", v)
		}
		return v, ""
	case "follow_up_of":
		if !validName(v, "threads/") {
			return "", fmt.Sprintf("%q is not a thread name (threads/{id})", v)
		}
		return v, ""
	case "kind":
		return enumValue(v, "THREAD_KIND_", forumv1.ThreadKind_value)
	case "state":
		return enumValue(v, "THREAD_STATE_", forumv1.ThreadState_value)
	case "author.organization":
		slug := strings.TrimPrefix(v, "organizations/")
		if !validSlug(slug, 63) {
			return "", fmt.Sprintf("%q is not an organization (organizations/{slug})", v)
		}
		return "organizations/" + slug, ""
	case "author.country":
		if len(v) != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' {
			return "", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code (such as KE)", v)
		}
		return v, ""
	case "pinned":
		if v != "true" && v != "false" {
			return "", fmt.Sprintf("pinned takes true or false, not %q", v)
		}
		return v, ""
	}
	return "", fmt.Sprintf("unknown field %q", field)
}

func enumValue(v, prefix string, values map[string]int32) (string, string) {
	full := v
	if !strings.HasPrefix(full, prefix) {
		full = prefix + v
	}
	if n, ok := values[full]; ok && n != 0 {
		return full, ""
	}
	var names []string
	for name, n := range values {
		if n != 0 {
			names = append(names, strings.TrimPrefix(name, prefix))
		}
	}
	slices.Sort(names)
	return "", fmt.Sprintf("%q is not one of %s", v, strings.Join(names, ", "))
}

func validSlug(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validName(v, prefix string) bool {
	id, ok := strings.CutPrefix(v, prefix)
	if !ok || id == "" || len(id) > 20 || id[0] == '0' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func (c cond) String() string {
	op := " = "
	if c.neg {
		op = " != "
	}
	return c.field + op + `"` + c.value + `"`
}

// String returns the canonical form of the filter: its comparisons sorted,
// without duplicates, joined by AND. Equivalent filters have the same
// string; a nil filter's is "".
func (f *Threads) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, len(f.conds))
	for i, c := range f.conds {
		parts[i] = c.String()
	}
	return strings.Join(parts, " AND ")
}

// Theme returns the theme the filter requires, if it has exactly one
// `theme =` condition, so that the store can use the theme's index.
func (f *Threads) Theme() (string, bool) {
	if f == nil {
		return "", false
	}
	theme, n := "", 0
	for _, c := range f.conds {
		if c.field == "theme" && !c.neg {
			theme = c.value
			n++
		}
	}
	return theme, n == 1
}

// NeedsAuthor reports whether the filter has conditions on the author's
// profile, which Match needs the author for.
func (f *Threads) NeedsAuthor() bool {
	if f == nil {
		return false
	}
	for _, c := range f.conds {
		if strings.HasPrefix(c.field, "author.") {
			return true
		}
	}
	return false
}

// Match reports whether t, written by author, satisfies every condition. A
// nil filter matches every thread. author may be nil when NeedsAuthor is
// false; a nil author matches no author.* condition.
func (f *Threads) Match(t *forumv1.Thread, author *forumv1.User) bool {
	if f == nil {
		return true
	}
	for _, c := range f.conds {
		var ok bool
		switch c.field {
		case "author.organization":
			ok = author != nil && author.GetOrganization() == c.value
		case "author.country":
			ok = author != nil && author.GetCountry() == c.value
		case "theme":
			ok = t.GetTheme() == c.value
		case "author":
			ok = t.GetAuthor() == c.value
		case "kind":
			ok = t.GetKind().String() == c.value
		case "state":
			ok = t.GetState().String() == c.value
		case "tag":
			ok = slices.Contains(t.GetTags(), c.value)
		case "follow_up_of":
			ok = t.GetFollowUpOf() == c.value
		case "pinned":
			ok = fmt.Sprint(t.GetPinned()) == c.value
		}
		if ok == c.neg {
			return false
		}
	}
	return true
}
