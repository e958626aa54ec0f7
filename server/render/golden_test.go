package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// update rewrites the golden outputs from the current implementation. Only
// use it for a deliberate change of output, and review the diff:
//
//	go test ./server/render/ -run TestGolden -update
var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current implementation")

// goldenFile holds the expected outputs. Those in the repository were
// written by the implementation from before HTML was optimised (render.go and
// limits.go as of commit 282a080), with the corpus as it is now.
const goldenFile = "testdata/golden.json"

// goldenCase is an input of the golden corpus.
type goldenCase struct {
	name, in string
	// big inputs (the bombs) are left out with -short.
	big bool
}

// golden is the expected output for one input. Short inputs and outputs are
// kept as text, to make a difference easy to read; long ones only as
// SHA-256, to keep the file small.
type golden struct {
	Name     string `json:"name"`
	InSHA256 string `json:"in_sha256"`
	In       string `json:"in,omitempty"`
	Out      string `json:"out,omitempty"`
	OutLen   int    `json:"out_len,omitempty"`
	OutHash  string `json:"out_sha256,omitempty"`
}

const (
	goldenMaxIn  = 400
	goldenMaxOut = 1200
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func newGolden(c goldenCase, out string) golden {
	g := golden{Name: c.name, InSHA256: sha(c.in)}
	if len(c.in) <= goldenMaxIn && utf8.ValidString(c.in) {
		g.In = c.in
	}
	if len(out) <= goldenMaxOut {
		g.Out = out
	} else {
		g.OutLen, g.OutHash = len(out), sha(out)
	}
	return g
}

// matches reports whether out is the output g expects.
func (g golden) matches(out string) bool {
	if g.OutHash == "" {
		return out == g.Out
	}
	return len(out) == g.OutLen && sha(out) == g.OutHash
}

// TestGolden checks that the output for a broad corpus (the inputs of the
// other tests, the bombs, and a few hundred generated inputs, many of them
// hostile) is exactly what it was when testdata/golden.json was written. It
// guards optimisations of HTML, which must not change its output for any
// input. Every input is rendered by the same Renderer, in order and then
// (but for the bombs) in reverse order, so that state carried from one call
// to the next (pooled buffers) would show.
func TestGolden(t *testing.T) {
	cases := goldenCorpus()
	r := New()
	if *update {
		var all []golden
		seen := map[string]bool{}
		for _, c := range cases {
			if seen[c.name] {
				t.Fatalf("duplicate case name %q", c.name)
			}
			seen[c.name] = true
			out, err := r.HTML(c.in)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			all = append(all, newGolden(c, out))
		}
		var data bytes.Buffer
		enc := json.NewEncoder(&data)
		enc.SetEscapeHTML(false) // readable HTML, and a smaller file
		enc.SetIndent("", "\t")
		if err := enc.Encode(all); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, data.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d cases to %s", len(all), goldenFile)
		return
	}

	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var all []golden
	if err := json.Unmarshal(data, &all); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]golden, len(all))
	for _, g := range all {
		want[g.Name] = g
	}
	if len(want) != len(cases) {
		t.Errorf("%s has %d cases, the corpus %d: rerun with -update (with the implementation the golden outputs should come from)", goldenFile, len(want), len(cases))
	}
	check := func(c goldenCase) {
		g, ok := want[c.name]
		if !ok {
			t.Errorf("%s: not in %s", c.name, goldenFile)
			return
		}
		if sha(c.in) != g.InSHA256 {
			t.Errorf("%s: the input is not the one of %s: the corpus changed; rerun with -update (with the implementation the golden outputs should come from)", c.name, goldenFile)
			return
		}
		out, err := r.HTML(c.in)
		if err != nil {
			t.Errorf("%s: HTML: %v", c.name, err)
			return
		}
		if !g.matches(out) {
			if g.OutHash == "" {
				t.Errorf("%s: HTML(%q)\n got %q\nwant %q", c.name, c.in[:min(len(c.in), 400)], out, g.Out)
			} else {
				t.Errorf("%s: HTML of %d bytes: got %d bytes (SHA-256 %s), want %d (%s); output starts %q",
					c.name, len(c.in), len(out), sha(out), g.OutLen, g.OutHash, out[:min(len(out), 300)])
			}
		}
	}
	skipped := 0
	for pass := range 2 {
		for i := range cases {
			c := cases[i]
			if pass == 1 {
				c = cases[len(cases)-1-i]
			}
			// The big inputs once are enough (they take most of the time).
			if c.big && (testing.Short() || pass == 1) {
				skipped++
				continue
			}
			check(c)
		}
	}
	if skipped > 0 {
		t.Logf("skipped %d renderings of big inputs", skipped)
	}
}

// goldenCorpus returns the inputs of TestGolden. It must be deterministic:
// the generated inputs come from a fixed seed and a generator of our own,
// so that they do not depend on the Go release.
func goldenCorpus() []goldenCase {
	var cases []goldenCase
	add := func(name, in string) { cases = append(cases, goldenCase{name: name, in: in}) }
	for _, tt := range htmlTests {
		add("html/"+tt.name, tt.in)
	}
	for _, tt := range xssTests {
		add("xss/"+tt.name, tt.in)
	}
	for _, tt := range limitTests() {
		add("limits/"+tt.name, tt.in)
	}
	add("post/short", shortPost)
	add("post/typical", typicalPost)
	add("post/medium", mediumPost)
	add("post/example", "Hello *world*! See [the agenda](https://example.org/agenda) and `<notes>`.\n\n<script>alert(1)</script>")
	for _, b := range bombs() {
		cases = append(cases, goldenCase{name: "bomb/" + b.name, in: b.in, big: true})
	}

	// Just under, at and just over the inline markup limit, in the
	// constructs it applies to.
	for _, n := range []int{maxInlineMarkup - 1, maxInlineMarkup, maxInlineMarkup + 1} {
		markup := strings.Repeat("*", n/2) + strings.Repeat("_", n-n/2)
		add(fmt.Sprintf("edge/paragraph %d", n), "a "+markup+" b")
		add(fmt.Sprintf("edge/heading %d", n), "# "+markup)
		add(fmt.Sprintf("edge/setext %d", n), markup+"\n---")
		add(fmt.Sprintf("edge/table row %d", n), "|a|b|\n|-|-|\n|"+markup+"|x|")
		add(fmt.Sprintf("edge/table header %d", n), "|"+markup+"|b|\n|-|-|\n|x|y|")
		add(fmt.Sprintf("edge/list item %d", n), "- "+markup+"\n- b")
		add(fmt.Sprintf("edge/two lines %d", n), strings.Repeat("[", n/2)+"\n"+strings.Repeat("]", n-n/2))
	}
	for _, n := range []int{maxNesting - 1, maxNesting, maxNesting + 1} {
		add(fmt.Sprintf("edge/quotes %d", n), strings.Repeat("> ", n)+"x\n"+strings.Repeat(">", n)+"y")
		add(fmt.Sprintf("edge/lists %d", n), strings.Repeat("* ", n)+"x")
	}
	for _, rows := range []int{maxTableCells/2 - 1, maxTableCells / 2, maxTableCells/2 + 1} {
		cases = append(cases, goldenCase{
			name: fmt.Sprintf("edge/table of 2×%d", rows),
			in:   "|a|b|\n|-|-|\n" + strings.Repeat("|1|2|\n", rows-2),
		})
	}
	add("edge/refs at the limit", "[a] [b]\n\n"+strings.Repeat("[a]: /x\n", maxRefLines-1)+"[b]: /y")
	add("edge/refs past the limit", "[a] [b]\n\n"+strings.Repeat("[a]: /x\n", maxRefLines)+"[b]: /y")

	// Link reference definitions, then uses in the next posts: a
	// definition must not leak from one post to the next.
	add("state/refs defined", "[ref]: https://example.com/defined \"title\"\n\n[ref] [ref][] [x][ref]")
	add("state/refs used", "[ref] [ref][] [x][ref]\n\n[other]: /other")
	add("state/unclosed link label", "[a [b [c\n\nx](y)")
	add("state/after unclosed link label", "[a](b) www.example.com c@d.ef")
	add("state/unclosed fence", "```go\nx := 1\n")
	add("state/after unclosed fence", "text\n```\ncode\n```")
	add("state/unclosed comment", "<!-- a\n\nb --> c")
	add("state/after unclosed comment", "x <!-- y --> z -->")
	add("state/unclosed emphasis", "**a _b ~~c")
	add("state/after unclosed emphasis", "d** e_ f~~")
	add("state/list in progress", "- a\n\n- b\n  - c\n\n    d")
	add("state/after list", "e\n- f")
	add("state/empty list item", "- a\n-\n\n")
	add("state/after empty list item", "  b\n- c\n-\n\n  d")
	// goldmark's parsers cache in the context how far a search failed, as
	// a position in the source: a cache left from a longer post hides the
	// construct in the next one.
	long := "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz "
	add("state/unclosed inline comment", long+"<!-- a\nb\nc\nd")
	add("state/after unclosed inline comment", "x <!-- y --> z")
	add("state/unclosed processing instruction", long+"<? a\nb\nc\nd")
	add("state/after unclosed processing instruction", "x <? y ?> z")
	add("state/unclosed CDATA", long+"<![CDATA[ a\nb\nc\nd")
	add("state/after unclosed CDATA", "x <![CDATA[ y ]]> z")
	add("state/unclosed declaration", long+"<!X a\nb\nc\nd")
	add("state/after unclosed declaration", "x <!X y> z")
	add("state/long list", strings.Repeat("- item\n", 30))
	add("state/after long list", "- a\n- - -\n- b\n* * *")

	// Generated: fragments of Markdown joined at random, and random strings
	// of the characters that matter to the parsers.
	rng := splitmix64(20251127)
	for i := range 260 {
		var b strings.Builder
		for range 1 + rng.intn(7) {
			if b.Len() > 0 {
				b.WriteString(goldenSeparators[rng.intn(len(goldenSeparators))])
			}
			b.WriteString(goldenFragments[rng.intn(len(goldenFragments))])
		}
		add(fmt.Sprintf("gen/fragments %03d", i), b.String())
	}
	for i := range 160 {
		n := 1 + rng.intn(120)
		var b strings.Builder
		for range n {
			b.WriteString(goldenAlphabet[rng.intn(len(goldenAlphabet))])
		}
		add(fmt.Sprintf("gen/chars %03d", i), b.String())
	}
	return cases
}

// splitmix64 is a tiny deterministic pseudo-random generator.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (s *splitmix64) intn(n int) int { return int(s.next() % uint64(n)) }

var goldenSeparators = []string{
	"", " ", "\n", "\n\n", "\n\n", "\r\n", "\n> ", "\n- ", "\n1. ", "\n  ", "\n    ", "\t", "|",
	" \t\n", "\t \n", "  \n", "\\\n", " \n ", "\n\t",
}

var goldenFragments = []string{
	"Thanks for the notes from the *closing plenary*.",
	"Happy to compare **timelines** next week.",
	"plain words, with punctuation; and more: yes!",
	"*em*", "_em_", "**strong**", "__strong__", "***both***", "~~del~~", "~single~",
	"*unclosed", "**unclosed", "_a*b_c*", "a*b*c", "a_b_c", "snake_case_name", "* not emphasis *",
	"`code`", "``co`de``", "`unclosed", "` `", "```",
	"[link](https://example.com/a?b=c&d=e)", "[link](/relative \"title\")", "[link](<with space> 'title')",
	"[empty]()", "[x](javascript:alert(1))", "[x](JAVASCRIPT:alert(1))", "[x](data:text/html,x)",
	"[x](vbscript:x)", "[x](//evil.example)", "[x](mailto:a@example.com)", "[x](ftp://example.com)",
	"![img](https://example.com/a.png)", "![img](/a.png \"t\")", "![x](javascript:x)",
	"[ref]", "[ref][]", "[text][ref]", "[ref]: https://example.com/ref", "[ref]: /local 'title'",
	"[ref]: javascript:alert(1)", "[^1]", "[^1]: footnote",
	"<https://example.com/auto>", "<mailto:a@example.com>", "<a@example.com>", "<javascript:alert(1)>",
	"https://example.com/bare?x=1.", "http://example.com/(paren)", "www.example.com/path).", "www.example.com",
	"someone@example.com", "a.b-c@d-e.example.org.", "ftp://example.com/file", "mailto:x@example.com",
	"(https://example.com/in-parens)", "*https://example.com*", "_www.example.com_", "~www.example.com~",
	"<b>bold</b>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href=\"javascript:x\">x</a>",
	"<div>\nblock\n</div>", "<!-- comment -->", "<?php x ?>", "<![CDATA[x]]>", "<!DOCTYPE html>",
	"<style>x{}</style>", "<iframe src=x></iframe>", "<svg onload=x>", "<math><mi>x</mi></math>",
	"&amp; &lt; &gt; &quot; &#39; &#x3C; &copy; &nbsp; &bogus; &#0; &#x110000;", "&", "&#",
	"# Heading", "## Heading *em*", "###### six", "####### seven", "#no space", "# heading #",
	"Setext\n===", "Setext\n---", "---", "***", "___", "- - -",
	"- item", "* item", "+ item", "1. item", "3) item", "- [ ] task", "- [x] done", "- [X] done",
	"- a\n  - b\n    - c", "1. a\n2. b\n10. c", "-", "1.", "- ", "2147483648. big",
	"> quote", "> > nested", ">", "> - quoted list",
	"    indented code", "\tindented with tab",
	"```go\nfunc main() {}\n```", "~~~\ntilde fence\n~~~", "```\"><script>\nx\n```", "```js onclick=x\ny\n```",
	"| a | b |\n|---|:-:|\n| 1 | 2 |", "| a |\n| - |", "a | b\n--|--\n1 | 2", "|a|b|\n|--|--|\n|`|`|x\\|y|",
	"| x |\n|:--|\n| [l](https://example.com) | **b** |", "|-|-|", "| a | b |",
	"line\\\nbreak", "line  \nbreak", "trailing spaces   ", "tab then space\t \nnext", "space then tab \t\nnext", "tabs\t\t\nnext",
	"a | b\t\n-|-\t\nc | d", "\t- tabbed item", "para\n\n\n\nafter blank lines", "\\*escaped\\*", "\\", "\\\\",
	"שלום *עולם*", "مرحبا **بالعالم**", "日本語のテキスト", "emoji 👍🏽 ok", "a\u202Eb", "zero\u200bwidth",
	"\x00", "a\xffb", "\xc3\x28", "\xed\xa0\x80", "\r", "\v\f",
	"[a](b \"c\" onmouseover=x)", "[a](https://a \"\\\" onmouseover=alert(1) x=\\\"\")",
	"[[nested]](x)", "[a]]", "![[x]](y)", "[a](<b)", "[a](b", "](", "[](", "![](",
}

var goldenAlphabet = []string{
	"*", "_", "~", "`", "[", "]", "(", ")", "<", ">", "!", "#", "|", "-", ":", "\\", "&", ";", "@", ".",
	" ", " ", " ", "\n", "\n", "\t", "a", "b", "x", "1", "http://", "https://a.b", "www.a.b", "a@b.c",
	"javascript:", "<script>", "</a>", "&#58;", "\x00", "\xff", "é",
}
