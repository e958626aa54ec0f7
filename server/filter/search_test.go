package filter

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// searchGood are search filters that parse, with their canonical forms.
var searchGood = []struct {
	in, want string
}{
	{"", ""},
	{" \t\r\n ", ""},
	// Each field, both operators, both spellings of names and enums.
	{`theme = "themes/joint-programmes"`, `theme=joint-programmes`},
	{`theme = joint-programmes`, `theme=joint-programmes`},
	{`theme != "health"`, `theme!=health`},
	{`theme != themes/health`, `theme!=health`},
	{`author = "users/12"`, `author=users/12`},
	{`author != users/9223372036854775807`, `author!=users/9223372036854775807`},
	{`author.organization = vso`, `author.organization=vso`},
	{`author.organization != "organizations/vso"`, `author.organization!=vso`},
	{`author.country = KE`, `author.country=KE`},
	{`author.country != "BR"`, `author.country!=BR`},
	{`kind = FOLLOW_UP`, `kind=FOLLOW_UP`},
	{`kind = THREAD_KIND_FOLLOW_UP`, `kind=FOLLOW_UP`},
	{`kind != "THREAD_KIND_QUESTION"`, `kind!=QUESTION`},
	{`state = OPEN`, `state=OPEN`},
	{`state != THREAD_STATE_LOCKED`, `state!=LOCKED`},
	{`tag = health`, `tag=health`},
	{`tags != "nutrition"`, `tag!=nutrition`},
	{`tags:health`, `tag=health`},
	{`tag : "health"`, `tag=health`},
	// create_time: dates, timestamps, offsets, fractions, both bounds.
	{`create_time > "2026-01-01T00:00:00Z"`, `create_time>2026-01-01`},
	{`create_time >= "2026-01-01"`, `create_time>=2026-01-01`},
	{`create_time>=2026-01-01`, `create_time>=2026-01-01`},
	{`create_time < "2026-03-01T12:30:00Z"`, `create_time<"2026-03-01T12:30:00Z"`},
	{`create_time <= "2026-03-01T12:30:00+02:00"`, `create_time<="2026-03-01T10:30:00Z"`},
	{`create_time > "2026-03-01T02:00:00+02:00"`, `create_time>2026-03-01`},
	{`create_time > "2026-03-01T00:00:00.500Z"`, `create_time>"2026-03-01T00:00:00.5Z"`},
	{`create_time < "2026-03-01T00:00:00-00:00"`, `create_time<2026-03-01`},
	{`create_time < "2026-02-01" AND create_time >= "2026-01-01"`, `create_time>=2026-01-01 AND create_time<2026-02-01`},
	{`create_time > "2026-01-01T00:00:00Z" AND create_time < "2026-01-01T00:00:00.000000001Z"`, `create_time>2026-01-01 AND create_time<"2026-01-01T00:00:00.000000001Z"`},
	// A range of one instant is not empty.
	{`create_time >= "2026-01-01T12:00:00Z" AND create_time <= "2026-01-01T14:00:00+02:00"`, `create_time>="2026-01-01T12:00:00Z" AND create_time<="2026-01-01T12:00:00Z"`},
	// Mixed, out of order, repeated, implied.
	{
		`create_time > "2026-01-01" AND tag = b AND theme = "themes/a" AND tags:a AND state = OPEN AND tag = b`,
		`theme=a AND state=OPEN AND tag=a AND tag=b AND create_time>2026-01-01`,
	},
	{`theme != b AND theme = a AND theme != c`, `theme=a`},
	{`tag = a AND tag != b`, `tag=a AND tag!=b`},
	{`state = OPEN AND state = LOCKED`, `state=LOCKED AND state=OPEN`},
	{`tag = and AND tag = or AND theme = not`, `theme=not AND tag=and AND tag=or`},
	{
		`author.country = KE AND create_time <= "2026-06-30T23:59:59Z" AND author.organization = o AND tag != x AND state = RESOLVED AND kind = ANNOUNCEMENT AND author = users/2 AND theme = t AND create_time >= 2026-06-01`,
		`theme=t AND author=users/2 AND kind=ANNOUNCEMENT AND state=RESOLVED AND tag!=x AND author.organization=o AND author.country=KE AND create_time>=2026-06-01 AND create_time<="2026-06-30T23:59:59Z"`,
	},
	// Whitespace.
	{"\ttheme\n=\r\"a\"AND   create_time>=\"2026-01-01\"  ", `theme=a AND create_time>=2026-01-01`},
	{`create_time>"2026-01-01T10:00:00Z"AND tag="x"`, `tag=x AND create_time>"2026-01-01T10:00:00Z"`},
	{"create_time\n<\n\"2026-01-01\"", `create_time<2026-01-01`},
}

// searchBad are search filters that do not parse, with the position and a
// fragment of the message of the error.
var searchBad = []struct {
	in  string
	pos int
	msg string
}{
	{`colour = red`, 0, `unknown field "colour"; fields are theme, author, kind, state, tag, author.organization, author.country, create_time`},
	{`theme = a AND pinned = true`, 14, `unknown field "pinned"; fields are theme,`},
	{`follow_up_of = threads/1`, 0, `unknown field "follow_up_of"`},
	{`createTime > "2026-01-01"`, 0, `unknown field "createTime"`},
	// Operators.
	{`theme > a`, 6, `the > operator applies only to create_time; theme takes = or !=`},
	{`tag <= a`, 4, `the <= operator applies only to create_time; tag takes = or !=`},
	{`state >= OPEN`, 6, `the >= operator applies only to create_time; state takes = or !=`},
	{`author.country < KE`, 15, `the < operator applies only to create_time`},
	{`theme:a`, 5, `the has operator (:) applies only to tags; use theme = value`},
	{`theme`, 5, `expected = or != after theme, not the end of the filter`},
	{`tag a`, 4, `expected =, != or : after tag, not "a"`},
	{`create_time = "2026-01-01"`, 12, `create_time takes >, >=, < or <=, not =; for a range, join a lower and an upper bound with AND`},
	{`create_time != "2026-01-01"`, 12, `create_time takes >, >=, < or <=, not !=`},
	{`create_time:2026-01-01`, 11, `create_time takes >, >=, < or <=, not :`},
	{`create_time "2026-01-01"`, 12, `expected >, >=, < or <= after create_time, not "\"2026-01-01\""`},
	{`create_time`, 11, `expected >, >=, < or <= after create_time, not the end of the filter`},
	{`create_time >`, 13, `expected value after >, not the end of the filter`},
	{`create_time > >= "2026-01-01"`, 14, `expected value after >, not ">="`},
	{`theme = >`, 8, `expected value after =, not ">"`},
	{`> "2026-01-01"`, 0, `expected a field name, not ">"`},
	{`theme = a > b`, 10, `expected AND or the end of the filter after a comparison, not ">"`},
	// Times.
	{`create_time > "yesterday"`, 14, `invalid create_time "yesterday": want an RFC 3339 timestamp such as "2026-01-01T12:00:00Z"`},
	{`create_time > "2026-13-01"`, 14, `invalid create_time "2026-13-01"`},
	{`create_time > "2026-02-30"`, 14, `invalid create_time`},
	{`create_time > "2026-1-1"`, 14, `invalid create_time`},
	{`create_time > "2026-01-01T25:00:00Z"`, 14, `invalid create_time`},
	{`create_time > "2026-01-01T00:00:00"`, 14, `invalid create_time`},
	{`create_time > "2026-01-01 00:00:00Z"`, 14, `invalid create_time`},
	{`create_time > "2026-01-01t00:00:00z"`, 14, `invalid create_time`},
	{`create_time > "2026-01-01T00:00:00+24:00"`, 14, `invalid create_time`},
	{`create_time > ""`, 14, `invalid create_time ""`},
	{`create_time > 1767225600`, 14, `invalid create_time "1767225600"`},
	{`create_time > 2026-01-01T00:00:00Z`, 14, `a timestamp must be in double quotes, as in create_time > "2026-01-01T00:00:00Z"`},
	{`create_time > "0001-01-01T00:00:00Z"`, 14, `create_time "0001-01-01T00:00:00Z" is out of range: want a time after 1677-09-21T00:12:43Z and before 2262-04-11T23:47:16Z`},
	{`create_time >= "2999-01-01"`, 15, `out of range`},
	{`create_time < "1600-01-01"`, 14, `out of range`},
	{`create_time < "0001-01-01T00:30:00+01:00"`, 14, `out of range`},
	{`create_time < "9999-12-31T23:00:00-05:00"`, 14, `out of range`},
	{`create_time > "2026-01-01T00:00:00Z`, 14, `unterminated string`},
	// Bounds.
	{`create_time > "2026-01-01" AND create_time >= "2026-02-01"`, 31, `create_time has two lower bounds (> or >=), here and at offset 0; keep one`},
	{`create_time > 2026-01-01 AND create_time > 2026-01-01`, 29, `create_time has two lower bounds`},
	{`create_time <= "2026-01-01" AND tag = a AND create_time < "2026-02-01"`, 44, `create_time has two upper bounds (< or <=), here and at offset 0`},
	{`create_time > "2026-02-01" AND create_time < "2026-01-01"`, 31, `no time is after 2026-02-01T00:00:00Z and before 2026-01-01T00:00:00Z`},
	{`create_time <= "2026-01-01" AND create_time >= "2026-01-01T00:00:00.5Z"`, 32, `no time is at or after 2026-01-01T00:00:00.5Z and at or before 2026-01-01T00:00:00Z`},
	{`create_time >= "2026-01-01" AND create_time < "2026-01-01"`, 32, `no time is at or after 2026-01-01T00:00:00Z and before 2026-01-01T00:00:00Z`},
	{`create_time > "2026-01-01T02:00:00+02:00" AND create_time <= "2026-01-01"`, 46, `no time is after 2026-01-01T00:00:00Z and at or before 2026-01-01T00:00:00Z`},
	// Values, as in ListThreads.
	{`theme = "Bad Theme"`, 8, `invalid theme "Bad Theme": want a theme name such as "themes/joint-programmes", or its slug`},
	{`theme = users/1`, 8, `invalid theme`},
	{`author = bob`, 9, `invalid author "bob": want a user name such as "users/123"`},
	{`author.organization = "Bad Org"`, 22, `invalid author.organization "Bad Org"`},
	{`author.country = ke`, 17, `invalid author.country "ke": want an ISO 3166-1 alpha-2 code such as KE`},
	{`kind = discussion`, 7, `invalid kind "discussion": want one of DISCUSSION, QUESTION, FOLLOW_UP, ANNOUNCEMENT (or with the prefix THREAD_KIND_)`},
	{`state = THREAD_STATE_UNSPECIFIED`, 8, `invalid state "THREAD_STATE_UNSPECIFIED": want one of OPEN, RESOLVED, LOCKED`},
	{`tag = Health`, 6, `invalid tag "Health"`},
	// Joins and the rest of the grammar.
	{`theme = a OR theme = b`, 10, `OR is not supported; join comparisons with AND`},
	{`theme = a and tag = b`, 10, `"and" is not an operator; join comparisons with AND (upper case)`},
	{`theme = a AND`, 10, `expected a comparison after AND`},
	{`theme = a AND  `, 10, `expected a comparison after AND`},
	{`AND theme = a`, 0, `expected a comparison before AND`},
	{`NOT theme = a`, 0, `NOT is not supported; use !=`},
	{`-theme = a`, 0, `negation with - is not supported`},
	{`(theme = a)`, 0, `parentheses are not supported`},
	{`theme = 'a'`, 8, `double quotes`},
	{`tag = a*`, 7, `unexpected character '*'`},
	{`!theme = a`, 0, `unexpected "!"`},
	// Limits.
	{strings.Repeat(" ", MaxLen+1), MaxLen, `the filter is longer than 1000 bytes`},
	{strings.Repeat("tag = a AND ", MaxComparisons) + "tag = b", 12 * MaxComparisons, `a filter may hold at most 20 comparisons`},
	{longCanonical(0), MaxLen, `the filter is longer than 1000 bytes when written with a space on each side of every AND`},
	{longCanonical(1), MaxLen - 1, `the filter is longer than 1000 bytes when written`},
}

// longCanonical returns a filter of MaxLen-short bytes whose canonical form
// is 2 bytes longer: it leaves out the spaces before AND after its two
// quoted timestamps, which the canonical form writes.
func longCanonical(short int) string {
	var b strings.Builder
	b.WriteString(`create_time>"2026-01-01T01:00:00Z"AND create_time<"2026-01-02T01:00:00Z"AND `)
	for i := range 13 {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("theme!=")
		b.WriteByte(byte('a' + i))
		n := 59
		if i == 12 {
			n = MaxLen - short - b.Len()
		}
		b.WriteString(strings.Repeat("x", n))
	}
	return b.String()
}

func TestParseSearchCanonical(t *testing.T) {
	for _, tt := range searchGood {
		f, err := ParseSearch(tt.in)
		if err != nil {
			t.Errorf("ParseSearch(%q): %v", tt.in, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseSearch(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		checkRoundTrip(t, tt.in, f)
	}
}

// checkRoundTrip checks that the canonical form of f, parsed from in, parses
// to an equal filter with the same canonical form.
func checkRoundTrip(t *testing.T, in string, f *Search) {
	t.Helper()
	canon := f.String()
	again, err := ParseSearch(canon)
	if err != nil {
		t.Fatalf("canonical form %q of %q does not parse: %v", canon, in, err)
	}
	if !reflect.DeepEqual(again, f) {
		t.Fatalf("%q parses to %+v, its canonical form %q to %+v", in, f, canon, again)
	}
	if again.String() != canon {
		t.Fatalf("canonical form not stable: %q → %q", canon, again.String())
	}
}

// checkInvariants checks what ParseSearch promises of a filter it returns.
func checkInvariants(t *testing.T, in string, f *Search) {
	t.Helper()
	for i, c := range f.Conds {
		fd, ok := lookupField(c.Field)
		if !ok || !slices.Contains(searchFields[:], fd) || c.Field != fd.String() {
			t.Fatalf("%q: bad field in %+v", in, c)
		}
		if i > 0 {
			p := f.Conds[i-1]
			pf, _ := lookupField(p.Field)
			if compareConds(pf, p.Not, p.Value, fd, c.Not, c.Value) >= 0 {
				t.Fatalf("%q: conditions %+v and %+v out of order or repeated", in, p, c)
			}
		}
	}
	for _, b := range []struct {
		t    time.Time
		incl bool
	}{{f.After, f.AfterInclusive}, {f.Before, f.BeforeInclusive}} {
		if b.t.Location() != time.UTC || b.t.IsZero() && b.incl {
			t.Fatalf("%q: bad bound %v (inclusive %v)", in, b.t, b.incl)
		}
	}
	if !f.After.IsZero() && !f.Before.IsZero() {
		if f.After.After(f.Before) || f.After.Equal(f.Before) && !(f.AfterInclusive && f.BeforeInclusive) {
			t.Fatalf("%q: empty range %+v", in, f)
		}
	}
}

func TestParseSearchErrors(t *testing.T) {
	if n := len(longCanonical(0)); n != MaxLen {
		t.Fatalf("longCanonical(0) is %d bytes long", n)
	}
	for _, tt := range searchBad {
		f, err := ParseSearch(tt.in)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("ParseSearch(%q) = %v, %v; want an *Error", tt.in, f, err)
			continue
		}
		if fe.Pos != tt.pos || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseSearch(%q): %q at %d, want %q at %d", tt.in, fe.Msg, fe.Pos, tt.msg, tt.pos)
		}
		if want := fmt.Sprintf("%s (at offset %d)", fe.Msg, fe.Pos); err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	}
}

// TestParseSearchLongCanonical checks that a filter whose canonical form is
// exactly MaxLen bytes long is accepted, two bytes shorter than one that is
// refused.
func TestParseSearchLongCanonical(t *testing.T) {
	in := longCanonical(2)
	f, err := ParseSearch(in)
	if err != nil {
		t.Fatalf("ParseSearch(%q): %v", in, err)
	}
	if n := len(f.String()); n != MaxLen {
		t.Errorf("canonical form is %d bytes long, want %d", n, MaxLen)
	}
	checkRoundTrip(t, in, f)
}

func TestParseSearchValues(t *testing.T) {
	date := func(d int, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		in   string
		want *Search
	}{
		{"", &Search{}},
		{
			`theme = a AND author.organization = "organizations/vso" AND kind = FOLLOW_UP AND state != THREAD_STATE_OPEN`,
			&Search{Conds: []SearchCond{
				{Field: "theme", Value: "themes/a"},
				{Field: "kind", Value: "THREAD_KIND_FOLLOW_UP"},
				{Field: "state", Value: "THREAD_STATE_OPEN", Not: true},
				{Field: "author.organization", Value: "organizations/vso"},
			}},
		},
		{
			`tags:x AND author = users/7 AND author.country != BR AND tag != y`,
			&Search{Conds: []SearchCond{
				{Field: "author", Value: "users/7"},
				{Field: "tag", Value: "x"},
				{Field: "tag", Value: "y", Not: true},
				{Field: "author.country", Value: "BR", Not: true},
			}},
		},
		{`create_time > "2026-01-01"`, &Search{After: date(1, 0)}},
		{`create_time >= "2026-01-01T03:00:00+03:00"`, &Search{After: date(1, 0), AfterInclusive: true}},
		{`create_time < 2026-01-02`, &Search{Before: date(2, 0)}},
		{
			`create_time <= "2026-01-02T12:00:00Z" AND create_time > "2026-01-01T12:00:00Z"`,
			&Search{After: date(1, 12), Before: date(2, 12), BeforeInclusive: true},
		},
	}
	for _, tt := range tests {
		f, err := ParseSearch(tt.in)
		if err != nil {
			t.Errorf("ParseSearch(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(f, tt.want) {
			t.Errorf("ParseSearch(%q) = %+v, want %+v", tt.in, f, tt.want)
		}
		checkInvariants(t, tt.in, f)
	}
}

// TestSearchEquivalent checks that filters that mean the same, spelt
// differently, have the same canonical form and equal values, and that
// filters that do not, do not.
func TestSearchEquivalent(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{`theme = "themes/a" AND state = OPEN`, `state=THREAD_STATE_OPEN AND theme=a`, true},
		{`kind != FOLLOW_UP`, `kind != "THREAD_KIND_FOLLOW_UP"`, true},
		{`create_time > "2026-01-01"`, `create_time > "2026-01-01T01:00:00+01:00"`, true},
		{`create_time > 2026-01-01 AND tag = a`, `tag:a AND create_time>"2026-01-01T00:00:00Z" AND tags = a`, true},
		{`create_time > "2026-01-01"`, `create_time >= "2026-01-01"`, false},
		{`create_time < "2026-01-01"`, `create_time <= "2026-01-01"`, false},
		{`create_time > "2026-01-01"`, `create_time < "2026-01-01"`, false},
		{`create_time > "2026-01-01"`, `create_time > "2026-01-01T00:00:00.000000001Z"`, false},
		{`theme = a`, `author.organization = a`, false},
		{``, `tag != a`, false},
	}
	for _, tt := range tests {
		fa, err := ParseSearch(tt.a)
		if err != nil {
			t.Fatalf("ParseSearch(%q): %v", tt.a, err)
		}
		fb, err := ParseSearch(tt.b)
		if err != nil {
			t.Fatalf("ParseSearch(%q): %v", tt.b, err)
		}
		if same := fa.String() == fb.String(); same != tt.same {
			t.Errorf("%q → %q and %q → %q: same = %v, want %v", tt.a, fa, tt.b, fb, same, tt.same)
		}
		if same := reflect.DeepEqual(fa, fb); same != tt.same {
			t.Errorf("%q → %+v and %q → %+v: equal = %v, want %v", tt.a, fa, tt.b, fb, same, tt.same)
		}
	}
}

// TestSearchRoundTrip checks that every filter that parses, in the tables
// here and in those of ParseThreads, round-trips through its canonical form.
func TestSearchRoundTrip(t *testing.T) {
	var ins []string
	for _, tt := range searchGood {
		ins = append(ins, tt.in)
	}
	ins = append(ins,
		`theme = a AND theme = b AND theme != a`,
		`tag = a AND tag != a`,
		`create_time > "1970-01-01T00:00:00Z"`,
		`create_time >= "1677-09-21T00:12:44Z" AND create_time <= "2262-04-11T23:47:16Z"`,
		`create_time < "10000-01-01"`, // an error: kept to check that errors are skipped
	)
	for _, tt := range searchBad {
		ins = append(ins, tt.in)
	}
	n := 0
	for _, in := range ins {
		f, err := ParseSearch(in)
		if err != nil {
			continue
		}
		n++
		checkInvariants(t, in, f)
		checkRoundTrip(t, in, f)
	}
	if n < len(searchGood)+4 {
		t.Errorf("only %d filters parsed", n)
	}
}

func TestSearchStringNil(t *testing.T) {
	var f *Search
	if s := f.String(); s != "" {
		t.Errorf("(*Search)(nil).String() = %q", s)
	}
	// A filter built by hand, with a field that is not in the grammar,
	// still has a String.
	f = &Search{Conds: []SearchCond{{Field: "colour", Value: "red", Not: true}}, Before: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if s, want := f.String(), "colour!=red AND create_time<2026-01-01"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
}

func FuzzParseSearch(f *testing.F) {
	for _, tt := range searchGood {
		f.Add(tt.in)
	}
	for _, tt := range searchBad {
		f.Add(tt.in)
	}
	f.Add(longCanonical(2))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSearch(s)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Pos < 0 || fe.Pos > len(s) || !utf8.ValidString(fe.Msg) {
				t.Fatalf("ParseSearch(%q): bad error %#v", s, err)
			}
			return
		}
		checkInvariants(t, s, p)
		checkRoundTrip(t, s, p)
	})
}

func ExampleParseSearch() {
	f, err := ParseSearch(`theme = "themes/joint-programmes" AND kind = THREAD_KIND_FOLLOW_UP AND create_time >= "2026-01-01" AND create_time < "2026-01-31T12:00:00+01:00"`)
	if err != nil {
		panic(err)
	}
	fmt.Println(f)
	fmt.Println(f.Conds)
	fmt.Println(f.After, f.AfterInclusive, f.Before, f.BeforeInclusive)

	_, err = ParseSearch(`theme > a`)
	fmt.Println(err)
	_, err = ParseSearch(`create_time > "2026-02-01" AND create_time < "2026-01-01"`)
	fmt.Println(err)
	// Output:
	// theme=joint-programmes AND kind=FOLLOW_UP AND create_time>=2026-01-01 AND create_time<"2026-01-31T11:00:00Z"
	// [{theme themes/joint-programmes false} {kind THREAD_KIND_FOLLOW_UP false}]
	// 2026-01-01 00:00:00 +0000 UTC true 2026-01-31 11:00:00 +0000 UTC false
	// the > operator applies only to create_time; theme takes = or != (at offset 6)
	// no time is after 2026-02-01T00:00:00Z and before 2026-01-01T00:00:00Z (at offset 31)
}
