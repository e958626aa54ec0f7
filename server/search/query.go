package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxQueryLen is the most bytes a query may have. It is generous for a
// search box and keeps parsing and the bleve query small.
const MaxQueryLen = 512

// MaxQueryTerms is the most terms (words and phrases, excluded or not,
// counting every side of OR) that a query may have, so that a query costs
// the index a bounded number of sub-queries.
const MaxQueryTerms = 32

// Query is a parsed search query: its clauses, all of which a post must
// match, or, for excluded clauses, must not match. A Query from ParseQuery
// has at least one clause that is not excluded and at most MaxQueryTerms
// terms.
type Query struct {
	Clauses []Clause
}

// Clause is one or more alternatives joined by OR: a post matches the
// clause if it matches any of them. If Exclude is set, a post that matches
// the clause is left out of the results; an excluded clause has exactly
// one alternative, because the language has no way to write more.
type Clause struct {
	Any     []Term
	Exclude bool
}

// Term is a word or a phrase, as typed, with its position in the query so
// that a caller can point at it.
type Term struct {
	// Text is the word, or the text between a phrase's quotes, exactly as
	// typed: never empty, without the quotes or a leading -.
	Text string
	// Phrase is set for a quoted phrase, whose words must appear together
	// and in order.
	Phrase bool
	// Pos is the byte offset of the term in the query: of the opening
	// quote for a phrase, of the - for an excluded term.
	Pos int
}

// ParseError is the error of a query that does not parse. It says where
// the problem is, so that the search box can point at it: Pos for
// programs, Col for people.
type ParseError struct {
	// Pos is the byte offset in the query of the problem, 0 <= Pos <=
	// len(query).
	Pos int
	// Col is the 1-based column of Pos, counted in runes (a combining
	// mark, such as an Arabic vowel sign, is a column of its own).
	Col int
	// Msg says what is wrong and, where it can, what to do instead, as
	// in `parentheses are not supported: search for the words without
	// them`.
	Msg string
}

// Error returns the column and the message, as in
// `query: column 7: unterminated phrase: close the quote opened here`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("query: column %d: %s", e.Col, e.Msg)
}

// The messages of ParseError that more than one place returns.
const (
	msgParens     = "parentheses are not supported: search for the words without them"
	msgExcludedOr = "an excluded term cannot be one side of OR"
	msgOrSides    = "OR must stand between two terms, as in volunteer OR volontaire"
)

// ParseQuery parses a search query, as a delegate types it in the search
// box, in any language:
//
//	香港 志愿者                      both words (香港 and 志愿者)
//	"joint programme" -draft        the phrase, and not the word draft
//	volunteer OR volontaire         either word
//	a b OR c d                      a, b or c, and d: OR binds tighter
//
// A query is terms separated by white space (any Unicode white space, such
// as the ideographic space U+3000 or a no-break space): at most
// MaxQueryTerms of them, in at most MaxQueryLen bytes of UTF-8. A term is
// a word or a phrase, and a - just before it (no space between) leaves out
// the posts that match it.
//
// A word is a run of characters other than white space, the double quote
// and parentheses, in any script and with any punctuation inside
// (e-mail, l'eau, U.N., مُتَطَوِّع). A word never begins with -, which
// would exclude it; the word OR (upper case, on its own) is the operator,
// while or, Or and "OR" are ordinary terms.
//
// A phrase is text between double quotes, kept as typed, in which - OR
// and parentheses are ordinary characters. It may not be empty or only
// white space, nor contain a double quote (there is no escape). Terms are
// separated by white space: a quote may not open a phrase in the middle
// of a word (l"eau), and a phrase must be followed by white space or the
// end of the query ("a"b). That keeps the canonical form (Query.String)
// never longer than the query it comes from, so it too is within
// MaxQueryLen.
//
// OR joins the terms either side of it into one clause that a post matches
// if it matches any of them; every clause must match. An excluded term may
// not be a side of OR, and at least one term must not be excluded.
// Parentheses are not supported, anywhere outside a phrase.
//
// The parser does not change the text of terms: no case folding, Unicode
// normalisation or stemming. The index's analysers do that (bleveQuery).
//
// The error, if any, is a *ParseError at the first problem from the left,
// except for the query as a whole: too long or not UTF-8 first, and empty
// or only excluded terms last.
func ParseQuery(s string) (*Query, error) {
	if len(s) > MaxQueryLen {
		return nil, queryError(s, MaxQueryLen, fmt.Sprintf("the query is longer than %d bytes: shorten it", MaxQueryLen))
	}
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, queryError(s, i, "the query is not valid UTF-8")
	}
	p := queryParser{s: s}
	return p.parse()
}

// String returns the query in canonical form: terms separated by one
// space, phrases quoted, OR between alternatives and - before excluded
// terms, as in `香港 "joint programme" volunteer OR volontaire -draft`.
// For a Query from ParseQuery, ParseQuery(q.String()) gives an equal Query
// (but for Pos), and the canonical form is no longer than the query parsed.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var b strings.Builder
	for i, c := range q.Clauses {
		if i > 0 {
			b.WriteByte(' ')
		}
		for j, t := range c.Any {
			if j > 0 {
				b.WriteString(" OR ")
			}
			if c.Exclude {
				b.WriteByte('-')
			}
			if t.Phrase {
				b.WriteByte('"')
				b.WriteString(t.Text)
				b.WriteByte('"')
			} else {
				b.WriteString(t.Text)
			}
		}
	}
	return b.String()
}

// queryError returns a *ParseError at byte pos of s.
func queryError(s string, pos int, msg string) *ParseError {
	return &ParseError{Pos: pos, Col: runeColumn(s, pos), Msg: msg}
}

// runeColumn returns the 1-based rune column of byte pos in s: one more
// than the number of runes that end at or before pos. A byte inside a rune
// is in that rune's column, and an invalid byte is a column of its own.
func runeColumn(s string, pos int) int {
	col := 1
	for i := 0; i < pos; {
		_, n := utf8.DecodeRuneInString(s[i:])
		if i+n > pos {
			break
		}
		i += n
		col++
	}
	return col
}

// queryToken is a token of a query: the operator OR, or a term.
type queryToken struct {
	or      bool
	pos     int // byte offset of the token; for a term, Term.Pos
	term    Term
	exclude bool
}

// queryParser parses a query left to right, a token at a time.
type queryParser struct {
	s string
	i int // byte offset of the next token or white space
}

// isSpaceAt reports whether s[i:] begins with white space.
func isSpaceAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r)
}

// errAt returns a *ParseError at byte pos of the query.
func (p *queryParser) errAt(pos int, msg string) *ParseError {
	return queryError(p.s, pos, msg)
}

// next returns the next token, or ok false at the end of the query.
func (p *queryParser) next() (tok queryToken, ok bool, err *ParseError) {
	s := p.s
	for p.i < len(s) {
		r, n := utf8.DecodeRuneInString(s[p.i:])
		if !unicode.IsSpace(r) {
			break
		}
		p.i += n
	}
	if p.i == len(s) {
		return queryToken{}, false, nil
	}
	tok.pos = p.i
	if s[p.i] == '-' {
		tok.exclude = true
		p.i++
		switch {
		case p.i == len(s) || isSpaceAt(s, p.i):
			return tok, false, p.errAt(tok.pos, "a - must be followed directly by the word or phrase to leave out")
		case s[p.i] == '-':
			return tok, false, p.errAt(tok.pos, "a term is left out with a single -, not more")
		}
	}
	switch s[p.i] {
	case '(', ')':
		return tok, false, p.errAt(p.i, msgParens)
	case '"':
		open := p.i
		n := strings.IndexByte(s[open+1:], '"')
		if n < 0 {
			return tok, false, p.errAt(open, "unterminated phrase: close the quote opened here")
		}
		text := s[open+1 : open+1+n]
		if strings.TrimSpace(text) == "" {
			return tok, false, p.errAt(open, "empty phrase: put the words to find between the quotes")
		}
		p.i = open + 1 + n + 1
		tok.term = Term{Text: text, Phrase: true, Pos: tok.pos}
		if p.i < len(s) && !isSpaceAt(s, p.i) {
			if c := s[p.i]; c == '(' || c == ')' {
				return tok, false, p.errAt(p.i, msgParens)
			}
			return tok, false, p.errAt(p.i, "put a space after the closing quote of a phrase")
		}
	default:
		start := p.i
		for p.i < len(s) {
			r, n := utf8.DecodeRuneInString(s[p.i:])
			if unicode.IsSpace(r) || r == '"' || r == '(' || r == ')' {
				break
			}
			p.i += n
		}
		if p.i < len(s) {
			switch s[p.i] {
			case '(', ')':
				return tok, false, p.errAt(p.i, msgParens)
			case '"':
				return tok, false, p.errAt(p.i, "a quote in the middle of a word: put a space before a phrase's opening quote")
			}
		}
		text := s[start:p.i]
		if text == "OR" && !tok.exclude {
			tok.or = true
			return tok, true, nil
		}
		tok.term = Term{Text: text, Pos: tok.pos}
	}
	return tok, true, nil
}

// parse parses the whole query.
func (p *queryParser) parse() (*Query, error) {
	q := &Query{}
	terms := 0
	or := -1 // the position of an OR that awaits its right side
	for {
		tok, ok, err := p.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if tok.or {
			switch {
			case or >= 0:
				return nil, p.errAt(tok.pos, msgOrSides+"; this one follows another OR")
			case len(q.Clauses) == 0:
				return nil, p.errAt(tok.pos, msgOrSides+"; none comes before this one (to find the word OR, quote it: \"OR\")")
			}
			if last := q.Clauses[len(q.Clauses)-1]; last.Exclude {
				return nil, p.errAt(last.Any[0].Pos, msgExcludedOr)
			}
			or = tok.pos
			continue
		}
		if terms++; terms > MaxQueryTerms {
			return nil, p.errAt(tok.pos, fmt.Sprintf("too many terms: a query has at most %d", MaxQueryTerms))
		}
		if or >= 0 {
			if tok.exclude {
				return nil, p.errAt(tok.pos, msgExcludedOr)
			}
			last := &q.Clauses[len(q.Clauses)-1]
			last.Any = append(last.Any, tok.term)
			or = -1
			continue
		}
		q.Clauses = append(q.Clauses, Clause{Any: []Term{tok.term}, Exclude: tok.exclude})
	}
	if or >= 0 {
		return nil, p.errAt(or, msgOrSides+"; none comes after this one")
	}
	if len(q.Clauses) == 0 {
		return nil, p.errAt(0, "the query is empty: type the words to search for")
	}
	for _, c := range q.Clauses {
		if !c.Exclude {
			return q, nil
		}
	}
	return nil, p.errAt(q.Clauses[0].Any[0].Pos, "say what to find, not only what to leave out")
}
