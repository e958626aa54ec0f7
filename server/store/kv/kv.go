// Package kv is the ordered, transactional key-value layer under the forum
// store. It is the only code that touches bbolt: the store speaks forum
// (CreateReply, ListReplies) and reaches the disk through the small Engine and
// Tx interfaces here, so another engine can later sit behind the same
// interfaces and the same tests.
//
// Invariants every Engine keeps:
//   - Update returns nil only after the transaction is durable (for the
//     bbolt engine: its record in the write-ahead log is fsynced). An error
//     from the function means nothing of it was kept. After a storage error
//     the engine refuses further writes; what reached the disk is recovered
//     when it is reopened.
//   - A View sees every Update that returned before the View began, and
//     nothing that is not yet durable.
//   - Concurrent Updates are group-committed: many transactions share one
//     fsync, and a transaction that fails does not fail the others.
//   - The function given to Update may run more than once, so it must have no
//     effect outside the Tx.
//   - Slices passed to a Scan callback or returned by Get are valid only
//     inside the transaction unless documented otherwise (Get returns a copy).
package kv

import (
	"context"
	"errors"
	"io"
	"time"
)

// Bucket names a namespace of keys. The set of buckets is fixed when the
// Engine is opened.
type Bucket string

// ErrUnknownBucket is returned when a Tx is asked for a bucket the Engine was
// not opened with.
var ErrUnknownBucket = errors.New("kv: unknown bucket")

// Engine is an ordered, transactional byte-key store.
type Engine interface {
	// View runs fn in a read-only snapshot. fn must not keep the Tx or any
	// slice it got from it after returning.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it durably. If
	// fn returns an error, nothing it wrote is kept and Update returns that
	// error. fn may be run more than once.
	Update(ctx context.Context, fn func(Tx) error) error
	// WriteTo writes a consistent copy of the whole database to w (a hot
	// backup) and returns the number of bytes written.
	WriteTo(ctx context.Context, w io.Writer) (int64, error)
	// Check verifies the database's internal consistency.
	Check(ctx context.Context) error
	// Writes returns how many committed write transactions have written to
	// bucket b since the Engine was opened. The count grows before Update
	// returns to any caller whose transaction wrote to b, so a value read
	// before a View began and still the same after it proves that what the
	// View read of b is current, which lets callers cache it (0 for a
	// bucket the Engine was not opened with).
	Writes(b Bucket) uint64
	// Stats returns counters of the Updates run since the Engine was opened.
	Stats() Stats
	// Err returns nil while the Engine writes, and once a storage error
	// has stopped it writing (fail-stop), that error: it wraps ErrFailed
	// and the cause (for example syscall.ENOSPC), and every later Update
	// returns it. Views keep answering from what was durable.
	Err() error
	// Failed returns a channel that is closed when the Engine stops
	// writing after a storage error (when Err becomes non-nil).
	Failed() <-chan struct{}
	// Close waits for pending Updates and closes the database.
	Close() error
}

// Stats counts an Engine's write work since it was opened: how well group
// commit is sharing fsyncs (Runs per Sync) and what syncs and checkpoints
// cost.
type Stats struct {
	Batches    int64         // batches of Updates formed
	Records    int64         // log records written (batches that wrote)
	Syncs      int64         // fsyncs of the log
	SyncTime   time.Duration // total time spent writing and fsyncing the log
	Commits    int64         // checkpoints: bbolt write transactions committed
	Rollbacks  int64         // transactions dropped because their function failed after writing
	Runs       int64         // update functions run, reruns (if the engine reruns) included
	CommitTime time.Duration // total time spent in checkpoints' commits (writing and fsyncing)
	PageWrites int64         // page writes by checkpoints (contiguous dirty pages are one write), meta pages included
}

// Tx is a transaction. It is not safe for concurrent use.
type Tx interface {
	// Get returns a copy of the value stored under key, or nil if there is
	// none.
	Get(b Bucket, key []byte) ([]byte, error)
	// Put stores value under key. The caller must not change key or value
	// afterwards.
	Put(b Bucket, key, value []byte) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(b Bucket, key []byte) error
	// Scan calls fn for each key in [start, end) in ascending order, or in
	// descending order if reverse is set, until fn returns false. A nil start
	// means the first key, a nil end means past the last key. k and v are
	// valid only during the call.
	Scan(b Bucket, start, end []byte, reverse bool, fn func(k, v []byte) bool) error
	// NextSequence returns the next value of the bucket's sequence, starting
	// at 1. It is only valid in Update.
	NextSequence(b Bucket) (uint64, error)
}
