package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/forumhq/forum/internal/errs"
)

// Item is one thing that happened, as a notification tells it.
type Item struct {
	// Kind is KindReply, KindMention, KindWatchedPost, KindFollowUp or
	// KindResolved.
	Kind string
	// Actor is the display name of who did it; empty reads "Someone".
	Actor string
	// ThreadTitle is the title of the post's thread.
	ThreadTitle string
	// Excerpt is the start of the post, plain text, already shortened; it
	// may hold line breaks.
	Excerpt string
	// URL is the absolute http(s) link to the post. Required.
	URL string
	// Time is when it happened, shown in its own location in a digest;
	// the zero time is not shown.
	Time time.Time
}

// Links are the absolute http(s) links of a mail's footer; an empty one is
// left out.
type Links struct {
	// Forum is the forum's home page, the digest's "and N more" link.
	Forum string
	// Settings is the page of the user's e-mail settings.
	Settings string
	// Unsubscribe is the page that unsubscribes with a signed token
	// (Signer); the same URL usually goes in Message.UnsubscribeURL.
	Unsubscribe string
}

// DigestMax is the number of items a digest shows; the others are
// counted in an "and N more" line linking to the forum.
const DigestMax = 50

// maxSubjectTitle is the number of characters of a thread's title kept in
// a subject line.
const maxSubjectTitle = 80

//go:embed templates
var templateFS embed.FS

// The templates, parsed once; they are read only after that.
var (
	textTemplates = texttemplate.Must(texttemplate.New("").Funcs(texttemplate.FuncMap{"plain": plain}).
			ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/*.html.tmpl"))
)

// page is what the templates are given: every word already in the mail's
// language.
type page struct {
	Lang    string
	Subject string
	Hello   string
	Colon   string // ends a label before its link, in text
	// Immediate.
	Headline     []segment
	ExcerptLines []string
	URL          string
	ViewPost     string
	// Digest.
	Intro     string
	Groups    []group
	More      string
	Forum     string
	OpenForum string
	// Footer.
	Why, Settings, SettingsURL, Unsubscribe, UnsubscribeURL string
}

// group is a digest's items of one thread.
type group struct {
	Title string // in quote marks
	Items []digestItem
}

// digestItem is one line of a digest.
type digestItem struct {
	Action  []segment
	Time    string
	Excerpt string
	URL     string
}

// Immediate renders the mail of one notification in lang (en, fr or es;
// another language gives en) to the user called toName (empty: no name in
// the greeting): its subject, such as "Ana replied to “Title”", and its
// plain-text and HTML bodies. An item of an unknown kind or without an
// absolute http(s) URL, or a link that is not one, gives an error of kind
// errs.InvalidArgument.
func Immediate(lang, toName string, it Item, links Links) (subject, text, html string, err error) {
	c, lang := catalogFor(lang)
	if err := checkItem("item", it); err != nil {
		return "", "", "", err
	}
	if err := checkLinks(links); err != nil {
		return "", "", "", err
	}
	p := c.page(lang, toName, links)
	p.Headline = c.sentence(it, it.ThreadTitle)
	p.Subject = oneLine(plain(c.sentence(it, shorten(it.ThreadTitle, maxSubjectTitle))))
	p.ExcerptLines = lines(it.Excerpt)
	p.URL = it.URL
	p.ViewPost = c.viewPost
	text, html, err = render("immediate", p)
	return p.Subject, text, html, err
}

// Digest renders the digest of a period (PeriodDaily or PeriodWeekly) in
// lang to the user called toName: the items, in the order given, grouped by
// thread title (the groups in the order of their first item), at most
// DigestMax of them, then "and N more" linking to links.Forum. No items, an
// unknown period, or a bad item or link gives an error of kind
// errs.InvalidArgument.
func Digest(lang, toName string, period string, items []Item, links Links) (subject, text, html string, err error) {
	c, lang := catalogFor(lang)
	var v errs.Violations
	if _, ok := c.digestSubject[period]; !ok {
		v.Add("period", "must be %q or %q", PeriodDaily, PeriodWeekly)
	}
	if len(items) == 0 {
		v.Add("items", "must not be empty")
	}
	if err := v.Err(); err != nil {
		return "", "", "", err
	}
	for i, it := range items {
		if err := checkItem(fmt.Sprintf("items[%d]", i), it); err != nil {
			return "", "", "", err
		}
	}
	if err := checkLinks(links); err != nil {
		return "", "", "", err
	}
	p := c.page(lang, toName, links)
	p.Subject = c.plural(c.digestSubject[period], len(items))
	p.Intro = c.digestIntro[period]
	shown := items[:min(len(items), DigestMax)]
	index := map[string]int{}
	for _, it := range shown {
		i, ok := index[it.ThreadTitle]
		if !ok {
			i = len(p.Groups)
			index[it.ThreadTitle] = i
			p.Groups = append(p.Groups, group{Title: c.quoted(it.ThreadTitle)})
		}
		di := digestItem{
			Action:  fill(c.action[it.Kind], map[string]segment{"actor": c.actor(it.Actor)}),
			Excerpt: strings.Join(strings.Fields(it.Excerpt), " "),
			URL:     it.URL,
		}
		if !it.Time.IsZero() {
			di.Time = it.Time.Format(c.timeLayout)
		}
		p.Groups[i].Items = append(p.Groups[i].Items, di)
	}
	if n := len(items) - len(shown); n > 0 {
		p.More = c.plural(c.more, n)
	}
	p.Forum = links.Forum
	p.OpenForum = c.openForum
	text, html, err = render("digest", p)
	return p.Subject, text, html, err
}

// page returns the parts of a page common to every mail.
func (c *catalog) page(lang, toName string, links Links) page {
	p := page{
		Lang:           lang,
		Hello:          c.hello,
		Colon:          c.colon,
		Why:            c.why,
		Settings:       c.settings,
		SettingsURL:    links.Settings,
		Unsubscribe:    c.unsubscribe,
		UnsubscribeURL: links.Unsubscribe,
	}
	if name := strings.TrimSpace(oneLine(toName)); name != "" {
		p.Hello = plain(fill(c.helloName, map[string]segment{"name": {Text: name}}))
	}
	return p
}

// sentence returns the headline of it with title as the thread's title.
func (c *catalog) sentence(it Item, title string) []segment {
	return fill(c.headline[it.Kind], map[string]segment{
		"actor": c.actor(it.Actor),
		"title": {Text: c.quoted(title)},
	})
}

// actor returns the actor's name as a bold segment.
func (c *catalog) actor(name string) segment {
	name = strings.TrimSpace(oneLine(name))
	if name == "" {
		name = c.someone
	}
	return segment{Text: name, Strong: true}
}

// quoted returns title in the language's quote marks.
func (c *catalog) quoted(title string) string {
	return plain(fill(c.quote, map[string]segment{"title": {Text: oneLine(title)}}))
}

// render executes the text and HTML templates called name.
func render(name string, p page) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&tb, name+".txt.tmpl", p); err != nil {
		return "", "", fmt.Errorf("mail: text template %s: %w", name, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&hb, name+".html.tmpl", p); err != nil {
		return "", "", fmt.Errorf("mail: HTML template %s: %w", name, err)
	}
	return tb.String(), hb.String(), nil
}

// checkItem checks the item named field.
func checkItem(field string, it Item) error {
	var v errs.Violations
	if _, ok := catalogs["en"].headline[it.Kind]; !ok {
		v.Add(field+".kind", "unknown kind %q", it.Kind)
	}
	if !isWebURL(it.URL) {
		v.Add(field+".url", "must be an absolute http or https URL")
	}
	return v.Err()
}

// checkLinks checks the links that are set.
func checkLinks(l Links) error {
	var v errs.Violations
	for _, f := range []struct{ name, url string }{{"links.forum", l.Forum}, {"links.settings", l.Settings}, {"links.unsubscribe", l.Unsubscribe}} {
		if f.url != "" && !isWebURL(f.url) {
			v.Add(f.name, "must be an absolute http or https URL")
		}
	}
	return v.Err()
}

// isWebURL reports whether s is an absolute http or https URL.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && !strings.ContainsAny(s, " \r\n")
}

// lines splits s into lines, without trailing blank ones.
func lines(s string) []string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// shorten returns s cut to at most n characters, ending with "…" when
// cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
