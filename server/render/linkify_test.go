package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark/extension"
)

// TestLinkifyFilter checks that linkify{} finds exactly the links that
// goldmark's own linkify extension finds, by comparing goldmark's output
// with each, before sanitising, for the golden corpus and for generated
// text full of near-links.
func TestLinkifyFilter(t *testing.T) {
	ours := newMarkdown(linkify{})
	theirs := newMarkdown(extension.NewLinkify(extension.WithLinkifyAllowedProtocols(linkifyProtocols)))

	var inputs []string
	for _, c := range goldenCorpus() {
		if !c.big || !testing.Short() {
			inputs = append(inputs, c.in)
		}
	}
	// E-mail addresses with a local part around the longest that
	// util.FindEmailIndex reads, after each trigger character.
	for _, n := range []int{1, 62, 63, 64, 65, 66, 200} {
		for _, before := range []string{"", " ", "*", "_", "~", "(", "x", "\t", "\n", "[", "a ", "**"} {
			local := strings.Repeat("a", n)
			inputs = append(inputs,
				before+local+"@example.com",
				before+local[1:]+".b@example.com",
				before+strings.Repeat("a.", n/2)+"@example.com.",
				before+local+"@ex",
			)
		}
	}
	rng := splitmix64(7)
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.intn(40) {
			b.WriteString(linkifyAlphabet[rng.intn(len(linkifyAlphabet))])
		}
		inputs = append(inputs, b.String())
	}

	links := 0
	for _, in := range inputs {
		var got, want bytes.Buffer
		if err := ours.Convert([]byte(in), &got); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Convert([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("Convert(%q) with linkify{}:\n got %q\nwant %q", in, got.String(), want.String())
		}
		links += strings.Count(want.String(), "<a href")
	}
	// The comparison is worth something only if there are links to find.
	if links < len(inputs)/4 {
		t.Errorf("only %d links in the output for %d inputs", links, len(inputs))
	}
	t.Logf("%d inputs, %d links", len(inputs), links)
}

var linkifyAlphabet = []string{
	"http://", "https://", "http:", "https:", "mailto:", "ftp://", "HTTP://", "www.", "WWW.", "www",
	"example.com", "a.b", ".org", "/path", "?q=1", "#frag", "&amp;", ";", ":", "8080",
	"@", "a@b.co", "first.last@example.org", "x_y-z+tag@", "@@",
	" ", " ", " ", "\n", "\t", "*", "**", "_", "~", "(", ")", "[", "]", "<", ">", "`", "!", ",", ".", "-", "'", "\"",
	"a", "word", "é", "日本", "\\",
}
