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

// feedPassEvents bounds the events the feed reads and hands out in one
// View: a quarter of SubscriptionBuffer, so that a burst of commits
// reaches the subscribers in several handfuls that each can take while
// the feed reads the next, instead of one that overflows their buffers.
const feedPassEvents = SubscriptionBuffer / 4

// A SharedEvent is an event as the feed hands it to subscribers: the same
// value goes to every subscriber who may see the event as it is, so read
// it, never change it.
type SharedEvent struct {
	// Event is the event.
	Event *forumv1.Event

	once sync.Once
	wire []byte
}

// Wire returns the event's protobuf encoding, marshalled by the first
// call and shared by every subscriber the event went to: a thousand
// subscribers cost one marshal, not a thousand.
func (e *SharedEvent) Wire() []byte {
	e.once.Do(func() {
		b, err := proto.Marshal(e.Event)
		if err != nil { // cannot happen: the event was read from its encoding
			panic(fmt.Sprintf("store: marshalling event %d: %v", e.Event.GetRevision(), err))
		}
		e.wire = b
	})
	return e.wire
}

// Subscription is a live reader of the log (Subscribe).
type Subscription struct {
	// Start is the first revision Take may return: every event before it
	// was durable when Subscribe returned and is read with ReadEvents.
	Start uint64

	ready chan struct{} // holds a token while Take has something to return
	actor authz.Actor
	match func(*forumv1.Event) bool
	feed  *feed
	last  uint64 // the last revision the feed considered for it; under feed.mu

	mu    sync.Mutex
	queue []*SharedEvent // waiting for Take, in revision order
	ended bool
	err   error // why it ended; set with ended
}

// Ready returns a channel that receives when Take has something to
// return: new events, or the end of the subscription.
func (sub *Subscription) Ready() <-chan struct{} { return sub.ready }

// Take returns, in revision order, the events that the subscriber may see
// and wants (from Start on) that arrived since the last Take, at most max
// of them if max > 0 (the rest wait for the next Take, and Ready says so).
// It returns nothing and true when none is waiting, and nothing and false
// once the subscription has ended and every event that arrived before has
// been taken: by Close, by the store closing, or because the subscriber
// fell more than SubscriptionBuffer events behind (Err says which).
func (sub *Subscription) Take(max int) ([]*SharedEvent, bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if len(sub.queue) == 0 {
		return nil, !sub.ended
	}
	n := len(sub.queue)
	if max > 0 && n > max {
		n = max
	}
	out := sub.queue[:n:n]
	sub.queue = sub.queue[n:]
	if len(sub.queue) == 0 {
		sub.queue = nil // the next append starts a new array: out stays the caller's
	}
	if len(sub.queue) > 0 || sub.ended {
		sub.signal()
	}
	return out, true
}

// signal leaves a token in ready, if there is none.
func (sub *Subscription) signal() {
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// Err says why the subscription ended: nil while it lives and after
// Close, else an error of kind ResourceExhausted (the subscriber fell
// behind; it resumes from the revision after the last it took) or the
// store's closing.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

// Close ends the subscription; Take then returns false.
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
// there are none: EventQuery.To 0 would mean no bound), and then Take: no
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
	sub := &Subscription{Start: f.pos + 1, ready: make(chan struct{}, 1), actor: actor, match: match, feed: f, last: f.pos}
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
	sub.mu.Lock()
	sub.ended, sub.err = true, err
	if err == nil {
		sub.queue = nil // closed by its owner: nobody takes them
	}
	sub.mu.Unlock()
	sub.signal()
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
			gone := map[string]bool{} // each reply's state, for every subscriber
			err = tx.Scan(bucketEvents, eventKey(from), eventKey(head+1), false, func(k, v []byte) bool {
				ev := new(forumv1.Event)
				if scanErr = proto.Unmarshal(v, ev); scanErr != nil {
					return false
				}
				if scanErr = resolveReply(tx, ev, gone); scanErr != nil {
					return false
				}
				events = append(events, ev)
				return len(events) < feedPassEvents
			})
			if err == nil {
				err = scanErr
			}
			if err != nil || len(events) == 0 {
				return err
			}
			return f.deliver(tx, gen, events, gone)
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

// deliver hands events, read in tx (and resolved: resolveReply, which
// filled in gone), to the subscribers that may see them. gen is the gate
// cache's generation from before tx began. What an actor
// may see of each event is decided once per actor, not per subscriber:
// the subscribers of one actor (a user's browser tabs, an integrator's
// streams) share the work, and the events they receive.
func (f *feed) deliver(tx kv.Tx, gen uint64, events []*forumv1.Event, gone map[string]bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	heads := map[uint64]threadHead{} // the same for every actor: each thread's head is read once
	shared := make([]*SharedEvent, len(events))
	views := map[authz.Actor][]*SharedEvent{} // what each actor may see of events: nil where nothing
	view := func(actor authz.Actor) ([]*SharedEvent, error) {
		if v, ok := views[actor]; ok {
			return v, nil
		}
		vis := &eventVisibility{actor: actor, access: &themeAccess{actor: actor, cache: &f.s.gates, gen: gen}, heads: heads, gone: gone}
		v := make([]*SharedEvent, len(events))
		for i, ev := range events {
			e, err := vis.filter(tx, ev)
			switch {
			case err != nil:
				return nil, err
			case e == nil:
			case e == ev:
				if shared[i] == nil {
					shared[i] = &SharedEvent{Event: ev}
				}
				v[i] = shared[i]
			default:
				v[i] = &SharedEvent{Event: e}
			}
		}
		views[actor] = v
		return v, nil
	}
	var batch []*SharedEvent
	for sub := range f.subs {
		v, err := view(sub.actor)
		if err != nil {
			return err
		}
		batch = batch[:0]
		for i, e := range v {
			if events[i].Revision <= sub.last {
				continue
			}
			if e != nil && (sub.match == nil || sub.match(e.Event)) {
				batch = append(batch, e)
			}
		}
		sub.last = events[len(events)-1].Revision
		if len(batch) == 0 {
			continue
		}
		sub.mu.Lock()
		over := len(sub.queue)+len(batch) > SubscriptionBuffer
		if !over {
			sub.queue = append(sub.queue, batch...)
		}
		sub.mu.Unlock()
		if over {
			f.removeLocked(sub, fmt.Errorf("%w: the stream fell more than %d events behind the log; resume from the revision after the last one received", errs.ResourceExhausted, SubscriptionBuffer))
			continue
		}
		sub.signal()
	}
	f.pos = events[len(events)-1].Revision
	return nil
}
