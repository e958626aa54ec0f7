package search

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// plainText returns the text a reader sees of a post rendered as HTML
// (body_html): the text of its elements, block elements and line breaks
// turned into spaces, entities decoded, with no markup. It is what the
// index analyses and what snippets are cut from, so a snippet can never
// carry the post's markup: it is escaped when it is shown.
func plainText(h string) string {
	var b strings.Builder
	space := false // a space is due before the next character
	z := html.NewTokenizer(strings.NewReader(h))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			for _, r := range string(z.Text()) {
				if unicode.IsSpace(r) {
					space = true
					continue
				}
				if space && b.Len() > 0 {
					b.WriteByte(' ')
				}
				space = false
				b.WriteRune(r)
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			if name, _ := z.TagName(); !inline[string(name)] {
				space = true
			}
		}
	}
}

// inline lists the elements that do not separate words.
var inline = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "cite": true, "code": true,
	"del": true, "dfn": true, "em": true, "i": true, "ins": true, "kbd": true, "mark": true,
	"q": true, "s": true, "samp": true, "small": true, "span": true, "strong": true, "sub": true,
	"sup": true, "u": true, "var": true,
}

// scripts says which families of writing a text uses, for the analysers
// the index runs on it.
type scripts struct {
	latin, cjk, arabic bool
}

// scriptsOf returns the scripts of s: Latin (English, French, Spanish
// get stemming and stop words), CJK (Han, Hiragana, Katakana, Hangul:
// bigrams, so that a word is found inside a sentence without spaces) and
// Arabic (normalised). Text in any other script is found through the
// standard analyser every post gets.
func scriptsOf(s string) scripts {
	var sc scripts
	for _, r := range s {
		switch {
		case r < 0x80:
			if unicode.IsLetter(r) {
				sc.latin = true
			}
		case unicode.In(r, unicode.Latin):
			sc.latin = true
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul):
			sc.cjk = true
		case unicode.In(r, unicode.Arabic):
			sc.arabic = true
		}
	}
	return sc
}
