package store

import (
	"context"
	"fmt"
	"sync"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// The feed: one goroutine of the store reads each new event once, as soon
// as it is durable, and hands it to every live subscriber that may see it
// and wants it, so that a thousand subscribers cost one read of the log,
// not a thousand.

// SubscriptionBuffer is how many events a subscriber may fall behind the
// log before it is cut off (Subscription.Err).
const SubscriptionBuffer = 1024

// Subscription is a live reader of the log (Subscribe).
type Subscription struct {
	// C carries, in revision order, every event from Start on that the
	// subscriber may see and wants. The events are shared with other
	// subscribers: read them, never change them. It is closed when the subscription
	// ends: by Close, by the store closing, or because the subscriber fell
	// more than SubscriptionBuffer events behind (Err says which).
	C <-chan *forumv1.Event
	// Start is the first revision C may carry: every event before it was
	// durable when Subscribe returned and is read with ReadEvents.
	Start uint64

	c     chan *forumv1.Event
	actor authz.Actor
	match func(*forumv1.Event) bool
	feed  *feed
	err   error // set before c is closed
	last  uint64
}

// Err says why C was closed: nil after Close, else an error of kind
// ResourceExhausted (the subscriber fell behind; it resumes from the
// revision after the last it received) or the store's closing.
func (sub *Subscription) Err() error {
	sub.feed.mu.Lock()
	defer sub.feed.mu.Unlock()
	return sub.err
}

// Close ends the subscription.
func (sub *Subscription) Close() { sub.feed.remove(sub, nil) }

// feed is the store's fan-out of the log to subscribers.
type feed struct {
	s        *Store
	mu       sync.Mutex
	subs     map[*Subscription]struct{}
	pos      uint64 // the last revision handed out
	started  bool
	stop     chan struct{}
	done     chan struct{}
	closeErr error
}

// Subscribe starts a live reader of the log for actor: events from
// Subscription.Start on that actor may see when the feed reads them (the
// rules of ReadEvents) and match keeps (nil keeps all). The caller reads
// the events before Start with ReadEvents, up to Start-1 (when Start is 1
// there are none: EventQuery.To 0 would mean no bound), and then C: no
// event falls between the two. match is called by the feed's goroutine
// inside its read of the log, for every subscriber in turn: it must be
// quick and must not call the store.
func (s *Store) Subscribe(ctx context.Context, actor authz.Actor, match func(*forumv1.Event) bool) (*Subscription, error) {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closeErr != nil {
		return nil, f.closeErr
	}
	if !f.started {
		head, err := s.EventHead(ctx)
		if err != nil {
			return nil, err
		}
		f.s, f.pos, f.started = s, head, true
		f.subs = map[*Subscription]struct{}{}
		f.stop, f.done = make(chan struct{}), make(chan struct{})
		go f.run()
	}
	c := make(chan *forumv1.Event, SubscriptionBuffer)
	sub := &Subscription{C: c, c: c, Start: f.pos + 1, actor: actor, match: match, feed: f, last: f.pos}
	f.subs[sub] = struct{}{}
	return sub, nil
}

// remove ends sub with err, if it has not ended.
func (f *feed) remove(sub *Subscription, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(sub, err)
}

func (f *feed) removeLocked(sub *Subscription, err error) {
	if _, ok := f.subs[sub]; !ok {
		return
	}
	delete(f.subs, sub)
	sub.err = err
	close(sub.c)
}

// close ends every subscription and the feed's goroutine. Closing it again
// does nothing.
func (f *feed) close() {
	f.mu.Lock()
	if f.closeErr != nil {
		f.mu.Unlock()
		return
	}
	f.closeErr = fmt.Errorf("%w: the event feed is closed", ErrClosed)
	started := f.started
	for sub := range f.subs {
		f.removeLocked(sub, f.closeErr)
	}
	f.mu.Unlock()
	if started {
		close(f.stop)
		<-f.done
	}
}

// run reads new events as they become durable and hands them out.
func (f *feed) run() {
	defer close(f.done)
	for {
		wake := f.s.changes.wait()
		if err := f.pass(); err != nil {
			f.s.log.Error("store: the event feed could not read the log", "err", err)
		}
		select {
		case <-wake:
		case <-f.stop:
			return
		}
	}
}

// pass reads the events after pos and hands each to the subscribers.
func (f *feed) pass() error {
	f.mu.Lock()
	from := f.pos + 1
	f.mu.Unlock()
	for {
		var events []*forumv1.Event
		var head uint64
		gen := f.s.gates.generation() // before the View (themeAccess)
		err := f.s.kv.View(context.Background(), func(tx kv.Tx) error {
			events = events[:0]
			var err error
			head, _, err = eventBounds(tx)
			if err != nil || head < from {
				return err
			}
			var scanErr error
			err = tx.Scan(bucketEvents, eventKey(from), eventKey(head+1), false, func(k, v []byte) bool {
				ev := new(forumv1.Event)
				if scanErr = proto.Unmarshal(v, ev); scanErr != nil {
					return false
				}
				events = append(events, ev)
				return len(events) < maxEventScan
			})
			if err == nil {
				err = scanErr
			}
			if err != nil || len(events) == 0 {
				return err
			}
			return f.deliver(tx, gen, events)
		})
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		from = events[len(events)-1].Revision + 1
		if from > head {
			return nil
		}
	}
}

// deliver hands events, read in tx, to the subscribers that may see them.
// gen is the gate cache's generation from before tx began.
func (f *feed) deliver(tx kv.Tx, gen uint64, events []*forumv1.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	heads := map[uint64]threadHead{} // the same for every subscriber: each thread's head is read once
	gone := map[string]bool{}        // and each reply's state
	for sub := range f.subs {
		vis := &eventVisibility{actor: sub.actor, access: &themeAccess{actor: sub.actor, cache: &f.s.gates, gen: gen}, heads: heads, gone: gone}
		for _, ev := range events {
			if ev.Revision <= sub.last {
				continue
			}
			e, err := vis.filter(tx, ev)
			if err != nil {
				return err
			}
			sub.last = ev.Revision
			if e == nil || (sub.match != nil && !sub.match(e)) {
				continue
			}
			select {
			case sub.c <- e:
			default:
				f.removeLocked(sub, fmt.Errorf("%w: the stream fell more than %d events behind the log; resume from the revision after the last one received", errs.ResourceExhausted, SubscriptionBuffer))
			}
			if _, ok := f.subs[sub]; !ok {
				break
			}
		}
	}
	f.pos = events[len(events)-1].Revision
	return nil
}
