package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/mailtest"
)

// settingsOf returns the notification settings of the holder of token.
func (e *env) settingsOf(token string) map[string]any {
	e.t.Helper()
	code, data := e.do(token, "GET", "/v1/users/me/notificationSettings", nil)
	if code != 200 {
		e.t.Fatalf("GET notificationSettings: %d %s", code, data)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestEmailSettingsAndUnsubscribe: forumd mails a real SMTP server on
// 127.0.0.1. A member changes their e-mail settings on the settings page;
// a mention's mail arrives; its unsubscribe link, opened without a session,
// asks first, then stops the immediate mail; a forged link says it is not
// valid and changes nothing.
func TestEmailSettingsAndUnsubscribe(t *testing.T) {
	sink := mailtest.Start(t)
	e := newEnv(t, "--smtp-addr", sink.Addr(), "--smtp-from", "forum@forum.example.org", "--smtp-tls", "none", "--public-url", "http://127.0.0.1:9")
	amina, _ := e.member("amina", "Amina Diallo")
	bola, bolaName := e.member("bola", "Bola Adeyemi")
	if code, data := e.do(bola, "PATCH", "/v1/"+bolaName, map[string]any{"email": "bola@example.org"}); code != 200 {
		t.Fatalf("setting bola's address: %d %s", code, data)
	}

	b := e.newTab(t)
	b.setSession(bola)
	b.open("/notifications")
	b.click("#settings-link")
	b.waitRendered("/settings/notifications")
	b.wait("the settings shown", `document.querySelector('#settings-emailMentions').checked && document.querySelector('#settings-emailReplies').checked && document.querySelector('select[name=emailDigest]').value === 'DIGEST_FREQUENCY_WEEKLY'`)
	b.click("#settings-emailReplies")
	b.fill(`select[name=emailDigest]`, "DIGEST_FREQUENCY_DAILY")
	b.click("#settings-form button[type=submit]")
	b.waitText("#settings-form .saved", "saved")
	s := e.settingsOf(bola)
	if s["emailMentions"] != true || s["emailReplies"] == true || s["emailDigest"] != "DIGEST_FREQUENCY_DAILY" {
		t.Errorf("settings after saving: %v", s)
	}

	th := e.thread(amina, map[string]any{"title": "Visas for volunteers", "body": "How long did yours take, @bola?"})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	got, err := sink.Wait(ctx, 1)
	if err != nil {
		t.Fatalf("no mail of the mention: %v", err)
	}
	if !strings.Contains(got[0].Subject(), "Amina") {
		t.Errorf("subject %q", got[0].Subject())
	}
	text, _ := got[0].Text()
	if !strings.Contains(text, th) {
		t.Errorf("the mail does not link to %s:\n%s", th, text)
	}
	link, err := url.Parse(strings.Trim(got[0].Header.Get("List-Unsubscribe"), "<>"))
	if err != nil || link.Path != "/unsubscribe" {
		t.Fatalf("List-Unsubscribe %q", got[0].Header.Get("List-Unsubscribe"))
	}

	// A forged link: refused, nothing changed.
	anon := e.newTab(t)
	q := link.Query()
	tok := []byte(q.Get("token"))
	tok[len(tok)/2] ^= 1
	anon.open("/unsubscribe?token=" + url.QueryEscape(string(tok)))
	anon.click("#unsubscribe-form button[type=submit]")
	anon.waitText("main", "not valid")
	if s := e.settingsOf(bola); s["emailMentions"] != true {
		t.Errorf("a forged link changed the settings: %v", s)
	}
	// The mail's own link: asks, then stops the immediate mail.
	anon.open("/unsubscribe?" + link.RawQuery)
	if s := e.settingsOf(bola); s["emailMentions"] != true {
		t.Errorf("opening the link changed the settings before the button: %v", s)
	}
	anon.click("#unsubscribe-form button[type=submit]")
	anon.waitText("main", "Done")
	s = e.settingsOf(bola)
	if s["emailMentions"] == true || s["emailReplies"] == true || s["emailDigest"] != "DIGEST_FREQUENCY_DAILY" {
		t.Errorf("settings after unsubscribing from the immediate mail: %v", s)
	}
}
