// Package notify derives users' notifications from the event log: a reader
// of the log whose durable cursor is in the store, next to the
// notifications it makes (store.DeriveNotifications writes both in one
// transaction, so that none is lost or made twice across a crash). It is
// woken by every commit (store.Changed) and runs beside the write path:
// a write never waits for it. Who is told of what is the store's
// (server/store/notifications.go); this package runs it, finds mentions
// with the post renderer, and reports its lag.
package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/forumhq/forum/server/render"
	"github.com/forumhq/forum/server/store"
)

// Notifier keeps the notifications up to date with the log.
type Notifier struct {
	st     *store.Store
	log    *slog.Logger
	render *render.Renderer
	// MaxEvents and MaxNotifications bound one transaction (see
	// store.DeriveOptions); 0 means 256 events and the store's default
	// of notifications.
	MaxEvents, MaxNotifications int
	// RetryAfter is the wait after a failed pass; 0 means a second.
	RetryAfter time.Duration
	// Gather is the least time from the start of one pass to the start
	// of the next; 0 means DefaultGather. Under a stream of writes, each
	// pass then tells of every event committed meanwhile, in one
	// transaction, rather than one pass a commit; an event after a quiet
	// while is told at once.
	Gather time.Duration
	// Mail queues the mail of mentions and replies in the outbox (see
	// store.DeriveOptions.Mail): set when forumd has an SMTP server.
	Mail bool
	// Reminders is how often Run looks for action items coming due
	// (store.QueueActionItemReminders); 0 means an hour.
	Reminders time.Duration
	// Now returns the time; nil means time.Now. For tests.
	Now func() time.Time

	cursor, head atomic.Uint64
	writes       atomic.Int64
}

// DefaultGather is Notifier.Gather's default: a notification waits at
// most this long for the others of its pass, and under load the notifier
// writes at most about a hundred transactions a second.
const DefaultGather = 10 * time.Millisecond

// New returns a Notifier of st; Run runs it.
func New(st *store.Store, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{st: st, log: log, render: render.New()}
}

// Lag is how many revisions of the log the notifications have yet to be
// derived from, as of the last pass.
func (n *Notifier) Lag() uint64 {
	h, c := n.head.Load(), n.cursor.Load()
	if h > c {
		return h - c
	}
	return 0
}

// Writes is how many transactions the notifier has written: passes that
// moved its cursor.
func (n *Notifier) Writes() int64 { return n.writes.Load() }

// CatchUp derives the notifications of every event committed so far.
func (n *Notifier) CatchUp(ctx context.Context) error {
	maxEvents := n.MaxEvents
	if maxEvents == 0 {
		maxEvents = 256
	}
	for {
		res, err := n.st.DeriveNotifications(ctx, store.DeriveOptions{
			MaxEvents: maxEvents, MaxNotifications: n.MaxNotifications, Mentions: n.render.Mentions, Mail: n.Mail,
		})
		if err != nil {
			return err
		}
		if res.Cursor != res.Start {
			n.writes.Add(1)
		}
		n.cursor.Store(res.Cursor)
		n.head.Store(res.Head)
		if res.Cursor >= res.Head {
			return nil
		}
	}
}

// Run derives notifications until ctx is done, woken by every commit, and
// looks for action items coming due every Reminders (their reminders are
// events of the log, which the next pass turns into notifications).
func (n *Notifier) Run(ctx context.Context) {
	retry := n.RetryAfter
	if retry == 0 {
		retry = time.Second
	}
	gather := n.Gather
	if gather == 0 {
		gather = DefaultGather
	}
	every := n.Reminders
	if every == 0 {
		every = time.Hour
	}
	now := n.Now
	if now == nil {
		now = time.Now
	}
	var remindAt time.Time // the next look for action items coming due
	for {
		changed := n.st.Changed() // before the pass: a commit during it wakes the next
		start := time.Now()
		if !start.Before(remindAt) {
			remindAt = start.Add(every)
			if _, err := n.st.QueueActionItemReminders(ctx, now()); err != nil && ctx.Err() == nil {
				n.log.Error("notifications: action item reminders", "err", err)
			}
		}
		if err := n.CatchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Error("notifications: deriving", "err", err)
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		remind := time.NewTimer(time.Until(remindAt))
		select {
		case <-ctx.Done():
			remind.Stop()
			return
		case <-changed:
		case <-remind.C:
		}
		remind.Stop()
		if wait := time.Until(start.Add(gather)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
