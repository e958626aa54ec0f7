package notify

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/mail"
	"github.com/forumhq/forum/server/store"
)

// Mailer sends the mail of the store's outbox: the immediate mail of
// mentions and replies that the notifications queue (store.DeriveOptions.
// Mail), and the digests it queues itself (store.QueueDigests). A mail
// leaves the outbox once the SMTP server accepted it, so it is sent at
// least once: a crash between the two sends it again, with the same
// Message-ID. What is no longer to be sent (a suspended user, a post the
// user may no longer read) is dropped when it is read.
type Mailer struct {
	st     *store.Store
	send   mail.Sender
	signer *mail.Signer
	base   *url.URL
	log    *slog.Logger

	// Backoff is the wait after n failed attempts; nil means
	// DefaultBackoff.
	Backoff func(n int) time.Duration
	// MaxAttempts is how many attempts a mail gets before it is dropped;
	// 0 means 30 (about two days with DefaultBackoff).
	MaxAttempts int
	// Poll is how often the outbox and the digests are looked at when
	// nothing wakes the Mailer; 0 means a minute.
	Poll time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	digestsAt time.Time // when QueueDigests last ran (Run's goroutine only)
	waiting   atomic.Int64
	sent      atomic.Int64
	lastErr   atomic.Pointer[string]
}

// DefaultBackoff waits 30 s after the first failure, doubling to at most
// two hours, with ±20 % jitter.
func DefaultBackoff(n int) time.Duration {
	d := min(30*time.Second<<min(n-1, 10), 2*time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// NewMailer returns a Mailer that sends st's outbox with send, linking to
// the forum at base (its public URL, such as https://forum.example.org).
func NewMailer(st *store.Store, send mail.Sender, base string, log *slog.Logger) (*Mailer, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("notify: the forum's public URL %q is not an absolute http or https URL", base)
	}
	signer, err := mail.NewSigner(st.MailKey())
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Mailer{st: st, send: send, signer: signer, base: u, log: log}, nil
}

// MailStatus is what the Mailer reports for health checks.
type MailStatus struct {
	// Waiting is how many mails were in the outbox at the last pass.
	Waiting int64
	// Sent is how many mails this process sent.
	Sent int64
	// LastError is the last failure to send, if any since the last
	// success.
	LastError string
}

// Status returns the Mailer's state.
func (m *Mailer) Status() MailStatus {
	st := MailStatus{Waiting: m.waiting.Load(), Sent: m.sent.Load()}
	if e := m.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

func (m *Mailer) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Run sends mail until ctx is done, woken by every commit and when a
// retry is due.
func (m *Mailer) Run(ctx context.Context) {
	poll := m.Poll
	if poll == 0 {
		poll = time.Minute
	}
	for {
		changed := m.st.Changed()
		next := m.Pass(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := poll
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Pass queues the digests that are due and sends every mail due, and
// returns when the next retry is due (zero if none).
func (m *Mailer) Pass(ctx context.Context) time.Time {
	// The digests are looked at once a minute at most (the store queues
	// them at most hourly): not after every commit that wakes the Mailer.
	if now := m.now(); m.digestsAt.IsZero() || now.Sub(m.digestsAt) >= time.Minute || now.Before(m.digestsAt) {
		m.digestsAt = now
		if _, err := m.st.QueueDigests(ctx, now); err != nil && ctx.Err() == nil {
			m.log.Error("mail: queueing the digests", "err", err)
		}
	}
	for {
		state, err := m.st.DueMail(ctx, m.now(), 20)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Error("mail: reading the outbox", "err", err)
			}
			return m.now().Add(time.Minute)
		}
		m.waiting.Store(int64(state.Waiting))
		if len(state.Due) == 0 {
			return state.Next
		}
		for _, ml := range state.Due {
			if ctx.Err() != nil {
				return time.Time{}
			}
			m.deliver(ctx, ml)
		}
	}
}

// deliver sends one mail and records the outcome.
func (m *Mailer) deliver(ctx context.Context, ml store.Mail) {
	msg, err := m.compose(ctx, ml)
	if err == nil {
		err = m.send.Send(ctx, msg)
	}
	if ctx.Err() != nil {
		return // shutting down: the mail stays, and goes on the next start
	}
	if err == nil {
		m.lastErr.Store(nil)
		m.sent.Add(1)
		if err := m.st.MailSent(ctx, ml.ID); err != nil {
			m.log.Error("mail: removing a sent mail from the outbox", "mail", ml.ID, "err", err)
		}
		return
	}
	s := err.Error()
	m.lastErr.Store(&s)
	max := m.MaxAttempts
	if max == 0 {
		max = 30
	}
	if mail.Permanent(err) || ml.Attempts+1 >= max {
		m.log.Warn("mail: dropped", "mail", ml.ID, "to", ml.User.Name, "attempts", ml.Attempts+1, "err", err)
		if err := m.st.MailSent(ctx, ml.ID); err != nil {
			m.log.Error("mail: removing a dropped mail from the outbox", "mail", ml.ID, "err", err)
		}
		return
	}
	backoff := m.Backoff
	if backoff == nil {
		backoff = DefaultBackoff
	}
	m.log.Info("mail: not sent; will try again", "mail", ml.ID, "attempts", ml.Attempts+1, "err", err)
	if err := m.st.MailFailed(ctx, ml.ID, m.now().Add(backoff(ml.Attempts+1))); err != nil {
		m.log.Error("mail: recording a failed attempt", "mail", ml.ID, "err", err)
	}
}

// lang is the first of the user's languages that mail is written in.
func lang(u *forumv1.User) string {
	supported := mail.Languages()
	for _, l := range u.GetLanguages() {
		l = strings.ToLower(l)
		if i := strings.IndexAny(l, "-_"); i > 0 {
			l = l[:i]
		}
		for _, s := range supported {
			if s == l {
				return l
			}
		}
	}
	return "en"
}

var kinds = map[forumv1.NotificationKind]string{
	forumv1.NotificationKind_NOTIFICATION_KIND_REPLY:        mail.KindReply,
	forumv1.NotificationKind_NOTIFICATION_KIND_MENTION:      mail.KindMention,
	forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST: mail.KindWatchedPost,
	forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP:    mail.KindFollowUp,
	forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED:     mail.KindResolved,
}

// link returns the absolute URL of path on the forum.
func (m *Mailer) link(path string) string {
	u := *m.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u.String()
}

// postLink is the URL of a notification's post: a reply inside its
// thread's page.
func (m *Mailer) postLink(n *forumv1.Notification) string {
	if r, err := resname.ParseReply(n.GetPost()); err == nil {
		return m.link("/"+n.GetThread()) + fmt.Sprintf("#r-%d", r.ID)
	}
	return m.link("/" + n.GetThread())
}

// UnsubscribePath is the path of the forum's unsubscribe links: the web
// page (GET) and the RFC 8058 one-click target (POST), with ?token=.
const UnsubscribePath = "/unsubscribe"

// tokenLife is how long an unsubscribe link works.
const tokenLife = 90 * 24 * time.Hour

// compose writes ml's message.
func (m *Mailer) compose(ctx context.Context, ml store.Mail) (*mail.Message, error) {
	scope := mail.ScopeImmediate
	if ml.Period != "" {
		scope = mail.ScopeDigest
	}
	token := m.signer.Token(ml.User.GetName(), scope, m.now().Add(tokenLife))
	unsub := m.link(UnsubscribePath) + "?token=" + url.QueryEscape(token)
	links := mail.Links{Forum: m.link("/"), Settings: m.link("/settings/notifications"), Unsubscribe: unsub}
	var items []mail.Item
	actors := map[string]string{}
	for _, n := range ml.Notifications {
		who, ok := actors[n.GetActor()]
		if !ok {
			who = n.GetActor()
			if u, err := resname.ParseUser(n.GetActor()); err == nil {
				if a, err := m.st.GetUser(ctx, u); err == nil {
					who = a.GetDisplayName()
				}
			}
			actors[n.GetActor()] = who
		}
		items = append(items, mail.Item{
			Kind: kinds[n.GetKind()], Actor: who, ThreadTitle: n.GetThreadTitle(),
			Excerpt: n.GetExcerpt(), URL: m.postLink(n), Time: n.GetCreateTime().AsTime(),
		})
	}
	l := lang(ml.User)
	var subject, text, html string
	var err error
	if ml.Period != "" {
		subject, text, html, err = mail.Digest(l, ml.User.GetDisplayName(), ml.Period, items, links)
	} else {
		subject, text, html, err = mail.Immediate(l, ml.User.GetDisplayName(), items[0], links)
	}
	if err != nil {
		return nil, err
	}
	return &mail.Message{
		ID: fmt.Sprintf("mail.%d", ml.ID), To: ml.User.GetEmail(), ToName: ml.User.GetDisplayName(),
		Subject: subject, Text: text, HTML: html, Lang: l, UnsubscribeURL: unsub,
	}, nil
}

// VerifyUnsubscribe checks an unsubscribe token and returns the user and
// the scope it names.
func (m *Mailer) VerifyUnsubscribe(token string) (string, string, error) {
	return m.signer.Verify(token, m.now())
}
