package render

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/yuin/goldmark/parser"
)

// xssTests are hostile inputs. The output of each must pass unsafe, and
// contain want if it is set.
var xssTests = []struct {
	name, in, want string
}{
	{"script", `<script>alert(1)</script>`, ""},
	{"img onerror", `<img src=x onerror=alert(1)>`, ""},
	{"svg onload", `<svg onload=alert(1)>`, ""},
	{"iframe", `<iframe src=x>`, ""},
	{"style", `<style>*{}</style>`, ""},
	{"form", `<form action=x>`, ""},
	{"base", `<base href=x>`, ""},
	{"meta refresh", `<meta http-equiv=refresh content=0>`, ""},
	{"a onmouseover", `<a href="x" onmouseover=alert(1)>x</a>`, ""},
	{"javascript link", `[x](javascript:alert(1))`, "<p>x</p>"},
	{"mixed case javascript link", `[x](JaVaScRiPt:alert(1))`, "<p>x</p>"},
	{"named entity colon", `[x](javascript&colon;alert(1))`, "<p>x</p>"},
	{"numeric entity without semicolon", `[x](javascript&#58alert(1))`, ""},
	{"tab entity", `[x](java&#9;script:alert(1))`, "<p>x</p>"},
	{"leading spaces", `[x](  javascript:alert(1))`, "<p>x</p>"},
	{"vbscript link", `[x](vbscript:msgbox(1))`, "<p>x</p>"},
	{"data link", `[x](data:text/html;base64,PHNjcmlwdD4=)`, "<p>x</p>"},
	{"javascript image", `![x](javascript:alert(1))`, ""},
	{"data image", `![x](data:image/png;base64,iVBORw0KGgo=)`, ""},
	{"javascript autolink", `<javascript:alert(1)>`, ""},
	{"javascript reference link", "[x][1]\n\n[1]: javascript:alert(1)", ""},
	{"title breakout", `[x](https://a "\" onmouseover=alert(1) x=\"")`, `href="https://a"`},
	{"mXSS math style", `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`, ""},
	{"code span", "`<script>`", "<code>&lt;script&gt;</code>"},
	{"code block", "```\n<script>alert(1)</script>\n```", "&lt;script&gt;alert(1)&lt;/script&gt;"},
	{"html block", "<div onclick=alert(1)>\n\nx\n\n</div>", ""},
	{"inline html in emphasis", `*<b onclick=alert(1)>x</b>*`, ""},
	{"object embed", `<object data=x></object><embed src=x>`, ""},
	{"html comment", `<!-- x --><![CDATA[x]]><?php x ?>`, ""},
	{"javascript in link text url", `[javascript:alert(1)](https://a)`, `href="https://a"`},
	{"newline in scheme", "[x](java\nscript:alert(1))", ""},
	{"percent-encoded scheme", `[x](javascript%3Aalert(1))`, ""},
	{"protocol-relative", `[x](//evil.example/)`, ""},
	{"file link", `[x](file:///etc/passwd)`, "<p>x</p>"},
	{"linkified javascript", `javascript:alert(1) www.example.com`, `href="http://www.example.com"`},
	{"attribute syntax", `# x {onclick=alert(1)}`, ""},
	{"task list", "- [x] done\n- [ ] <script>", `<input checked="" disabled="" type="checkbox">`},
	{"table", "| <script> | b |\n|---|---|\n| [x](javascript:alert(1)) | ![y](vbscript:x) |", ""},
	{"entity script", `&lt;script&gt;alert(1)&lt;/script&gt;`, "&lt;script&gt;"},
	{"nul", "\x00<script>", ""},
}

func TestHTMLXSS(t *testing.T) {
	r := New()
	for _, tt := range xssTests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := r.HTML(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range unsafe(out) {
				t.Errorf("HTML(%q) = %q: %s", tt.in, out, p)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("HTML(%q) = %q, want it to contain %q", tt.in, out, tt.want)
			}
		})
	}
}

// TestUnsafe checks that the checker used by the tests does catch what it
// must.
func TestUnsafe(t *testing.T) {
	for _, bad := range []string{
		`<script>x</script>`,
		`<SCRIPT>x</SCRIPT>`,
		`<img src=x onerror=alert(1)>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href=" JaVa&#x09;ScRiPt:alert(1)">x</a>`,
		`<a href="java&#10;script:x">x</a>`,
		`<img src="data:image/png;base64,AA">`,
		`<a href="vbscript:x">x</a>`,
		`<svg><a xlink:href="javascript:x">x</a></svg>`,
		`<p style="color:red">x</p>`,
		`<input type="text">`,
		`<math><mi>x</mi></math>`,
		`<!-- x -->`,
		`<p>` + strings.Repeat("<div>", 600) + `<script>x</script>`,
	} {
		if len(unsafe(bad)) == 0 {
			t.Errorf("unsafe(%q) found nothing", bad)
		}
	}
	for _, good := range []string{
		`<p><a href="https://a/b?c#d" rel="nofollow">x</a> <a href="/threads/1">y</a> <a href="mailto:a@b.c">z</a></p>`,
		`<p>javascript:alert(1) &lt;script&gt;</p>`,
		`<a href="javascript&amp;#58alert(1)">x</a>`,
		`<input checked="" disabled="" type="checkbox">`,
		strings.Repeat("<blockquote>", 600),
	} {
		if p := unsafe(good); len(p) != 0 {
			t.Errorf("unsafe(%q) = %q, want nothing", good, p)
		}
	}
}

// htmlTests are inputs with the exact output expected of them.
var htmlTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"paragraphs", "a\nb\n\nc", "<p>a\nb</p>\n<p>c</p>\n"},
	{"emphasis", "*a* **b** _c_ ~~d~~", "<p><em>a</em> <strong>b</strong> <em>c</em> <del>d</del></p>\n"},
	{"external link", "[a](https://example.com/x?y=1&z=2)", `<p><a href="https://example.com/x?y=1&amp;z=2" rel="nofollow noopener" target="_blank">a</a></p>` + "\n"},
	{"relative link", "[a](/threads/1)", `<p><a href="/threads/1" rel="nofollow">a</a></p>` + "\n"},
	{"mailto link", "[a](mailto:a@example.com)", `<p><a href="mailto:a@example.com" rel="nofollow">a</a></p>` + "\n"},
	{"autolink", "<https://example.com>", `<p><a href="https://example.com" rel="nofollow noopener" target="_blank">https://example.com</a></p>` + "\n"},
	{"linkify", "see www.example.com or a@example.com", `<p>see <a href="http://www.example.com" rel="nofollow noopener" target="_blank">www.example.com</a> or <a href="mailto:a@example.com" rel="nofollow">a@example.com</a></p>` + "\n"},
	{"linkify ftp", "ftp://example.com/x", "<p>ftp://example.com/x</p>\n"},
	{"image", "![alt](https://example.com/a.png)", `<p><img src="https://example.com/a.png" alt="alt"></p>` + "\n"},
	{"bullet list", "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"},
	{"ordered list", "3. a\n4. b", "<ol start=\"3\">\n<li>a</li>\n<li>b</li>\n</ol>\n"},
	{"task list", "- [ ] a\n- [x] b", "<ul>\n<li><input disabled=\"\" type=\"checkbox\"> a</li>\n<li><input checked=\"\" disabled=\"\" type=\"checkbox\"> b</li>\n</ul>\n"},
	{"code span", "`a < b`", "<p><code>a &lt; b</code></p>\n"},
	{"fenced code", "```go\nif a < b {}\n```", "<pre><code class=\"language-go\">if a &lt; b {}\n</code></pre>\n"},
	{"fenced code with odd info", "```go onclick=x\nx\n```", "<pre><code class=\"language-go\">x\n</code></pre>\n"},
	{"fenced code with bad language", "```\"><script>\nx\n```", "<pre><code>x\n</code></pre>\n"},
	{"indented code", "    x", "<pre><code>x\n</code></pre>\n"},
	{"blockquote", "> a", "<blockquote>\n<p>a</p>\n</blockquote>\n"},
	{"heading", "## a", "<h2>a</h2>\n"},
	{"setext heading", "a\n===", "<h1>a</h1>\n"},
	{"thematic break", "***", "<hr>\n"},
	{"hard break", "a\\\nb", "<p>a<br>\nb</p>\n"},
	{"table", "| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |", "<table>\n<thead>\n<tr>\n<th align=\"left\">a</th>\n<th align=\"center\">b</th>\n<th align=\"right\">c</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td align=\"left\">1</td>\n<td align=\"center\">2</td>\n<td align=\"right\">3</td>\n</tr>\n</tbody>\n</table>\n"},
	{"raw html is dropped", "a <b>b</b> c", "<p>a b c</p>\n"},
	{"entities", "&copy; &amp; &#x41;", "<p>© &amp; A</p>\n"},
	{"hebrew", "שלום, עולם! זהו *פוסט* בפורום.", "<p>שלום, עולם! זהו <em>פוסט</em> בפורום.</p>\n"},
	{"arabic", "مرحبا بالعالم\n\nهذه **رسالة**", "<p>مرحبا بالعالم</p>\n<p>هذه <strong>رسالة</strong></p>\n"},
	{"bidi controls", "a\u202Eb\u2067c\u2069", "<p>a\u202Eb\u2067c\u2069</p>\n"},
	{"invalid utf-8", "a\xffb", "<p>a\uFFFDb</p>\n"},
}

func TestHTML(t *testing.T) {
	r := New()
	for _, tt := range htmlTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.HTML(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			for _, p := range unsafe(got) {
				t.Error(p)
			}
		})
	}
}

// limitTests are inputs at and past the limits, with the number of times a
// substring must occur in their output.
func limitTests() []struct {
	name, in string
	// count of substrings of the output
	sub   string
	count int
} {
	nest := func(marker string, n int) string { return strings.Repeat(marker, n) + "x" }
	tableOf := func(cols, rows int) string {
		return strings.Repeat("|a", cols) + "|\n" + strings.Repeat("|-", cols) + "|\n" + strings.Repeat("|1\n", rows)
	}
	paragraph := func(n int) string { return strings.Repeat("*a* ", n/2) } // n markup characters
	return []struct {
		name, in string
		// count of substrings of the output
		sub   string
		count int
	}{
		{"blockquotes at the limit", nest(">", maxNesting), "<blockquote>", maxNesting},
		{"blockquotes past the limit", nest(">", maxNesting+5), "<blockquote>", maxNesting},
		{"blockquotes past the limit, as text", nest(">", maxNesting+5), "<p>&gt;&gt;&gt;&gt;&gt;x</p>", 1},
		{"lists at the limit", nest("- ", maxNesting), "<ul>", maxNesting},
		{"lists past the limit", nest("- ", maxNesting+5), "<ul>", maxNesting},
		{"ordered lists past the limit", nest("1. ", maxNesting+5), "<ol>", maxNesting},
		{"mixed past the limit", nest("> - ", maxNesting), "<blockquote>", maxNesting / 2},
		{"table at the limit", tableOf(100, maxTableCells/100-2), "<td>", maxTableCells - 200},
		{"table past the limit", tableOf(100, maxTableCells/100), "<td>", 0},
		{"paragraph at the limit", paragraph(maxInlineMarkup), "<em>", maxInlineMarkup / 2},
		{"paragraph past the limit", paragraph(maxInlineMarkup + 2), "<em>", 0},
		{"paragraph past the limit, as text", paragraph(maxInlineMarkup + 2), "<p>*a* *a* ", 1},
		{"setext heading past the limit", paragraph(maxInlineMarkup+2) + "\n===", "<h1>", 0},
		{"heading at the limit", "# " + paragraph(maxInlineMarkup), "<em>", maxInlineMarkup / 2},
		{"heading past the limit", "# " + paragraph(maxInlineMarkup+2), "<h1>", 0},
		{"heading past the limit, as text", "# " + paragraph(maxInlineMarkup+2), "<p># *a*", 1},
		{"table rows within the limit", "|a|\n|-|\n" + strings.Repeat("|"+paragraph(maxInlineMarkup)+"\n", 3), "<em>", 3 * maxInlineMarkup / 2},
		{"table row past the limit", "|a|\n|-|\n|" + paragraph(maxInlineMarkup+2), "<table>", 0},
		{"link reference definitions", "[a]\n\n[a]: /x\n", `href="/x"`, 1},
		{"link reference definitions at the limit", "[a]\n\n" + strings.Repeat("[a]: /x\n", maxRefLines), `href="/x"`, 1},
		{"link reference definitions past the limit", "[a]\n\n" + strings.Repeat("[a]: /x\n", maxRefLines+1), `href="/x"`, 0},
		{"list items each within the limit", strings.Repeat("- "+paragraph(maxInlineMarkup)+"\n", 3), "<em>", 3 * maxInlineMarkup / 2},
	}
}

// TestLimits checks that posts within the limits render normally and that
// the excess renders as text.
func TestLimits(t *testing.T) {
	r := New()
	for _, tt := range limitTests() {
		t.Run(tt.name, func(t *testing.T) {
			out, err := r.HTML(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(out, tt.sub); got != tt.count {
				t.Errorf("%d × %q in the output, want %d; output starts %q", got, tt.sub, tt.count, out[:min(len(out), 300)])
			}
		})
	}
}

// TestBlockParsers checks that newParser has the block parsers and
// paragraph transformers of goldmark's default parser, so that an upgrade of
// goldmark that adds one is noticed.
func TestBlockParsers(t *testing.T) {
	var want []string
	for _, p := range parser.DefaultBlockParsers() {
		want = append(want, fmt.Sprintf("%d:%s", p.Priority, p.Value.(parser.BlockParser).Trigger()))
	}
	var got []string
	for _, p := range blockParsers() {
		got = append(got, fmt.Sprintf("%d:%s", p.Priority, p.Value.(parser.BlockParser).Trigger()))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("block parsers:\n got %v\nwant %v", got, want)
	}
	defaults := parser.DefaultParagraphTransformers()
	if len(defaults) != 1 || defaults[0].Value != parser.LinkReferenceParagraphTransformer {
		t.Errorf("default paragraph transformers are now %v", defaults)
	}
}

// bombs are hostile inputs of the largest size the API accepts (64 KiB)
// that make naive Markdown renderers slow or their output huge.
func bombs() []struct{ name, in string } {
	const size = 64 << 10
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	grow := func(f func(i int) string) string {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			b.WriteString(f(i))
		}
		return b.String()[:size]
	}
	const cols = 4000
	header := strings.Repeat("|a", cols) + "\n" + strings.Repeat("|-", cols) + "\n"
	return []struct{ name, in string }{
		{"nested blockquotes", fill(">")},
		{"nested blockquotes with spaces", fill("> ")},
		{"nested blockquotes on lines", grow(func(i int) string { return strings.Repeat(">", i) + " a\n" })},
		{"open brackets", fill("[")},
		{"backticks", fill("`")},
		{"growing backtick runs", grow(func(i int) string { return strings.Repeat("`", i) + "a" })},
		{"escaped backticks", fill("\\``")},
		{"nested lists", fill("- a\n  ")},
		{"nested lists on one line", fill("* ")},
		{"nested ordered lists", fill("1. ")},
		{"list staircase", grow(func(i int) string { return strings.Repeat("  ", i) + "- x\n" })},
		{"single line", fill("a")},
		{"single line of words", fill("lorem ipsum ")},
		{"table amplification", header + fill("x\n")[:size-len(header)]},
		{"wide table", strings.Repeat("|a", size/4) + "\n" + strings.Repeat("|-", size/4)},
		{"mixed emphasis", fill("*_a")},
		{"mixed emphasis and strikethrough", fill("_~a")},
		{"unclosed emphasis", fill("**a_")},
		{"open links", fill("[a](")},
		{"open link destinations", fill("[a](<b")},
		{"empty links", fill("[](")},
		{"link labels across lines", fill("]([\n")},
		{"open images", fill("![](")},
		{"link reference definitions", fill("[a]: b\n")},
		{"angle brackets", fill("<")},
		{"autolinks", fill("www.a.com ")},
		{"entities", fill("&#")},
		{"emphasis per paragraph at the limit", fill(strings.Repeat("*_a", maxInlineMarkup/2-1) + "\n\n")},
		{"links per paragraph at the limit", fill(strings.Repeat("[](", maxInlineMarkup/2-1) + "\n\n")},
		{"brackets per paragraph at the limit", fill(strings.Repeat("([", maxInlineMarkup-1) + "\n\n")},
		{"mixed markup per paragraph at the limit", fill(strings.Repeat("*[<", maxInlineMarkup/3-1) + "\n\n")},
		{"open links before a long word", strings.Repeat("[a](", maxInlineMarkup/2-1) + fill("a")[:size-4*(maxInlineMarkup/2-1)]},
		{"open code spans before a long word", grow(func(i int) string {
			if i < 22 {
				return strings.Repeat("`", i+1) + " "
			}
			return strings.Repeat("a", size)
		})},
		{"headings at the limit", fill("# " + strings.Repeat("*_a", maxInlineMarkup/2-1) + "\n")},
		{"table rows at the limit", "|a|\n|-|\n" + fill("|"+strings.Repeat("*_a", maxInlineMarkup/2-1)+"\n")},
	}
}

// TestBombs checks that hostile inputs render, safely and without blowing up
// the output. How fast they render is measured by BenchmarkBombs.
func TestBombs(t *testing.T) {
	if testing.Short() {
		t.Skip("renders ~2 MB of hostile Markdown")
	}
	r := New()
	for _, b := range bombs() {
		t.Run(b.name, func(t *testing.T) {
			out, err := r.HTML(b.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) > 16*len(b.in) { // a link is ~8 times as long as a bare URL
				t.Errorf("%d bytes of output for %d of input", len(out), len(b.in))
			}
			for _, p := range unsafe(out) {
				t.Error(p)
			}
		})
	}
}

func TestHTMLConcurrent(t *testing.T) {
	r := New()
	inputs := []string{typicalPost, "| a |\n|---|\n| b |", "- [x] a\n- [ ] b", "> q\n\n```go\nx\n```"}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		var err error
		if want[i], err = r.HTML(in); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(inputs)
				if got, err := r.HTML(inputs[k]); err != nil || got != want[k] {
					t.Errorf("concurrent HTML(%q) = %q, %v; want %q", inputs[k], got, err, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestNoCarryOver checks that what a Renderer rendered before does not
// change its output: HTML reuses its buffers from call to call, and a post's
// link reference definitions or state of goldmark's parsers must never reach
// the next.
func TestNoCarryOver(t *testing.T) {
	var inputs []string
	for _, c := range goldenCorpus() {
		if strings.HasPrefix(c.name, "state/") || strings.HasPrefix(c.name, "xss/") {
			inputs = append(inputs, c.in)
		}
	}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		var err error
		if want[i], err = New().HTML(in); err != nil { // a new Renderer: nothing before
			t.Fatal(err)
		}
	}
	r := New()
	for _, before := range inputs {
		for i, in := range inputs {
			if _, err := r.HTML(before); err != nil {
				t.Fatal(err)
			}
			if got, err := r.HTML(in); err != nil || got != want[i] {
				t.Fatalf("HTML(%q), after HTML(%q) and others, = %q, %v; want %q", in, before, got, err, want[i])
			}
		}
	}
}

func FuzzHTML(f *testing.F) {
	for _, tt := range xssTests {
		f.Add(tt.in)
	}
	f.Add(typicalPost)
	f.Add("| a | b |\n|---|---|\n| [x](y) | *z* |\n\n- [ ] t\n> q")
	r := New()
	f.Fuzz(func(t *testing.T, in string) {
		out, err := r.HTML(in)
		if err != nil {
			t.Fatalf("HTML(%q): %v", in, err)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("HTML(%q) = %q: not valid UTF-8", in, out)
		}
		for _, p := range unsafe(out) {
			t.Errorf("HTML(%q) = %q: %s", in, out, p)
		}
	})
}

// typicalPost is about 500 bytes with a link, emphasis, a list and a code
// span.
const typicalPost = `Thanks for the summary of yesterday's session! I agree with most of it,
but I think the **budget figures** need another look before we share them
with the partners. See the [shared spreadsheet](https://example.org/sheets/q3-budget)
and the notes from *last quarter*.

Next steps:

- check the totals in ` + "`Sheet 2`" + ` against the report
- ask the finance team about the exchange rates
- circulate a revised draft by Friday

Happy to help with any of these.
`

// shortPost is an ordinary one-paragraph reply of about 200 bytes.
const shortPost = "Thanks for the notes from the *closing plenary*. Our volunteers found the " +
	"host-family model useful; see the checklist we shared last year. Happy to compare " +
	"**timelines** next week.\n"

// mediumPost is a post of about 2 KiB with a heading, emphasis, links, a
// list, a code span and a fenced code block.
const mediumPost = `## Volunteer rota for the spring meeting

Thanks everyone for the replies so far. I have merged the suggestions into a
draft rota, and I think we are *nearly* there. The main open question is the
**Saturday evening** shift, which nobody has picked up yet. If you can take
it, please say so here or add your name to the [rota sheet](https://example.org/rota/spring)
before the end of the week.

What we still need:

- two people for the welcome desk on Friday afternoon
- one person to help with the ` + "`badge printer`" + ` (it needs a restart every hour)
- a driver for the airport run on Sunday morning
- someone who speaks Spanish for the partner session

For the badge printer, the steps that worked last time were:

` + "```sh" + `
lpstat -p badges
cupsdisable badges && cupsenable badges
lp -d badges -o media=Custom.62x100mm test.pdf
` + "```" + `

If the queue is stuck, cancel the jobs with ` + "`cancel -a badges`" + ` and try again.
Please don't power-cycle it while it is printing, it loses the calibration.

The _tote bags_ arrived yesterday and are in the storage room, still in their
boxes. We need to fill about four hundred of them with the programme, the map,
the sponsor leaflets and a pen, so if you have an hour on Thursday evening,
come by after six. There will be pizza, and the ~~old~~ new coffee machine.

A few reminders from the organising committee:

1. Shifts are two hours long; swap them among yourselves, but update the sheet.
2. The volunteer room is on the *second floor*, next to the cloakroom.
3. Lunch is provided for everyone on a shift that day.
4. Wear the volunteer T-shirt, so that attendees can find you in the crowd.

See also the [notes from last year](https://example.org/notes/2024-spring) and
the thread about www.example.org/accessibility for the accessibility checklist.
Questions to volunteers@example.org or reply here. Thanks again, this would not
work without you!
`

func BenchmarkHTML(b *testing.B) {
	repeat := func(post string, size int) string {
		var s strings.Builder
		for s.Len() < size-len(post) {
			s.WriteString(post)
			s.WriteString("\n")
		}
		return s.String()
	}
	for _, bm := range []struct{ name, in string }{
		{"short", shortPost},
		{"typical", typicalPost},
		{"medium", mediumPost},
		{"20KiB", repeat(mediumPost+"\n"+typicalPost, 20<<10)},
		{"64KiB", repeat(typicalPost, 64<<10)},
	} {
		b.Run(fmt.Sprintf("%s-%dB", bm.name, len(bm.in)), func(b *testing.B) {
			r := New()
			b.SetBytes(int64(len(bm.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.HTML(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBombs(b *testing.B) {
	r := New()
	for _, bm := range bombs() {
		b.Run(strings.ReplaceAll(bm.name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(bm.in)))
			for b.Loop() {
				if _, err := r.HTML(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleRenderer_HTML() {
	r := New()
	out, err := r.HTML("Hello *world*! See [the agenda](https://example.org/agenda) and `<notes>`.\n\n<script>alert(1)</script>")
	if err != nil {
		panic(err)
	}
	fmt.Print(out)
	// Output:
	// <p>Hello <em>world</em>! See <a href="https://example.org/agenda" rel="nofollow noopener" target="_blank">the agenda</a> and <code>&lt;notes&gt;</code>.</p>
}
