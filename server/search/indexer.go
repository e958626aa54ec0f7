package search

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// Indexer keeps an Index up to date with the store: a reader of the event
// log whose durable cursor is the index's own (Index.Cursor, written in
// the batch that applies the events up to it). It catches up when it
// starts, then after every commit (store.Changed); it reads the log and
// never runs in the write path, so a slow index slows no write.
//
// It reads the log as the system (every event, private themes' included):
// the index holds every post with its theme, and a search shows a post
// only to who may see its theme when they search (Request.Themes).
type Indexer struct {
	st  *store.Store
	x   *Index
	log *slog.Logger

	head, applied atomic.Uint64 // the log's head and the cursor, when last read

	// Share is the part of the time the indexer works while the store commits
	// faster than busyRate writes a second: after a batch that took
	// d, it waits d*(1-Share)/Share before the next. Indexing a post costs
	// far more CPU than writing it (bleve analyses the text and merges
	// segments), so an indexer at full speed behind a flood of writes
	// would take from the writers the cores they need; with a share, the
	// flood makes the index fall behind instead, and it catches up when
	// the flood is over. Under an ordinary load it works at full speed,
	// so that a post is searchable at once. 0 or 1 means no pause.
	Share float64

	rebuilds int // Rebuilds done, for tests

	rateAt   time.Time // when rateHead was read (busy; Run's goroutine only)
	rateHead uint64    // store.Writes at rateAt
	rate     float64   // writes a second, over the last busyWindow
}

// The indexer works at full speed while the store commits fewer than
// busyRate writes a second, measured over busyWindow: a load far above
// what a forum sees, and which the indexer follows within milliseconds.
const (
	busyRate   = 2000
	busyWindow = 250 * time.Millisecond
)

// DefaultShare is the Share forumd gives the indexer.
const DefaultShare = 0.05

// NewIndexer returns an Indexer of st into x.
func NewIndexer(st *store.Store, x *Index, log *slog.Logger) *Indexer {
	if log == nil {
		log = slog.Default()
	}
	return &Indexer{st: st, x: x, log: log}
}

// batchEvents is how many events CatchUp reads and applies at once.
const batchEvents = 512

// Run keeps the index up to date until ctx is done. An error is logged
// and tried again a second later.
func (ix *Indexer) Run(ctx context.Context) {
	for {
		changed := ix.st.Changed() // before reading: a commit meanwhile wakes the next pass
		wait := changed
		if err := ix.CatchUp(ctx); err != nil && ctx.Err() == nil {
			ix.log.Error("search: indexing", "err", err)
			wait = nil
		}
		retry := time.After(time.Second)
		if wait != nil {
			retry = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-retry:
		}
	}
}

// busy reports whether the store has been committing more than busyRate
// writes a second, as measured over the last busyWindow or more. It counts
// the forum's writes (store.Writes), not the log's revisions: the events
// other readers derive (notifications) are no writers' flood to give way
// to.
func (ix *Indexer) busy(ctx context.Context) bool {
	head, err := ix.st.EventHead(ctx)
	if err != nil {
		return false
	}
	ix.head.Store(head)
	writes := ix.st.Writes()
	now := time.Now()
	if ix.rateAt.IsZero() {
		ix.rateAt, ix.rateHead = now, writes
		return false
	}
	if d := now.Sub(ix.rateAt); d >= busyWindow {
		ix.rate = float64(writes-ix.rateHead) / d.Seconds()
		ix.rateAt, ix.rateHead = now, writes
	}
	return ix.rate > busyRate
}

// Lag is how many revisions of the log the index has yet to apply, as of
// the last pass.
func (ix *Indexer) Lag() uint64 {
	h, a := ix.head.Load(), ix.applied.Load()
	if a >= h {
		return 0
	}
	return h - a
}

// CatchUp applies every event committed so far. An index that was never
// built (new, or a rebuild cut short), or whose cursor the log no longer
// keeps, is rebuilt from the store first (Rebuild). One built while the
// log was empty keeps cursor 0 and is not rebuilt again.
func (ix *Indexer) CatchUp(ctx context.Context) error {
	cur, err := ix.x.Cursor()
	if err != nil {
		return err
	}
	built, err := ix.x.built()
	if err != nil {
		return err
	}
	if !built && cur == 0 {
		if cur, err = ix.Rebuild(ctx, nil); err != nil {
			return err
		}
	}
	for {
		page, err := ix.st.ReadEvents(ctx, authz.SystemActor, store.EventQuery{From: cur + 1, Limit: batchEvents})
		if errs.KindOf(err) == errs.OutOfRange {
			ix.log.Warn("search: the index is older than the event log keeps; rebuilding it", "cursor", cur)
			if cur, err = ix.Rebuild(ctx, nil); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		ix.head.Store(page.Head)
		through := page.Next - 1
		if through <= cur {
			ix.applied.Store(cur)
			return nil
		}
		began := time.Now()
		if err := ix.apply(ctx, cur, page.Events, through); err != nil {
			return err
		}
		if ix.Share > 0 && ix.Share < 1 && ix.busy(ctx) {
			pause := time.Duration(float64(time.Since(began)) * (1 - ix.Share) / ix.Share)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		cur = through
		ix.applied.Store(cur)
		if cur >= page.Head {
			return nil
		}
	}
}

// apply applies events (read after cursor cur, up to revision through)
// and records through. A change that needs what the index or the store
// holds now (a thread deleted, restored or moved, an author's organisation
// changed) first applies what comes before it, so that it reads what the
// events before it left.
func (ix *Indexer) apply(ctx context.Context, cur uint64, events []*forumv1.Event, through uint64) error {
	users := map[string]*forumv1.User{}
	threads := map[string]*forumv1.Thread{}
	var changes []Change
	flush := func(upTo uint64) error {
		if upTo <= cur {
			return nil
		}
		err := ix.x.Apply(changes, upTo)
		changes, cur = changes[:0], upTo
		return err
	}
	for _, ev := range events {
		switch ev.Type {
		case forumv1.EventType_EVENT_TYPE_THREAD_CREATED, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED:
			t := ev.GetThreadResource()
			if t == nil {
				continue
			}
			delete(threads, t.Name)
			if ev.Type == forumv1.EventType_EVENT_TYPE_THREAD_UPDATED && slices.ContainsFunc(ev.ChangedPaths, threadWide) {
				// Moved, or its state, kind or tags changed: its replies
				// take them at once.
				if err := flush(ev.Revision - 1); err != nil {
					return err
				}
				c, err := ix.wholeThread(ctx, t.Name, users)
				if err != nil {
					return err
				}
				changes = append(changes, c...)
				continue
			}
			p, err := ix.threadPost(ctx, t, users)
			if err != nil {
				return err
			}
			changes = append(changes, Change{Name: t.Name, Post: p})
		case forumv1.EventType_EVENT_TYPE_THREAD_UNDELETED:
			delete(threads, ev.Resource)
			if err := flush(ev.Revision - 1); err != nil {
				return err
			}
			c, err := ix.wholeThread(ctx, ev.Resource, users)
			if err != nil {
				return err
			}
			changes = append(changes, c...)
		case forumv1.EventType_EVENT_TYPE_THREAD_DELETED:
			if err := flush(ev.Revision - 1); err != nil {
				return err
			}
			names, err := ix.x.postsWith(fieldThread, ev.Resource)
			if err != nil {
				return err
			}
			for _, n := range names {
				changes = append(changes, Change{Name: n})
			}
		case forumv1.EventType_EVENT_TYPE_REPLY_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED:
			r := ev.GetReply()
			if r == nil || r.DeleteTime != nil { // deleted since: its deletion comes later
				changes = append(changes, Change{Name: ev.Resource})
				continue
			}
			t, err := ix.thread(ctx, ev.Thread, threads)
			if err != nil {
				return err
			}
			if t == nil || t.DeleteTime != nil { // its thread's deletion comes later
				changes = append(changes, Change{Name: ev.Resource})
				continue
			}
			p, err := ix.replyPost(ctx, r, t, users)
			if err != nil {
				return err
			}
			changes = append(changes, Change{Name: r.Name, Post: p})
		case forumv1.EventType_EVENT_TYPE_REPLY_DELETED:
			changes = append(changes, Change{Name: ev.Resource})
		case forumv1.EventType_EVENT_TYPE_USER_UPDATED:
			if !slices.Contains(ev.ChangedPaths, "organization") && !slices.Contains(ev.ChangedPaths, "country") {
				continue
			}
			if err := flush(ev.Revision - 1); err != nil {
				return err
			}
			delete(users, ev.Resource)
			c, err := ix.postsOfAuthor(ctx, ev.Resource, users)
			if err != nil {
				return err
			}
			changes = append(changes, c...)
		}
	}
	return flush(through)
}

// author returns user name, read once per batch; a user who is gone is
// an empty user.
func (ix *Indexer) author(ctx context.Context, name string, users map[string]*forumv1.User) (*forumv1.User, error) {
	if u, ok := users[name]; ok {
		return u, nil
	}
	n, err := resname.ParseUser(name)
	if err != nil {
		users[name] = &forumv1.User{}
		return users[name], nil
	}
	u, err := ix.st.GetUser(ctx, n)
	if errs.KindOf(err) == errs.NotFound {
		u, err = &forumv1.User{}, nil
	}
	if err != nil {
		return nil, err
	}
	users[name] = u
	return u, nil
}

// threadWide reports whether a change of the thread field path changes
// what the index holds of each of its replies too.
func threadWide(path string) bool {
	switch path {
	case "theme", "state", "locked", "kind", "tags":
		return true
	}
	return false
}

// thread returns thread name as the store holds it now, read once per
// batch; nil if it is gone.
func (ix *Indexer) thread(ctx context.Context, name string, threads map[string]*forumv1.Thread) (*forumv1.Thread, error) {
	if t, ok := threads[name]; ok {
		return t, nil
	}
	n, err := resname.ParseThread(name)
	if err != nil {
		return nil, nil
	}
	t, err := ix.st.GetThread(ctx, authz.SystemActor, n)
	if errs.KindOf(err) == errs.NotFound {
		t, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	threads[name] = t
	return t, nil
}

// threadPost is the Post of thread t.
func (ix *Indexer) threadPost(ctx context.Context, t *forumv1.Thread, users map[string]*forumv1.User) (*Post, error) {
	u, err := ix.author(ctx, t.Author, users)
	if err != nil {
		return nil, err
	}
	return &Post{
		Name: t.Name, Thread: t.Name, Theme: t.Theme, Author: t.Author,
		Organization: u.Organization, Country: u.Country,
		Kind: t.Kind.String(), State: t.State.String(), Locked: t.Locked, Tags: t.Tags, Created: t.CreateTime.AsTime(),
		Text: t.Title + "\n" + plainText(t.BodyHtml),
	}, nil
}

// replyPost is the Post of reply r, in thread t.
func (ix *Indexer) replyPost(ctx context.Context, r *forumv1.Reply, t *forumv1.Thread, users map[string]*forumv1.User) (*Post, error) {
	u, err := ix.author(ctx, r.Author, users)
	if err != nil {
		return nil, err
	}
	return &Post{
		Name: r.Name, Thread: t.Name, Theme: t.Theme, Author: r.Author,
		Organization: u.Organization, Country: u.Country,
		Kind: t.Kind.String(), State: t.State.String(), Locked: t.Locked, Tags: t.Tags, Created: r.CreateTime.AsTime(),
		Text: plainText(r.BodyHtml),
	}, nil
}

// wholeThread returns the changes that make the index hold thread as the
// store holds it now, with every reply: its posts, or, if it is deleted or
// gone, their removal.
func (ix *Indexer) wholeThread(ctx context.Context, thread string, users map[string]*forumv1.User) ([]Change, error) {
	var changes []Change
	indexed, err := ix.x.postsWith(fieldThread, thread)
	if err != nil {
		return nil, err
	}
	for _, n := range indexed {
		changes = append(changes, Change{Name: n}) // replaced below if it is still there
	}
	n, err := resname.ParseThread(thread)
	if err != nil {
		return changes, nil
	}
	t, err := ix.st.GetThread(ctx, authz.SystemActor, n)
	if errs.KindOf(err) == errs.NotFound {
		return changes, nil
	} else if err != nil {
		return nil, err
	}
	if t.DeleteTime != nil {
		return changes, nil
	}
	p, err := ix.threadPost(ctx, t, users)
	if err != nil {
		return nil, err
	}
	changes = append(changes, Change{Name: t.Name, Post: p})
	for token := ""; ; {
		replies, next, err := ix.st.ListReplies(ctx, authz.SystemActor, n, 100, token)
		if err != nil {
			return nil, err
		}
		for _, r := range replies {
			if r.DeleteTime != nil {
				continue
			}
			p, err := ix.replyPost(ctx, r, t, users)
			if err != nil {
				return nil, err
			}
			changes = append(changes, Change{Name: r.Name, Post: p})
		}
		if next == "" {
			return changes, nil
		}
		token = next
	}
}

// postsOfAuthor returns the changes that re-index every post of user (whose
// organisation or country changed), as the store holds them now.
func (ix *Indexer) postsOfAuthor(ctx context.Context, user string, users map[string]*forumv1.User) ([]Change, error) {
	names, err := ix.x.postsWith(fieldAuthor, user)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, name := range names {
		if rn, err := resname.ParseReply(name); err == nil {
			r, err := ix.st.GetReply(ctx, authz.SystemActor, rn)
			if errs.KindOf(err) == errs.NotFound {
				changes = append(changes, Change{Name: name})
				continue
			} else if err != nil {
				return nil, err
			}
			t, err := ix.st.GetThread(ctx, authz.SystemActor, rn.Thread)
			if err != nil {
				return nil, err
			}
			p, err := ix.replyPost(ctx, r, t, users)
			if err != nil {
				return nil, err
			}
			changes = append(changes, Change{Name: name, Post: p})
			continue
		}
		tn, err := resname.ParseThread(name)
		if err != nil {
			return nil, fmt.Errorf("search: the index holds %q, not a post's name", name)
		}
		t, err := ix.st.GetThread(ctx, authz.SystemActor, tn)
		if errs.KindOf(err) == errs.NotFound {
			changes = append(changes, Change{Name: name})
			continue
		} else if err != nil {
			return nil, err
		}
		p, err := ix.threadPost(ctx, t, users)
		if err != nil {
			return nil, err
		}
		changes = append(changes, Change{Name: name, Post: p})
	}
	return changes, nil
}

// rebuildBatch is how many posts Rebuild indexes at once.
const rebuildBatch = 1000

// Rebuild empties the index and indexes every post the store holds, then
// records as its cursor the head of the log from before it began reading
// (the events after it are applied again: applying one is idempotent). It
// calls progress, if set, after each batch with the posts indexed so far.
// It returns the new cursor. A rebuild cut short leaves the cursor at 0,
// and the next CatchUp starts it again.
func (ix *Indexer) Rebuild(ctx context.Context, progress func(posts int)) (uint64, error) {
	head, err := ix.st.EventHead(ctx)
	if err != nil {
		return 0, err
	}
	if err := ix.x.Reset(); err != nil {
		return 0, err
	}
	users := map[string]*forumv1.User{}
	var changes []Change
	done := 0
	flush := func(through uint64) error {
		if err := ix.x.Apply(changes, through); err != nil {
			return err
		}
		done += len(changes)
		changes = changes[:0]
		if progress != nil {
			progress(done)
		}
		return nil
	}
	for token := ""; ; {
		threads, next, err := ix.st.ListThreads(ctx, authz.SystemActor, store.ThreadQuery{Order: store.ByCreation, PageSize: 100, PageToken: token})
		if err != nil {
			return 0, err
		}
		for _, t := range threads {
			c, err := ix.wholeThread(ctx, t.Name, users)
			if err != nil {
				return 0, err
			}
			for _, ch := range c {
				if ch.Post != nil { // nothing is indexed yet: no removal to make
					changes = append(changes, ch)
				}
			}
			if len(changes) >= rebuildBatch {
				if err := flush(0); err != nil {
					return 0, err
				}
			}
		}
		if next == "" {
			break
		}
		token = next
	}
	if err := flush(head); err != nil {
		return 0, err
	}
	if err := ix.x.markBuilt(); err != nil {
		return 0, err
	}
	ix.rebuilds++
	ix.log.Info("search: index rebuilt", "posts", done, "revision", head)
	return head, nil
}
