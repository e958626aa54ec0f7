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
package render

import (
	"bytes"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

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
	bufs   sync.Pool // of *bytes.Buffer holding goldmark's output
}

// New returns a Renderer.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithParser(newParser()),
		goldmark.WithExtensions(
			extension.NewLinkify(
				extension.WithLinkifyAllowedProtocols([]string{"http:", "https:", "mailto:"}),
			),
			boundedTable{},
			limits{},
			extension.Strikethrough,
			extension.TaskList,
		),
		// Deliberately not enabled: html.WithUnsafe (raw HTML would pass
		// through to the sanitiser) and parser.WithAttribute (user-chosen
		// attributes such as {onclick=...}).
	)
	return &Renderer{
		md:     md,
		policy: newPolicy(),
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
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
	return p
}

// HTML renders markdown, the body of a thread or reply, to sanitised HTML:
// an HTML fragment in valid UTF-8 (invalid UTF-8 in markdown becomes
// U+FFFD). The error is that of goldmark or bluemonday writing to memory,
// which they do not report for any input; callers should still handle it.
func (r *Renderer) HTML(markdown string) (string, error) {
	buf := r.bufs.Get().(*bytes.Buffer)
	defer r.putBuffer(buf)
	buf.Reset()
	// The result goes into proto3 string fields, which must be valid UTF-8.
	markdown = strings.ToValidUTF8(markdown, "\uFFFD")
	if err := r.md.Convert([]byte(markdown), buf); err != nil {
		return "", err
	}
	// The sanitised output is about as long as goldmark's, so size it once;
	// a strings.Builder then returns it without another copy.
	var out strings.Builder
	out.Grow(buf.Len() + buf.Len()/8)
	if err := r.policy.SanitizeReaderToWriter(bytes.NewReader(buf.Bytes()), &out); err != nil {
		return "", err
	}
	return out.String(), nil
}

// putBuffer returns buf to the pool unless it has grown too big to keep.
func (r *Renderer) putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuffer {
		return
	}
	r.bufs.Put(buf)
}
