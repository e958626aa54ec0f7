package render

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// forbiddenElements are elements that must never come out of the renderer:
// they run script, load or embed other documents, restyle or redirect the
// page, or switch the HTML parser into another mode (mXSS).
var forbiddenElements = map[string]bool{
	"script": true, "iframe": true, "frame": true, "frameset": true, "style": true,
	"form": true, "button": true, "textarea": true,
	"select": true, "option": true, "base": true, "meta": true, "link": true,
	"svg": true, "math": true, "object": true, "embed": true, "applet": true,
	"template": true, "noscript": true, "noembed": true, "noframes": true,
	"xmp": true, "plaintext": true, "title": true, "html": true, "head": true,
	"body": true, "audio": true, "video": true, "source": true, "track": true,
	"canvas": true, "portal": true, "dialog": true,
}

// urlAttributes are attributes whose value is a URL.
var urlAttributes = map[string]bool{
	"href": true, "src": true, "cite": true, "action": true, "formaction": true,
	"background": true, "poster": true, "longdesc": true, "usemap": true,
	"ping": true, "data": true, "codebase": true, "lowsrc": true, "dynsrc": true,
	"xlink:href": true, "manifest": true, "icon": true, "profile": true,
}

// forbiddenAttributes are attributes that must never come out, whatever
// their value.
var forbiddenAttributes = map[string]bool{
	"style": true, "srcset": true, "formaction": true, "form": true,
	"xmlns": true, "is": true, "autofocus": true, "contenteditable": true,
	"srcdoc": true, "http-equiv": true,
}

// unsafe returns what is unsafe in the HTML fragment out, or nil. It checks
// every tag the tokenizer sees (so it also works on output nested deeper
// than the x/net/html parser accepts) and, when the fragment parses, every
// element and attribute of the tree a browser would build:
//
//   - no forbidden element (script, iframe, style, form, svg, math...),
//   - no event handler attribute (on...) nor style, srcset and the like,
//   - every URL is relative or has scheme http, https or mailto, as a
//     browser reads it (tabs and newlines removed, case ignored),
//   - no input other than a disabled checkbox (task lists).
func unsafe(out string) []string {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	check := func(tag string, attrs []html.Attribute) {
		tag = strings.ToLower(tag)
		if forbiddenElements[tag] {
			add("forbidden element <%s>", tag)
		}
		var checkbox, disabled bool
		for _, a := range attrs {
			name := strings.ToLower(a.Key)
			if a.Namespace != "" {
				name = a.Namespace + ":" + name
			}
			switch {
			case strings.HasPrefix(name, "on"):
				add("event handler %s=%q on <%s>", name, a.Val, tag)
			case forbiddenAttributes[name]:
				add("forbidden attribute %s=%q on <%s>", name, a.Val, tag)
			case urlAttributes[name]:
				if scheme, ok := urlScheme(a.Val); ok && scheme != "http" && scheme != "https" && scheme != "mailto" {
					add("URL with scheme %q: %s=%q on <%s>", scheme, name, a.Val, tag)
				}
			}
			checkbox = checkbox || name == "type" && a.Val == "checkbox"
			disabled = disabled || name == "disabled"
		}
		if tag == "input" && !(checkbox && disabled) {
			add("an <input> that is not a disabled checkbox: %v", attrs)
		}
	}

	// Raw text: after sanitising, "<" only starts tags, so a forbidden tag
	// name after "<" is a forbidden element, wherever it is.
	lower := strings.ToLower(out)
	for name := range forbiddenElements {
		for i := strings.Index(lower, "<"+name); i >= 0; {
			end := i + 1 + len(name)
			if end == len(lower) || !isTagNameByte(lower[end]) {
				add("forbidden tag text %q", out[i:min(len(out), end+20)])
				break
			}
			next := strings.Index(lower[end:], "<"+name)
			if next < 0 {
				break
			}
			i = end + next
		}
	}
	if strings.Contains(lower, "<!--") || strings.Contains(lower, "<!") || strings.Contains(lower, "<?") {
		add("comment, doctype, CDATA or processing instruction in output")
	}

	// Tokens.
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				add("tokenizer: %v", z.Err())
			}
			break
		}
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			t := z.Token()
			check(t.Data, t.Attr)
		}
	}

	// Tree, as a browser would build it inside <body>.
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(out), body)
	if err != nil {
		// Only nesting deeper than the parser's limit (512) is expected.
		if !strings.Contains(err.Error(), "exceeds 512") {
			add("parse: %v", err)
		}
		return problems
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if n.Namespace != "" {
				add("element <%s> in namespace %s", n.Data, n.Namespace)
			}
			check(n.Data, n.Attr)
		case html.CommentNode, html.DoctypeNode:
			add("comment or doctype node %q", n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return problems
}

func isTagNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// urlScheme returns the lower-cased scheme of the URL in an attribute
// value, as a browser would find it, and false for a relative URL.
func urlScheme(v string) (string, bool) {
	// The URL parser strips leading and trailing C0 controls and spaces and
	// removes every tab and newline.
	v = strings.TrimFunc(v, func(r rune) bool { return r <= 0x20 })
	v = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
	i := strings.IndexAny(v, ":/?#")
	if i <= 0 || v[i] != ':' {
		return "", false
	}
	scheme := v[:i]
	for j := range len(scheme) {
		c := scheme[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			// Not a scheme, so the browser resolves v as a relative URL.
			// Go's url.Parse must agree that it is not absolute.
			if u, err := url.Parse(v); err == nil && u.Scheme != "" {
				return strings.ToLower(u.Scheme), true
			}
			return "", false
		}
	}
	return strings.ToLower(scheme), true
}
