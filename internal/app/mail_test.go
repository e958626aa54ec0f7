package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/internal/mailtest"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/mail"
	"github.com/forumhq/forum/server/store"
)

// TestMailAndOneClickUnsubscribe runs forumd with an SMTP server (a real
// one on 127.0.0.1): a reply's mail arrives, its List-Unsubscribe URL,
// posted as RFC 8058 says, turns that mail off (twice is no error; a
// forged token is refused), and /healthz?details=1 reports the outbox.
func TestMailAndOneClickUnsubscribe(t *testing.T) {
	sink := mailtest.Start(t)
	smtp, err := mail.NewSMTP(mail.SMTPOptions{Addr: sink.Addr(), From: "forum@forum.example.org", TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newApp(t, app.Config{Mail: smtp, PublicURL: "http://127.0.0.1:8080"})
	done := serve(t.Context(), a)
	defer func() {
		if err := a.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		wait(t, "Serve", done)
	}()
	st := a.Store()
	ctx := t.Context()
	alice, bob := createUser(t, st, "alice"), createUser(t, st, "bob")
	if _, err := st.UpdateUser(ctx, authz.SystemActor, resname.MustParseUser(alice.Name), &forumv1.User{Name: alice.Name, Email: "alice@example.org"}, []string{"email"}); err != nil {
		t.Fatal(err)
	}
	th, err := st.CreateThread(ctx, authz.Actor{User: alice.Name, Role: alice.Role}, &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Visas", Body: "b", BodyHtml: "<p>b</p>"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateReply(ctx, authz.Actor{User: bob.Name, Role: bob.Role}, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "r", BodyHtml: "<p>r</p>"}, ""); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := sink.Wait(wctx, 1)
	if err != nil {
		t.Fatalf("no mail: %v", err)
	}
	lu := strings.Trim(got[0].Header.Get("List-Unsubscribe"), "<>")
	u, err := url.Parse(lu)
	if err != nil || u.Path != "/unsubscribe" || u.Query().Get("token") == "" {
		t.Fatalf("List-Unsubscribe %q", lu)
	}
	post := func(query string) int {
		t.Helper()
		resp, err := http.Post("http://"+a.HTTPAddr()+"/unsubscribe?"+query, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 2 {
		if code := post(u.RawQuery); code != http.StatusOK {
			t.Fatalf("one-click unsubscribe %d: %d", i+1, code)
		}
	}
	s, err := st.GetNotificationSettings(ctx, resname.MustParseUser(alice.Name))
	if err != nil || s.EmailReplies || s.EmailMentions {
		t.Errorf("settings after unsubscribing: %v, %v; want the immediate mail off", s, err)
	}
	if s.EmailDigest != forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY {
		t.Errorf("the digest changed too: %v", s.EmailDigest)
	}
	forged := u.Query()
	tok := []byte(forged.Get("token"))
	tok[len(tok)/2] ^= 1
	forged.Set("token", string(tok))
	if code := post(forged.Encode()); code != http.StatusBadRequest {
		t.Errorf("a forged token: %d, want 400", code)
	}
	code, _, body := get(t, "http://"+a.HTTPAddr()+"/healthz?details=1")
	var health struct {
		Status string `json:"status"`
		Mail   struct {
			Enabled bool  `json:"enabled"`
			Sent    int64 `json:"sent"`
		} `json:"mail"`
	}
	if err := json.Unmarshal([]byte(body), &health); code != http.StatusOK || err != nil || !health.Mail.Enabled || health.Mail.Sent != 1 {
		t.Errorf("/healthz?details=1: %d %s (%v)", code, body, err)
	}
}

// TestNoMailServer checks that without an SMTP server the forum works,
// says so in its log and on /healthz?details=1, and /healthz stays as it
// was.
func TestNoMailServer(t *testing.T) {
	a, logs := newApp(t, app.Config{})
	done := serve(t.Context(), a)
	defer func() {
		if err := a.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		wait(t, "Serve", done)
	}()
	if !strings.Contains(logs.String(), "no SMTP server configured") {
		t.Errorf("the log does not say mail is off:\n%s", logs.String())
	}
	if code, _, body := get(t, "http://"+a.HTTPAddr()+"/healthz"); code != http.StatusOK || body != `{"status":"SERVING"}`+"\n" {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, _, body := get(t, "http://"+a.HTTPAddr()+"/healthz?details=1")
	if code != http.StatusOK || !strings.Contains(body, `"enabled":false`) || !strings.Contains(body, "no SMTP server") {
		t.Errorf("/healthz?details=1: %d %s", code, body)
	}
}
