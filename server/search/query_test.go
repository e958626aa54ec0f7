package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// goodQueries are queries that parse, with their canonical form
// (Query.String).
var goodQueries = []struct{ in, want string }{
	// Scripts.
	{`香港 志愿者`, `香港 志愿者`},
	{`서울에서`, `서울에서`},
	{`서울에서 자원봉사자 모집`, `서울에서 자원봉사자 모집`},
	{`مُتَطَوِّع`, `مُتَطَوِّع`},
	{`مُتَطَوِّع OR متطوع`, `مُتَطَوِّع OR متطوع`},
	{`التعليم -الصحة`, `التعليم -الصحة`},
	{`東京の ボランティア`, `東京の ボランティア`},
	{`"東京 大阪" 会議`, `"東京 大阪" 会議`},
	{`l'été`, `l'été`},
	{`l'eau potable`, `l'eau potable`},
	{`e-mail`, `e-mail`},
	{`U.N.`, `U.N.`},
	{`niño OR niña`, `niño OR niña`},
	{`Ελλάδα Україна हिन्दी ไทย`, `Ελλάδα Україна हिन्दी ไทย`},
	{`🙂 C++ #santé @alice 50% a/b`, `🙂 C++ #santé @alice 50% a/b`},
	// Phrases and exclusion.
	{`"joint programme" -draft`, `"joint programme" -draft`},
	{`-draft "joint programme"`, `-draft "joint programme"`},
	{`report -"draft version"`, `report -"draft version"`},
	{`"  padded  "`, `"  padded  "`},
	{`"a (b) -c OR d"`, `"a (b) -c OR d"`},
	{`"l'été à Genève"`, `"l'été à Genève"`},
	{`"香港"`, `"香港"`},
	{`"OR"`, `"OR"`},
	{`a OR "OR"`, `a OR "OR"`},
	{`a -OR`, `a -OR`},
	{`x -a-b`, `x -a-b`},
	{`a- a--b 'quoted' it's`, `a- a--b 'quoted' it's`},
	// OR.
	{`volunteer OR volontaire OR voluntario`, `volunteer OR volontaire OR voluntario`},
	{`a b OR c d`, `a b OR c d`},
	{`"joint programme" OR "programme conjoint" -draft`, `"joint programme" OR "programme conjoint" -draft`},
	{`or`, `or`},
	{`a or b`, `a or b`},
	{`Or oR ORa OR- xOR`, `Or oR ORa OR- xOR`},
	// White space.
	{"  volunteer\t\tOR\nvolontaire  ", `volunteer OR volontaire`},
	{"香港\u3000志愿者", `香港 志愿者`},
	{"a\u00a0b\u2003c\u0085d\r\ne", `a b c d e`},
	{"\"a\tb\"", "\"a\tb\""},
	// Limits, exactly reached.
	{strings.Repeat("a", MaxQueryLen), strings.Repeat("a", MaxQueryLen)},
	{strings.Repeat("é", MaxQueryLen/2), strings.Repeat("é", MaxQueryLen/2)},
	{strings.TrimSpace(strings.Repeat("a ", MaxQueryTerms)), strings.TrimSpace(strings.Repeat("a ", MaxQueryTerms))},
	{strings.Repeat("a OR ", MaxQueryTerms-1) + "a", strings.Repeat("a OR ", MaxQueryTerms-1) + "a"},
}

// badQueries are queries that do not parse, with the byte offset and rune
// column of the error and a fragment of its message.
var badQueries = []struct {
	in       string
	pos, col int
	msg      string
}{
	{``, 0, 1, "empty"},
	{`   `, 0, 1, "empty"},
	{"\u3000\t\n", 0, 1, "empty"},
	{`""`, 0, 1, "empty phrase"},
	{`" "`, 0, 1, "empty phrase"},
	{"a \"\u3000\"", 2, 3, "empty phrase"},
	{`"joint programme`, 0, 1, "unterminated phrase"},
	{`draft "joint programme`, 6, 7, "unterminated phrase: close the quote opened here"},
	{`香港 "志愿者`, 7, 4, "unterminated phrase"},
	{`"a" "b`, 4, 5, "unterminated phrase"},
	{`-"a`, 1, 2, "unterminated phrase"},
	{`OR`, 0, 1, "OR must stand between two terms"},
	{`OR a`, 0, 1, `quote it: "OR"`},
	{`a OR`, 2, 3, "none comes after"},
	{`a OR b OR`, 7, 8, "OR must stand between two terms"},
	{`a OR OR b`, 5, 6, "follows another OR"},
	{`-`, 0, 1, "a - must be followed directly"},
	{`- a`, 0, 1, "a - must be followed directly"},
	{`a -`, 2, 3, "a - must be followed directly"},
	{"a -\u3000b", 2, 3, "a - must be followed directly"},
	{`--a`, 0, 1, "single -"},
	{`a --"b"`, 2, 3, "single -"},
	{`-a OR b`, 0, 1, "an excluded term cannot be one side of OR"},
	{`a OR -b`, 5, 6, "an excluded term cannot be one side of OR"},
	{`a OR -"b c"`, 5, 6, "an excluded term cannot be one side of OR"},
	{`a -"b c" OR d`, 2, 3, "an excluded term cannot be one side of OR"},
	{`(a)`, 0, 1, "parentheses are not supported: search for the words without them"},
	{`a)`, 1, 2, "parentheses are not supported"},
	{`a (b c)`, 2, 3, "parentheses are not supported"},
	{`-(a)`, 1, 2, "parentheses are not supported"},
	{`"a"(b)`, 3, 4, "parentheses are not supported"},
	{`"a b")`, 5, 6, "parentheses are not supported"},
	{`志愿者)`, 9, 4, "parentheses are not supported"},
	{`-a -b`, 0, 1, "say what to find, not only what to leave out"},
	{`  -a -"b c"`, 2, 3, "say what to find"},
	{`l"eau`, 1, 2, "a quote in the middle of a word"},
	{`志愿者"香港"`, 9, 4, "a quote in the middle of a word"},
	{`"a"b`, 3, 4, "put a space after the closing quote"},
	{`"a""b"`, 3, 4, "put a space after the closing quote"},
	{`"a"-b`, 3, 4, "put a space after the closing quote"},
	{`"香港"志愿者`, 8, 5, "put a space after the closing quote"},
	{strings.Repeat("a", MaxQueryLen+1), 512, 513, "longer than 512 bytes"},
	{strings.Repeat("é", MaxQueryLen/2+1), 512, 257, "longer than 512 bytes"},
	// 171 three-byte runes: byte 512 is the last byte of the 171st.
	{strings.Repeat("香", 171), 512, 171, "longer than 512 bytes"},
	// The length is checked before the encoding.
	{"a\xff" + strings.Repeat("b", MaxQueryLen), 512, 513, "longer than 512 bytes"},
	{strings.Repeat("a ", MaxQueryTerms+1), 64, 65, "too many terms: a query has at most 32"},
	{strings.Repeat("a OR ", MaxQueryTerms) + "a", 160, 161, "too many terms"},
	{strings.Repeat(`"a" `, MaxQueryTerms) + "-b", 128, 129, "too many terms"},
	{"a \xff b", 2, 3, "not valid UTF-8"},
	{"\xff", 0, 1, "not valid UTF-8"},
	{"\"a\xffb\"", 2, 3, "not valid UTF-8"},
	{"香港\xe9\xa6", 6, 3, "not valid UTF-8"},
	{"a \xed\xa0\x80", 2, 3, "not valid UTF-8"}, // a surrogate
}

// withoutPos returns a copy of q with every Term.Pos zero, to compare
// queries by their structure.
func withoutPos(q *Query) *Query {
	if q == nil {
		return nil
	}
	c := &Query{Clauses: make([]Clause, len(q.Clauses))}
	for i, cl := range q.Clauses {
		c.Clauses[i] = Clause{Exclude: cl.Exclude, Any: make([]Term, len(cl.Any))}
		for j, t := range cl.Any {
			c.Clauses[i].Any[j] = Term{Text: t.Text, Phrase: t.Phrase}
		}
	}
	return c
}

// checkQuery checks the properties of every query that parses from s: the
// ones a Query from ParseQuery promises, that each term's Pos points at
// the term as typed, and that the canonical form parses to an equal
// Query, no longer than s, and is its own canonical form.
func checkQuery(t *testing.T, s string, q *Query) {
	t.Helper()
	if len(q.Clauses) == 0 {
		t.Fatalf("ParseQuery(%q) has no clauses", s)
	}
	terms, included := 0, false
	for _, c := range q.Clauses {
		if len(c.Any) == 0 || c.Exclude && len(c.Any) != 1 {
			t.Fatalf("ParseQuery(%q): clause %+v", s, c)
		}
		included = included || !c.Exclude
		for _, term := range c.Any {
			terms++
			if term.Text == "" {
				t.Fatalf("ParseQuery(%q): empty term %+v", s, term)
			}
			spelled := term.Text
			if term.Phrase {
				spelled = `"` + spelled + `"`
			}
			if c.Exclude {
				spelled = "-" + spelled
			}
			if term.Pos < 0 || !strings.HasPrefix(s[term.Pos:], spelled) {
				t.Fatalf("ParseQuery(%q): term %+v is not at its Pos", s, term)
			}
		}
	}
	if !included {
		t.Fatalf("ParseQuery(%q): every clause is excluded", s)
	}
	if terms > MaxQueryTerms {
		t.Fatalf("ParseQuery(%q): %d terms", s, terms)
	}
	canon := q.String()
	if len(canon) > len(s) {
		t.Fatalf("ParseQuery(%q).String() = %q, longer than the query", s, canon)
	}
	again, err := ParseQuery(canon)
	if err != nil {
		t.Fatalf("ParseQuery(%q).String() = %q, which does not parse: %v", s, canon, err)
	}
	if !reflect.DeepEqual(withoutPos(again), withoutPos(q)) {
		t.Fatalf("ParseQuery(%q) = %+v, but its canonical form %q parses to %+v", s, q, canon, again)
	}
	if c2 := again.String(); c2 != canon {
		t.Fatalf("canonical form %q of %q is not its own canonical form: %q", canon, s, c2)
	}
}

func TestParseQueryGood(t *testing.T) {
	for _, tt := range goodQueries {
		q, err := ParseQuery(tt.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", tt.in, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("ParseQuery(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		checkQuery(t, tt.in, q)
	}
}

func TestParseQueryBad(t *testing.T) {
	for _, tt := range badQueries {
		q, err := ParseQuery(tt.in)
		if err == nil {
			t.Errorf("ParseQuery(%q) = %q, want an error", tt.in, q)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseQuery(%q): error %T %v, want *ParseError", tt.in, err, err)
			continue
		}
		if q != nil {
			t.Errorf("ParseQuery(%q) = %+v with an error", tt.in, q)
		}
		if pe.Pos != tt.pos || pe.Col != tt.col || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("ParseQuery(%q): Pos %d, Col %d, %q; want Pos %d, Col %d, %q", tt.in, pe.Pos, pe.Col, pe.Msg, tt.pos, tt.col, tt.msg)
		}
		if want := fmt.Sprintf("query: column %d: %s", pe.Col, pe.Msg); err.Error() != want {
			t.Errorf("ParseQuery(%q): Error() = %q, want %q", tt.in, err.Error(), want)
		}
	}
}

// TestParseQueryStructure checks whole ASTs, positions included.
func TestParseQueryStructure(t *testing.T) {
	w := func(text string, pos int) Term { return Term{Text: text, Pos: pos} }
	ph := func(text string, pos int) Term { return Term{Text: text, Phrase: true, Pos: pos} }
	tests := []struct {
		in   string
		want []Clause
	}{
		{`香港 志愿者`, []Clause{{Any: []Term{w("香港", 0)}}, {Any: []Term{w("志愿者", 7)}}}},
		{"香港\u3000志愿者", []Clause{{Any: []Term{w("香港", 0)}}, {Any: []Term{w("志愿者", 9)}}}},
		{`서울에서`, []Clause{{Any: []Term{w("서울에서", 0)}}}},
		{`مُتَطَوِّع`, []Clause{{Any: []Term{w("مُتَطَوِّع", 0)}}}},
		{`"joint programme" -draft`, []Clause{
			{Any: []Term{ph("joint programme", 0)}},
			{Any: []Term{w("draft", 18)}, Exclude: true},
		}},
		{`report -"draft version"`, []Clause{
			{Any: []Term{w("report", 0)}},
			{Any: []Term{ph("draft version", 7)}, Exclude: true},
		}},
		{`volunteer OR volontaire OR voluntario`, []Clause{
			{Any: []Term{w("volunteer", 0), w("volontaire", 13), w("voluntario", 27)}},
		}},
		{`a b OR c d`, []Clause{
			{Any: []Term{w("a", 0)}},
			{Any: []Term{w("b", 2), w("c", 7)}},
			{Any: []Term{w("d", 9)}},
		}},
		{` l'été "à Genève" OR e-mail -U.N.`, []Clause{
			{Any: []Term{w("l'été", 1)}},
			{Any: []Term{ph("à Genève", 9), w("e-mail", 25)}},
			{Any: []Term{w("U.N.", 32)}, Exclude: true},
		}},
		{`a or b`, []Clause{{Any: []Term{w("a", 0)}}, {Any: []Term{w("or", 2)}}, {Any: []Term{w("b", 5)}}}},
		{`"  x  "`, []Clause{{Any: []Term{ph("  x  ", 0)}}}},
	}
	for _, tt := range tests {
		q, err := ParseQuery(tt.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(q.Clauses, tt.want) {
			t.Errorf("ParseQuery(%q) = %+v, want %+v", tt.in, q.Clauses, tt.want)
		}
	}
}

// TestRuneColumn checks columns inside and after runes of every width.
func TestRuneColumn(t *testing.T) {
	s := "aé香🙂" // runes of 1, 2, 3 and 4 bytes, at 0, 1, 3 and 6
	for pos, want := range []int{1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5} {
		if got := runeColumn(s, pos); got != want {
			t.Errorf("runeColumn(%q, %d) = %d, want %d", s, pos, got, want)
		}
	}
}

// The pieces randomQuery builds terms from.
var (
	// wordPieces may start a word, or appear in it; none is white space,
	// a quote or a parenthesis, and none starts with -.
	wordPieces = []string{
		"a", "volunteer", "volontaire", "é", "l'", "ñ", "U.N.", "香港", "志愿者",
		"서울", "에서", "مُتَطَوِّع", "ـ", "🙂", "OR", "or", "#", "+", "e\u0301", // e and a combining acute
	}
	// innerPieces may appear after the first piece of a word.
	innerPieces = append([]string{"-", "--", "'", "."}, wordPieces...)
	// phrasePieces make up phrases: anything but a quote.
	phrasePieces = append([]string{" ", "\u3000", "\t", "-", "(", ")", "OR", " OR ", "-x"}, wordPieces...)
)

// randomTerm returns a random term: a word that is not the operator, or a
// phrase that is not only white space.
func randomTerm(r *rand.Rand) Term {
	pick := func(pieces []string) string { return pieces[r.IntN(len(pieces))] }
	if r.IntN(4) == 0 {
		var b strings.Builder
		for n := 1 + r.IntN(5); n > 0; n-- {
			b.WriteString(pick(phrasePieces))
		}
		text := b.String()
		if strings.TrimSpace(text) == "" {
			text += "x"
		}
		return Term{Text: text, Phrase: true}
	}
	text := pick(wordPieces)
	for n := r.IntN(4); n > 0; n-- {
		text += pick(innerPieces)
	}
	if text == "OR" {
		text = "ORE"
	}
	return Term{Text: text}
}

// randomQuery returns a random Query that the language can express:
// within the limits, with a clause not excluded, excluded clauses of one
// term.
func randomQuery(r *rand.Rand) *Query {
	for {
		q := &Query{}
		terms, included := 0, false
		for n := 1 + r.IntN(8); n > 0; n-- {
			c := Clause{Exclude: r.IntN(4) == 0}
			alts := 1
			if !c.Exclude && r.IntN(3) == 0 {
				alts = 2 + r.IntN(3)
			}
			for range alts {
				c.Any = append(c.Any, randomTerm(r))
			}
			terms += alts
			included = included || !c.Exclude
			q.Clauses = append(q.Clauses, c)
		}
		if included && terms <= MaxQueryTerms && len(q.String()) <= MaxQueryLen {
			return q
		}
	}
}

// TestQueryStringRoundTrip checks that the canonical form of any Query the
// language can express parses back to it, and that the same query spelled
// with other white space parses to it too.
func TestQueryStringRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	spaces := []string{" ", "  ", "\t", "\n", "\u3000", "\u00a0"}
	for range 5000 {
		want := randomQuery(r)
		s := want.String()
		got, err := ParseQuery(s)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", s, err)
		}
		if !reflect.DeepEqual(withoutPos(got), want) {
			t.Fatalf("ParseQuery(%q) = %+v, want %+v", s, got, want)
		}
		checkQuery(t, s, got)

		// Respaced: every separator another white space, and some
		// around the query. Phrases keep theirs.
		var b strings.Builder
		b.WriteString(spaces[r.IntN(len(spaces))])
		for i, c := range want.Clauses {
			if i > 0 {
				b.WriteString(spaces[r.IntN(len(spaces))])
			}
			for j, term := range c.Any {
				if j > 0 {
					b.WriteString(spaces[r.IntN(len(spaces))] + "OR" + spaces[r.IntN(len(spaces))])
				}
				if c.Exclude {
					b.WriteByte('-')
				}
				if term.Phrase {
					b.WriteString(`"` + term.Text + `"`)
				} else {
					b.WriteString(term.Text)
				}
			}
		}
		respaced := b.String()
		if len(respaced) > MaxQueryLen {
			continue
		}
		got, err = ParseQuery(respaced)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", respaced, err)
		}
		if !reflect.DeepEqual(withoutPos(got), want) {
			t.Fatalf("ParseQuery(%q) = %+v, want %+v", respaced, got, want)
		}
		checkQuery(t, respaced, got)
	}
}

// TestParseQueryErrorColumn checks that every error's Col is the rune
// column of its Pos, whatever the script before it.
func TestParseQueryErrorColumn(t *testing.T) {
	for _, tt := range badQueries {
		_, err := ParseQuery(tt.in)
		pe, ok := err.(*ParseError)
		if !ok || !utf8.ValidString(tt.in[:pe.Pos]) {
			continue
		}
		if want := utf8.RuneCountInString(tt.in[:pe.Pos]) + 1; pe.Col != want {
			t.Errorf("ParseQuery(%q): Col %d at Pos %d, want %d", tt.in, pe.Col, pe.Pos, want)
		}
	}
}

func ExampleParseQuery() {
	q, err := ParseQuery(`  volunteer OR volontaire "joint programme"   -draft 香港`)
	if err != nil {
		panic(err)
	}
	fmt.Println(q)
	for _, c := range q.Clauses {
		fmt.Printf("exclude=%v", c.Exclude)
		for _, t := range c.Any {
			fmt.Printf(" %q(phrase=%v pos=%d)", t.Text, t.Phrase, t.Pos)
		}
		fmt.Println()
	}

	_, err = ParseQuery(`draft "joint programme`)
	fmt.Println(err)
	_, err = ParseQuery(`-draft -brouillon`)
	fmt.Println(err)
	// Output:
	// volunteer OR volontaire "joint programme" -draft 香港
	// exclude=false "volunteer"(phrase=false pos=2) "volontaire"(phrase=false pos=15)
	// exclude=false "joint programme"(phrase=true pos=26)
	// exclude=true "draft"(phrase=false pos=46)
	// exclude=false "香港"(phrase=false pos=53)
	// query: column 7: unterminated phrase: close the quote opened here
	// query: column 1: say what to find, not only what to leave out
}
