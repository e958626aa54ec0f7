// Package filter parses the filter of ListThreads: the subset of AIP-160
// (https://google.aip.dev/160) that the forum API supports. The filter of
// the event log (ParseEvents, events.go) has the same grammar over other
// fields.
//
// A filter is empty (no filter) or comparisons joined by AND:
//
//	theme = "themes/joint-programmes" AND state = OPEN AND tag = "health"
//
// A comparison is `field = value`, `field != value` or, for tags only, the
// has operator `tags:value` (also `tag:value`), which means `tag = value`.
// The fields and their values are:
//
//	theme                a theme name "themes/x", or just its slug "x"
//	author               a user name "users/123"
//	kind                 FOLLOW_UP or THREAD_KIND_FOLLOW_UP, and so on
//	state                OPEN or THREAD_STATE_OPEN, and so on
//	tag (or tags)        a tag; tag = "x" holds when the thread has tag x
//	follow_up_of         a thread name "threads/123"
//	pinned               true or false
//	author.organization  the author's organisation, "organizations/x" or "x"
//	author.country       the author's country, such as KE
//
// A value is a double-quoted string, in which \" and \\ stand for " and \,
// or a bare word of ASCII letters, digits and _ . / -. Keywords, field names
// and enum names are case-sensitive; whitespace between tokens does not
// matter. A field may appear more than once, and every comparison must hold.
// OR, NOT, -, parentheses, <, <=, > and >= are not supported. A filter is at
// most MaxLen bytes and MaxComparisons comparisons long.
package filter

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// stateLockedLegacy is THREAD_STATE_LOCKED, deprecated since Thread.locked:
// accepted on input, from older clients, as locked with the state
// unchanged (named by its name here, not by the deprecated identifier).
var stateLockedLegacy = forumv1.ThreadState(forumv1.ThreadState_value["THREAD_STATE_LOCKED"])

// MaxLen is the most bytes a filter may have.
const MaxLen = 1000

// MaxComparisons is the most comparisons a filter may have.
const MaxComparisons = 20

// Limits on values, as documented in resources.proto.
const (
	maxSlug = 63 // themes and organisations
	maxTag  = 32
)

// field is a field that a filter can test.
type field int

// The fields, in the order of the canonical form (see Threads.String).
const (
	fTheme field = iota
	fAuthor
	fKind
	fState
	fTag
	fFollowUpOf
	fPinned
	fAuthorOrganization
	fAuthorCountry
	fLocked
	fAnswered
	fConvening
	numFields
)

// fieldNames are the names of the fields, indexed by field.
var fieldNames = [numFields]string{
	"theme", "author", "kind", "state", "tag", "follow_up_of", "pinned",
	"author.organization", "author.country", "locked", "answered", "convening",
}

func (f field) String() string { return fieldNames[f] }

// lookupField returns the field called name; "tags" is another name of tag.
func lookupField(name string) (field, bool) {
	if name == "tags" {
		return fTag, true
	}
	i := slices.Index(fieldNames[:], name)
	return field(i), i >= 0
}

// singleValued reports whether a thread has exactly one value of f, so
// that two equalities with different values on f contradict each other.
func (f field) singleValued() bool { return f != fTag }

// ofAuthor reports whether f is a field of the thread's author, which
// Match needs the author for.
func (f field) ofAuthor() bool { return f == fAuthorOrganization || f == fAuthorCountry }

// cond is one comparison, normalised.
type cond struct {
	field field
	neg   bool // != rather than =
	// value is normalised: full resource names ("themes/x", "users/1",
	// "threads/1", "organizations/x"), full enum value names, a tag,
	// "true" or "false", a country code.
	value string
}

// compare orders conditions canonically (compareConds).
func (c cond) compare(d cond) int {
	return compareConds(c.field, c.neg, c.value, d.field, d.neg, d.value)
}

// compareConds orders the conditions of a filter, of threads or of events,
// canonically: by field, = before !=, by value.
func compareConds[F ~int](af F, aneg bool, av string, bf F, bneg bool, bv string) int {
	switch {
	case af != bf:
		return int(af - bf)
	case aneg != bneg:
		if aneg {
			return 1
		}
		return -1
	}
	return strings.Compare(av, bv)
}

// String returns the canonical spelling of c: the shortest one, with no
// spaces, a bare value, short enum names and slugs rather than theme and
// organisation names (`theme=joint-programmes`, `kind!=FOLLOW_UP`). It is
// never longer than any other spelling of c.
func (c cond) String() string {
	op := "="
	if c.neg {
		op = "!="
	}
	v := c.value
	switch c.field {
	case fTheme:
		v = strings.TrimPrefix(v, "themes/")
	case fAuthorOrganization:
		v = strings.TrimPrefix(v, "organizations/")
	case fConvening:
		v = strings.TrimPrefix(v, "convenings/")
	case fKind:
		v = strings.TrimPrefix(v, "THREAD_KIND_")
	case fState:
		v = strings.TrimPrefix(v, "THREAD_STATE_")
	}
	return c.field.String() + op + v
}

// holds reports whether c holds for thread t written by author.
func (c cond) holds(t *forumv1.Thread, author *forumv1.User) bool {
	var eq bool
	switch c.field {
	case fTheme:
		eq = t.GetTheme() == c.value
	case fConvening:
		eq = t.GetConvening() == c.value
	case fAuthor:
		eq = t.GetAuthor() == c.value
	case fKind:
		eq = t.GetKind().String() == c.value
	case fState:
		eq = t.GetState().String() == c.value
	case fTag:
		eq = slices.Contains(t.GetTags(), c.value)
	case fFollowUpOf:
		eq = t.GetFollowUpOf() == c.value
	case fPinned:
		eq = strconv.FormatBool(t.GetPinned()) == c.value
	case fLocked:
		eq = strconv.FormatBool(t.GetLocked()) == c.value
	case fAnswered:
		answered := t.GetKind() == forumv1.ThreadKind_THREAD_KIND_QUESTION && t.GetAcceptedAnswer() != ""
		eq = strconv.FormatBool(answered) == c.value
	case fAuthorOrganization:
		if author == nil {
			return false
		}
		eq = author.GetOrganization() == c.value
	case fAuthorCountry:
		if author == nil {
			return false
		}
		eq = author.GetCountry() == c.value
	}
	return eq != c.neg
}

// Threads is a parsed ListThreads filter: conditions that must all hold. A
// nil *Threads, like the result of parsing "", is the empty filter, which
// every thread matches. A Threads never changes, so it is safe for
// concurrent use.
type Threads struct {
	// conds is in canonical order, without duplicates and without
	// inequalities implied by an equality on a single-valued field.
	conds []cond
}

// ParseThreads parses a ListThreads filter. The empty string (or only
// whitespace) yields the empty filter, not nil. An error is an *Error,
// whose message can be shown to the API client as the description of a
// violation of field "filter".
func ParseThreads(s string) (*Threads, error) {
	if len(s) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the filter is longer than %d bytes", MaxLen)}
	}
	p := parser{s: s}
	conds, err := p.filter()
	if err != nil {
		return nil, err
	}
	for i, c := range conds {
		if c.field == fState && c.value == stateLockedLegacy.String() {
			// From before Thread.locked: state = LOCKED is locked = true.
			conds[i] = cond{field: fLocked, neg: c.neg, value: "true"}
		}
	}
	return canonical(conds), nil
}

// canonical returns the filter of conds in canonical form.
func canonical(conds []cond) *Threads {
	for i, c := range conds {
		switch c.field {
		case fPinned, fLocked, fAnswered:
			if c.neg { // pinned != true is pinned = false
				conds[i] = cond{field: c.field, value: strconv.FormatBool(c.value != "true")}
			}
		}
	}
	slices.SortFunc(conds, cond.compare)
	conds = slices.Compact(conds)
	// An equality on a single-valued field implies every inequality with
	// another value: `theme = a AND theme != b` is `theme = a`.
	var eq [numFields][]string
	for _, c := range conds {
		if !c.neg && c.field.singleValued() {
			eq[c.field] = append(eq[c.field], c.value)
		}
	}
	conds = slices.DeleteFunc(conds, func(c cond) bool {
		return c.neg && len(eq[c.field]) > 0 && !slices.Contains(eq[c.field], c.value)
	})
	return &Threads{conds: slices.Clip(conds)}
}

// String returns the canonical form of the filter: its comparisons in a
// fixed order, each in its shortest spelling, joined by " AND ", without
// duplicates or comparisons implied by others:
//
//	theme=joint-programmes AND state=OPEN AND tag=health
//
// Filters that differ only in spelling, whitespace, order, repetition or
// such implied comparisons have the same canonical form, so it can bind a
// page token to its query. The canonical form is never longer than the
// filter it was parsed from, and parses to a filter with the same canonical
// form. The empty filter's is "".
func (f *Threads) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	for i, c := range f.conds {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// Match reports whether thread t, written by author, satisfies every
// condition. author may be nil when NeedsAuthor is false; a nil author
// satisfies no author.organization or author.country condition. The empty
// filter matches every thread.
func (f *Threads) Match(t *forumv1.Thread, author *forumv1.User) bool {
	if f == nil {
		return true
	}
	for _, c := range f.conds {
		if !c.holds(t, author) {
			return false
		}
	}
	return true
}

// NeedsAuthor reports whether the filter has conditions on the author's
// profile (author.organization, author.country), for which Match needs the
// author.
func (f *Threads) NeedsAuthor() bool {
	return f != nil && slices.ContainsFunc(f.conds, func(c cond) bool { return c.field.ofAuthor() })
}

// MatchesNothing reports whether the conditions contradict each other, as
// `state = OPEN AND state = LOCKED` or `tag = a AND tag != a` do, so that
// no thread can match.
func (f *Threads) MatchesNothing() bool {
	if f == nil {
		return false
	}
	for i, c := range f.conds {
		for _, d := range f.conds[:i] {
			if c.field != d.field {
				continue
			}
			if c.value == d.value && c.neg != d.neg {
				return true
			}
			if c.field.singleValued() && !c.neg && !d.neg {
				return true // different values: duplicates are gone
			}
		}
	}
	return false
}

// single returns the value of the only equality on fd, if there is exactly
// one.
func (f *Threads) single(fd field) (string, bool) {
	if f == nil {
		return "", false
	}
	value, n := "", 0
	for _, c := range f.conds {
		if c.field == fd && !c.neg {
			value = c.value
			n++
		}
	}
	if n != 1 {
		return "", false
	}
	return value, true
}

// Theme returns the theme name ("themes/x") that the filter requires, if it
// has exactly one theme equality, so that the store can use its index.
func (f *Threads) Theme() (string, bool) { return f.single(fTheme) }

// Author returns the user name ("users/123") that the filter requires, if it
// has exactly one author equality.
func (f *Threads) Author() (string, bool) { return f.single(fAuthor) }

// FollowUpOf returns the thread name ("threads/123") that the filter
// requires in follow_up_of, if it has exactly one follow_up_of equality.
func (f *Threads) FollowUpOf() (string, bool) { return f.single(fFollowUpOf) }

// Kind returns the kind that the filter requires, if it has exactly one kind
// equality.
func (f *Threads) Kind() (forumv1.ThreadKind, bool) {
	v, ok := f.single(fKind)
	return forumv1.ThreadKind(forumv1.ThreadKind_value[v]), ok
}

// State returns the state that the filter requires, if it has exactly one
// state equality.
func (f *Threads) State() (forumv1.ThreadState, bool) {
	v, ok := f.single(fState)
	return forumv1.ThreadState(forumv1.ThreadState_value[v]), ok
}

// Pinned returns the value of pinned that the filter requires, if it has
// exactly one condition on pinned (`pinned != true` means `pinned = false`).
func (f *Threads) Pinned() (pinned, ok bool) {
	v, ok := f.single(fPinned)
	return v == "true", ok
}

// Tags returns, sorted, the tags that a thread must all have to match.
func (f *Threads) Tags() []string {
	if f == nil {
		return nil
	}
	var tags []string
	for _, c := range f.conds {
		if c.field == fTag && !c.neg {
			tags = append(tags, c.value)
		}
	}
	return tags
}

// Error is a filter that cannot be parsed.
type Error struct {
	// Pos is the byte offset in the filter where the problem is.
	Pos int
	// Msg says what is wrong, for the client that sent the filter, such as
	// `unknown field "colour"; fields are theme, author, ...`.
	Msg string
}

// Error returns the message and the position, as in
// `OR is not supported; join comparisons with AND (at offset 13)`.
func (e *Error) Error() string { return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Pos) }

// token kinds.
const (
	tEOF    = iota
	tWord   // a bare word
	tString // a quoted string
	tEq     // =
	tNe     // !=
	tHas    // :
	// The ordering operators, which next returns as tokens only where the
	// grammar has them (parser.ordering).
	tLt // <
	tLe // <=
	tGt // >
	tGe // >=
)

// orderingKinds are the token kinds of the ordering operators.
var orderingKinds = map[string]int{"<": tLt, "<=": tLe, ">": tGt, ">=": tGe}

// token is a lexical token of a filter.
type token struct {
	kind int
	pos  int    // byte offset of the token
	text string // as written
	val  string // the value of a word or string
}

// parser is a recursive-descent parser of a filter.
type parser struct {
	s   string
	pos int
	// ordering says whether the grammar has the ordering operators <, <=,
	// > and >= (the filter of search does, ParseSearch); if not, next
	// refuses them.
	ordering bool
}

// errorf returns an *Error at pos.
func errorf(pos int, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// isWordByte reports whether c may appear in a bare word.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

// next returns the next token, or an error for characters that start none.
func (p *parser) next() (token, error) {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
	start := p.pos
	if start == len(p.s) {
		return token{kind: tEOF, pos: start}, nil
	}
	tok := func(kind, n int) (token, error) {
		p.pos += n
		return token{kind: kind, pos: start, text: p.s[start:p.pos]}, nil
	}
	switch c := p.s[start]; {
	case isWordByte(c):
		end := start
		for end < len(p.s) && isWordByte(p.s[end]) {
			end++
		}
		t, _ := tok(tWord, end-start)
		t.val = t.text
		return t, nil
	case c == '"':
		return p.quoted()
	case c == '=':
		return tok(tEq, 1)
	case c == ':':
		return tok(tHas, 1)
	case strings.HasPrefix(p.s[start:], "!="):
		return tok(tNe, 2)
	case c == '!':
		return token{}, errorf(start, `unexpected "!"; use != for "not equal" (NOT is not supported)`)
	case c == '<' || c == '>':
		op := p.s[start : start+1]
		if strings.HasPrefix(p.s[start+1:], "=") {
			op += "="
		}
		if p.ordering {
			return tok(orderingKinds[op], len(op))
		}
		return token{}, errorf(start, "the %s operator is not supported; use = or !=", op)
	case c == '(' || c == ')':
		return token{}, errorf(start, "parentheses are not supported; join comparisons with AND")
	case c == '\'':
		return token{}, errorf(start, `strings are written in double quotes ("), not single quotes`)
	default:
		return token{}, errorf(start, "unexpected character %s", quoteRune(p.s[start:]))
	}
}

// quoted reads a double-quoted string starting at p.pos.
func (p *parser) quoted() (token, error) {
	start := p.pos
	var b strings.Builder
	for i := start + 1; i < len(p.s); i++ {
		switch c := p.s[i]; c {
		case '"':
			p.pos = i + 1
			return token{kind: tString, pos: start, text: p.s[start:p.pos], val: b.String()}, nil
		case '\\':
			if i+1 < len(p.s) && (p.s[i+1] == '"' || p.s[i+1] == '\\') {
				i++
				b.WriteByte(p.s[i])
				continue
			}
			if i+1 < len(p.s) {
				return token{}, errorf(i, `invalid escape in string: a backslash must be followed by " or \`)
			}
			return token{}, errorf(start, "unterminated string")
		default:
			b.WriteByte(c)
		}
	}
	return token{}, errorf(start, "unterminated string")
}

// quoteRune returns the first character of s, quoted.
func quoteRune(s string) string {
	for _, r := range s {
		return strconv.QuoteRune(r)
	}
	return `""`
}

// describe returns how to name t in an error message.
func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the filter"
	}
	return strconv.Quote(t.text)
}

// filter parses the whole filter.
func (p *parser) filter() ([]cond, error) {
	var conds []cond
	err := p.conjunction(func(t token) error {
		c, err := p.comparison(t)
		conds = append(conds, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return conds, nil
}

// conjunction parses comparisons joined by AND up to the end of the filter
// (none for an empty filter), at most MaxComparisons of them: comparison
// parses each, from its first token. The filters of ListThreads and of the
// event log (ParseEvents) share it.
func (p *parser) conjunction(comparison func(t token) error) error {
	t, err := p.next()
	if err != nil || t.kind == tEOF {
		return err
	}
	for n := 0; ; n++ {
		if n == MaxComparisons {
			return errorf(t.pos, "a filter may hold at most %d comparisons", MaxComparisons)
		}
		if err := comparison(t); err != nil {
			return err
		}
		if t, err = p.next(); err != nil || t.kind == tEOF {
			return err
		}
		if t.kind != tWord || t.val != "AND" {
			return p.badJoin(t)
		}
		and := t
		if t, err = p.next(); err != nil {
			return err
		}
		if t.kind == tEOF {
			return errorf(and.pos, "expected a comparison after AND")
		}
	}
}

// badJoin returns the error for t, found after a comparison where AND or the
// end of the filter should be.
func (p *parser) badJoin(t token) error {
	if t.kind == tWord {
		switch strings.ToUpper(t.val) {
		case "AND":
			return errorf(t.pos, "%q is not an operator; join comparisons with AND (upper case)", t.val)
		case "OR":
			return errorf(t.pos, "OR is not supported; join comparisons with AND")
		case "NOT":
			return errorf(t.pos, "NOT is not supported; use !=")
		}
	}
	return errorf(t.pos, "expected AND or the end of the filter after a comparison, not %s", describe(t))
}

// comparison parses a comparison starting with t.
func (p *parser) comparison(t token) (cond, error) {
	if err := fieldToken(t); err != nil {
		return cond{}, err
	}
	fd, ok := lookupField(t.val)
	if !ok {
		return cond{}, errorf(t.pos, "unknown field %q; fields are %s", t.val, strings.Join(fieldNames[:], ", "))
	}
	op, v, err := p.operatorAndValue(t, fd == fTag, true, "applies only to tags")
	if err != nil {
		return cond{}, err
	}
	value, err := normalize(fd, v)
	if err != nil {
		return cond{}, err
	}
	return cond{field: fd, neg: op.kind == tNe, value: value}, nil
}

// fieldToken checks that t can start a comparison: a field name, not AND,
// OR, NOT or a negation, which the grammar here does not take.
func fieldToken(t token) error {
	if t.kind != tWord {
		return errorf(t.pos, "expected a field name, not %s", describe(t))
	}
	switch {
	case t.val == "AND":
		return errorf(t.pos, "expected a comparison before AND")
	case strings.ToUpper(t.val) == "OR":
		return errorf(t.pos, "OR is not supported; join comparisons with AND")
	case strings.ToUpper(t.val) == "NOT":
		return errorf(t.pos, "NOT is not supported; use !=")
	case strings.HasPrefix(t.val, "-"):
		return errorf(t.pos, "negation with - is not supported; use !=")
	}
	return nil
}

// operatorAndValue reads the operator and the value of a comparison on
// field t: = or !=, or the has operator (:) if has, else refused with
// "the has operator (:) " + hasRefusal. grammarHas says whether any field
// of the grammar takes the has operator, for the message naming the
// operators expected.
func (p *parser) operatorAndValue(t token, has, grammarHas bool, hasRefusal string) (op, v token, err error) {
	op, err = p.next()
	if err != nil {
		return op, v, err
	}
	switch op.kind {
	case tEq, tNe:
	case tHas:
		if !has {
			return op, v, errorf(op.pos, "the has operator (:) %s; use %s = value", hasRefusal, t.val)
		}
	default:
		if grammarHas {
			return op, v, errorf(op.pos, "expected =, != or : after %s, not %s", t.val, describe(op))
		}
		return op, v, errorf(op.pos, "expected = or != after %s, not %s", t.val, describe(op))
	}
	v, err = p.value(op)
	return op, v, err
}

// value reads the value of a comparison after its operator op: a bare word
// or a string.
func (p *parser) value(op token) (token, error) {
	v, err := p.next()
	if err != nil {
		return v, err
	}
	if v.kind != tWord && v.kind != tString {
		return v, errorf(v.pos, "expected value after %s, not %s", op.text, describe(v))
	}
	return v, nil
}

// normalize checks the value v of field fd and returns it normalised (see
// cond.value).
func normalize(fd field, v token) (string, error) {
	value := v.val
	switch fd {
	case fTheme:
		if slug := strings.TrimPrefix(value, "themes/"); resname.ValidSlug(slug, maxSlug) {
			return "themes/" + slug, nil
		}
		return "", errorf(v.pos, "invalid theme %q: want a theme name such as \"themes/joint-programmes\", or its slug (lowercase letters and digits, single hyphens between, at most %d characters)", value, maxSlug)
	case fConvening:
		if slug := strings.TrimPrefix(value, "convenings/"); resname.ValidSlug(slug, maxSlug) {
			return "convenings/" + slug, nil
		}
		return "", errorf(v.pos, "invalid convening %q: want a convening name such as \"convenings/beijing-2015\", or its slug", value)
	case fAuthorOrganization:
		if slug := strings.TrimPrefix(value, "organizations/"); resname.ValidSlug(slug, maxSlug) {
			return "organizations/" + slug, nil
		}
		return "", errorf(v.pos, "invalid author.organization %q: want an organisation name such as \"organizations/vso\", or its slug", value)
	case fTag:
		if resname.ValidSlug(value, maxTag) {
			return value, nil
		}
		return "", errorf(v.pos, "invalid tag %q: want lowercase letters and digits, single hyphens between, at most %d characters", value, maxTag)
	case fAuthor:
		if _, err := resname.ParseUser(value); err == nil {
			return value, nil
		}
		return "", errorf(v.pos, "invalid author %q: want a user name such as \"users/123\"", value)
	case fFollowUpOf:
		if _, err := resname.ParseThread(value); err == nil {
			return value, nil
		}
		return "", errorf(v.pos, "invalid follow_up_of %q: want a thread name such as \"threads/123\"", value)
	case fKind:
		return enumValue(fd, v, forumv1.ThreadKind(0).Descriptor(), "THREAD_KIND_")
	case fState:
		return enumValue(fd, v, forumv1.ThreadState(0).Descriptor(), "THREAD_STATE_")
	case fPinned, fLocked, fAnswered:
		if value == "true" || value == "false" {
			return value, nil
		}
		return "", errorf(v.pos, "invalid %s %q: want true or false", fd, value)
	case fAuthorCountry:
		if len(value) == 2 && isUpper(value[0]) && isUpper(value[1]) {
			return value, nil
		}
		return "", errorf(v.pos, "invalid author.country %q: want an ISO 3166-1 alpha-2 code such as KE", value)
	}
	panic("filter: no normalisation for field " + fd.String())
}

// enumValue returns the full name of the value of enum written as v, with or
// without prefix. The zero (unspecified) value is not allowed.
func enumValue(fd field, v token, enum protoreflect.EnumDescriptor, prefix string) (string, error) {
	full := v.val
	if !strings.HasPrefix(full, prefix) {
		full = prefix + full
	}
	values := enum.Values()
	var allowed []string
	for i := range values.Len() {
		ev := values.Get(i)
		if ev.Number() == 0 {
			continue
		}
		if string(ev.Name()) == full {
			return full, nil
		}
		allowed = append(allowed, strings.TrimPrefix(string(ev.Name()), prefix))
	}
	return "", errorf(v.pos, "invalid %s %q: want one of %s (or with the prefix %s)", fd, v.val, strings.Join(allowed, ", "), prefix)
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
