// Package render turns the Markdown body of a forum post into HTML that is
// safe to embed in a page.
//
// Rendering has two steps. goldmark converts CommonMark plus the GitHub
// Flavored Markdown extensions (tables, strikethrough, autolinks and task
// lists) to HTML; raw HTML in the Markdown is not passed through, and
// goldmark already blanks javascript:, vbscript:, file: and data: link
// destinations. Then, as the last step, bluemonday's user-generated-content
// policy sanitises the result, so that even a bug in the first step cannot
// let script through: only an allowlist of elements and attributes survives,
// URLs must be relative or use the http, https or mailto scheme, and every
// link gets rel="nofollow" (links to other hosts also get target="_blank" and
// rel="noopener").
//
// To keep hostile Markdown ("Markdown bombs") cheap to render and its output
// small, block quotes and lists nest at most 32 deep, tables have at most
// 10,000 cells, and a paragraph, heading or table row with more than 256
// inline markup characters (* _ ~ [ ] ` <) is rendered as plain text, because
// goldmark's inline parsing is quadratic or worse in their number. Past these
// limits the post still renders, but the excess as text.
//
// The HTML of a body is at most MaxHTML of its length: six times as long,
// plus 16 KiB. Ordinary Markdown renders to one to three times its length;
// text full of & or headings to five; a body of short bare URLs or e-mail
// addresses, each made a link with its attributes, to seven or nine, which
// let one member make a thread's pages too large to send; so can a small
// table whose short rows GFM pads to its header's width. BodyHTML returns
// ErrTooLarge for such a body, and the post is refused.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// ErrTooLarge is returned by BodyHTML for a body whose HTML would be longer
// than MaxHTML of its length.
var ErrTooLarge = errors.New("render: the body renders to too much HTML")

// MaxHTML returns the most bytes of HTML a Markdown body of n bytes may
// render to.
func MaxHTML(n int) int { return 6*n + 16<<10 }

// maxPooledBuffer is the largest buffer capacity kept for reuse; larger
// buffers (from unusually big posts) are left to the garbage collector so the
// pool does not pin memory.
const maxPooledBuffer = 256 << 10

// Renderer converts Markdown to sanitised HTML. Build one with New and share
// it: it is safe for concurrent use, and reusing it avoids rebuilding the
// Markdown parser and the sanitising policy for every post.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	states sync.Pool // of *state
}

// New returns a Renderer.
func New() *Renderer {
	return &Renderer{
		md:     newMarkdown(linkify{}),
		policy: newPolicy(),
		states: sync.Pool{New: func() any { return new(state) }},
	}
}

// newMarkdown returns the goldmark converter, with linkify to turn bare URLs and
// e-mail addresses into links: linkify{}, or for tests goldmark's own
// extension.
func newMarkdown(linkify goldmark.Extender) goldmark.Markdown {
	return goldmark.New(
		goldmark.WithParser(newParser()),
		goldmark.WithExtensions(
			linkify, // bare http, https and mailto URLs and e-mail addresses
			mention{},
			boundedTable{},
			limits{},
			extension.Strikethrough,
			extension.TaskList,
		),
		// Deliberately not enabled: html.WithUnsafe (raw HTML would pass
		// through to the sanitiser) and parser.WithAttribute (user-chosen
		// attributes such as {onclick=...}).
	)
}

// newPolicy returns bluemonday's UGC policy with the few additions the
// Markdown renderer needs. It is not changed after it is returned, which makes
// it safe for concurrent use.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	// UGCPolicy already allows only relative, http, https and mailto URLs and
	// adds rel="nofollow" to links. Links to other hosts open in a new tab,
	// which makes bluemonday add rel="noopener" as well.
	p.AddTargetBlankToFullyQualifiedLinks(true)
	// Ordered lists may start at another number than 1.
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	// Fenced code blocks keep their language for client-side highlighting.
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,32}$`)).OnElements("code")
	// Task list items are rendered as disabled checkboxes. An input with none
	// of these attributes left is dropped by bluemonday.
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").Matching(regexp.MustCompile(`^(|checked|disabled)$`)).OnElements("input")
	// Mentions (`@ana`) are links of class "mention".
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^mention$`)).OnElements("a")
	return p
}

// HTML renders markdown, the body of a thread or reply, to sanitised HTML:
// an HTML fragment in valid UTF-8 (invalid UTF-8 in markdown becomes
// U+FFFD). The error is that of goldmark or bluemonday writing to memory,
// which they do not report for any input; callers should still handle it.
func (r *Renderer) HTML(markdown string) (string, error) {
	out, _, err := r.render(markdown)
	return out, err
}

func (r *Renderer) render(markdown string) (string, []string, error) {
	s := r.states.Get().(*state)
	defer r.putState(s)
	// The result goes into proto3 string fields, which must be valid UTF-8.
	// goldmark takes a []byte, so the Markdown is copied anyway: into a
	// reused buffer.
	if utf8.ValidString(markdown) {
		s.src = append(s.src[:0], markdown...)
	} else {
		s.src = append(s.src[:0], strings.ToValidUTF8(markdown, "\uFFFD")...)
	}
	s.html.Reset()
	pc := parser.NewContext()
	if err := r.md.Convert(s.src, &s.html, parser.WithContext(pc)); err != nil {
		return "", nil, err
	}
	// The sanitised output is about as long as goldmark's, so size it once;
	// the strings.Builder then returns it without another copy.
	s.out.Reset()
	s.out.Grow(s.html.Len() + s.html.Len()/8)
	s.in.Reset(s.html.Bytes())
	if err := r.policy.SanitizeReaderToWriter(&s.in, &s.out); err != nil {
		return "", nil, err
	}
	out := s.out.String()
	s.out.Reset() // the next call must not write into out
	return out, mentionsIn(pc), nil
}

// BodyHTML renders the body of a post: HTML's result, or ErrTooLarge if it
// is longer than MaxHTML of the Markdown's length.
func (r *Renderer) BodyHTML(markdown string) (string, error) {
	out, _, err := r.Post(markdown)
	return out, err
}

// Post renders the body of a post as BodyHTML does, and returns the names
// it mentions (`@name`), in order, each once, lower-cased: those outside
// block quotes (a mention in a code span or block is no mention; one in a
// quote is a link, but the quoted post's, not this one's, so not
// returned).
func (r *Renderer) Post(markdown string) (html string, mentions []string, err error) {
	out, names, err := r.render(markdown)
	if err != nil {
		return "", nil, err
	}
	if limit := MaxHTML(len(markdown)); len(out) > limit {
		return "", nil, fmt.Errorf("%w: %d bytes of HTML from %d of Markdown, over the limit of %d (six times the Markdown plus 16 KiB)", ErrTooLarge, len(out), len(markdown), limit)
	}
	return out, names, nil
}

// Mentions returns the names markdown mentions, as Post does, without
// rendering it.
func (r *Renderer) Mentions(markdown string) []string {
	if strings.IndexByte(markdown, '@') < 0 {
		return nil // most posts: no parse
	}
	src := []byte(strings.ToValidUTF8(markdown, "\uFFFD"))
	pc := parser.NewContext()
	r.md.Parser().Parse(text.NewReader(src), parser.WithContext(pc))
	return mentionsIn(pc)
}

// putState returns s to the pool, without the buffers that have grown too
// big to keep.
func (r *Renderer) putState(s *state) {
	if cap(s.src) > maxPooledBuffer {
		s.src = nil
	}
	if s.html.Cap() > maxPooledBuffer {
		s.html = htmlBuffer{}
	}
	s.in.Reset(nil)
	s.out.Reset()
	r.states.Put(s)
}

// state is what a call of HTML needs besides the Renderer. It is pooled, so
// that rendering an ordinary post allocates little more than goldmark's
// syntax tree, bluemonday's tokenizer and the result.
type state struct {
	src  []byte          // the Markdown, as valid UTF-8
	html htmlBuffer      // goldmark's output
	in   bytes.Reader    // reads html for bluemonday
	out  strings.Builder // bluemonday's output
}

// htmlBuffer is a bytes.Buffer that is also a util.BufWriter, so that
// goldmark writes into it directly instead of through a bufio.Writer of its
// own (4 KiB allocated for every post, and a copy of the output).
type htmlBuffer struct {
	bytes.Buffer
}

var _ util.BufWriter = (*htmlBuffer)(nil)

// Buffered implements util.BufWriter: nothing is held back.
func (*htmlBuffer) Buffered() int { return 0 }

// Flush implements util.BufWriter: there is nothing to flush.
func (*htmlBuffer) Flush() error { return nil }
