package render

import (
	"errors"
	"strings"
	"testing"
)

// TestBodyHTML: a body whose HTML would be over MaxHTML of its length is
// refused with ErrTooLarge (the audit's 64 KiB of short bare URLs rendered
// to 575 KB; a 698-byte table padded to 10,000 cells, to 100 KB);
// ordinary and merely escaping-heavy bodies are not.
func TestBodyHTML(t *testing.T) {
	r := New()
	for _, c := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"prose", strings.Repeat("A sentence of plain prose, with a comma. ", 1500), true},
		{"ampersands", strings.Repeat("&", 64<<10), true},              // 5 times
		{"empty headings", strings.Repeat("#\n", 32<<10), true},        // 5 times
		{"https links", strings.Repeat("https://a.io/x ", 4300), true}, // 5.6 times
		{"a few short links", strings.Repeat("a.io ", 100), true},      // within the 16 KiB
		{"short bare URLs", strings.Repeat("http://a.io ", 5400), false},
		{"e-mail addresses", strings.Repeat("a@b.io ", 9000), false},
		// 100 columns, 98 rows of one cell each, padded to 100.
		{"a padded table", strings.Repeat("|a", 100) + "|\n" + strings.Repeat("|-", 100) + "|\n" + strings.Repeat("|1\n", 98), false},
	} {
		out, err := r.BodyHTML(c.in)
		if c.ok {
			if err != nil || len(out) > MaxHTML(len(c.in)) {
				t.Errorf("%s: %d bytes of HTML from %d, %v; want it rendered", c.name, len(out), len(c.in), err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) || out != "" || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s: %d bytes of HTML, %v; want ErrTooLarge", c.name, len(out), err)
		}
	}
	// The Renderer is fine after a refusal.
	if out, err := r.BodyHTML("*ok*"); err != nil || out != "<p><em>ok</em></p>\n" {
		t.Errorf("after a refusal: %q, %v", out, err)
	}
}
