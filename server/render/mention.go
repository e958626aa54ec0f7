package render

import (
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// MaxMentions bounds the distinct names a post may mention: a post with
// more is refused (the server says so), so that one post cannot notify a
// crowd by listing it.
const MaxMentions = 50

// MentionPath is the start of a mention's link: `@ana` links to
// MentionPath + "ana", the web UI's page that finds the user (or the group)
// of that name.
const MentionPath = "/u/"

// mentions collects, while a post is parsed, the names it mentions outside
// quotes (a mention in a code span or block is not parsed at all).
type mentions struct {
	names []string
	seen  map[string]bool
}

var mentionsKey = parser.NewContextKey()

// mention is the extension that turns `@name` into a link to
// MentionPath+name, with class "mention": a name of 3 to 32 characters of
// a-z, 0-9, _ . -, starting with a letter (a username's syntax, which
// groups' slugs also fit), after the start of a line or a character that
// cannot be in a name. Upper-case letters are lowered (`@Ana` is ana). A
// trailing dot or dash is punctuation, not the name's.
type mention struct{}

// Extend implements goldmark.Extender.
func (mention) Extend(m goldmark.Markdown) {
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(mentionParser{}, 600)))
}

type mentionParser struct{}

func (mentionParser) Trigger() []byte { return []byte{'@'} }

// nameByte reports whether c may be in a name (lower-cased).
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// maxNameBytes is the longest name (a username's bound).
const maxNameBytes = 32

// Parse implements parser.InlineParser.
func (mentionParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if p := lower(byte(block.PrecendingCharacter())); nameByte(p) || p == '@' || p == '/' || p == ':' {
		return nil // an e-mail address, a path, a URL: not a mention
	}
	line, seg := block.PeekLine()
	n := 1
	for n < len(line) && n <= maxNameBytes+1 && nameByte(lower(line[n])) {
		n++
	}
	for n > 1 && (line[n-1] == '.' || line[n-1] == '-') {
		n--
	}
	if n < len(line) && (line[n] == '@' || line[n] == ':' || line[n] == '/') {
		return nil // part of an address or a URL
	}
	name := make([]byte, 0, n-1)
	for _, c := range line[1:n] {
		name = append(name, lower(c))
	}
	if len(name) < 3 || len(name) > maxNameBytes || name[0] < 'a' || name[0] > 'z' {
		return nil
	}
	block.Advance(n)
	link := ast.NewLink()
	link.Destination = append([]byte(MentionPath), name...)
	link.SetAttributeString("class", []byte("mention"))
	link.AppendChild(link, ast.NewTextSegment(text.NewSegment(seg.Start, seg.Start+n)))
	if !quoted(parent) {
		m, _ := pc.Get(mentionsKey).(*mentions)
		if m == nil {
			m = &mentions{seen: map[string]bool{}}
			pc.Set(mentionsKey, m)
		}
		if s := string(name); !m.seen[s] {
			m.seen[s] = true
			m.names = append(m.names, s)
		}
	}
	return link
}

// quoted reports whether n is inside a block quote.
func quoted(n ast.Node) bool {
	for ; n != nil; n = n.Parent() {
		if n.Kind() == ast.KindBlockquote {
			return true
		}
	}
	return false
}

// mentionsIn returns the names pc collected.
func mentionsIn(pc parser.Context) []string {
	if m, _ := pc.Get(mentionsKey).(*mentions); m != nil {
		return m.names
	}
	return nil
}
