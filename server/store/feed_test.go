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

// receive returns the next event of sub, failing the test if none comes
// within feedTimeout or C is closed.
func receive(t *testing.T, sub *Subscription) *forumv1.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if !ok {
			t.Fatalf("the subscription ended: %v", sub.Err())
		}
		return ev
	case <-time.After(feedTimeout):
		t.Fatal("no event came")
	}
	return nil
}

// receiveUntil returns the events sub receives up to and including the
// one of type typ on resource.
func receiveUntil(t *testing.T, sub *Subscription, typ forumv1.EventType, resource string) []*forumv1.Event {
	t.Helper()
	var out []*forumv1.Event
	for {
		ev := receive(t, sub)
		out = append(out, ev)
		if ev.Type == typ && ev.Resource == resource {
			return out
		}
	}
}

// TestFeedReplayThenTail checks the hand-off between ReadEvents and a
// subscription while 8 writers run: subscribers that join at different
// moments, reading the log up to Start-1 and then C, get every event
// exactly once, in order.
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
	const subscribers = 6
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
				case ev, ok := <-sub.C:
					if !ok {
						t.Errorf("subscriber %d: the subscription ended: %v", i, sub.Err())
						return
					}
					if !next(ev, "received") {
						return
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
// read is cut off with ResourceExhausted once more than SubscriptionBuffer
// events are pending for it, after receiving the first SubscriptionBuffer
// of them in order; and that one that reads keeps going.
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
		for range reader.C {
			read.Add(1)
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
	n := 0
	for ev := range slow.C {
		if want := slow.Start + uint64(n); ev.Revision != want {
			t.Fatalf("the slow subscriber's event %d has revision %d, want %d", n, ev.Revision, want)
		}
		n++
	}
	if n != SubscriptionBuffer {
		t.Errorf("the slow subscriber received %d events before it was cut off, want %d", n, SubscriptionBuffer)
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
// subscription (C closed, Err ErrClosed), refuses new ones, and may be
// called twice.
func TestFeedEndsWithTheStore(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	subs := make([]*Subscription, 3)
	for i := range subs {
		var err error
		if subs[i], err = s.Subscribe(ctx, authz.Actor{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	subs[2].Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, sub := range subs {
		select {
		case _, ok := <-sub.C:
			if ok {
				t.Errorf("subscription %d received an event", i)
			}
		case <-time.After(feedTimeout):
			t.Fatalf("subscription %d was not closed", i)
		}
		if err := sub.Err(); (i < 2) != errors.Is(err, ErrClosed) {
			t.Errorf("subscription %d ended with %v", i, err)
		}
		sub.Close() // after the store's Close: nothing happens
	}
	if _, err := s.Subscribe(ctx, authz.Actor{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	s.Close() // again, as t.Cleanup will
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

	subscribe := func(a authz.Actor, match func(*forumv1.Event) bool) *Subscription {
		sub, err := s.Subscribe(ctx, a, match)
		must(err)
		t.Cleanup(sub.Close)
		return sub
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
		sub  *Subscription
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
	if ev := receive(t, replies); ev.Resource != r1.Name {
		t.Errorf("the replies subscription received %s, want %s", ev.Resource, r1.Name)
	}
	r3, err := s.CreateReply(ctx, bob, resname.MustParseThread(marker2.Name), &forumv1.Reply{Body: "public"}, "")
	must(err)
	if ev := receive(t, replies); ev.Resource != r3.Name {
		t.Errorf("the replies subscription received %s, want %s", ev.Resource, r3.Name)
	}
}
