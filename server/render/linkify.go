package render

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// linkifyProtocols are the schemes of the bare URLs that become links.
var linkifyProtocols = []string{"http:", "https:", "mailto:"}

// linkify is extension.NewLinkify(extension.WithLinkifyAllowedProtocols(
// linkifyProtocols)), with the same inline parser at the same priority,
// wrapped in linkifyFilter.
type linkify struct{}

// Extend implements goldmark.Extender, as extension.NewLinkify's does.
func (linkify) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(
		parser.WithInlineParsers(
			util.Prioritized(newLinkifyFilter(), 999),
		),
	)
}

// linkifyFilter wraps goldmark's linkify inline parser, which goldmark calls
// at every space of every paragraph (and at "*", "_", "~" and "("), and
// which mostly finds no URL there. It returns nil at once where that parser
// would return nil for sure, and otherwise lets it parse. It changes no
// output: when the wrapped parser returns nil it has changed nothing.
//
// From where it is called (after one of its trigger characters, which it
// skips), the linkify parser only returns a link for text that starts with
// one of the allowed protocols or "www.", or that is an e-mail address:
// util.FindEmailIndex, which it uses, requires an "@" within the first 65
// bytes.
type linkifyFilter struct {
	parser.InlineParser
	// first holds the first bytes of the allowed protocols and of "www."
	first [256]bool
}

func newLinkifyFilter() *linkifyFilter {
	f := &linkifyFilter{
		InlineParser: extension.NewLinkifyParser(
			extension.WithLinkifyAllowedProtocols(linkifyProtocols),
		),
	}
	for _, p := range linkifyProtocols {
		f.first[p[0]] = true
	}
	f.first['w'] = true // www.
	return f
}

// maxEmailAt is the farthest from where the linkify parser looks that the
// "@" of an e-mail address can be: util.FindEmailIndex reads at most 64
// bytes of the address before it.
const maxEmailAt = 64

// Parse implements parser.InlineParser.
func (f *linkifyFilter) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, _ := block.PeekLine()
	if len(line) > 0 {
		// As the linkify parser does: skip the trigger character.
		switch line[0] {
		case ' ', '*', '_', '~', '(':
			line = line[1:]
		}
	}
	if len(line) > 0 && !f.first[line[0]] && bytes.IndexByte(line[:min(len(line), maxEmailAt+1)], '@') < 0 {
		return nil
	}
	return f.InlineParser.Parse(parent, block, pc)
}
