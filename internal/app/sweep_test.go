package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

type countingSweeper struct {
	calls atomic.Int32
	fail  bool
}

func (c *countingSweeper) Sweep(ctx context.Context) (store.SweepResult, error) {
	c.calls.Add(1)
	if c.fail {
		return store.SweepResult{}, errors.New("disk on fire")
	}
	return store.SweepResult{Sessions: 1}, nil
}

func (c *countingSweeper) SweepEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	return 0, nil
}

// TestSweepLoop checks that the loop sweeps at once, then at every tick, keeps
// going after a failed sweep, and returns when its context is cancelled.
func TestSweepLoop(t *testing.T) {
	for _, fail := range []bool{false, true} {
		s := &countingSweeper{fail: fail}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			sweepLoop(ctx, s, 5*time.Millisecond, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		deadline := time.Now().Add(10 * time.Second)
		for s.calls.Load() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("sweepLoop did not return after cancel")
		}
		if n := s.calls.Load(); n < 3 {
			t.Errorf("fail=%v: %d sweeps in 10s with a 5ms interval", fail, n)
		}
	}
}

// eventSweeper has pending events older than any cutoff, and records the
// calls of SweepEvents.
type eventSweeper struct {
	countingSweeper
	pending int
	cutoffs []time.Time
	limits  []int
	fail    error
}

func (s *eventSweeper) SweepEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	s.cutoffs, s.limits = append(s.cutoffs, cutoff), append(s.limits, limit)
	if s.fail != nil {
		return 0, s.fail
	}
	n := min(limit, s.pending)
	s.pending -= n
	return n, nil
}

// TestSweepEvents checks that a sweep deletes the events older than the
// retention in batches, until a batch comes back short.
func TestSweepEvents(t *testing.T) {
	for _, c := range []struct{ pending, calls int }{
		{0, 1}, {1, 1}, {eventSweepBatch - 1, 1}, {eventSweepBatch, 2}, {2*eventSweepBatch + 500, 3},
	} {
		s := &eventSweeper{pending: c.pending}
		cutoff := time.Now().Add(-time.Hour)
		n, err := sweepEvents(t.Context(), s, cutoff)
		if err != nil || n != c.pending || s.pending != 0 || len(s.limits) != c.calls {
			t.Errorf("%d pending: deleted %d (%v) in %d calls, %d left; want %d calls", c.pending, n, err, len(s.limits), s.pending, c.calls)
		}
		for i := range s.limits {
			if s.limits[i] != eventSweepBatch || !s.cutoffs[i].Equal(cutoff) {
				t.Errorf("call %d: limit %d, cutoff %v", i, s.limits[i], s.cutoffs[i])
			}
		}
	}
	s := &eventSweeper{pending: 10, fail: errors.New("disk on fire")}
	if _, err := sweepEvents(t.Context(), s, time.Now()); err == nil || len(s.limits) != 1 {
		t.Errorf("a failing SweepEvents: %v after %d calls", err, len(s.limits))
	}

	// The loop sweeps with the cutoff of its retention.
	s = &eventSweeper{pending: 3}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		sweepLoop(ctx, s, time.Hour, 48*time.Hour, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.calls.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-done
	if len(s.cutoffs) != 1 {
		t.Fatalf("%d calls of SweepEvents in the first sweep", len(s.cutoffs))
	}
	if want := start.Add(-48 * time.Hour); s.cutoffs[0].Before(want) || s.cutoffs[0].After(time.Now().Add(-48*time.Hour)) {
		t.Errorf("cutoff %v, want 48h before the sweep (%v)", s.cutoffs[0], want)
	}
}

// TestSweepEventsOfStore sweeps a real store's events with a retention
// that every event is past: the log keeps none, and reading from revision
// 1 is OUT_OF_RANGE.
func TestSweepEventsOfStore(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	for i := range 3 {
		if _, err := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: fmt.Sprintf("user%d", i), DisplayName: "U"}, "x", ""); err != nil {
			t.Fatal(err)
		}
	}
	head, err := st.EventHead(ctx)
	if err != nil || head < 3 {
		t.Fatalf("head %d (%v) after 3 users: does the store append events?", head, err)
	}
	n, err := sweepEvents(ctx, st, time.Now().Add(time.Minute))
	if err != nil || uint64(n) != head {
		t.Fatalf("swept %d (%v), want %d", n, err, head)
	}
	_, err = st.ReadEvents(ctx, authz.SystemActor, store.EventQuery{From: 1})
	if errs.KindOf(err) != errs.OutOfRange {
		t.Errorf("reading from 1 after the sweep: %v, want OUT_OF_RANGE", err)
	}
}
