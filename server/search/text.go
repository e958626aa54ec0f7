package search

import (
	"slices"
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

// stopWords are the commonest short words of each Latin language the
// index stems, the evidence latinLanguage weighs. Words common to two of
// them (la, de, en, a) are left out.
var stopWords = map[string]map[string]bool{
	"en": set("the", "and", "of", "to", "is", "for", "with", "our", "we", "was", "are", "this", "that", "on", "it", "have", "has", "be", "by", "from", "they", "you", "will", "at", "an", "or", "not", "which", "their", "can"),
	"fr": set("le", "les", "des", "et", "du", "est", "pour", "nous", "avec", "une", "un", "au", "aux", "dans", "sur", "ce", "cette", "qui", "sont", "ont", "été", "pas", "par", "il", "elle", "vous", "mais", "ou", "leur", "à"),
	"es": set("el", "los", "las", "y", "es", "para", "con", "una", "del", "al", "que", "se", "su", "sus", "por", "como", "fue", "son", "han", "está", "pero", "muy", "lo", "nosotros", "ha", "más", "también", "entre", "sobre", "o"),
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// latinLanguage guesses the language of the Latin text of s, "en", "fr"
// or "es", by its stop words: the language with the most, if it has at
// least two and more than any other; "" when the words do not say (a
// short or mixed post, or another language), and the index then stems the
// post all three ways. TestLatinLanguage checks it on the corpus.
func latinLanguage(s string) string {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }) {
		if i := strings.LastIndexByte(w, '\''); i >= 0 { // l'accueil, d'hôtes
			w = w[i+1:]
		}
		for lang, words := range stopWords {
			if words[w] {
				counts[lang]++
			}
		}
	}
	langs := []string{"en", "fr", "es"}
	slices.SortStableFunc(langs, func(a, b string) int { return counts[b] - counts[a] })
	if counts[langs[0]] < 2 || counts[langs[0]] == counts[langs[1]] {
		return ""
	}
	return langs[0]
}
