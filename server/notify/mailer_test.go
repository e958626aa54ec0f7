package notify

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/mailtest"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/mail"
	"github.com/forumhq/forum/server/render"
	"github.com/forumhq/forum/server/store"
)

// mailEnv is a store, a notifier that queues mail, a mailer that sends it
// to a real SMTP server on 127.0.0.1, and a clock the test moves.
type mailEnv struct {
	t     *testing.T
	st    *store.Store
	n     *Notifier
	m     *Mailer
	sink  *mailtest.Sink
	now   time.Time
	r     *render.Renderer
	users map[string]authz.Actor
}

func newMailEnv(t *testing.T) *mailEnv {
	st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sink := mailtest.Start(t)
	smtp, err := mail.NewSMTP(mail.SMTPOptions{Addr: sink.Addr(), From: "Forum <forum@forum.example.org>", TLS: mail.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := &mailEnv{t: t, st: st, sink: sink, now: time.Now(), r: render.New(), users: map[string]authz.Actor{}}
	e.n = New(st, nil)
	e.n.Mail = true
	if e.m, err = NewMailer(st, smtp, "http://127.0.0.1:8080", nil); err != nil {
		t.Fatal(err)
	}
	e.m.Now = func() time.Time { return e.now }
	e.m.Backoff = func(int) time.Duration { return time.Minute }
	for _, u := range []struct{ name, lang string }{{"alice", "fr"}, {"bob", "en"}, {"carol", "es"}} {
		created, err := st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{
			Username: u.name, DisplayName: strings.ToUpper(u.name[:1]) + u.name[1:], Role: forumv1.Role_ROLE_MEMBER,
		}, "hash", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateUser(t.Context(), authz.SystemActor, resname.MustParseUser(created.Name), &forumv1.User{
			Name: created.Name, Email: u.name + "@example.org", Languages: []string{u.lang},
		}, []string{"email", "languages"}); err != nil {
			t.Fatal(err)
		}
		e.users[u.name] = authz.Actor{User: created.Name, Role: created.Role}
	}
	return e
}

// settle derives the notifications and sends the mail due.
func (e *mailEnv) settle() {
	e.t.Helper()
	if err := e.n.CatchUp(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.m.Pass(e.t.Context())
}

func (e *mailEnv) thread(who, body string) *forumv1.Thread {
	e.t.Helper()
	html, _, _ := e.r.Post(body)
	th, err := e.st.CreateThread(e.t.Context(), e.users[who], &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Séminaire <à> Dakar", Body: body, BodyHtml: html}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return th
}

func (e *mailEnv) reply(who, thread, body string) *forumv1.Reply {
	e.t.Helper()
	html, _, _ := e.r.Post(body)
	r, err := e.st.CreateReply(e.t.Context(), e.users[who], resname.MustParseThread(thread), &forumv1.Reply{Body: body, BodyHtml: html}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestMailAcrossSMTP checks a reply's mail as it crosses a real SMTP
// exchange: the headers, both parts in the recipient's language, the link
// to the reply, and the unsubscribe link, which works once followed.
func TestMailAcrossSMTP(t *testing.T) {
	e := newMailEnv(t)
	th := e.thread("alice", "Qui vient ?")
	r := e.reply("bob", th.Name, "I will come, with <b>friends</b>.")
	e.settle()
	got := e.sink.Messages()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1 (alice's, of bob's reply)", len(got))
	}
	m := got[0]
	if m.To[0] != "alice@example.org" || !strings.Contains(m.Header.Get("From"), "forum@forum.example.org") {
		t.Errorf("envelope to %v, From %q", m.To, m.Header.Get("From"))
	}
	if s := m.Subject(); !strings.Contains(s, "Bob") || !strings.Contains(s, "répondu") || !strings.Contains(s, "Séminaire") {
		t.Errorf("subject %q: want French, with the actor and the title", s)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasPrefix(id, "<mail.") || !strings.HasSuffix(id, "@forum.example.org>") {
		t.Errorf("Message-ID %q", id)
	}
	lu := m.Header.Get("List-Unsubscribe")
	if !strings.HasPrefix(lu, "<http://127.0.0.1:8080/unsubscribe?token=") || m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe %q, List-Unsubscribe-Post %q", lu, m.Header.Get("List-Unsubscribe-Post"))
	}
	text, err := m.Text()
	if err != nil {
		t.Fatal(err)
	}
	html, err := m.HTML()
	if err != nil {
		t.Fatal(err)
	}
	link := "http://127.0.0.1:8080/" + th.Name + "#r-" + strings.TrimPrefix(r.Name, th.Name+"/replies/")
	for part, body := range map[string]string{"text": text, "html": html} {
		if !strings.Contains(body, link) {
			t.Errorf("the %s part lacks the link %s:\n%s", part, link, body)
		}
	}
	if !strings.Contains(html, "&lt;b&gt;friends") || !strings.Contains(html, "&lt;à&gt;") {
		t.Errorf("the HTML part does not escape the post's text:\n%s", html)
	}
	if strings.Contains(html, "<b>friends") {
		t.Errorf("the HTML part carries the post's markup:\n%s", html)
	}
	// The unsubscribe link: its token turns the immediate mail off.
	u, err := url.Parse(strings.Trim(lu, "<>"))
	if err != nil {
		t.Fatal(err)
	}
	user, scope, err := e.m.VerifyUnsubscribe(u.Query().Get("token"))
	if err != nil || user != e.users["alice"].User || scope != mail.ScopeImmediate {
		t.Fatalf("the token names %q, %q, %v", user, scope, err)
	}
	if _, err := e.st.Unsubscribe(t.Context(), resname.MustParseUser(user), scope); err != nil {
		t.Fatal(err)
	}
	e.reply("carol", th.Name, "Yo también.")
	e.settle()
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("%d mails after unsubscribing, want still 1", n)
	}
	// The notification is still made: only the mail stops.
	list, _, _, err := e.st.ListNotifications(t.Context(), resname.MustParseUser(e.users["alice"].User), 10, "", false)
	if err != nil || len(list) != 2 {
		t.Errorf("alice's notifications: %d, %v; want 2", len(list), err)
	}
}

// TestMailRetried checks that a server refusing mail for a while gets it
// later, once, and that a permanent refusal drops it.
func TestMailRetried(t *testing.T) {
	e := newMailEnv(t)
	th := e.thread("alice", "Question")
	e.sink.RefuseNext(2, 451)
	e.reply("bob", th.Name, "answer 1")
	e.settle()
	if n := len(e.sink.Messages()); n != 0 {
		t.Fatalf("%d mails through a refusing server", n)
	}
	if st := e.m.Status(); st.Waiting != 1 || st.LastError == "" {
		t.Errorf("status after a refusal: %+v", st)
	}
	e.m.Pass(t.Context()) // not due yet: nothing tried
	e.now = e.now.Add(2 * time.Minute)
	e.m.Pass(t.Context()) // refused again
	if n := len(e.sink.Messages()); n != 0 {
		t.Fatalf("%d mails after the second refusal", n)
	}
	e.now = e.now.Add(2 * time.Minute)
	e.m.Pass(t.Context())
	if n := len(e.sink.Messages()); n != 1 {
		t.Fatalf("%d mails once the server accepts, want 1", n)
	}
	e.now = e.now.Add(time.Hour)
	e.m.Pass(t.Context())
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("%d mails after another pass, want still 1", n)
	}
	if st := e.m.Status(); st.Waiting != 0 || st.LastError != "" || st.Sent != 1 {
		t.Errorf("status after delivery: %+v", st)
	}
	// A permanent refusal drops the mail.
	e.sink.RefuseNext(1, 550)
	e.reply("bob", th.Name, "answer 2")
	e.settle()
	e.now = e.now.Add(time.Hour)
	e.m.Pass(t.Context())
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("%d mails after a permanent refusal, want still 1", n)
	}
	if st := e.m.Status(); st.Waiting != 0 {
		t.Errorf("the refused mail still waits: %+v", st)
	}
}

// TestMailNotSent checks that nothing is mailed to a suspended user, nor
// about a post the recipient may no longer read.
func TestMailNotSent(t *testing.T) {
	e := newMailEnv(t)
	th := e.thread("alice", "Question")
	// Queued, then alice is suspended before it is sent.
	e.reply("bob", th.Name, "one")
	if err := e.n.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(t.Context(), authz.SystemActor, resname.MustParseUser(e.users["alice"].User), &forumv1.User{Name: e.users["alice"].User, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	e.m.Pass(t.Context())
	if n := len(e.sink.Messages()); n != 0 {
		t.Errorf("%d mails to a suspended user", n)
	}
	// Queued, then the thread is deleted before it is sent.
	th2 := e.thread("bob", "Another")
	e.reply("carol", th2.Name, "two")
	if err := e.n.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DeleteThread(t.Context(), e.users["bob"], resname.MustParseThread(th2.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	e.m.Pass(t.Context())
	if n := len(e.sink.Messages()); n != 0 {
		t.Errorf("%d mails about a deleted thread", n)
	}
	if st := e.m.Status(); st.Waiting != 0 {
		t.Errorf("the outbox keeps %d mails that are not to be sent", st.Waiting)
	}
}

// TestDigest checks a daily digest of the new posts in a watched theme:
// queued once a day, when there is something, with the posts in it.
func TestDigest(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	carol := resname.MustParseUser(e.users["carol"].User)
	if _, err := e.st.UpdateNotificationSettings(ctx, carol, &forumv1.NotificationSettings{EmailDigest: forumv1.DigestFrequency_DIGEST_FREQUENCY_DAILY}, []string{"email_digest"}); err != nil {
		t.Fatal(err)
	}
	sub, _ := resname.SubscriptionTo(carol, store.DemoThemes[0].Name)
	if _, err := e.st.SetSubscription(ctx, sub, forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING, true); err != nil {
		t.Fatal(err)
	}
	e.settle() // the first pass: nothing new for carol yet
	th := e.thread("bob", "First topic")
	e.thread("alice", "Second topic")
	if err := e.n.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(25 * time.Hour)
	e.m.Pass(ctx)
	var digest []mailtest.Received
	for _, m := range e.sink.Messages() {
		if m.To[0] == "carol@example.org" {
			digest = append(digest, m)
		}
	}
	if len(digest) != 1 {
		t.Fatalf("%d mails to carol, want 1 digest", len(digest))
	}
	text, _ := digest[0].Text()
	if !strings.Contains(text, "First topic") || !strings.Contains(text, "Second topic") || !strings.Contains(text, th.Name) {
		t.Errorf("the digest does not list both posts:\n%s", text)
	}
	if lu := digest[0].Header.Get("List-Unsubscribe"); lu == "" {
		t.Error("the digest has no List-Unsubscribe")
	}
	// Not again within the day, nor when nothing is new.
	e.now = e.now.Add(2 * time.Hour)
	e.m.Pass(ctx)
	e.now = e.now.Add(25 * time.Hour)
	e.m.Pass(ctx)
	if n := len(e.sink.Messages()); n != 1 {
		t.Errorf("%d mails, want still the one digest", n)
	}
}
