package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

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

// TestSweepLoop checks that the loop sweeps at once, then at every tick, keeps
// going after a failed sweep, and returns when its context is cancelled.
func TestSweepLoop(t *testing.T) {
	for _, fail := range []bool{false, true} {
		s := &countingSweeper{fail: fail}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			sweepLoop(ctx, s, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
