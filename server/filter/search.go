package filter

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The filter of full-text search (SearchService.Search): the grammar of
// ParseThreads (comparisons joined by AND, values bare or double-quoted)
// over these fields:
//
//	theme                a theme name "themes/x", or just its slug "x"
//	author               a user name "users/123"
//	kind                 the thread's kind: FOLLOW_UP or THREAD_KIND_FOLLOW_UP, and so on
//	state                the thread's state: OPEN or THREAD_STATE_OPEN, and so on
//	tag (or tags)        a tag of the thread
//	author.organization  the author's organisation, "organizations/x" or "x"
//	author.country       the author's country, such as KE
//	create_time          when the post was written
//
// Every field but create_time takes = and != (and tags, as in ParseThreads,
// the has operator: `tags:x` is `tag = x`), with the values that
// ParseThreads accepts. create_time takes >, >=, < and <= and a time: an
// RFC 3339 timestamp, which must be double-quoted because of its colons
// ("2026-01-01T12:00:00Z", "2026-01-01T14:00:00+02:00"), or a date
// ("2026-01-01", or bare 2026-01-01), which means its midnight UTC. A filter
// has at most one lower bound (> or >=) and one upper bound (< or <=) on
// create_time, and no time may be left between them:
//
//	theme = health AND create_time >= "2026-01-01" AND create_time < "2026-02-01"

// searchFields are the fields of the search filter other than create_time,
// in the order of the canonical form.
var searchFields = [...]field{fTheme, fAuthor, fKind, fState, fTag, fAuthorOrganization, fAuthorCountry}

// createTime is the name of the field of the post's creation time.
const createTime = "create_time"

// Search is a parsed filter of SearchService.Search.
type Search struct {
	// Conds are the field comparisons other than create_time, canonical
	// (sorted, no duplicates): ordered by field (theme, author, kind, state,
	// tag, author.organization, author.country), = before !=, then by
	// value, as ListThreads orders its filter; as there, an inequality
	// implied by an equality on a field that has one value (theme = a
	// AND theme != b) is dropped. Contradictions are kept: theme = a AND
	// theme = b matches nothing.
	Conds []SearchCond
	// After and Before bound create_time; zero means unbounded. AfterInclusive/BeforeInclusive say whether the bound itself matches (>= / <=).
	//
	// From ParseSearch, After and Before are in UTC, some time is left
	// between them, and an inclusive flag is false when its bound is zero.
	After, Before                   time.Time
	AfterInclusive, BeforeInclusive bool
}

// SearchCond is one comparison: Field is one of "theme", "author",
// "author.organization", "author.country", "kind", "state", "tag"; Value is
// normalised (full resource names `themes/x`, `organizations/x`, `users/N`,
// enum names like `THREAD_KIND_FOLLOW_UP`, `THREAD_STATE_OPEN`, the country
// code upper case as ListThreads does); Not is true for !=.
type SearchCond struct {
	// Field is the field compared, spelt as in the list above ("tag", never
	// "tags").
	Field string
	// Value is the normalised value.
	Value string
	// Not is true for != and false for =.
	Not bool
}

// bound is a bound on create_time while a search filter is parsed.
type bound struct {
	set  bool
	t    time.Time // UTC
	incl bool      // >= or <=
	pos  int       // of the comparison
}

// searchParse is what a search filter has, as it is parsed.
type searchParse struct {
	conds        []cond
	lower, upper bound
}

// ParseSearch parses the filter of SearchService.Search. The empty string
// (or only whitespace) yields the filter with no conditions, not nil. An
// error is an *Error, whose message can be shown to the API client as the
// description of a violation of field "filter".
func ParseSearch(s string) (*Search, error) {
	if len(s) > MaxLen {
		return nil, &Error{Pos: MaxLen, Msg: fmt.Sprintf("the filter is longer than %d bytes", MaxLen)}
	}
	p := parser{s: s, ordering: true}
	var sp searchParse
	if err := p.conjunction(func(t token) error { return p.searchComparison(t, &sp) }); err != nil {
		return nil, err
	}
	f := &Search{}
	for _, c := range canonical(sp.conds).conds {
		f.Conds = append(f.Conds, SearchCond{Field: c.field.String(), Value: c.value, Not: c.neg})
	}
	if sp.lower.set {
		f.After, f.AfterInclusive = sp.lower.t, sp.lower.incl
	}
	if sp.upper.set {
		f.Before, f.BeforeInclusive = sp.upper.t, sp.upper.incl
	}
	// The canonical form writes a space on each side of every AND, which
	// the filter may have left out after a quoted value, and it quotes a
	// timestamp as it was quoted: so it can be a few bytes longer than the
	// filter. It must still parse.
	if len(f.String()) > MaxLen {
		return nil, &Error{Pos: len(s), Msg: fmt.Sprintf("the filter is longer than %d bytes when written with a space on each side of every AND", MaxLen)}
	}
	return f, nil
}

// searchFieldNames lists the fields of the search filter, for messages.
func searchFieldNames() string {
	names := make([]string, 0, len(searchFields)+1)
	for _, fd := range searchFields {
		names = append(names, fd.String())
	}
	return strings.Join(append(names, createTime), ", ")
}

// searchComparison parses a comparison of a search filter starting with t
// into sp.
func (p *parser) searchComparison(t token, sp *searchParse) error {
	if err := fieldToken(t); err != nil {
		return err
	}
	if t.val == createTime {
		return p.timeComparison(t, sp)
	}
	fd, ok := lookupField(t.val)
	if !ok || !slices.Contains(searchFields[:], fd) {
		return errorf(t.pos, "unknown field %q; fields are %s", t.val, searchFieldNames())
	}
	op, err := p.next()
	if err != nil {
		return err
	}
	switch op.kind {
	case tEq, tNe:
	case tHas:
		if fd != fTag {
			return errorf(op.pos, "the has operator (:) applies only to tags; use %s = value", t.val)
		}
	case tLt, tLe, tGt, tGe:
		return errorf(op.pos, "the %s operator applies only to %s; %s takes = or !=", op.text, createTime, t.val)
	default:
		if fd == fTag {
			return errorf(op.pos, "expected =, != or : after %s, not %s", t.val, describe(op))
		}
		return errorf(op.pos, "expected = or != after %s, not %s", t.val, describe(op))
	}
	v, err := p.value(op)
	if err != nil {
		return err
	}
	value, err := normalize(fd, v)
	if err != nil {
		return err
	}
	sp.conds = append(sp.conds, cond{field: fd, neg: op.kind == tNe, value: value})
	return nil
}

// timeComparison parses a comparison on create_time, whose field is t, into
// sp.
func (p *parser) timeComparison(t token, sp *searchParse) error {
	op, err := p.next()
	if err != nil {
		return err
	}
	switch op.kind {
	case tLt, tLe, tGt, tGe:
	case tEq, tNe, tHas:
		return errorf(op.pos, "%s takes >, >=, < or <=, not %s; for a range, join a lower and an upper bound with AND", createTime, op.text)
	default:
		return errorf(op.pos, "expected >, >=, < or <= after %s, not %s", createTime, describe(op))
	}
	v, err := p.value(op)
	if err != nil {
		return err
	}
	tm, err := p.searchTime(v)
	if err != nil {
		return err
	}
	b := bound{set: true, t: tm, incl: op.kind == tGe || op.kind == tLe, pos: t.pos}
	if op.kind == tGt || op.kind == tGe {
		if sp.lower.set {
			return errorf(t.pos, "%s has two lower bounds (> or >=), here and at offset %d; keep one", createTime, sp.lower.pos)
		}
		sp.lower = b
	} else {
		if sp.upper.set {
			return errorf(t.pos, "%s has two upper bounds (< or <=), here and at offset %d; keep one", createTime, sp.upper.pos)
		}
		sp.upper = b
	}
	lo, hi := sp.lower, sp.upper
	if lo.set && hi.set && (lo.t.After(hi.t) || lo.t.Equal(hi.t) && !(lo.incl && hi.incl)) {
		after, before := "after ", "before "
		if lo.incl {
			after = "at or after "
		}
		if hi.incl {
			before = "at or before "
		}
		return errorf(t.pos, "no time is %s%s and %s%s", after, lo.t.Format(time.RFC3339Nano), before, hi.t.Format(time.RFC3339Nano))
	}
	return nil
}

// The range of create_time values, both exclusive: the times the search
// index can compare (it keeps them as nanoseconds since 1970 in an int64:
// 1677-09-21 to 2262-04-11), which also keeps clear of the zero time (no
// bound) and of years formatSearchTime cannot write.
var (
	minSearchTime = time.Unix(0, math.MinInt64).UTC()
	maxSearchTime = time.Unix(0, math.MaxInt64).UTC()
)

// searchTime returns the time, in UTC, of v, the value of a comparison on
// create_time: an RFC 3339 timestamp or a date (midnight UTC).
func (p *parser) searchTime(v token) (time.Time, error) {
	var t time.Time
	var err error
	if len(v.val) == len(time.DateOnly) {
		t, err = time.Parse(time.DateOnly, v.val)
	} else if err = t.UnmarshalText([]byte(v.val)); err == nil {
		// RFC 3339 offsets are at most 23:59; time accepts 24:00 and more.
		if _, off := t.Zone(); off <= -24*60*60 || off >= 24*60*60 {
			err = errors.New("offset out of range")
		}
	}
	if err != nil {
		if v.kind == tWord && strings.HasPrefix(p.s[p.pos:], ":") {
			return time.Time{}, errorf(v.pos, `a timestamp must be in double quotes, as in %s > "2026-01-01T00:00:00Z"`, createTime)
		}
		return time.Time{}, errorf(v.pos, `invalid %s %q: want an RFC 3339 timestamp such as "2026-01-01T12:00:00Z" or "2026-01-01T14:00:00+02:00", or a date such as "2026-01-01"`, createTime, v.val)
	}
	t = t.UTC()
	if !t.After(minSearchTime) || !t.Before(maxSearchTime) {
		return time.Time{}, errorf(v.pos, "%s %q is out of range: want a time after %s and before %s", createTime, v.val, minSearchTime.Format(time.RFC3339), maxSearchTime.Format(time.RFC3339))
	}
	return t, nil
}

// formatSearchTime returns the canonical spelling of t as a value: a bare
// date for midnight UTC (2026-01-01), else a quoted RFC 3339 timestamp in
// UTC ("2026-01-01T12:30:00.5Z").
func formatSearchTime(t time.Time) string {
	t = t.UTC()
	if h, m, s := t.Clock(); h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return `"` + t.Format(time.RFC3339Nano) + `"`
}

// String returns the filter in canonical form; ParseSearch(f.String()) gives an equal filter. (Used to bind page tokens to the filter.)
//
// The canonical form is Conds, in their order, each in the shortest
// spelling that ParseThreads's canonical form uses (theme and organisation
// slugs, short enum names, no spaces), then the lower and the upper bound on
// create_time (a bare date for midnight UTC, else a quoted timestamp in
// UTC), joined by " AND ":
//
//	theme=health AND kind=QUESTION AND create_time>=2026-01-01 AND create_time<"2026-01-31T12:00:00Z"
//
// Filters that differ only in spelling, whitespace, order, repetition or
// implied inequalities have the same canonical form. The empty filter's,
// and nil's, is "".
func (f *Search) String() string {
	if f == nil {
		return ""
	}
	var parts []string
	for _, c := range f.Conds {
		if fd, ok := lookupField(c.Field); ok {
			parts = append(parts, cond{field: fd, neg: c.Not, value: c.Value}.String())
			continue
		}
		op := "="
		if c.Not {
			op = "!="
		}
		parts = append(parts, c.Field+op+c.Value) // not from ParseSearch
	}
	if !f.After.IsZero() {
		op := ">"
		if f.AfterInclusive {
			op = ">="
		}
		parts = append(parts, createTime+op+formatSearchTime(f.After))
	}
	if !f.Before.IsZero() {
		op := "<"
		if f.BeforeInclusive {
			op = "<="
		}
		parts = append(parts, createTime+op+formatSearchTime(f.Before))
	}
	return strings.Join(parts, " AND ")
}
