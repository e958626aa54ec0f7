package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLazyDeadline checks that withDeadline behaves as context.WithDeadline
// whether or not its timer has been armed.
func TestLazyDeadline(t *testing.T) {
	closed := func(ch <-chan struct{}, within time.Duration) bool {
		select {
		case <-ch:
			return true
		case <-time.After(within):
			return false
		}
	}
	t.Run("deadline reported", func(t *testing.T) {
		d := time.Now().Add(time.Hour)
		ctx, cancel := withDeadline(t.Context(), d)
		defer cancel()
		if got, ok := ctx.Deadline(); !ok || !got.Equal(d) {
			t.Fatalf("Deadline() = %v, %v", got, ok)
		}
		if err := ctx.Err(); err != nil {
			t.Fatalf("Err() = %v before the deadline", err)
		}
	})
	t.Run("expires without Done", func(t *testing.T) {
		ctx, cancel := withDeadline(t.Context(), time.Now().Add(5*time.Millisecond))
		defer cancel()
		time.Sleep(10 * time.Millisecond)
		if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause() = %v before Err was asked, want DeadlineExceeded", err)
		}
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, want DeadlineExceeded", err)
		}
		if !closed(ctx.Done(), time.Second) {
			t.Fatal("Done not closed after the deadline")
		}
	})
	t.Run("Done closes at the deadline", func(t *testing.T) {
		ctx, cancel := withDeadline(t.Context(), time.Now().Add(20*time.Millisecond))
		defer cancel()
		done := ctx.Done()
		if closed(done, 0) {
			t.Fatal("Done closed before the deadline")
		}
		if !closed(done, time.Second) {
			t.Fatal("Done not closed after the deadline")
		}
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("derived context expires with it", func(t *testing.T) {
		ctx, cancel := withDeadline(t.Context(), time.Now().Add(20*time.Millisecond))
		defer cancel()
		child, childCancel := context.WithCancel(context.WithValue(ctx, callerKey{}, caller{}))
		defer childCancel()
		if !closed(child.Done(), time.Second) {
			t.Fatal("derived context not cancelled at the deadline")
		}
		if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("child Err() = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("parent cancellation", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(t.Context())
		ctx, cancel := withDeadline(parent, time.Now().Add(time.Hour))
		defer cancel()
		cancelParent()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err() = %v, want Canceled", err)
		}
		if !closed(ctx.Done(), time.Second) {
			t.Fatal("Done not closed after the parent was cancelled")
		}
	})
	t.Run("cancel before and after arming", func(t *testing.T) {
		for _, armFirst := range []bool{false, true} {
			ctx, cancel := withDeadline(t.Context(), time.Now().Add(time.Hour))
			if armFirst {
				ctx.Done()
			}
			cancel()
			if err := ctx.Err(); !errors.Is(err, context.Canceled) {
				t.Fatalf("armed first %v: Err() = %v, want Canceled", armFirst, err)
			}
			if !closed(ctx.Done(), time.Second) {
				t.Fatalf("armed first %v: Done not closed after cancel", armFirst)
			}
		}
	})
	t.Run("values pass through", func(t *testing.T) {
		type key struct{}
		parent := context.WithValue(t.Context(), key{}, "v")
		ctx, cancel := withDeadline(parent, time.Now().Add(time.Hour))
		defer cancel()
		if ctx.Value(key{}) != "v" {
			t.Fatal("value of the parent lost before arming")
		}
		ctx.Done()
		if ctx.Value(key{}) != "v" {
			t.Fatal("value of the parent lost after arming")
		}
	})
}
