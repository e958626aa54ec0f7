package kv

import (
	"bytes"
	"context"
	"encoding/binary"
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
	// DefaultCheckpointInterval is the default BoltOptions.CheckpointInterval
	// (etcd commits its bbolt backend as often).
	DefaultCheckpointInterval = 100 * time.Millisecond
	// DefaultCheckpointOps is the default BoltOptions.CheckpointOps.
	DefaultCheckpointOps = 10000
)

// BoltOptions configures OpenBolt. The zero value is a good production
// configuration.
type BoltOptions struct {
	// Timeout is how long OpenBolt waits for the exclusive lock on the file
	// before it fails with a "locked by another process" error. Zero or
	// negative means DefaultBoltTimeout (1s).
	Timeout time.Duration

	// MaxBatch is the largest number of Update calls that are run as one
	// batch (one log record). Zero or negative means
	// DefaultBoltMaxBatch (256).
	MaxBatch int

	// InitialMmapSize is the initial size of the memory map in bytes. While
	// the database fits in it, write transactions never wait for readers to
	// remap. It does not grow the file. Zero or negative means
	// DefaultBoltInitialMmapSize (64 MiB).
	InitialMmapSize int

	// CheckpointInterval is how long writes may stay in the log only
	// before they are committed into bbolt (a checkpoint). Zero or negative
	// means DefaultCheckpointInterval (100ms).
	CheckpointInterval time.Duration

	// CheckpointOps is how many writes (puts, deletes and sequences) may
	// accumulate before a checkpoint is made at once. Zero or negative
	// means DefaultCheckpointOps (10,000).
	CheckpointOps int

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

// OpenBolt opens (creating it if needed) the bbolt database file at path and
// its write-ahead log at path+"-wal", applies what the log holds beyond the
// database's last checkpoint, creates the given buckets, and returns an
// Engine over them.
//
// How a write becomes durable: Updates are group-committed by a single
// committer goroutine. It takes the first waiting Update, adds every other
// Update already waiting (up to MaxBatch), runs them in order in bbolt's
// open write transaction, and hands their writes, as one log record, to a
// syncer goroutine. The syncer writes the records handed to it since its
// last fdatasync and makes them durable with one more; only then do the
// writes become visible to Views (through the overlay, see overlay.go) and
// the callers get their answers. Meanwhile the committer already runs the
// next batch. There is no timer: a lone writer is committed at once (see
// commitLoop for the one exception, callers of the previous batch still
// waking up).
//
// Every CheckpointInterval (or CheckpointOps writes) while there are writes,
// the committer waits for the syncer, then commits bbolt's write
// transaction (bbolt's own two fsyncs) with the seq of the last record it
// holds, and the log starts again from its beginning. A crash loses no
// acknowledged write: the next OpenBolt applies the records after that seq.
//
// If an update function returns an error after it wrote, or panics, the
// write transaction is rolled back and rebuilt from the overlay (the writes
// since the checkpoint), that Update gets the error, and the other functions
// of the batch are run again; this is why an update function may run more
// than once. A function that returns an error without having written does
// not disturb the batch. A batch in which no function wrote writes no log
// record; its callers are answered after the records before it are durable.
//
// If writing the log, or a checkpoint, fails, the engine stops writing:
// the Updates of that batch and every later one fail with an error wrapping
// ErrFailed, while Views keep answering from what was durable. Reopening
// recovers from the log (which may then include the failed batch, if it
// reached the disk after all).
//
// Update functions run on the committer goroutine, one at a time, so they
// must be short, must not block, and must not call Update, View, WriteTo or
// Check of the same Engine (that would deadlock). A panic in one is
// recovered, logged with its stack and returned as an error. View functions
// must not call Update either: a checkpoint that has to grow the memory map
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
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.CheckpointOps <= 0 {
		opts.CheckpointOps = DefaultCheckpointOps
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}

	names := make(map[Bucket][]byte, len(buckets))
	writes := make(map[Bucket]*atomic.Uint64, len(buckets))
	for _, b := range buckets {
		if b == "" || b == internalBucket {
			return nil, fmt.Errorf("kv: open %s: invalid bucket name %q", path, b)
		}
		names[b] = []byte(b)
		writes[b] = new(atomic.Uint64)
	}

	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.Timeout,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  !opts.SyncFreelist,
		InitialMmapSize: opts.InitialMmapSize,
		NoSync:          opts.NoSync,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("kv: open %s: database is locked by another process (is another forumd running?): %w", path, err)
		}
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	log := opts.Logger.With("db", path)
	// The file lock is ours: the log is too.
	wal, seq, err := recoverWAL(db, path, names, opts.NoSync, log)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	rtx, err := db.Begin(false)
	if err != nil {
		_ = wal.close()
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	txid := rtx.ID()
	_ = rtx.Rollback()

	e := &boltEngine{
		db:          db,
		path:        path,
		names:       names,
		writes:      writes,
		log:         log,
		maxBatch:    opts.MaxBatch,
		interval:    opts.CheckpointInterval,
		maxOps:      opts.CheckpointOps,
		reqs:        make(chan *request, opts.MaxBatch),
		stopped:     make(chan struct{}),
		wal:         wal,
		syncq:       make(chan *syncItem, 4*opts.MaxBatch),
		syncStopped: make(chan struct{}),
		seq:         seq,
		seqs:        make(map[Bucket]uint64),
	}
	e.cur.Store(newEpoch(txid, seq, names))
	go e.syncLoop()
	go e.commitLoop()
	return e, nil
}

// recoverWAL creates the buckets, opens the log and applies the records
// that follow the database's last checkpoint, all in one bbolt
// transaction. It returns the log, rewound, and the seq of the last record.
func recoverWAL(db *bolt.DB, path string, names map[Bucket][]byte, noSync bool, log *slog.Logger) (*walFile, uint64, error) {
	wal, err := openWAL(walPath(path), noSync)
	if err != nil {
		return nil, 0, fmt.Errorf("open log: %w", err)
	}
	recs, err := readWAL(wal.f)
	if err != nil {
		_ = wal.close()
		return nil, 0, fmt.Errorf("read log %s: %w", walPath(path), err)
	}
	var seq uint64
	replayed := 0
	err = db.Update(func(tx *bolt.Tx) error {
		for b, name := range names {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %q: %w", b, err)
			}
		}
		ib, err := tx.CreateBucketIfNotExists([]byte(internalBucket))
		if err != nil {
			return fmt.Errorf("create internal bucket: %w", err)
		}
		if v := ib.Get(appliedKey); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("internal bucket: bad %q value", appliedKey)
			}
			seq = binary.BigEndian.Uint64(v)
		}
		for _, r := range recs {
			if r.seq <= seq {
				continue // already in the database
			}
			if r.seq != seq+1 {
				return fmt.Errorf("log %s continues at record %d, but the database holds records up to %d only (was the database file replaced without its log?)",
					walPath(path), r.seq, seq)
			}
			if err := applyOps(tx, r.ops); err != nil {
				return fmt.Errorf("replay log record %d: %w", r.seq, err)
			}
			seq = r.seq
			replayed++
		}
		return ib.Put(appliedKey, binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		_ = wal.close()
		return nil, 0, err
	}
	if replayed > 0 {
		log.Info("kv: recovered writes from the log", "records", replayed, "last", seq)
	}
	wal.rewind()
	return wal, seq, nil
}

// applyOps applies a log record's writes to tx.
func applyOps(tx *bolt.Tx, ops []walOp) error {
	for _, op := range ops {
		bk, err := tx.CreateBucketIfNotExists([]byte(op.bucket))
		if err != nil {
			return fmt.Errorf("bucket %q: %w", op.bucket, err)
		}
		switch op.kind {
		case opPut:
			err = bk.Put(op.key, op.val)
		case opDelete:
			err = bk.Delete(op.key)
		case opSetSequence:
			err = bk.SetSequence(op.seq)
		}
		if err != nil {
			return fmt.Errorf("bucket %q: %w", op.bucket, err)
		}
	}
	return nil
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
	interval time.Duration // CheckpointInterval
	maxOps   int           // CheckpointOps

	// mu guards closed and the sending side of reqs: senders hold it for
	// reading, Close takes it for writing before it closes reqs.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	// stopped is closed when the committer goroutine has returned (after
	// the syncer's).
	stopped chan struct{}

	closeOnce sync.Once
	closeErr  error

	// cur is what new Views read: the last checkpoint and the overlay.
	cur atomic.Pointer[epoch]
	// failed holds the error that stopped the engine writing, if any.
	failed atomic.Pointer[error]

	// The syncer: it owns wal.
	wal         *walFile
	syncq       chan *syncItem
	syncStopped chan struct{}

	// The committer's state; no other goroutine touches it.
	ltx        *bolt.Tx          // the open write transaction, nil after a checkpoint
	rec        record            // the record of the batch running
	seq        uint64            // seq of the last record made
	dirty      bool              // ltx holds writes since the checkpoint
	pendingOps int               // writes since the checkpoint
	seqs       map[Bucket]uint64 // bucket sequences set since the checkpoint
	// bytesPerRun is a moving average of the record bytes an update
	// function writes.
	bytesPerRun int

	// Counters for tests and benchmarks.
	nBatches    atomic.Int64 // batches formed
	nRecords    atomic.Int64 // log records written
	nSyncs      atomic.Int64 // fdatasyncs of the log
	syncNanos   atomic.Int64 // time spent writing and syncing the log
	nCommits    atomic.Int64 // checkpoints: bbolt transactions committed
	nRollbacks  atomic.Int64 // transactions rolled back for a failed function
	nRuns       atomic.Int64 // update functions run (reruns included)
	commitNanos atomic.Int64 // time spent in bbolt's Commit (writes and fsyncs)
	nPageWrites atomic.Int64 // writes of pages (runs of contiguous pages) by commits

	// waking counts callers that have been sent their answer but have not
	// yet received it (they are waiting to be scheduled).
	waking atomic.Int64
}

// ErrFailed is wrapped by the errors of Updates after writing the log or a
// checkpoint failed: the engine no longer writes. Reopening it recovers.
var ErrFailed = errors.New("kv: engine stopped writing after a storage error")

// Request states.
const (
	statePending int32 = iota
	stateClaimed
	stateCancelled
)

// request is one Update (or control request) waiting for or running in a
// batch.
type request struct {
	fn    func(Tx) error
	ctl   func() error // a control request: run after a checkpoint, alone
	state atomic.Int32
	done  chan error // buffered(1), receives the final result once
	err   error      // result of the last run of fn, set by the committer
}

// claim marks r as taken by the committer. It reports false if the caller
// gave up first (its ctx was done).
func (r *request) claim() bool {
	return r.state.CompareAndSwap(statePending, stateClaimed)
}

// syncItem is what the committer hands the syncer, in order: a batch to
// make durable (rec, or nil if it wrote nothing) and answer, a barrier to
// close once everything before it is answered, or a rewind of the log.
type syncItem struct {
	seq     uint64
	rec     []byte
	ep      *epoch // the epoch whose overlay holds the batch's writes
	written []Bucket
	reqs    []*request
	err     error // if set, the answer of every request (nothing written)
	barrier chan struct{}
	rewind  bool
}

// failure returns the error that stopped the engine writing, or nil.
func (e *boltEngine) failure() error {
	if p := e.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail stops the engine writing because of err (the first error stays).
func (e *boltEngine) fail(err error) {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	if e.failed.CompareAndSwap(nil, &err) {
		e.log.Error("kv: storage error; no more writes until the database is reopened", "err", err)
	}
}

// View implements Engine. It reads bbolt's last checkpoint through the
// overlay of the durable writes made since.
func (e *boltEngine) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed() {
		return ErrClosed
	}
	btx, ep, err := e.beginRead()
	if err != nil {
		return err
	}
	defer func() { _ = btx.Rollback() }()
	tx := &boltTx{e: e, tx: btx, ep: ep, snap: ep.durable.Load()}
	defer func() { tx.done = true }()
	return fn(tx)
}

// beginRead begins a bbolt read transaction and returns it with the epoch
// that matches it. Right after a checkpoint commits, bbolt may already show
// it while cur is still the epoch before; then it tries again.
func (e *boltEngine) beginRead() (*bolt.Tx, *epoch, error) {
	for {
		ep := e.cur.Load()
		btx, err := e.db.Begin(false)
		if err != nil {
			if errors.Is(err, bolt.ErrDatabaseNotOpen) {
				return nil, nil, ErrClosed
			}
			return nil, nil, fmt.Errorf("kv: begin read transaction on %s: %w", e.path, err)
		}
		if btx.ID() == ep.txid {
			return btx, ep, nil
		}
		_ = btx.Rollback()
		if err := e.failure(); err != nil {
			// A checkpoint failed after bbolt wrote its meta page:
			// what bbolt shows no longer matches the overlay.
			return nil, nil, err
		}
		runtime.Gosched()
	}
}

// Update implements Engine. See OpenBolt for how updates are batched.
func (e *boltEngine) Update(ctx context.Context, fn func(Tx) error) error {
	if err := e.failure(); err != nil {
		return err
	}
	return e.submit(ctx, &request{fn: fn, done: make(chan error, 1)})
}

// control runs fn on the committer goroutine once everything submitted
// before is durable and checkpointed into bbolt, with no write transaction
// open.
func (e *boltEngine) control(ctx context.Context, fn func() error) error {
	return e.submit(ctx, &request{ctl: fn, done: make(chan error, 1)})
}

// submit queues r for the committer and waits for its answer.
func (e *boltEngine) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
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

// WriteTo implements Engine. It checkpoints, then copies that checkpoint
// while writers keep running; a done ctx aborts the copy.
func (e *boltEngine) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	var btx *bolt.Tx
	err := e.control(ctx, func() error {
		var err error
		btx, err = e.db.Begin(false)
		return err
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return 0, ErrClosed
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = btx.Rollback() }()
	n, err := btx.WriteTo(&ctxWriter{ctx: ctx, w: w})
	if err != nil {
		return n, fmt.Errorf("kv: backup %s: %w", e.path, err)
	}
	return n, nil
}

// maxCheckErrors bounds how many problems Check reports.
const maxCheckErrors = 100

// Check implements Engine. It checkpoints and runs bbolt's consistency
// check on the committer goroutine (bbolt's check reads the freelist, which
// a writer would change), so Updates wait while it runs. The returned error
// joins up to 100 problems found.
func (e *boltEngine) Check(ctx context.Context) error {
	var errs []error
	extra := 0
	err := e.control(ctx, func() error {
		return e.db.View(func(tx *bolt.Tx) error {
			// The channel must be drained completely: the checker
			// goroutine reads the transaction until it closes it.
			for err := range tx.Check() {
				if len(errs) < maxCheckErrors {
					errs = append(errs, err)
				} else {
					extra++
				}
			}
			return nil
		})
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

// Close implements Engine. Updates already submitted are run and made
// durable, and a last checkpoint puts everything into bbolt; later Updates
// fail with ErrClosed. Close then waits for running Views and closes the
// files. Calling Close again returns the first result.
func (e *boltEngine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		close(e.reqs)
		e.mu.Unlock()
		<-e.stopped
		var errs []error
		if err := e.failure(); err != nil {
			errs = append(errs, err)
		}
		if err := e.wal.close(); err != nil {
			errs = append(errs, err)
		}
		if err := e.db.Close(); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			e.closeErr = fmt.Errorf("kv: close %s: %w", e.path, errors.Join(errs...))
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
// runs them until e.reqs is closed and drained, checkpointing as it goes,
// then makes a last checkpoint and stops the syncer.
//
// A batch is the first waiting request plus every request already queued.
// Before running it, the committer also yields (runtime.Gosched, no timer)
// for as long as callers answered before have not yet woken up: a caller in
// a loop submits its next Update at once, and without this it would form a
// tiny batch of the first few to wake up. A lone writer has woken up by the
// time its next request arrives, so it never waits.
func (e *boltEngine) commitLoop() {
	defer close(e.stopped)
	defer func() {
		e.checkpoint()
		close(e.syncq)
		<-e.syncStopped
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*request, 0, e.maxBatch)
	var held *request // a control request that ended the last batch
	for {
		r := held
		held = nil
		if r == nil {
			var ok bool
			if e.dirty {
				select {
				case r, ok = <-e.reqs:
				case <-timer.C:
					e.checkpoint()
					continue
				}
			} else {
				r, ok = <-e.reqs
			}
			if !ok {
				return
			}
		}
		if r.ctl != nil {
			if r.claim() {
				err := e.checkpoint()
				if err == nil {
					err = r.ctl()
				}
				e.answer(r, err)
			}
			continue
		}
		batch = batch[:0]
		if r.claim() {
			batch = append(batch, r)
		}
		batch, held = e.drain(batch)
		for n := 0; held == nil && n < maxGatherYields && len(batch) < e.maxBatch && e.waking.Load() > 0; n++ {
			runtime.Gosched()
			batch, held = e.drain(batch)
		}
		if len(batch) > 0 {
			wasDirty := e.dirty
			e.nBatches.Add(1)
			e.runBatch(batch)
			if e.pendingOps >= e.maxOps {
				e.checkpoint()
			} else if e.dirty && !wasDirty {
				timer.Reset(e.interval)
			}
		}
		clear(batch[:cap(batch)]) // let answered requests be collected
	}
}

// drain moves queued requests into batch, without waiting, until batch has
// maxBatch requests, the queue is empty or closed, or it meets a control
// request, which it returns to be run after the batch.
func (e *boltEngine) drain(batch []*request) ([]*request, *request) {
	for len(batch) < e.maxBatch {
		select {
		case r, ok := <-e.reqs:
			if !ok {
				return batch, nil
			}
			if r.ctl != nil {
				return batch, r
			}
			if r.claim() {
				batch = append(batch, r)
			}
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// runBatch runs batch until every request has been handed to the syncer
// with its answer.
//
// When a function fails after writing (or panics), the transaction is
// rolled back and the other functions are run again. The first time, they
// all run again together. If it happens again in the same batch, the
// functions before the failing one (which just ran cleanly) are recorded on
// their own and the rest continue in a new record, so that a batch full of
// failing functions costs at most three runs per function instead of a
// number of runs quadratic in the batch size.
func (e *boltEngine) runBatch(batch []*request) {
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

// tryBatch runs the requests of batch in order in the write transaction. If
// one of them fails after writing (or panics), it rebuilds the transaction
// as it was before the batch, hands that one to the syncer with its error
// and returns its index: the others must be run again. Otherwise it puts
// the batch's writes in the overlay, hands the batch (and its record, if it
// wrote) to the syncer and returns -1.
func (e *boltEngine) tryBatch(batch []*request) int {
	if err := e.failure(); err != nil {
		e.syncq <- &syncItem{reqs: slices.Clone(batch), err: err}
		return -1
	}
	if e.ltx == nil {
		btx, err := e.db.Begin(true)
		if err != nil {
			err = fmt.Errorf("kv: begin write transaction on %s: %w", e.path, err)
			e.log.Error("kv: cannot begin write transaction", "err", err, "batch", len(batch))
			e.syncq <- &syncItem{reqs: slices.Clone(batch), err: err}
			return -1
		}
		e.ltx = btx
	}
	// Size the record for the batch from the bytes recent functions wrote,
	// so that it is allocated once, not grown by copying.
	e.rec.reset(e.seq+1, walHeaderLen+len(batch)*(e.bytesPerRun+e.bytesPerRun/4))
	wrote := false
	var written []Bucket // by the functions of this batch
	for i, r := range batch {
		tx := &boltTx{e: e, tx: e.ltx, writable: true}
		err, panicked := e.run(r.fn, tx)
		e.nRuns.Add(1)
		if err != nil && (tx.wrote || panicked) {
			if rerr := e.rebuild(); rerr != nil {
				e.fail(fmt.Errorf("rebuild the write transaction of %s: %w", e.path, rerr))
			}
			r.err = err
			e.syncq <- &syncItem{reqs: []*request{r}}
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
	e.bytesPerRun = (7*e.bytesPerRun + len(e.rec.buf)/len(batch)) / 8
	it := &syncItem{reqs: slices.Clone(batch)}
	if wrote {
		e.seq++
		ep := e.cur.Load()
		for _, op := range e.rec.ops {
			switch op.kind {
			case opPut:
				ep.lists[op.bucket].insert(op.key, op.val, false, e.seq)
			case opDelete:
				ep.lists[op.bucket].insert(op.key, nil, true, e.seq)
			case opSetSequence:
				e.seqs[op.bucket] = op.seq
			}
		}
		e.pendingOps += len(e.rec.ops)
		e.dirty = true
		it.seq, it.rec, it.ep, it.written = e.seq, e.rec.seal(), ep, written
	}
	e.syncq <- it
	return -1
}

// rebuild rolls back the write transaction and begins a new one holding
// the writes since the checkpoint, from the overlay.
func (e *boltEngine) rebuild() error {
	_ = e.ltx.Rollback()
	e.ltx = nil
	btx, err := e.db.Begin(true)
	if err != nil {
		return err
	}
	for b, l := range e.cur.Load().lists {
		bk := btx.Bucket(e.names[b])
		l.latest(func(n *ovNode) {
			if err != nil {
				return
			}
			if n.del {
				err = bk.Delete(n.key)
			} else {
				err = bk.Put(n.key, n.val)
			}
		})
		if s, ok := e.seqs[b]; ok && err == nil {
			err = bk.SetSequence(s)
		}
		if err != nil {
			_ = btx.Rollback()
			return err
		}
	}
	e.ltx = btx
	return nil
}

// checkpoint waits until the syncer has answered everything handed to it,
// then commits the write transaction into bbolt (if it wrote), starts a new
// epoch with an empty overlay and has the log rewound.
func (e *boltEngine) checkpoint() error {
	done := make(chan struct{})
	e.syncq <- &syncItem{barrier: done}
	<-done
	if err := e.failure(); err != nil {
		if e.ltx != nil {
			_ = e.ltx.Rollback()
			e.ltx = nil
		}
		return err
	}
	if e.ltx == nil {
		return nil
	}
	if !e.dirty {
		_ = e.ltx.Rollback()
		e.ltx = nil
		return nil
	}
	btx := e.ltx
	e.ltx = nil
	err := btx.Bucket([]byte(internalBucket)).Put(appliedKey, binary.BigEndian.AppendUint64(nil, e.seq))
	if err != nil {
		_ = btx.Rollback()
		err = fmt.Errorf("checkpoint %s: %w", e.path, err)
		e.fail(err)
		return err
	}
	txid := btx.ID()
	start := time.Now()
	err = btx.Commit()
	e.commitNanos.Add(int64(time.Since(start)))
	st := btx.Stats()
	e.nPageWrites.Add(st.GetWrite())
	if err != nil {
		err = fmt.Errorf("checkpoint %s: %w", e.path, err)
		e.fail(err)
		return err
	}
	e.nCommits.Add(1)
	e.cur.Store(newEpoch(txid, e.seq, e.names))
	clear(e.seqs)
	e.pendingOps = 0
	e.dirty = false
	e.syncq <- &syncItem{rewind: true}
	return nil
}

// syncLoop is the syncer goroutine: it takes what the committer hands it,
// as many items at a time as are waiting, writes their records to the log
// with one fdatasync, publishes them to Views and answers their callers.
func (e *boltEngine) syncLoop() {
	defer close(e.syncStopped)
	var items []*syncItem
	for it := range e.syncq {
		items = append(items[:0], it)
	gather:
		for len(items) < cap(e.syncq) {
			select {
			case it, ok := <-e.syncq:
				if !ok {
					break gather
				}
				items = append(items, it)
			default:
				break gather
			}
		}
		e.syncItems(items)
		clear(items)
	}
}

// syncItems handles items in order. Batches between barriers and rewinds
// share one fdatasync.
func (e *boltEngine) syncItems(items []*syncItem) {
	start := 0
	for i, it := range items {
		if it.barrier == nil && !it.rewind {
			continue
		}
		e.syncBatches(items[start:i])
		start = i + 1
		if it.rewind {
			e.wal.rewind()
		} else {
			close(it.barrier)
		}
	}
	e.syncBatches(items[start:])
}

// syncBatches writes the records of batches, fdatasyncs once, then
// publishes and answers each batch in order.
func (e *boltEngine) syncBatches(batches []*syncItem) {
	if len(batches) == 0 {
		return
	}
	err := e.failure()
	if err == nil {
		start := time.Now()
		n := 0
		for _, it := range batches {
			if it.rec == nil {
				continue
			}
			if err = e.wal.write(it.rec); err != nil {
				break
			}
			n++
		}
		if err == nil && n > 0 {
			err = e.wal.sync()
			e.nSyncs.Add(1)
		}
		e.nRecords.Add(int64(n))
		e.syncNanos.Add(int64(time.Since(start)))
		if err != nil {
			e.fail(fmt.Errorf("write log %s: %w", walPath(e.path), err))
			err = e.failure()
		}
	}
	for _, it := range batches {
		if err == nil && it.rec != nil {
			it.ep.durable.Store(it.seq)
			// Before any caller hears of it (see Engine.Writes).
			for _, b := range it.written {
				e.writes[b].Add(1)
			}
		}
		for _, r := range it.reqs {
			switch {
			case it.err != nil:
				e.answer(r, it.err)
			case err != nil:
				e.answer(r, err)
			default:
				e.answer(r, r.err)
			}
		}
	}
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
		Records:    e.nRecords.Load(),
		Syncs:      e.nSyncs.Load(),
		SyncTime:   time.Duration(e.syncNanos.Load()),
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

// boltTx is the Tx given to View and Update functions. An Update's reads
// and writes go to the write transaction (which holds every write since
// the checkpoint) and its writes are also recorded for the log. A View
// reads bbolt's checkpoint through the epoch's overlay at seq snap.
type boltTx struct {
	e        *boltEngine
	tx       *bolt.Tx
	writable bool
	wrote    bool     // a Put, Delete or NextSequence succeeded
	written  []Bucket // the buckets written to
	done     bool     // the function returned; the Tx must not be used
	ep       *epoch   // View only
	snap     uint64   // View only: the newest seq visible
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

// overlay returns the overlay a View must read bucket b through, or nil.
func (t *boltTx) overlay(b Bucket) *skiplist {
	if t.ep == nil {
		return nil
	}
	if l := t.ep.lists[b]; !l.empty() {
		return l
	}
	return nil
}

// Get implements Tx. A key stored with an empty value yields a non-nil empty
// slice.
func (t *boltTx) Get(b Bucket, key []byte) ([]byte, error) {
	bk, err := t.bucket(b)
	if err != nil {
		return nil, err
	}
	if l := t.overlay(b); l != nil {
		if n := l.get(key, t.snap); n != nil {
			if n.del {
				return nil, nil
			}
			return bytes.Clone(n.val), nil
		}
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
	rec := &t.e.rec
	nbuf, nops := len(rec.buf), len(rec.ops)
	k, v := rec.put(b, key, value)
	if err := bk.Put(k, v); err != nil {
		rec.buf, rec.ops = rec.buf[:nbuf], rec.ops[:nops]
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
	rec := &t.e.rec
	nbuf, nops := len(rec.buf), len(rec.ops)
	k := rec.delete(b, key)
	if err := bk.Delete(k); err != nil {
		rec.buf, rec.ops = rec.buf[:nbuf], rec.ops[:nops]
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
	t.e.rec.setSequence(b, n)
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
	l := t.overlay(b)
	c := bk.Cursor()
	if !reverse {
		var k, v []byte
		if start == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(start)
		}
		var o *ovNode
		if l != nil {
			o = l.first(start, t.snap)
		}
		for {
			if k != nil && end != nil && bytes.Compare(k, end) >= 0 {
				k = nil
			}
			if o != nil && end != nil && bytes.Compare(o.key, end) >= 0 {
				o = nil
			}
			var ek, ev []byte
			switch {
			case k == nil && o == nil:
				return nil
			case o == nil || (k != nil && bytes.Compare(k, o.key) < 0):
				ek, ev = k, v
				k, v = c.Next()
			default: // the overlay's key comes first or replaces bbolt's
				if k != nil && bytes.Equal(k, o.key) {
					k, v = c.Next()
				}
				if !o.del {
					ek, ev = o.key, o.val
				}
				o = l.nextVisible(o, t.snap)
			}
			if ek != nil && !fn(ek, ev) {
				return nil
			}
		}
	}
	// In reverse, the overlay's versions in range are collected first (a
	// skiplist only goes forward); there are at most the writes since the
	// last checkpoint.
	var ov []*ovNode
	if l != nil {
		for o := l.first(start, t.snap); o != nil; o = l.nextVisible(o, t.snap) {
			if end != nil && bytes.Compare(o.key, end) >= 0 {
				break
			}
			ov = append(ov, o)
		}
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
	i := len(ov) - 1
	for {
		if k != nil && start != nil && bytes.Compare(k, start) < 0 {
			k = nil
		}
		var ek, ev []byte
		switch {
		case k == nil && i < 0:
			return nil
		case i < 0 || (k != nil && bytes.Compare(k, ov[i].key) > 0):
			ek, ev = k, v
			k, v = c.Prev()
		default:
			o := ov[i]
			i--
			if k != nil && bytes.Equal(k, o.key) {
				k, v = c.Prev()
			}
			if !o.del {
				ek, ev = o.key, o.val
			}
		}
		if ek != nil && !fn(ek, ev) {
			return nil
		}
	}
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
