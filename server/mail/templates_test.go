package mail_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/mail"
)

var testLinks = mail.Links{
	Forum:       "https://forum.example.org/",
	Settings:    "https://forum.example.org/settings/email",
	Unsubscribe: "https://forum.example.org/unsubscribe?t=AQAAAABpVkTfAWFuYQ",
}

// words are, by language, what each kind's headline says and the footer's
// two link labels.
var words = map[string]struct {
	kinds                 map[string]string
	settings, unsubscribe string
}{
	"en": {map[string]string{
		mail.KindReply:       "replied to",
		mail.KindMention:     "mentioned you in",
		mail.KindWatchedPost: "posted in",
		mail.KindFollowUp:    "opened a follow-up",
		mail.KindResolved:    "as resolved",
	}, "Change your e-mail settings", "Unsubscribe"},
	"fr": {map[string]string{
		mail.KindReply:       "a répondu à",
		mail.KindMention:     "vous a mentionné dans",
		mail.KindWatchedPost: "a publié dans",
		mail.KindFollowUp:    "a ouvert une suite",
		mail.KindResolved:    "comme résolu",
	}, "Modifier vos réglages d’e-mail", "Se désabonner"},
	"es": {map[string]string{
		mail.KindReply:       "respondió en",
		mail.KindMention:     "te mencionó en",
		mail.KindWatchedPost: "publicó en",
		mail.KindFollowUp:    "abrió un seguimiento",
		mail.KindResolved:    "como resuelto",
	}, "Cambiar tu configuración de correo", "Darse de baja"},
}

var kinds = []string{mail.KindReply, mail.KindMention, mail.KindWatchedPost, mail.KindFollowUp, mail.KindResolved}

// maxImmediateHTML is the bound on the HTML of one notification.
const maxImmediateHTML = 4 << 10

// TestImmediate renders every kind in every language and checks the words,
// the links, the absence of markup in the text part and the HTML's size.
func TestImmediate(t *testing.T) {
	it := mail.Item{
		Actor:       "Ana Lópes",
		ThreadTitle: strings.Repeat("Séminaire de printemps ", 5),
		Excerpt:     strings.Repeat("Le séminaire commence à 14 h, salle 3. ", 5)[:200] + "\nSecond line.",
		URL:         "https://forum.example.org/threads/123456/replies/7890123?highlight=some-longer-query-string",
		Time:        time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC),
	}
	for _, lang := range mail.Languages() {
		for _, kind := range kinds {
			t.Run(lang+"/"+kind, func(t *testing.T) {
				it := it
				it.Kind = kind
				subject, text, html, err := mail.Immediate(lang, "Bruno", it, testLinks)
				if err != nil {
					t.Fatalf("Immediate: %v", err)
				}
				if subject == "" || text == "" || html == "" {
					t.Fatalf("empty part: subject %q, text %d bytes, html %d bytes", subject, len(text), len(html))
				}
				w := words[lang]
				phrase := w.kinds[kind]
				for part, s := range map[string]string{"subject": subject, "text": text, "html": html} {
					if !strings.Contains(s, phrase) {
						t.Errorf("%s lacks %q:\n%s", part, phrase, s)
					}
					if !strings.Contains(s, "Ana Lópes") {
						t.Errorf("%s lacks the actor:\n%s", part, s)
					}
				}
				if strings.ContainsAny(subject, "\r\n") || len([]rune(subject)) > 140 {
					t.Errorf("subject %q is not one short line", subject)
				}
				if !strings.Contains(subject, "…") {
					t.Errorf("subject %q: long title not shortened", subject)
				}
				for part, s := range map[string]string{"text": text, "html": html} {
					for _, want := range []string{it.URL, testLinks.Settings, testLinks.Unsubscribe, w.settings, w.unsubscribe, "Bruno", "Second line."} {
						if !strings.Contains(s, want) {
							t.Errorf("%s lacks %q", part, want)
						}
					}
				}
				if strings.Contains(text, "<") || strings.Contains(text, "&") {
					t.Errorf("text part holds markup:\n%s", text)
				}
				if !strings.Contains(html, `<html lang="`+lang+`">`) {
					t.Errorf("html lacks lang %q", lang)
				}
				if len(html) > maxImmediateHTML {
					t.Errorf("html is %d bytes, more than %d", len(html), maxImmediateHTML)
				}
				if strings.Contains(html, "<img") || strings.Contains(html, "<link") || strings.Contains(html, "<script") {
					t.Errorf("html loads something:\n%s", html)
				}
			})
		}
	}
}

// TestImmediateEscaping checks that user text cannot inject markup into
// the HTML part, and stays as written in the text part.
func TestImmediateEscaping(t *testing.T) {
	it := mail.Item{
		Kind:        mail.KindReply,
		Actor:       `<img src=x onerror="alert(1)">`,
		ThreadTitle: "<script>x</script>",
		Excerpt:     `</blockquote><a href="javascript:alert(1)">click</a> & more`,
		URL:         "https://forum.example.org/threads/1",
	}
	subject, text, html, err := mail.Immediate("en", `<b>Bruno</b>`, it, testLinks)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img", "<b>", "</blockquote><a", `href="javascript:`} {
		if strings.Contains(html, bad) {
			t.Errorf("html holds %q:\n%s", bad, html)
		}
	}
	for _, want := range []string{"&lt;script&gt;x&lt;/script&gt;", "&lt;img src=x", "&lt;b&gt;Bruno&lt;/b&gt;", "&amp; more"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q:\n%s", want, html)
		}
	}
	if !strings.Contains(subject, "<script>x</script>") || !strings.Contains(text, "“<script>x</script>”") {
		t.Errorf("plain parts altered the title: %q\n%s", subject, text)
	}
}

// TestImmediateLanguage checks the fallback to English and language tags
// with a region.
func TestImmediateLanguage(t *testing.T) {
	it := mail.Item{Kind: mail.KindMention, Actor: "Ana", ThreadTitle: "T", URL: "https://forum.example.org/t/1"}
	tests := []struct{ lang, want string }{
		{"", "mentioned you in"},
		{"de", "mentioned you in"},
		{"EN-gb", "mentioned you in"},
		{"fr-CA", "vous a mentionné dans"},
		{"es_MX", "te mencionó en"},
	}
	for _, tt := range tests {
		subject, _, html, err := mail.Immediate(tt.lang, "", it, mail.Links{})
		if err != nil {
			t.Fatalf("%q: %v", tt.lang, err)
		}
		if !strings.Contains(subject, tt.want) {
			t.Errorf("Immediate(%q) subject = %q, want %q in it", tt.lang, subject, tt.want)
		}
		if strings.Contains(html, "<hr") && strings.Contains(html, "href=\"\"") {
			t.Errorf("empty link rendered:\n%s", html)
		}
	}
	// Without links, the footer has none.
	_, text, html, err := mail.Immediate("en", "", it, mail.Links{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "Unsubscribe") || strings.Contains(html, "Unsubscribe") || !strings.Contains(text, "Hello,") {
		t.Errorf("footer without links or greeting without name wrong:\n%s", text)
	}
}

// TestTemplateErrors checks that bad items, links and periods are refused
// with the field named.
func TestTemplateErrors(t *testing.T) {
	good := mail.Item{Kind: mail.KindReply, URL: "https://forum.example.org/t/1"}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"unknown kind", func() error {
			it := good
			it.Kind = "like"
			_, _, _, err := mail.Immediate("en", "", it, testLinks)
			return err
		}, "item.kind"},
		{"no url", func() error {
			it := good
			it.URL = ""
			_, _, _, err := mail.Immediate("en", "", it, testLinks)
			return err
		}, "item.url"},
		{"javascript url", func() error {
			it := good
			it.URL = "javascript:alert(1)"
			_, _, _, err := mail.Immediate("en", "", it, testLinks)
			return err
		}, "item.url"},
		{"relative link", func() error {
			_, _, _, err := mail.Immediate("en", "", good, mail.Links{Settings: "/settings"})
			return err
		}, "links.settings"},
		{"digest without items", func() error {
			_, _, _, err := mail.Digest("en", "", mail.PeriodDaily, nil, testLinks)
			return err
		}, "items"},
		{"digest period", func() error {
			_, _, _, err := mail.Digest("en", "", "hourly", []mail.Item{good}, testLinks)
			return err
		}, "period"},
		{"digest bad item", func() error {
			it := good
			it.Kind = ""
			_, _, _, err := mail.Digest("en", "", mail.PeriodWeekly, []mail.Item{good, it}, testLinks)
			return err
		}, "items[1].kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var iae *errs.InvalidArgumentError
			if !errors.As(err, &iae) || iae.Violations[0].Field != tt.field {
				t.Errorf("error %v, want an invalid argument on %q", err, tt.field)
			}
		})
	}
}

// TestDigest checks the digest in every language and period: subject,
// grouping by thread, the cap and its "and N more" line.
func TestDigest(t *testing.T) {
	type langWords struct {
		period   map[string]string
		one, few string // the subject's count for 1 and 3 items
		more     string // the line for 10 left out
	}
	all := map[string]langWords{
		"en": {map[string]string{mail.PeriodDaily: "daily", mail.PeriodWeekly: "weekly"}, "1 new post", "3 new posts", "and 10 more posts"},
		"fr": {map[string]string{mail.PeriodDaily: "du jour", mail.PeriodWeekly: "de la semaine"}, "1 nouveau message", "3 nouveaux messages", "et 10 autres messages"},
		"es": {map[string]string{mail.PeriodDaily: "diario", mail.PeriodWeekly: "semanal"}, "1 mensaje nuevo", "3 mensajes nuevos", "y 10 mensajes más"},
	}
	item := func(i int, title string) mail.Item {
		return mail.Item{
			Kind:        kinds[i%len(kinds)],
			Actor:       fmt.Sprintf("User %d", i),
			ThreadTitle: title,
			Excerpt:     fmt.Sprintf("Post number %d.", i),
			URL:         fmt.Sprintf("https://forum.example.org/p/%d", i),
			Time:        time.Date(2026, 12, 7, 8, i%60, 0, 0, time.UTC),
		}
	}
	for _, lang := range mail.Languages() {
		w := all[lang]
		for _, period := range []string{mail.PeriodDaily, mail.PeriodWeekly} {
			t.Run(lang+"/"+period, func(t *testing.T) {
				// Three items in two threads, interleaved.
				items := []mail.Item{item(0, "Alpha"), item(1, "Beta"), item(2, "Alpha")}
				subject, text, html, err := mail.Digest(lang, "Bruno", period, items, testLinks)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(subject, w.period[period]) || !strings.Contains(subject, w.few) {
					t.Errorf("subject %q lacks %q or %q", subject, w.period[period], w.few)
				}
				for part, s := range map[string]string{"text": text, "html": html} {
					if strings.Count(s, "Alpha") != 1 || strings.Count(s, "Beta") != 1 {
						t.Errorf("%s does not group by thread:\n%s", part, s)
					}
					a, b, p2 := strings.Index(s, "Alpha"), strings.Index(s, "Beta"), strings.Index(s, "/p/2")
					if !(a < p2 && p2 < b) {
						t.Errorf("%s: item 2 is not under Alpha, before Beta:\n%s", part, s)
					}
					for _, want := range []string{"User 0", "Post number 1.", words[lang].unsubscribe, testLinks.Unsubscribe} {
						if !strings.Contains(s, want) {
							t.Errorf("%s lacks %q", part, want)
						}
					}
				}
				if strings.Contains(text, "<") {
					t.Errorf("text part holds markup:\n%s", text)
				}

				subject, _, _, err = mail.Digest(lang, "", period, items[:1], testLinks)
				if err != nil || !strings.Contains(subject, w.one) {
					t.Errorf("one-item subject %q (%v) lacks %q", subject, err, w.one)
				}

				// Over the cap: the first DigestMax shown, the rest counted.
				var many []mail.Item
				for i := range mail.DigestMax + 10 {
					many = append(many, item(i, fmt.Sprintf("Thread %d", i%7)))
				}
				_, text, html, err = mail.Digest(lang, "", period, many, testLinks)
				if err != nil {
					t.Fatal(err)
				}
				last, first := fmt.Sprintf("/p/%d\n", mail.DigestMax-1), fmt.Sprintf("/p/%d\n", mail.DigestMax)
				if !strings.Contains(text, last) || strings.Contains(text, first) {
					t.Errorf("text does not show exactly the first %d items", mail.DigestMax)
				}
				for part, s := range map[string]string{"text": text, "html": html} {
					if !strings.Contains(s, w.more) || !strings.Contains(s, testLinks.Forum) {
						t.Errorf("%s lacks %q or the forum's link", part, w.more)
					}
				}
				_, text, _, err = mail.Digest(lang, "", period, many[:mail.DigestMax], testLinks)
				if err != nil || strings.Contains(text, "…") {
					t.Errorf("digest of exactly %d items has a more line (%v):\n%s", mail.DigestMax, err, text)
				}
			})
		}
	}
}
