package server

import (
	"context"
	"sync"
	"time"
)

// withDeadline returns a context with the given deadline, like
// context.WithDeadline, but arms no timer until something asks for Done (a
// select on the context, a derived cancellable context, context.AfterFunc).
// Most calls that get the server's clamped deadline are reads that finish in
// microseconds without ever waiting on their context; for them the timer,
// its goroutine-safe bookkeeping and four allocations were a measurable part
// of a GetThread. Calls that do wait (writes waiting for their commit) arm
// it on first use and then behave exactly as with context.WithDeadline.
//
// Until the timer is armed, Err reports context.DeadlineExceeded once the
// deadline has passed, and the parent's error before that.
func withDeadline(parent context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	c := &lazyDeadline{Context: parent, deadline: deadline}
	return c, c.stop
}

type lazyDeadline struct {
	context.Context // the parent
	deadline        time.Time

	mu      sync.Mutex
	armed   context.Context // context.WithDeadline(parent, deadline), once armed
	cancel  context.CancelFunc
	stopped bool // stop was called before the timer was armed
}

// arm returns the timer-backed context, making it on first use.
func (c *lazyDeadline) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		if c.stopped {
			c.cancel()
		}
	}
	return c.armed
}

// current returns the armed context, or nil.
func (c *lazyDeadline) current() (armed context.Context, stopped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.armed, c.stopped
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

func (c *lazyDeadline) Err() error {
	armed, stopped := c.current()
	switch {
	case armed != nil:
		return armed.Err()
	case stopped:
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return c.arm().Err() // DeadlineExceeded, with context.Cause agreeing
	}
	return nil
}

// Value answers from the armed context once there is one, so that contexts
// derived from c attach to its cancellation directly (as they would to
// context.WithDeadline's) instead of watching it from a goroutine, and
// context.Cause reports the deadline. Past the deadline it arms the timer
// first, for the same reasons.
func (c *lazyDeadline) Value(key any) any {
	armed, _ := c.current()
	if armed == nil && !time.Now().Before(c.deadline) {
		armed = c.arm()
	}
	if armed != nil {
		return armed.Value(key)
	}
	return c.Context.Value(key)
}

// stop is the CancelFunc: it cancels the armed context, or makes the
// context cancelled for whoever arms it later.
func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
}
