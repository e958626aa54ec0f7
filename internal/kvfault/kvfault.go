// Package kvfault wraps a kv.Engine so that tests can make it fail as the
// bbolt engine does after a failed fsync or checkpoint (fail-stop): from
// Fail on, Err returns an error wrapping kv.ErrFailed and the cause, Failed
// is closed, every Update returns that error without running its function,
// and Views go on. Close closes the wrapped engine and, as the bbolt engine
// does, also reports the failure.
//
// A test opens the store on it with store.OpenEngine:
//
//	eng, err := kv.OpenBolt(filepath.Join(t.TempDir(), "forum.db"), store.Buckets(), kv.BoltOptions{})
//	...
//	f := kvfault.Wrap(eng)
//	st, err := store.OpenEngine(f, store.Options{})
//	...
//	f.Fail(&os.PathError{Op: "write", Path: "/srv/forum/forum.db-wal.0", Err: syscall.ENOSPC})
//
// It is for tests only.
package kvfault

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/forumhq/forum/server/store/kv"
)

// Engine is a kv.Engine that fails on demand. It is safe for concurrent use.
type Engine struct {
	kv.Engine

	mu     sync.Mutex
	err    error
	failed chan struct{}
}

// Wrap returns eng wrapped; it writes normally until Fail.
func Wrap(eng kv.Engine) *Engine {
	return &Engine{Engine: eng, failed: make(chan struct{})}
}

// Fail stops the engine writing because of cause, as a failed fsync of the
// log would: Err returns fmt.Errorf("%w: %w", kv.ErrFailed, cause) from now
// on and Failed is closed. Only the first call has an effect.
func (e *Engine) Fail(cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return
	}
	e.err = fmt.Errorf("%w: %w", kv.ErrFailed, cause)
	close(e.failed)
}

// Err implements kv.Engine.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Failed implements kv.Engine.
func (e *Engine) Failed() <-chan struct{} { return e.failed }

// Update implements kv.Engine: after Fail it returns Err and runs nothing.
func (e *Engine) Update(ctx context.Context, fn func(kv.Tx) error) error {
	if err := e.Err(); err != nil {
		return err
	}
	return e.Engine.Update(ctx, fn)
}

// Close implements kv.Engine: it closes the wrapped engine and returns its
// error joined with Err.
func (e *Engine) Close() error {
	return errors.Join(e.Engine.Close(), e.Err())
}
