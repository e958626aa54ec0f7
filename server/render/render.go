// Package render turns the Markdown body of a forum post into HTML that is
// safe to embed in a page.
//
// Rendering has two steps. goldmark converts CommonMark plus the GitHub
// Flavored Markdown extensions (tables, strikethrough, autolinks and task
// lists) to HTML; raw HTML in the Markdown is not passed through but replaced
// by an HTML comment, and goldmark already blanks javascript:, vbscript:,
// file: and data: link destinations. Then, as the last step, bluemonday's
// user-generated-content policy sanitises the result, so that even a bug in
// the first step cannot let script through: only an allowlist of elements and
// attributes survives, URLs must be relative or use the http, https or mailto
// scheme, and every link gets rel="nofollow" (links to other hosts also get
// target="_blank" and rel="noopener").
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
	// Fenced code blocks keep their language for client-side highlighting.
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,32}$`)).OnElements("code")
	// Task list items are rendered as disabled checkboxes. An input with none
	// of these attributes left is dropped by bluemonday.
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").Matching(regexp.MustCompile(`^(|checked|disabled)$`)).OnElements("input")
	return p
}

// HTML renders markdown, the body of a thread or reply, to sanitised HTML.
// The result is an HTML fragment in UTF-8; invalid UTF-8 in markdown is
// replaced by U+FFFD. An error is returned only if rendering itself fails,
// which does not happen for any input with the standard renderers.
func (r *Renderer) HTML(markdown string) (string, error) {
	buf := r.bufs.Get().(*bytes.Buffer)
	defer r.putBuffer(buf)
	buf.Reset()
	// The result goes into proto3 string fields, which must be valid UTF-8.
	markdown = strings.ToValidUTF8(markdown, "\uFFFD")
	if err := r.md.Convert([]byte(markdown), buf); err != nil {
		return "", err
	}
	// The sanitised output is never longer than goldmark's (roughly), so
	// size the result once instead of growing it.
	var out bytes.Buffer
	out.Grow(buf.Len())
	if err := r.policy.SanitizeReaderToWriter(bytes.NewReader(buf.Bytes()), &out); err != nil {
		return "", err
	}
	return out.String(), nil
}

func (r *Renderer) putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuffer {
		return
	}
	r.bufs.Put(buf)
}
