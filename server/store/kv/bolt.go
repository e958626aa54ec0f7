package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrClosed is returned by the methods of an Engine returned by OpenBolt
// after Close has been called.
var ErrClosed = errors.New("kv: engine closed")

// ErrReadOnly is returned when a write (Put, Delete, NextSequence) is
// attempted in a View transaction.
var ErrReadOnly = errors.New("kv: write in a read-only transaction")

// ErrTxDone is returned when a Tx is used after the function it was given to
// has returned.
var ErrTxDone = errors.New("kv: transaction used after its function returned")

// ErrMaxSize is wrapped by the error of Updates whose commit failed because
// the file would have grown beyond BoltOptions.MaxSize.
var ErrMaxSize = errors.New("kv: database reached its maximum size")

// errPanicked marks the error that Update returns when its function panicked.
var errPanicked = errors.New("kv: update function panicked")

// Defaults of BoltOptions.
const (
	// DefaultBoltTimeout is the default BoltOptions.Timeout.
	DefaultBoltTimeout = time.Second
	// DefaultBoltMaxBatch is the default BoltOptions.MaxBatch.
	DefaultBoltMaxBatch = 256
	// DefaultBoltInitialMmapSize is the default BoltOptions.InitialMmapSize.
	DefaultBoltInitialMmapSize = 64 << 20
)

// BoltOptions configures OpenBolt. The zero value is a good production
// configuration.
type BoltOptions struct {
	// Timeout is how long OpenBolt waits for the exclusive lock on the file
	// before it fails with a "locked by another process" error. Zero or
	// negative means DefaultBoltTimeout (1s).
	Timeout time.Duration

	// MaxBatch is the largest number of Update calls that are group-committed
	// in one bbolt transaction (one fsync). Zero or negative means
	// DefaultBoltMaxBatch (256).
	MaxBatch int

	// InitialMmapSize is the initial size of the memory map in bytes. While
	// the database fits in it, write transactions never wait for readers to
	// remap. It does not grow the file. Zero or negative means
	// DefaultBoltInitialMmapSize (64 MiB).
	InitialMmapSize int

	// MaxSize, if positive, caps the size of the file in bytes: a commit that
	// would grow the file beyond it fails, and every Update of that batch
	// gets an error wrapping ErrMaxSize. Zero or negative means no limit.
	MaxSize int

	// NoSync skips fsync on commit, so Update no longer guarantees
	// durability: a crash of the machine can lose or corrupt committed data.
	// It exists only for benchmarks and tests that say so; never set it in
	// forumd.
	NoSync bool

	// SyncFreelist makes every commit also write bbolt's list of free
	// pages. By default it is not written (bbolt's NoFreelistSync, as etcd
	// runs it): a commit writes and fsyncs fewer pages, and the list is
	// rebuilt by scanning the file when it is opened, which makes opening a
	// large file slower (docs/PERFORMANCE.md has both figures). Durability
	// is the same either way.
	SyncFreelist bool

	// Logger receives errors that the engine cannot return to a caller
	// (panics in update functions, failed commits). Nil means slog.Default().
	Logger *slog.Logger
}

// OpenBolt opens (creating it if needed) the bbolt database file at path,
// creates the given buckets in it, and returns an Engine over it.
//
// Updates are group-committed by a single committer goroutine: it takes the
// first waiting Update, adds every other Update already waiting (up to
// MaxBatch), runs them in order in one bbolt read-write transaction and
// commits it with one fsync (bbolt syncs data, then meta). There is no
// timer: a lone writer is committed at once (see commitLoop for the one
// exception, callers of the previous batch still waking up). If an update
// function returns an error after it wrote, or panics, the shared
// transaction is rolled back, that Update gets the error, and the other
// functions of the batch are run again in a new transaction; this is why an
// update function may run more than once. A function that returns an error
// without having written does not disturb the batch. A batch in which no
// function wrote is rolled back instead of committed (no fsync).
//
// Update functions run on the committer goroutine, one at a time, so they
// must be short, must not block, and must not call Update, View, WriteTo or
// Check of the same Engine (that would deadlock). A panic in one is
// recovered, logged with its stack and returned as an error. View functions
// must not call Update either: a commit that has to grow the memory map
// waits for open read transactions.
//
// If another process (or another OpenBolt in this process) holds the file,
// OpenBolt fails after opts.Timeout with an error that wraps
// bbolt.ErrTimeout.
func OpenBolt(path string, buckets []Bucket, opts BoltOptions) (Engine, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultBoltTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultBoltMaxBatch
	}
	if opts.InitialMmapSize <= 0 {
		opts.InitialMmapSize = DefaultBoltInitialMmapSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}

	names := make(map[Bucket][]byte, len(buckets))
	writes := make(map[Bucket]*atomic.Uint64, len(buckets))
	for _, b := range buckets {
		if b == "" {
			return nil, fmt.Errorf("kv: open %s: empty bucket name", path)
		}
		names[b] = []byte(b)
		writes[b] = new(atomic.Uint64)
	}

	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.Timeout,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  !opts.SyncFreelist,
		InitialMmapSize: opts.InitialMmapSize,
		MaxSize:         opts.MaxSize,
		NoSync:          opts.NoSync,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("kv: open %s: database is locked by another process (is another forumd running?): %w", path, err)
		}
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for b, name := range names {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}

	e := &boltEngine{
		db:       db,
		path:     path,
		names:    names,
		writes:   writes,
		log:      opts.Logger.With("db", path),
		maxBatch: opts.MaxBatch,
		reqs:     make(chan *request, opts.MaxBatch),
		stopped:  make(chan struct{}),
	}
	go e.commitLoop()
	return e, nil
}

// boltEngine is the Engine returned by OpenBolt.
type boltEngine struct {
	db    *bolt.DB
	path  string
	names map[Bucket][]byte
	// writes counts, per bucket, the committed transactions that wrote to
	// it (see Engine.Writes). The map is fixed at open.
	writes   map[Bucket]*atomic.Uint64
	log      *slog.Logger
	maxBatch int

	// mu guards closed and the sending side of reqs: senders hold it for
	// reading, Close takes it for writing before it closes reqs.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	// stopped is closed when the committer goroutine has returned.
	stopped chan struct{}

	closeOnce sync.Once
	closeErr  error

	// writeMu is held by the committer around each bbolt write transaction
	// and by Check, which must not run concurrently with a writer.
	writeMu sync.Mutex

	// Counters for tests and benchmarks.
	nBatches   atomic.Int64 // batches formed
	nCommits   atomic.Int64 // bbolt transactions committed
	nRollbacks atomic.Int64 // transactions rolled back for a failed function
	nRuns      atomic.Int64 // update functions run (reruns included)
	// commitNanos is the time spent in bbolt's Commit (writes and fsyncs).
	commitNanos atomic.Int64
	nPageWrites atomic.Int64 // writes of pages (runs of contiguous pages) by commits

	// waking counts callers that have been sent their answer but have not
	// yet received it (they are waiting to be scheduled).
	waking atomic.Int64
}

// Request states.
const (
	statePending int32 = iota
	stateClaimed
	stateCancelled
)

// request is one Update waiting for or running in a batch.
type request struct {
	fn    func(Tx) error
	state atomic.Int32
	done  chan error // buffered(1), receives the final result once
	err   error      // result of the last run of fn, set by the committer
}

// claim marks r as taken by the committer. It reports false if the caller
// gave up first (its ctx was done).
func (r *request) claim() bool {
	return r.state.CompareAndSwap(statePending, stateClaimed)
}

// View implements Engine.
func (e *boltEngine) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed() {
		return ErrClosed
	}
	err := e.db.View(func(btx *bolt.Tx) error {
		tx := &boltTx{e: e, tx: btx}
		defer func() { tx.done = true }()
		return fn(tx)
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Update implements Engine. See OpenBolt for how updates are batched.
func (e *boltEngine) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{fn: fn, done: make(chan error, 1)}

	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return ErrClosed
	}
	select {
	case e.reqs <- r:
		e.mu.RUnlock()
	case <-ctx.Done():
		e.mu.RUnlock()
		return ctx.Err()
	}

	var err error
	select {
	case err = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(statePending, stateCancelled) {
			// The committer has not picked it up and now never will.
			return ctx.Err()
		}
		// It is running or done: report what really happened to it.
		err = <-r.done
	}
	e.waking.Add(-1)
	return err
}

// WriteTo implements Engine. It copies a consistent snapshot while writers
// keep running; a done ctx aborts the copy.
func (e *boltEngine) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.isClosed() {
		return 0, ErrClosed
	}
	var n int64
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(&ctxWriter{ctx: ctx, w: w})
		return err
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return n, ErrClosed
	}
	if err != nil {
		return n, fmt.Errorf("kv: backup %s: %w", e.path, err)
	}
	return n, nil
}

// maxCheckErrors bounds how many problems Check reports.
const maxCheckErrors = 100

// Check implements Engine. It runs bbolt's consistency check on a read-only
// snapshot while holding off writers (bbolt's check reads the freelist,
// which a concurrent writer would change), so Updates wait while it runs.
// The returned error joins up to 100 problems found.
func (e *boltEngine) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed() {
		return ErrClosed
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	var errs []error
	extra := 0
	err := e.db.View(func(tx *bolt.Tx) error {
		// The channel must be drained completely: the checker goroutine
		// reads the transaction until it closes the channel.
		for err := range tx.Check() {
			if len(errs) < maxCheckErrors {
				errs = append(errs, err)
			} else {
				extra++
			}
		}
		return nil
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("kv: check %s: %w", e.path, err)
	}
	if extra > 0 {
		errs = append(errs, fmt.Errorf("and %d more problems", extra))
	}
	if len(errs) > 0 {
		return fmt.Errorf("kv: check %s: %w", e.path, errors.Join(errs...))
	}
	return nil
}

// Close implements Engine. Updates already submitted are run and committed;
// later ones fail with ErrClosed. Close then waits for running Views and
// closes the file. Calling Close again returns the first result.
func (e *boltEngine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		close(e.reqs)
		e.mu.Unlock()
		<-e.stopped
		if err := e.db.Close(); err != nil {
			e.closeErr = fmt.Errorf("kv: close %s: %w", e.path, err)
		}
	})
	return e.closeErr
}

func (e *boltEngine) isClosed() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.closed
}

// maxGatherYields bounds how often the committer yields to let answered
// callers submit again before it runs a batch.
const maxGatherYields = 1000

// commitLoop is the committer goroutine: it forms batches from e.reqs and
// runs them until e.reqs is closed and drained.
//
// A batch is the first waiting request plus every request already queued.
// Before running it, the committer also yields (runtime.Gosched, no timer)
// for as long as callers it answered in the previous batch have not yet
// woken up: a caller in a loop submits its next Update at once, and without
// this it would form a tiny batch of the first few to wake up, leaving the
// others to wait a whole commit, which halves the commit size under load. A
// lone writer has woken up by the time its next request arrives, so it
// never waits.
func (e *boltEngine) commitLoop() {
	defer close(e.stopped)
	batch := make([]*request, 0, e.maxBatch)
	for r := range e.reqs {
		batch = batch[:0]
		if r.claim() {
			batch = append(batch, r)
		}
		var open bool
		batch, open = e.drain(batch)
		for n := 0; open && n < maxGatherYields && len(batch) < e.maxBatch && e.waking.Load() > 0; n++ {
			runtime.Gosched()
			batch, open = e.drain(batch)
		}
		if len(batch) > 0 {
			e.nBatches.Add(1)
			e.runBatch(batch)
		}
		clear(batch[:cap(batch)]) // let answered requests be collected
	}
}

// drain moves queued requests into batch, without waiting, until batch has
// maxBatch requests. It reports false if e.reqs is closed.
func (e *boltEngine) drain(batch []*request) ([]*request, bool) {
	for len(batch) < e.maxBatch {
		select {
		case r, ok := <-e.reqs:
			if !ok {
				return batch, false
			}
			if r.claim() {
				batch = append(batch, r)
			}
		default:
			return batch, true
		}
	}
	return batch, true
}

// runBatch runs batch until every request has its answer.
//
// When a function fails after writing (or panics), the transaction is
// rolled back and the other functions are run again. The first time, they
// all run again together. If it happens again in the same batch, the
// functions before the failing one (which just ran cleanly) are committed on
// their own and the rest continue in a new transaction, so that a batch full
// of failing functions costs at most three runs per function and one commit
// per failure instead of a number of runs quadratic in the batch size.
func (e *boltEngine) runBatch(batch []*request) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	todo := [][]*request{batch} // segments still to run, in order
	rollbacks := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		if len(seg) == 0 {
			continue
		}
		i := e.tryBatch(seg)
		if i < 0 {
			continue
		}
		e.nRollbacks.Add(1)
		rollbacks++
		if rollbacks == 1 {
			rest := append(seg[:i:i], seg[i+1:]...)
			todo = append([][]*request{rest}, todo...)
		} else {
			todo = append([][]*request{seg[:i], seg[i+1:]}, todo...)
		}
	}
}

// tryBatch runs the requests of batch in order in one bbolt transaction. If
// one of them fails after writing (or panics), it rolls back, answers that
// one only and returns its index: the others must be run again. Otherwise it
// commits (or rolls back if nothing was written), answers all and returns -1.
func (e *boltEngine) tryBatch(batch []*request) int {
	btx, err := e.db.Begin(true)
	if err != nil {
		err = fmt.Errorf("kv: begin write transaction on %s: %w", e.path, err)
		e.log.Error("kv: cannot begin write transaction", "err", err, "batch", len(batch))
		for _, r := range batch {
			e.answer(r, err)
		}
		return -1
	}
	wrote := false
	var written []Bucket // by the functions of this transaction
	for i, r := range batch {
		tx := &boltTx{e: e, tx: btx, writable: true}
		err, panicked := e.run(r.fn, tx)
		e.nRuns.Add(1)
		if err != nil && (tx.wrote || panicked) {
			_ = btx.Rollback()
			e.answer(r, err)
			return i
		}
		r.err = err
		wrote = wrote || tx.wrote
		for _, b := range tx.written {
			if !slices.Contains(written, b) {
				written = append(written, b)
			}
		}
	}
	if !wrote {
		// Nothing to persist: every function saw committed state only.
		_ = btx.Rollback()
		for _, r := range batch {
			e.answer(r, r.err)
		}
		return -1
	}
	start := time.Now()
	err = btx.Commit()
	e.commitNanos.Add(int64(time.Since(start)))
	st := btx.Stats()
	e.nPageWrites.Add(st.GetWrite())
	if err != nil {
		if errors.Is(err, berrors.ErrMaxSizeReached) {
			err = fmt.Errorf("%w: %w", ErrMaxSize, err)
		}
		err = fmt.Errorf("kv: commit on %s: %w", e.path, err)
		e.log.Error("kv: commit failed", "err", err, "batch", len(batch))
		for _, r := range batch {
			e.answer(r, err)
		}
		return -1
	}
	e.nCommits.Add(1)
	// Before any caller hears of the commit (see Engine.Writes).
	for _, b := range written {
		e.writes[b].Add(1)
	}
	for _, r := range batch {
		e.answer(r, r.err)
	}
	return -1
}

// Writes implements Engine.
func (e *boltEngine) Writes(b Bucket) uint64 {
	if c := e.writes[b]; c != nil {
		return c.Load()
	}
	return 0
}

// markWritten records that the transaction wrote to bucket b.
func (t *boltTx) markWritten(b Bucket) {
	t.wrote = true
	if !slices.Contains(t.written, b) {
		t.written = append(t.written, b)
	}
}

// Stats implements Engine.
func (e *boltEngine) Stats() Stats {
	return Stats{
		Batches:    e.nBatches.Load(),
		Commits:    e.nCommits.Load(),
		Rollbacks:  e.nRollbacks.Load(),
		Runs:       e.nRuns.Load(),
		CommitTime: time.Duration(e.commitNanos.Load()),
		PageWrites: e.nPageWrites.Load(),
	}
}

// answer gives r its final result.
func (e *boltEngine) answer(r *request, err error) {
	e.waking.Add(1)
	r.done <- err
}

// run calls fn(tx), turning a panic into an error. tx is unusable afterwards.
func (e *boltEngine) run(fn func(Tx) error, tx *boltTx) (err error, panicked bool) {
	defer func() {
		tx.done = true
		if p := recover(); p != nil {
			if perr, ok := p.(error); ok {
				err = fmt.Errorf("%w: %w", errPanicked, perr)
			} else {
				err = fmt.Errorf("%w: %v", errPanicked, p)
			}
			panicked = true
			e.log.Error("kv: update function panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	return fn(tx), false
}

// boltTx is the Tx given to View and Update functions.
type boltTx struct {
	e        *boltEngine
	tx       *bolt.Tx
	writable bool
	wrote    bool     // a Put, Delete or NextSequence succeeded
	written  []Bucket // the buckets written to
	done     bool     // the function returned; the Tx must not be used
}

func (t *boltTx) bucket(b Bucket) (*bolt.Bucket, error) {
	if t.done {
		return nil, ErrTxDone
	}
	name, ok := t.e.names[b]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownBucket, b)
	}
	bk := t.tx.Bucket(name)
	if bk == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownBucket, b)
	}
	return bk, nil
}

func (t *boltTx) writableBucket(b Bucket) (*bolt.Bucket, error) {
	bk, err := t.bucket(b)
	if err != nil {
		return nil, err
	}
	if !t.writable {
		return nil, ErrReadOnly
	}
	return bk, nil
}

// Get implements Tx. A key stored with an empty value yields a non-nil empty
// slice.
func (t *boltTx) Get(b Bucket, key []byte) ([]byte, error) {
	bk, err := t.bucket(b)
	if err != nil {
		return nil, err
	}
	v := bk.Get(key)
	if v == nil {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

// Put implements Tx.
func (t *boltTx) Put(b Bucket, key, value []byte) error {
	bk, err := t.writableBucket(b)
	if err != nil {
		return err
	}
	if value == nil {
		// bbolt would return nil from Get for it until commit; keep
		// "present" distinguishable from "absent".
		value = []byte{}
	}
	if err := bk.Put(key, value); err != nil {
		return fmt.Errorf("kv: put %q in %q: %w", key, b, err)
	}
	t.markWritten(b)
	return nil
}

// Delete implements Tx.
func (t *boltTx) Delete(b Bucket, key []byte) error {
	bk, err := t.writableBucket(b)
	if err != nil {
		return err
	}
	if err := bk.Delete(key); err != nil {
		return fmt.Errorf("kv: delete %q in %q: %w", key, b, err)
	}
	t.markWritten(b)
	return nil
}

// NextSequence implements Tx.
func (t *boltTx) NextSequence(b Bucket) (uint64, error) {
	bk, err := t.writableBucket(b)
	if err != nil {
		return 0, err
	}
	n, err := bk.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("kv: next sequence of %q: %w", b, err)
	}
	t.markWritten(b)
	return n, nil
}

// Scan implements Tx. fn must not write to bucket b while the scan runs.
func (t *boltTx) Scan(b Bucket, start, end []byte, reverse bool, fn func(k, v []byte) bool) error {
	bk, err := t.bucket(b)
	if err != nil {
		return err
	}
	if start != nil && end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	c := bk.Cursor()
	if !reverse {
		var k, v []byte
		if start == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(start)
		}
		for ; k != nil; k, v = c.Next() {
			if end != nil && bytes.Compare(k, end) >= 0 {
				return nil
			}
			if !fn(k, v) {
				return nil
			}
		}
		return nil
	}
	var k, v []byte
	if end == nil {
		k, v = c.Last()
	} else if k, v = c.Seek(end); k == nil {
		// Every key is < end.
		k, v = c.Last()
	} else {
		// k is the first key >= end; the one before it is the last < end.
		k, v = c.Prev()
	}
	for ; k != nil; k, v = c.Prev() {
		if start != nil && bytes.Compare(k, start) < 0 {
			return nil
		}
		if !fn(k, v) {
			return nil
		}
	}
	return nil
}

// ctxWriter fails writes once ctx is done, so a backup can be cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// Compile-time checks.
var (
	_ Engine = (*boltEngine)(nil)
	_ Tx     = (*boltTx)(nil)
)
