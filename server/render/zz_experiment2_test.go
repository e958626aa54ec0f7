package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

func TestZZNoLinkify(t *testing.T) {
	r := New()
	nolink := goldmark.New(goldmark.WithParser(newParser()), goldmark.WithExtensions(boundedTable{}, limits{}, extension.Strikethrough, extension.TaskList))
	n, diff := 0, 0
	for _, c := range goldenCorpus() {
		if strings.Contains(c.in, "@") || strings.Contains(c.in, "www.") || strings.Contains(c.in, "http") || strings.Contains(c.in, "mailto") {
			continue
		}
		n++
		var a, b bytes.Buffer
		r.md.Convert([]byte(c.in), &a)
		nolink.Convert([]byte(c.in), &b)
		if a.String() != b.String() {
			diff++
			if diff < 6 {
				t.Logf("%s: %q\n%q\n%q", c.name, c.in[:min(200, len(c.in))], a.String()[:min(300, a.Len())], b.String()[:min(300, b.Len())])
			}
		}
	}
	t.Logf("%d of %d differ", diff, n)
}
