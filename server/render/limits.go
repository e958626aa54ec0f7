package render

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Limits that keep hostile Markdown ("Markdown bombs") cheap to render. A
// post within them renders as CommonMark and GFM say; past them, the excess
// structure is rendered as plain text instead.
//
// goldmark's block parsing is linear, but some of its inline parsing
// (emphasis delimiters, link labels and destinations, code spans) is
// quadratic or worse in the number of markup characters in one paragraph:
// 64 KiB of "*_a" takes seconds. So the inline markup of each paragraph,
// heading and table row is bounded.
const (
	// maxNesting is how deeply block quotes and lists may nest. Without a
	// bound, 64 KiB of ">" opens 65,536 nested block quotes.
	maxNesting = 32
	// maxTableCells bounds rows × columns of a table. GFM pads every row to
	// the header's width, so a wide header followed by many one-byte rows
	// would turn 64 KiB into gigabytes of empty cells.
	maxTableCells = 10_000
	// maxInlineMarkup is the most inline markup characters (see
	// isInlineMarkup) a paragraph, heading or table row may hold. A
	// paragraph with more is rendered as plain text; a heading or table
	// with a longer line is parsed as a paragraph, hence as plain text.
	maxInlineMarkup = 256
	// maxRefLines is the most lines a paragraph may have for link
	// reference definitions at its start to be recognised.
	maxRefLines = 250
)

// isInlineMarkup reports whether c is one of the characters whose number
// drives the cost of goldmark's inline parsing.
func isInlineMarkup(c byte) bool {
	switch c {
	case '*', '_', '~', '[', ']', '`', '<':
		return true
	}
	return false
}

// inlineMarkup is 1 for the bytes for which isInlineMarkup is true, 0 for
// the others: counting with it has no branch to mispredict, which makes it
// about three times as fast.
var inlineMarkup = func() (t [256]uint8) {
	for c := range t {
		if isInlineMarkup(byte(c)) {
			t[c] = 1
		}
	}
	return t
}()

// countInlineMarkup returns the number of inline markup characters in b.
func countInlineMarkup(b []byte) int {
	n := 0
	for _, c := range b {
		n += int(inlineMarkup[c])
	}
	return n
}

// newParser returns goldmark's default parser with the limits above.
func newParser() parser.Parser {
	return parser.NewParser(
		parser.WithBlockParsers(blockParsers()...),
		parser.WithInlineParsers(parser.DefaultInlineParsers()...),
		parser.WithParagraphTransformers(paragraphTransformers()...),
	)
}

// blockParsers returns the block parsers and priorities of
// parser.DefaultBlockParsers, with limits on lists, block quotes and ATX
// headings.
func blockParsers() []util.PrioritizedValue {
	return []util.PrioritizedValue{
		util.Prioritized(parser.NewSetextHeadingParser(), 100),
		util.Prioritized(parser.NewThematicBreakParser(), 200),
		util.Prioritized(nestingLimit{parser.NewListParser()}, 300),
		util.Prioritized(parser.NewListItemParser(), 400),
		util.Prioritized(parser.NewCodeBlockParser(), 500),
		util.Prioritized(lineLimit{parser.NewATXHeadingParser()}, 600),
		util.Prioritized(parser.NewFencedCodeBlockParser(), 700),
		util.Prioritized(nestingLimit{parser.NewBlockquoteParser()}, 800),
		util.Prioritized(parser.NewHTMLBlockParser(), 900),
		util.Prioritized(parser.NewParagraphParser(), 1000),
	}
}

// paragraphTransformers returns parser.DefaultParagraphTransformers, with a
// limit on link reference definitions, and paragraphLimit.
func paragraphTransformers() []util.PrioritizedValue {
	return []util.PrioritizedValue{
		util.Prioritized(refLimit{parser.LinkReferenceParagraphTransformer}, 100),
		// After every other paragraph transformer (the table one is 200).
		util.Prioritized(paragraphLimit{}, 10_000),
	}
}

// nestingLimit wraps the block parser of a container (block quote or list)
// so that it opens none nested deeper than maxNesting; the line is then
// parsed as if the marker were text.
type nestingLimit struct {
	parser.BlockParser
}

// Open implements parser.BlockParser.
func (l nestingLimit) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for n := parent; n != nil; n = n.Parent() {
		if k := n.Kind(); k == ast.KindBlockquote || k == ast.KindList {
			depth++
			if depth >= maxNesting {
				return nil, parser.NoChildren
			}
		}
	}
	return l.BlockParser.Open(parent, reader, pc)
}

// lineLimit wraps the parser of a one-line block with inline content (an
// ATX heading) so that it does not open on a line with more than
// maxInlineMarkup markup characters. The line then starts or continues a
// paragraph, which paragraphLimit renders as plain text.
type lineLimit struct {
	parser.BlockParser
}

// Open implements parser.BlockParser.
func (l lineLimit) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	line, _ := reader.PeekLine()
	if countInlineMarkup(line) > maxInlineMarkup {
		return nil, parser.NoChildren
	}
	return l.BlockParser.Open(parent, reader, pc)
}

// refLimit wraps the transformer that takes link reference definitions
// out of the start of a paragraph, so that it leaves alone paragraphs of
// more than maxRefLines lines: it copies the remaining lines after each
// definition it finds, which is quadratic in the number of lines.
type refLimit struct {
	parser.ParagraphTransformer
}

// Transform implements parser.ParagraphTransformer.
func (l refLimit) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	lines := node.Lines()
	if lines.Len() > maxRefLines {
		return
	}
	// A link reference definition starts with its label, in brackets: the
	// transformer leaves a paragraph with lines but no "[" as it is (it
	// allocates, so skipping it matters for ordinary posts). It removes a
	// paragraph without lines.
	source := reader.Source()
	found := lines.Len() == 0
	for i := 0; i < lines.Len() && !found; i++ {
		seg := lines.At(i)
		found = bytes.IndexByte(seg.Value(source), '[') >= 0
	}
	if !found {
		return
	}
	l.ParagraphTransformer.Transform(node, reader, pc)
}

// paragraphLimit is a paragraph transformer that replaces a paragraph with
// more than maxInlineMarkup inline markup characters by a plainText block,
// which is not parsed for inline markup. Setext headings are paragraphs
// when the transformers run, so it bounds them too.
type paragraphLimit struct{}

// Transform implements parser.ParagraphTransformer.
func (paragraphLimit) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	lines := node.Lines()
	n := 0
	for i := 0; i < lines.Len() && n <= maxInlineMarkup; i++ {
		seg := lines.At(i)
		n += countInlineMarkup(seg.Value(source))
	}
	if n <= maxInlineMarkup {
		return
	}
	plain := &plainText{}
	// As the paragraph parser would on closing: drop the indentation of
	// every line and the trailing space of the last.
	for i := range lines.Len() {
		seg := lines.At(i)
		seg = seg.TrimLeftSpace(source)
		if i == lines.Len()-1 {
			seg = seg.TrimRightSpace(source)
		}
		plain.Lines().Append(seg)
	}
	plain.SetBlankPreviousLines(node.HasBlankPreviousLines())
	node.Parent().ReplaceChild(node.Parent(), node, plain)
}

// kindPlainText is the ast.NodeKind of plainText. Like goldmark's own kinds
// it is assigned once, at initialisation, and never changed.
var kindPlainText = ast.NewNodeKind("PlainText")

// plainText is a paragraph shown as written: its lines are not parsed for
// inline markup (IsRaw) and are rendered as escaped text.
type plainText struct {
	ast.BaseBlock
}

// Kind implements ast.Node.
func (*plainText) Kind() ast.NodeKind { return kindPlainText }

// IsRaw implements ast.Node.
func (*plainText) IsRaw() bool { return true }

// Dump implements ast.Node.
func (n *plainText) Dump(source []byte, level int) { ast.DumpHelper(n, source, level, nil, nil) }

// plainTextRenderer renders plainText nodes.
type plainTextRenderer struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (plainTextRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindPlainText, func(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			_, _ = w.WriteString("</p>\n")
			return ast.WalkContinue, nil
		}
		_, _ = w.WriteString("<p>")
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
		return ast.WalkContinue, nil
	})
}

// limits is a goldmark extension that renders plainText nodes. The nodes
// themselves come from the parser built by newParser.
type limits struct{}

// Extend implements goldmark.Extender.
func (limits) Extend(m goldmark.Markdown) {
	m.Renderer().AddOptions(renderer.WithNodeRenderers(
		util.Prioritized(plainTextRenderer{}, 500),
	))
}

// boundedTable is extension.Table, except that cells are aligned by an align
// attribute (a style attribute would not survive the sanitiser) and that a
// paragraph becomes a table only within maxTableCells and maxInlineMarkup.
type boundedTable struct{}

// Extend implements goldmark.Extender, as extension.Table does.
func (boundedTable) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(
		parser.WithParagraphTransformers(
			util.Prioritized(tableLimit{extension.NewTableParagraphTransformer()}, 200),
		),
		parser.WithASTTransformers(
			util.Prioritized(extension.NewTableASTTransformer(), 0),
		),
	)
	m.Renderer().AddOptions(renderer.WithNodeRenderers(
		util.Prioritized(extension.NewTableHTMLRenderer(
			extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute),
		), 500),
	))
}

// tableLimit wraps the table paragraph transformer so that it leaves alone
// paragraphs that could become tables of more than maxTableCells cells or
// that have a line with more than maxInlineMarkup markup characters (each
// cell is parsed for inline markup on its own, so the bound is per line).
type tableLimit struct {
	parser.ParagraphTransformer
}

// Transform implements parser.ParagraphTransformer.
func (t tableLimit) Transform(node *ast.Paragraph, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	lines := node.Lines()
	// Most paragraphs are not tables, and the table transformer leaves alone
	// a paragraph without a delimiter row (such as "|---|:-:|") after its
	// first line. Checking for one first spares the counting below.
	delimiterRow := false
	for i := 1; i < lines.Len() && !delimiterRow; i++ {
		seg := lines.At(i)
		delimiterRow = mayBeDelimiterRow(seg.Value(source))
	}
	if !delimiterRow {
		return
	}
	// Every row is padded to the width of the header, itself one of the
	// lines, so lines × the most cells in a line bounds the number of cells.
	maxCells := 0
	for i := range lines.Len() {
		seg := lines.At(i)
		line := bytes.TrimSpace(seg.Value(source))
		if countInlineMarkup(line) > maxInlineMarkup {
			return
		}
		// A line has at most one cell more than it has pipes, less the
		// leading and trailing pipe.
		cells := bytes.Count(line, []byte{'|'}) + 1
		if bytes.HasPrefix(line, []byte{'|'}) {
			cells--
		}
		if len(line) > 1 && bytes.HasSuffix(line, []byte{'|'}) {
			cells--
		}
		maxCells = max(maxCells, cells)
	}
	if lines.Len()*maxCells > maxTableCells {
		return
	}
	t.ParagraphTransformer.Transform(node, reader, pc)
}

// mayBeDelimiterRow reports whether line could be the delimiter row of a
// table: goldmark's table transformer takes for one only a line that has
// nothing but spaces, "-", "|" and ":" (and not only "-"), then checks each
// cell. This is the first, necessary, part of its test.
func mayBeDelimiterRow(line []byte) bool {
	for _, c := range line {
		if !(util.IsSpace(c) || c == '-' || c == '|' || c == ':') {
			return false
		}
	}
	return true
}
