package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/protobuf/proto"
)

// feedTimeout bounds every wait for the feed in these tests.
const feedTimeout = 20 * time.Second

// replayBefore reads, with ReadEvents, the events from 1 up to sub.Start-1 that
// actor may see, and returns them in order.
func replayBefore(t *testing.T, s *Store, actor authz.Actor, sub *Subscription) []*forumv1.Event {
	t.Helper()
	var out []*forumv1.Event
	if sub.Start <= 1 {
		return nil // To: 0 would mean no bound
	}
	for from := uint64(1); from < sub.Start; {
		page, err := s.ReadEvents(t.Context(), actor, EventQuery{From: from, To: sub.Start - 1, Limit: 250})
		if err != nil {
			t.Error(err)
			return out
		}
		out = append(out, page.Events...)
		from = page.Next
	}
	return out
}

// subReader reads a Subscription one event at a time: it keeps the events
// a Take returned beyond the one asked for until they are asked for.
type subReader struct {
	*Subscription
	pending []*forumv1.Event
}

// receive returns the next event of r, failing the test if none comes
// within feedTimeout or the subscription ends.
func (r *subReader) receive(t *testing.T) *forumv1.Event {
	t.Helper()
	timeout := time.After(feedTimeout)
	for len(r.pending) == 0 {
		select {
		case <-r.Ready():
			evs, ok := r.Take(0)
			if !ok {
				t.Fatalf("the subscription ended: %v", r.Err())
			}
			for _, e := range evs {
				r.pending = append(r.pending, e.Event)
			}
		case <-timeout:
			t.Fatal("no event came")
		}
	}
	ev := r.pending[0]
	r.pending = r.pending[1:]
	return ev
}

// receiveUntil returns the events r receives up to and including the
// one of type typ on resource.
func receiveUntil(t *testing.T, r *subReader, typ forumv1.EventType, resource string) []*forumv1.Event {
	t.Helper()
	var out []*forumv1.Event
	for {
		ev := r.receive(t)
		out = append(out, ev)
		if ev.Type == typ && ev.Resource == resource {
			return out
		}
	}
}

// waitQueued waits until at least n events wait for sub's Take, and until
// the feed has finished handing them out (its signal on Ready included).
func waitQueued(t *testing.T, s *Store, sub *Subscription, n int) {
	t.Helper()
	for deadline := time.Now().Add(feedTimeout); ; time.Sleep(time.Millisecond) {
		sub.mu.Lock()
		queued := len(sub.queue)
		sub.mu.Unlock()
		if queued >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events queued for the subscription, want %d", queued, n)
		}
	}
	// A barrier: deliver holds the lock until it has signalled every
	// subscriber.
	s.feed.mu.Lock()
	_ = s.feed.pos
	s.feed.mu.Unlock()
}

// TestFeedReplayThenTail checks the hand-off between ReadEvents and a
// subscription while 8 writers run: subscribers that join at different
// moments, reading the log up to Start-1 and then Take, get every event
// exactly once, in order. Each subscriber takes at most its own number of
// events at a time (takeMax; 0: all that wait): one that leaves events
// waiting must be woken by Ready again for them, or it gets stuck.
func TestFeedReplayThenTail(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN) // sees every event
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	var threads []resname.Thread
	for i := range 4 {
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[i%2].Name, Title: fmt.Sprint(i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, resname.MustParseThread(th.Name))
	}

	var final atomic.Uint64 // the head once the writers are done
	finished := make(chan struct{})
	takeMax := []int{0, 1, 3, 0, 7, feedPassEvents}
	subscribers := len(takeMax)
	var subs sync.WaitGroup
	for i := range subscribers {
		subs.Go(func() {
			time.Sleep(time.Duration(i) * 15 * time.Millisecond)
			sub, err := s.Subscribe(ctx, admin, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer sub.Close()
			t.Logf("subscriber %d starts at %d", i, sub.Start)
			var last uint64
			next := func(ev *forumv1.Event, how string) bool {
				if ev.Revision != last+1 {
					t.Errorf("subscriber %d (start %d): %s revision %d after %d", i, sub.Start, how, ev.Revision, last)
					return false
				}
				last = ev.Revision
				return true
			}
			for _, ev := range replayBefore(t, s, admin, sub) {
				if !next(ev, "replayed") {
					return
				}
			}
			if last != sub.Start-1 {
				t.Errorf("subscriber %d: replay ended at %d, start is %d", i, last, sub.Start)
				return
			}
			done := finished
			for {
				if f := final.Load(); f != 0 && last >= f {
					return
				}
				select {
				case <-sub.Ready():
					evs, ok := sub.Take(takeMax[i])
					if !ok {
						t.Errorf("subscriber %d: the subscription ended: %v", i, sub.Err())
						return
					}
					if takeMax[i] > 0 && len(evs) > takeMax[i] {
						t.Errorf("subscriber %d: Take(%d) returned %d events", i, takeMax[i], len(evs))
						return
					}
					for _, e := range evs {
						if !next(e.Event, "received") {
							return
						}
					}
				case <-done:
					done = nil
				case <-time.After(feedTimeout):
					t.Errorf("subscriber %d: stuck at %d, head %d", i, last, final.Load())
					return
				}
			}
		})
	}

	const writers, writes = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				th := threads[(w+i)%len(threads)]
				r, err := s.CreateReply(ctx, a, th, &forumv1.Reply{Body: fmt.Sprint(w, i)}, "")
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if _, err := s.UpdateReply(ctx, a, resname.MustParseReply(r.Name), &forumv1.Reply{Name: r.Name, Body: "edited"}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	head, err := s.EventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	final.Store(head)
	close(finished)
	subs.Wait()
}

// TestFeedCutsOffSlowSubscriber checks that a subscriber that does not
// take is cut off with ResourceExhausted once more than SubscriptionBuffer
// events are pending for it, not before, and that the first
// SubscriptionBuffer of them, queued before the cut-off, can still be
// taken, in order, before Take says it ended; and that one that takes
// keeps going.
func TestFeedCutsOffSlowSubscriber(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "forum.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN)
	th, err := s.CreateThread(ctx, admin, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "busy"}, "")
	if err != nil {
		t.Fatal(err)
	}
	slow, err := s.Subscribe(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := s.Subscribe(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		last := reader.Start - 1
		for range reader.Ready() {
			evs, ok := reader.Take(0)
			if !ok {
				return
			}
			for _, e := range evs {
				if e.Event.Revision != last+1 {
					t.Errorf("the reading subscriber took revision %d after %d", e.Event.Revision, last)
				}
				last = e.Event.Revision
			}
			read.Add(int64(len(evs)))
		}
	}()

	// The writes come in rounds, each of fewer than SubscriptionBuffer,
	// and the next round waits for the reader to catch up: it never falls
	// behind by more, whenever the feed hands events out.
	const total = SubscriptionBuffer + 1
	written := 0
	for _, round := range []int{SubscriptionBuffer / 2, SubscriptionBuffer / 2, total - SubscriptionBuffer} {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 16 {
			wg.Go(func() {
				for next.Add(1) <= int64(round) {
					if _, err := s.CreateReply(ctx, admin, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "x"}, ""); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		written += round
		for deadline := time.Now().Add(feedTimeout); read.Load() < int64(written); {
			if time.Now().After(deadline) {
				t.Fatalf("the reading subscriber got %d events of %d", read.Load(), written)
			}
			time.Sleep(time.Millisecond)
		}
		if written <= SubscriptionBuffer {
			// The feed has handed every event written so far to both
			// subscribers (in the same passes): SubscriptionBuffer
			// pending is not too many.
			if err := slow.Err(); err != nil {
				t.Fatalf("the subscriber that does not read was cut off with %d events written: %v", written, err)
			}
		}
	}
	deadline := time.Now().Add(feedTimeout)
	for slow.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the subscriber that does not read was not cut off")
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(slow.Err(), errs.ResourceExhausted) {
		t.Fatalf("cut off with %v, want ResourceExhausted", slow.Err())
	}
	// What was queued before the cut-off is still there to take, a
	// hundred at a time here; then Take says the subscription ended. The
	// last round wrote one event after the feed had handed out the first
	// SubscriptionBuffer (the reader took them), so the pass that cut
	// the subscriber off held that one event alone: all the others were
	// queued.
	n := 0
	for {
		evs, ok := slow.Take(100)
		if !ok {
			break
		}
		if len(evs) == 0 || len(evs) > 100 {
			t.Fatalf("Take(100) on the cut-off subscription returned %d events and true", len(evs))
		}
		for _, e := range evs {
			if want := slow.Start + uint64(n); e.Event.Revision != want {
				t.Fatalf("the slow subscriber's event %d has revision %d, want %d", n, e.Event.Revision, want)
			}
			n++
		}
		if n > SubscriptionBuffer {
			t.Fatalf("the slow subscriber took %d events, more than SubscriptionBuffer", n)
		}
	}
	if n != SubscriptionBuffer {
		t.Errorf("the slow subscriber received %d events before it was cut off, want %d", n, SubscriptionBuffer)
	}
	if evs, ok := slow.Take(0); ok || len(evs) != 0 {
		t.Errorf("Take after the end: %d events, %v", len(evs), ok)
	}
	if !errors.Is(slow.Err(), errs.ResourceExhausted) {
		t.Errorf("once drained, Err is %v, want ResourceExhausted", slow.Err())
	}
	// The one that reads got all of them and goes on.
	if err := reader.Err(); err != nil {
		t.Fatalf("the reading subscriber ended: %v", err)
	}
	reader.Close()
	<-readerDone
	if err := reader.Err(); err != nil {
		t.Errorf("Err after Close: %v, want nil", err)
	}
}

// TestFeedEndsWithTheStore checks that Close of the store ends every
// subscription (Ready wakes it, Take returns false, Err ErrClosed) after
// the events queued for it before, refuses new ones, and may be called
// twice.
func TestFeedEndsWithTheStore(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	subs := make([]*Subscription, 3)
	for i := range subs {
		var err error
		if subs[i], err = s.Subscribe(ctx, authz.Actor{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	subs[2].Close()
	// One more, for which an event waits when the store closes.
	queued, err := s.Subscribe(ctx, authz.Actor{}, func(ev *forumv1.Event) bool { return ev.Type == forumv1.EventType_EVENT_TYPE_THREAD_CREATED })
	if err != nil {
		t.Fatal(err)
	}
	th, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "last words"}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitQueued(t, s, queued, 1)
	// The first two took what came, and have nothing left.
	for i, sub := range subs[:2] {
		if _, ok := sub.Take(0); !ok {
			t.Fatalf("subscription %d ended: %v", i, sub.Err())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		select {
		case <-sub.Ready():
		case <-time.After(feedTimeout):
			t.Fatalf("subscription %d was not woken", i)
		}
		if evs, ok := sub.Take(0); ok || len(evs) != 0 {
			t.Errorf("subscription %d: Take returned %d events, %v after the store closed", i, len(evs), ok)
		}
		if err := sub.Err(); (i < 2) != errors.Is(err, ErrClosed) {
			t.Errorf("subscription %d ended with %v", i, err)
		}
		sub.Close() // after the store's Close: nothing happens
	}
	// The event queued before the store closed can still be taken.
	evs, ok := queued.Take(0)
	if !ok || len(evs) != 1 || evs[0].Event.Resource != th.Name {
		t.Errorf("the subscription with an event waiting: Take returned %d events, %v; want the thread %s", len(evs), ok, th.Name)
	}
	if evs, ok := queued.Take(0); ok || len(evs) != 0 {
		t.Errorf("then Take returned %d events, %v; want the end", len(evs), ok)
	}
	if err := queued.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("the subscription with an event waiting ended with %v, want ErrClosed", err)
	}
	if _, err := s.Subscribe(ctx, authz.Actor{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	s.Close() // again, as t.Cleanup will
}

// TestFeedTake checks Take and Ready: Take(max) returns at most max events,
// in order, and Ready says when more wait; with nothing waiting Take
// returns nothing and true, and Ready stays quiet; the subscribers of one
// actor share each event, whose Wire is its encoding; and Close drops what
// waits: Take returns false at once, and Err is nil.
func TestFeedTake(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN)
	sub, err := s.Subscribe(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	twin, err := s.Subscribe(ctx, admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(twin.Close)
	if evs, ok := sub.Take(0); !ok || len(evs) != 0 {
		t.Fatalf("Take before any event: %d events, %v; want none and true", len(evs), ok)
	}
	const n = 5
	var names []string
	for i := range n {
		th, err := s.CreateThread(ctx, admin, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: fmt.Sprint("take ", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, th.Name)
	}
	waitQueued(t, s, sub, n)
	waitQueued(t, s, twin, n)
	check := func(what string, evs []*SharedEvent, from int) {
		t.Helper()
		for i, e := range evs {
			if want := sub.Start + uint64(from+i); e.Event.Revision != want || e.Event.Resource != names[from+i] {
				t.Errorf("%s: event %d is %d %s, want %d %s", what, i, e.Event.Revision, e.Event.Resource, want, names[from+i])
			}
		}
	}
	first, ok := sub.Take(2)
	if !ok || len(first) != 2 {
		t.Fatalf("Take(2) with %d waiting: %d events, %v", n, len(first), ok)
	}
	check("Take(2)", first, 0)
	select {
	case <-sub.Ready():
	default:
		t.Error("Ready does not say that events still wait after Take(2)")
	}
	rest, ok := sub.Take(0)
	if !ok || len(rest) != n-2 {
		t.Fatalf("Take(0) with %d waiting: %d events, %v", n-2, len(rest), ok)
	}
	check("Take(0)", rest, 2)
	select {
	case <-sub.Ready():
		t.Error("Ready with nothing waiting")
	default:
	}
	if evs, ok := sub.Take(0); !ok || len(evs) != 0 {
		t.Errorf("Take with nothing waiting: %d events, %v; want none and true", len(evs), ok)
	}

	// The twin, of the same actor, got the very same events.
	all := append(first, rest...)
	shared, ok := twin.Take(0)
	if !ok || len(shared) != n {
		t.Fatalf("the twin subscription: %d events, %v", len(shared), ok)
	}
	for i, e := range shared {
		if e != all[i] {
			t.Errorf("event %d: the subscribers of one actor got different SharedEvents", i)
		}
		w := e.Wire()
		var got forumv1.Event
		if err := proto.Unmarshal(w, &got); err != nil || !proto.Equal(&got, e.Event) {
			t.Errorf("event %d: Wire does not decode to the event (%v)", i, err)
		}
		if w2 := all[i].Wire(); len(w2) == 0 || &w2[0] != &w[0] {
			t.Errorf("event %d: Wire marshalled again", i)
		}
	}

	// Close drops what waits.
	if _, err := s.CreateThread(ctx, admin, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "dropped"}, ""); err != nil {
		t.Fatal(err)
	}
	waitQueued(t, s, sub, 1)
	sub.Close()
	select {
	case <-sub.Ready():
	default:
		t.Error("Ready does not say the subscription ended")
	}
	if evs, ok := sub.Take(0); ok || len(evs) != 0 {
		t.Errorf("Take after Close: %d events, %v; want none and false", len(evs), ok)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err after Close: %v, want nil", err)
	}
	// The twin lives on.
	waitQueued(t, s, twin, 1)
	if evs, ok := twin.Take(0); !ok || len(evs) != 1 || evs[0].Event.Revision != sub.Start+n {
		t.Errorf("the twin after the other's Close: %d events, %v", len(evs), ok)
	}
}

// TestFeedVisibility checks that events a subscriber may not see never
// reach it, decided when the event is delivered: a member who leaves a
// private group's theme stops receiving its events; and that match keeps
// only what it returns true for.
func TestFeedVisibility(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	bob := member(t, s, "bob", forumv1.Role_ROLE_MEMBER)
	conv := member(t, s, "conv", forumv1.Role_ROLE_CONVENER)
	board, err := s.CreateGroup(ctx, conv, "board", &forumv1.Group{Members: []string{alice.User}}, "")
	must(err)
	private, err := s.CreateTheme(ctx, conv, "private", &forumv1.Theme{Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{board.Name}}, "")
	must(err)

	subscribe := func(a authz.Actor, match func(*forumv1.Event) bool) *subReader {
		sub, err := s.Subscribe(ctx, a, match)
		must(err)
		t.Cleanup(sub.Close)
		return &subReader{Subscription: sub}
	}
	anonSub, aliceSub, bobSub, convSub := subscribe(authz.Actor{}, nil), subscribe(alice, nil), subscribe(bob, nil), subscribe(conv, nil)
	replies := subscribe(alice, func(ev *forumv1.Event) bool { return ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_CREATED })

	priv, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: private.Name, Title: "board only"}, "")
	must(err)
	r1, err := s.CreateReply(ctx, alice, resname.MustParseThread(priv.Name), &forumv1.Reply{Body: "board only"}, "")
	must(err)
	marker1, err := s.CreateThread(ctx, bob, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "public 1"}, "")
	must(err)
	created := forumv1.EventType_EVENT_TYPE_THREAD_CREATED
	resources := func(evs []*forumv1.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Resource)
		}
		return out
	}
	// What is delivered is decided when the feed reads it: alice gets the
	// events of the board's theme while she is in the board.
	if got, want := resources(receiveUntil(t, aliceSub, created, marker1.Name)), []string{priv.Name, r1.Name, marker1.Name}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alice, in the board, received %q, want %q", got, want)
	}
	// Alice leaves the board; what happens in its theme after that no
	// longer reaches her, nor does the group's change.
	_, err = s.UpdateGroup(ctx, conv, resname.Group{Slug: "board"}, &forumv1.Group{Name: board.Name}, []string{"members"})
	must(err)
	r2, err := s.CreateReply(ctx, conv, resname.MustParseThread(priv.Name), &forumv1.Reply{Body: "after alice left"}, "")
	must(err)
	marker2, err := s.CreateThread(ctx, bob, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "public 2"}, "")
	must(err)

	for _, c := range []struct {
		name string
		sub  *subReader
		want []string // the resources of the events received, in order
	}{
		{"anonymous", anonSub, []string{marker1.Name, marker2.Name}},
		{"bob, not in the board", bobSub, []string{marker1.Name, marker2.Name}},
		{"alice, who left the board", aliceSub, []string{marker2.Name}},
		{"conv, a moderator", convSub, []string{priv.Name, r1.Name, marker1.Name, board.Name, r2.Name, marker2.Name}},
	} {
		got := resources(receiveUntil(t, c.sub, created, marker2.Name))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s received %q, want %q", c.name, got, c.want)
		}
	}
	// alice's subscription that keeps only new replies.
	if ev := replies.receive(t); ev.Resource != r1.Name {
		t.Errorf("the replies subscription received %s, want %s", ev.Resource, r1.Name)
	}
	r3, err := s.CreateReply(ctx, bob, resname.MustParseThread(marker2.Name), &forumv1.Reply{Body: "public"}, "")
	must(err)
	if ev := replies.receive(t); ev.Resource != r3.Name {
		t.Errorf("the replies subscription received %s, want %s", ev.Resource, r3.Name)
	}
}
