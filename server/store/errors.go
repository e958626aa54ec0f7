package store

import (
	"github.com/forumhq/forum/server/store/kv"
)

// Errors of the engine under the store, named here so that the layers above
// the store need not know the engine (they are the engine's own values, so
// errors.Is matches either name).
var (
	// ErrWritesStopped: a storage error (a failed fsync, a full disk)
	// stopped the writes until the database is reopened (Err says why).
	ErrWritesStopped = kv.ErrFailed
	// ErrClosed: the store is closed (forumd is shutting down).
	ErrClosed = kv.ErrClosed
	// ErrTooLarge: one call's writes are over MaxUpdateSize.
	ErrTooLarge = kv.ErrTooLarge
)

// MaxUpdateSize bounds what one call may write (the engine's bound).
const MaxUpdateSize = kv.MaxUpdateSize
