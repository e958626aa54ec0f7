package search

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseQuery checks, for any input, that ParseQuery does not panic;
// that an error is a *ParseError inside the input, with its column; and
// that a query that parses has a clause to find, at most MaxQueryTerms
// terms, each at its Pos, and a canonical form that parses to an equal
// Query (checkQuery).
func FuzzParseQuery(f *testing.F) {
	for _, tt := range goodQueries {
		f.Add(tt.in)
	}
	for _, tt := range badQueries {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseQuery(%q): error %T %v, want *ParseError", s, err, err)
			}
			if q != nil {
				t.Fatalf("ParseQuery(%q) = %+v with an error", s, q)
			}
			if pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("ParseQuery(%q): Pos %d outside the input", s, pe.Pos)
			}
			if pe.Col < 1 || pe.Col > pe.Pos+1 {
				t.Fatalf("ParseQuery(%q): Col %d at Pos %d", s, pe.Col, pe.Pos)
			}
			if pe.Msg == "" || !strings.HasPrefix(err.Error(), "query: column ") {
				t.Fatalf("ParseQuery(%q): error %q", s, err)
			}
			return
		}
		if len(s) > MaxQueryLen || !utf8.ValidString(s) {
			t.Fatalf("ParseQuery(%q) parses: too long or not UTF-8", s)
		}
		checkQuery(t, s, q)
	})
}
