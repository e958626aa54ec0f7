package kv

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forumhq/forum/server/store/kv/wal"
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

	// NoSync skips the fsyncs of the log and of checkpoints, so Update no
	// longer guarantees durability: a crash of the machine can lose or
	// corrupt committed data.
	// It exists only for benchmarks and tests that say so; never set it in
	// forumd.
	NoSync bool

	// NoFreelistSync leaves bbolt's list of free pages out of checkpoints
	// (bbolt's NoFreelistSync, as etcd runs it). By default every
	// checkpoint writes it, so that opening a file reads the list instead
	// of rebuilding it by visiting every page: with it, forumd starts in
	// the same ~50-130 ms at 10 k and 5 M replies; without, opening took
	// 39 s at 1 M replies (3.9 GiB) and 195 s at 5 M, cold, and left half
	// the file resident (docs/PERFORMANCE.md, "Startup and memory at
	// size"). A checkpoint then writes the list too, a few pages, which
	// cost nothing measurable in the CreateReply benchmark. Durability is
	// the same either way. The first open after a change of this setting
	// rebuilds (or drops) the list once.
	NoFreelistSync bool

	// Logger receives errors that the engine cannot return to a caller
	// (panics in update functions, storage errors). Nil means
	// slog.Default().
	Logger *slog.Logger

	// WALFS opens the files of the write-ahead log. Nil means wal.OS;
	// tests wrap it to inject failures.
	WALFS wal.FS
}

// Errors of OpenBolt when the write-ahead log cannot be recovered. The
// engine then refuses to open, and the error says what was found and
// where; RepairBolt salvages a damaged or unreadable log.
var (
	// ErrLogDamaged: a file of the log is damaged (*wal.CorruptError).
	ErrLogDamaged = wal.ErrCorrupt
	// ErrLogUnreadable: a file of the log could not be read.
	ErrLogUnreadable = wal.ErrRead
	// ErrLogForeign: the log is of another database, or newer than the
	// database file (an older copy of it was put in its place).
	ErrLogForeign = wal.ErrForeign
	// ErrLogVersion: the log has a format version this engine does not
	// know (it was written by a newer forumd).
	ErrLogVersion = wal.ErrVersion
)

// ErrTooLarge is returned by Update when its function writes more than
// MaxUpdateSize bytes.
var ErrTooLarge = errors.New("kv: transaction too large")

// MaxUpdateSize bounds what one Update function may write (keys, values
// and their framing), so that a batch's record, which ends once it holds
// this much, stays within the log's wal.MaxRecordSize.
const MaxUpdateSize = wal.MaxRecordSize / 2

// OpenBolt opens (creating it if needed) the bbolt database file at path and
// its write-ahead log (path+"-wal.0" and path+"-wal.1"), applies what the
// log holds beyond the database's last checkpoint, creates the given
// buckets, and returns an Engine over them.
//
// Three goroutines do the writing:
//
//   - The committer runs Updates. It takes the first waiting Update, adds
//     every other Update already waiting (up to MaxBatch) and runs them in
//     order. An Update function reads bbolt's last checkpoint through the
//     overlay (overlay.go) and its own writes; what it writes goes to a
//     buffer. When it returns nil, its writes join the overlay, where the
//     next functions see them; when it fails or panics, they are dropped,
//     and the other functions of the batch are not disturbed. The batch's
//     writes go to the syncer as one log record. There is no timer: a lone
//     writer is run at once (see commitLoop for the one exception, callers
//     of the previous batch still waking up).
//   - The syncer writes the records handed to it since its last fdatasync
//     and makes them durable with one more. Only then do they become visible
//     to Views and their callers get their answers. Meanwhile the committer
//     already runs the next batch. Answers keep the order of the batches, so
//     a function that failed, or read without writing, is answered only once
//     what it read is durable.
//   - The checkpointer, every CheckpointInterval (or sooner once
//     CheckpointOps writes are waiting), switches the log to its other file,
//     applies the durable writes of the overlay to bbolt in one write
//     transaction, commits it (bbolt's own two fsyncs) with the seq of the
//     last record it holds and the log's generation, and swaps the overlay
//     for one without them. Then it readies the file the log left for its
//     next use (wal.Log.PrepareSpare: cut back after a burst, or
//     zero-filled ahead if new; a used file is reused as it is, since the
//     log stamps every sector with its generation). The committer and the
//     syncer keep running meanwhile. A crash loses no acknowledged write: the next
//     OpenBolt applies the log's records after that seq.
//
// OpenBolt refuses to open on a log it cannot recover without losing an
// acknowledged write (package wal: damage followed by more of the log, a
// read error, a log of another database or one newer than the file, an
// unknown format version): the error wraps ErrLogDamaged,
// ErrLogUnreadable, ErrLogForeign or ErrLogVersion, says what was found
// and where, and nothing is changed; RepairBolt salvages a damaged log.
// What recovery discards (a torn last record, a stale file) it logs at
// WARN.
//
// If writing the log, or a checkpoint, fails, the engine stops writing:
// the Updates of that batch and every later one fail with an error wrapping
// ErrFailed and the cause, Err returns it and Failed is closed, while Views
// keep answering from what was durable (also after a checkpoint whose meta
// page bbolt wrote but could not fsync). Reopening recovers from the log
// (which may then include the failed batch, if it reached the disk after
// all).
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
// go.etcd.io/bbolt/errors.ErrTimeout.
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
	if opts.WALFS == nil {
		opts.WALFS = wal.OS
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
		NoFreelistSync:  opts.NoFreelistSync,
		InitialMmapSize: opts.InitialMmapSize,
		NoSync:          opts.NoSync,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("kv: open %s: database is locked by another process (is another forumd running?): %w", path, err)
		}
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	log := opts.Logger.With("db", path)
	// The file lock is ours: the log is too.
	wlog, seq, err := recoverWAL(db, path, names, opts, log)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}
	bucketSeq := make(map[Bucket]uint64, len(names))
	var txid int
	err = db.View(func(tx *bolt.Tx) error {
		txid = tx.ID()
		for b, name := range names {
			bucketSeq[b] = tx.Bucket(name).Sequence()
		}
		return nil
	})
	if err != nil {
		_ = wlog.Close()
		_ = db.Close()
		return nil, fmt.Errorf("kv: open %s: %w", path, err)
	}

	e := &boltEngine{
		db:          db,
		path:        path,
		names:       names,
		writes:      writes,
		log:         log,
		maxBatch:    opts.MaxBatch,
		interval:    opts.CheckpointInterval,
		maxOps:      int64(opts.CheckpointOps),
		reqs:        make(chan *request, opts.MaxBatch),
		stopped:     make(chan struct{}),
		wal:         wlog,
		walSeq:      seq,
		commitTx:    (*bolt.Tx).Commit,
		syncq:       make(chan *syncItem, 4*opts.MaxBatch),
		syncStopped: make(chan struct{}),
		ckptKick:    make(chan struct{}, 1),
		ckptCtl:     make(chan *control),
		ckptStop:    make(chan struct{}),
		ckptDone:    make(chan struct{}),
		failedCh:    make(chan struct{}),
		seq:         seq,
		bucketSeq:   bucketSeq,
	}
	e.durable.Store(seq)
	e.cur.Store(e.openEpoch(txid, seq))
	go e.syncLoop()
	go e.checkpointLoop()
	go e.commitLoop()
	return e, nil
}

// readState reads what the database records of its log: the seq of the
// last record applied, its identity and the log's generation at the last
// checkpoint. legacy reports a database written before the log had a
// header (it has applied but no identity); fresh, one that has no
// internal bucket yet.
func readState(db *bolt.DB) (st wal.State, fresh, legacy bool, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		ib := tx.Bucket([]byte(internalBucket))
		if ib == nil {
			fresh = true
			return nil // a new database, or one from before the log
		}
		if v := ib.Get(appliedKey); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("internal bucket: bad %q value", appliedKey)
			}
			st.Applied = binary.BigEndian.Uint64(v)
		}
		v := ib.Get(idKey)
		if v == nil {
			legacy = true
			return nil
		}
		if len(v) != len(st.ID) {
			return fmt.Errorf("internal bucket: bad %q value", idKey)
		}
		copy(st.ID[:], v)
		if v := ib.Get(genKey); len(v) == 8 {
			st.Gen = binary.BigEndian.Uint64(v)
		} else {
			return fmt.Errorf("internal bucket: bad %q value", genKey)
		}
		return nil
	})
	return st, fresh, legacy, err
}

// recoverWAL creates the buckets, reads both files of the log and applies
// the records that follow the database's last checkpoint, all in one bbolt
// transaction that also records the log's next generation; then it starts
// the log anew. It returns the log and the seq of the last record.
func recoverWAL(db *bolt.DB, path string, names map[Bucket][]byte, opts BoltOptions, log *slog.Logger) (*wal.Log, uint64, error) {
	st, fresh, legacy, err := readState(db)
	if err != nil {
		return nil, 0, err
	}
	var recs []wal.Record
	var nextGen uint64
	switch {
	case legacy:
		// A log of format version 0, from an older forumd: its records
		// after the checkpoint, once, and from then on the framed log.
		for i := range 2 {
			rs, err := wal.ReadV0(opts.WALFS, path, i, st.Applied)
			if err != nil {
				return nil, 0, err
			}
			recs = append(recs, rs...)
		}
		slices.SortFunc(recs, func(a, b wal.Record) int { return cmp.Compare(a.Seq, b.Seq) })
		for i, r := range recs {
			if r.Seq != st.Applied+1+uint64(i) {
				return nil, 0, fmt.Errorf("%w: the log %s-wal.* continues at record %d, but the database holds records up to %d only",
					ErrLogDamaged, path, r.Seq, st.Applied+uint64(i))
			}
		}
		if _, err := rand.Read(st.ID[:]); err != nil {
			return nil, 0, err
		}
		nextGen = 2
	default:
		if fresh {
			if _, err := rand.Read(st.ID[:]); err != nil {
				return nil, 0, err
			}
		}
		rec, err := wal.Recover(opts.WALFS, path, st)
		if err != nil {
			return nil, 0, err
		}
		for _, w := range rec.Warnings {
			log.Warn("kv: log recovery: "+w, "records_recovered", len(rec.Records))
		}
		recs, nextGen = rec.Records, rec.NextGen
	}
	seq := st.Applied
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
		for _, r := range recs {
			ops, err := decodeRecord(r.Payload)
			if err != nil {
				return fmt.Errorf("%w: log record %d: %w", ErrLogDamaged, r.Seq, err)
			}
			if err := applyOps(tx, ops); err != nil {
				return fmt.Errorf("replay log record %d: %w", r.Seq, err)
			}
			seq = r.Seq
		}
		if err := ib.Put(appliedKey, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		if err := ib.Put(idKey, st.ID[:]); err != nil {
			return err
		}
		return ib.Put(genKey, binary.BigEndian.AppendUint64(nil, nextGen))
	})
	if err != nil {
		return nil, 0, err
	}
	if len(recs) > 0 {
		log.Info("kv: recovered writes from the log", "records", len(recs), "last", seq)
	}
	if legacy {
		log.Info("kv: the log now uses the framed format", "version", wal.Version)
	}
	wlog, err := wal.Create(opts.WALFS, path, st.ID, nextGen, seq+1, opts.NoSync)
	if err != nil {
		return nil, 0, err
	}
	return wlog, seq, nil
}

// RepairBolt salvages the write-ahead log of the database at path, which
// must not be open: it saves each damaged or unreadable file of the log
// aside (path-wal.N.broken) and cuts it where its valid records end, so
// that OpenBolt then recovers the records before the damage and drops the
// ones after it. It returns what it did (nothing if the log was sound). It
// refuses a log of another database or of an unknown version.
func RepairBolt(path string, opts BoltOptions) ([]wal.Repaired, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultBoltTimeout
	}
	if opts.WALFS == nil {
		opts.WALFS = wal.OS
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoFreelistSync: opts.NoFreelistSync, FreelistType: bolt.FreelistMapType, ReadOnly: true})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("kv: repair %s: database is locked by another process (stop forumd first): %w", path, err)
		}
		return nil, fmt.Errorf("kv: repair %s: %w", path, err)
	}
	defer db.Close()
	st, fresh, legacy, err := readState(db)
	if err != nil {
		return nil, fmt.Errorf("kv: repair %s: %w", path, err)
	}
	if legacy {
		return nil, fmt.Errorf("kv: repair %s: the log has the format of an older forumd, which repair does not read; start forumd once to convert it", path)
	}
	if fresh {
		st = wal.State{}
	}
	done, _, err := wal.Repair(opts.WALFS, path, st)
	if err != nil {
		return done, fmt.Errorf("kv: repair %s: %w", path, err)
	}
	return done, nil
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
	maxOps   int64         // CheckpointOps

	// mu guards closed and the sending side of reqs and ckptCtl: senders
	// hold it for reading, Close takes it for writing before it closes
	// reqs.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	// stopped is closed when the committer, the checkpointer and the
	// syncer have returned.
	stopped chan struct{}

	closeOnce sync.Once
	closeErr  error

	// cur is the epoch transactions read: the last checkpoint and the
	// overlay of the writes since. The checkpointer replaces it, holding
	// insertMu.
	cur atomic.Pointer[epoch]
	// durable is the seq of the last record known to be on disk: the
	// newest versions a new View may see.
	durable atomic.Uint64
	// insertMu is held by the committer while it runs a batch (which adds
	// to cur's overlay) and by the checkpointer while it replaces cur.
	insertMu sync.Mutex
	// failed holds the error that stopped the engine writing, if any.
	failed atomic.Pointer[error]
	// failedCh is closed when failed is set.
	failedCh chan struct{}
	// opsSince counts the writes in the overlay, roughly (the committer
	// adds, the checkpointer resets).
	opsSince atomic.Int64

	// The syncer owns wal (but see wal.Log for PrepareSpare) and walSeq,
	// the seq of the last record it wrote.
	wal         *wal.Log
	walSeq      uint64
	syncq       chan *syncItem
	syncStopped chan struct{}

	// The checkpointer.
	ckptKick chan struct{} // buffered(1): enough writes are waiting
	ckptCtl  chan *control
	ckptStop chan struct{}
	ckptDone chan struct{}

	// The committer's state; no other goroutine touches it.
	rec       record            // the record of the batch running
	locals    []localWrite      // a buffer for the local writes of Update functions
	seq       uint64            // seq of the last record made
	bucketSeq map[Bucket]uint64 // each bucket's sequence, as the overlay has it
	// bytesPerRun is a moving average of the record bytes an update
	// function writes.
	bytesPerRun int

	// Counters for tests and benchmarks.
	nBatches    atomic.Int64 // batches formed
	nRecords    atomic.Int64 // log records written
	nSyncs      atomic.Int64 // fdatasyncs of the log
	syncNanos   atomic.Int64 // time spent writing and syncing the log
	nCommits    atomic.Int64 // checkpoints: bbolt transactions committed
	nRollbacks  atomic.Int64 // update functions whose writes were dropped (they failed)
	nRuns       atomic.Int64 // update functions run
	commitNanos atomic.Int64 // time spent in bbolt's Commit (writes and fsyncs)
	nPageWrites atomic.Int64 // writes of pages (runs of contiguous pages) by commits

	// waking counts callers that have been sent their answer but have not
	// yet received it (they are waiting to be scheduled).
	waking atomic.Int64

	// testSyncHook, if set (by tests, before any Update), is called by the
	// syncer before it writes each group of batches.
	testSyncHook func()
	// commitTx commits a checkpoint's bbolt transaction: (*bolt.Tx).Commit,
	// or a failing one in tests.
	commitTx func(*bolt.Tx) error
}

// ErrFailed is wrapped by the errors of Updates after writing the log or a
// checkpoint failed: the engine no longer writes. Reopening it recovers.
var ErrFailed = errors.New("kv: writes are stopped after a storage error")

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
	err   error      // result of fn, set by the committer
}

// claim marks r as taken by the committer. It reports false if the caller
// gave up first (its ctx was done).
func (r *request) claim() bool {
	return r.state.CompareAndSwap(statePending, stateClaimed)
}

// control is a function the checkpointer runs right after a checkpoint.
type control struct {
	fn   func() error
	done chan error // buffered(1)
}

// syncItem is what the syncer is handed, in order: a batch to make durable
// (rec, or nil if it wrote nothing) and answer, a barrier to close once
// everything before it is answered, or a switch of the log to its other
// file, closed once done.
type syncItem struct {
	seq     uint64
	rec     []byte
	written []Bucket
	reqs    []*request
	err     error // if set, the answer of every request (nothing written)
	barrier chan struct{}
	rotate  chan struct{}
	// Set by the syncer before it closes rotate: the generation and index
	// of the file now current.
	gen     uint64
	current int
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
		close(e.failedCh)
	}
}

// Err implements Engine.
func (e *boltEngine) Err() error { return e.failure() }

// Failed implements Engine.
func (e *boltEngine) Failed() <-chan struct{} { return e.failedCh }

// View implements Engine. It reads bbolt's last checkpoint through the
// overlay of the durable writes made since.
func (e *boltEngine) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.isClosed() {
		return ErrClosed
	}
	h, err := e.acquireRead()
	if err != nil {
		return err
	}
	defer h.release()
	// Versions are added to an epoch in seq order until it is replaced, so
	// whatever this epoch holds up to snap is a consistent state.
	tx := &boltTx{e: e, tx: h.tx, ep: h.ep, shared: h.shared, snap: e.durable.Load()}
	defer func() { tx.done = true }()
	return fn(tx)
}

// readHandle is a read transaction on an epoch's checkpoint: the epoch's
// shared one, or one of its own.
type readHandle struct {
	tx     *bolt.Tx
	ep     *epoch
	shared bool
}

func (h readHandle) release() {
	if h.shared {
		h.ep.release()
	} else {
		_ = h.tx.Rollback()
	}
}

// acquireRead returns a read transaction on the current epoch's
// checkpoint: the shared one unless a checkpoint is retiring it.
func (e *boltEngine) acquireRead() (readHandle, error) {
	if ep := e.cur.Load(); ep.acquire() {
		return readHandle{tx: ep.rtx, ep: ep, shared: true}, nil
	}
	btx, ep, err := e.beginRead()
	if err != nil {
		return readHandle{}, err
	}
	return readHandle{tx: btx, ep: ep}, nil
}

// openEpoch makes the epoch of the checkpoint bbolt committed as
// transaction txid (holding the records up to base), with its shared read
// transaction.
func (e *boltEngine) openEpoch(txid int, base uint64) *epoch {
	ep := newEpoch(txid, base, e.names)
	rtx, err := e.db.Begin(false)
	if err != nil {
		e.log.Error("kv: cannot begin the shared read transaction", "err", err)
		return ep
	}
	if rtx.ID() != txid {
		// Cannot happen: only the checkpointer commits. Without a shared
		// transaction, readers begin their own and check.
		_ = rtx.Rollback()
		return ep
	}
	ep.rtx = rtx
	ep.bks = make(map[Bucket]*bolt.Bucket, len(e.names))
	for b, name := range e.names {
		ep.bks[b] = rtx.Bucket(name)
	}
	return ep
}

// beginRead begins a bbolt read transaction and returns it with the epoch
// that matches it. Right after a checkpoint commits, bbolt may already show
// it while cur is still the epoch before; then it tries again.
func (e *boltEngine) beginRead() (*bolt.Tx, *epoch, error) {
	for {
		ep := e.cur.Load()
		btx, err := e.db.Begin(false)
		if err != nil {
			if errors.Is(err, berrors.ErrDatabaseNotOpen) {
				return nil, nil, ErrClosed
			}
			return nil, nil, fmt.Errorf("kv: begin read transaction on %s: %w", e.path, err)
		}
		if btx.ID() == ep.txid {
			return btx, ep, nil
		}
		if e.failure() != nil {
			// A checkpoint failed, perhaps after bbolt wrote its meta
			// page, and no checkpoint will follow. bbolt shows either
			// the epoch's checkpoint or the failed one's, which holds
			// a prefix of the epoch's overlay: read through the
			// overlay, either gives the same answers.
			return btx, ep, nil
		}
		_ = btx.Rollback()
		runtime.Gosched()
	}
}

// Update implements Engine. See OpenBolt for how updates are batched.
func (e *boltEngine) Update(ctx context.Context, fn func(Tx) error) error {
	if err := e.failure(); err != nil {
		return err
	}
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

// runControl has the checkpointer make a checkpoint, so that bbolt holds
// every write acknowledged before, and then run fn (with no other bbolt
// writer). It waits for fn even if ctx is done, since fn may hold
// resources its caller must release.
func (e *boltEngine) runControl(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &control{fn: fn, done: make(chan error, 1)}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return ErrClosed
	}
	e.ckptCtl <- c
	e.mu.RUnlock()
	return <-c.done
}

// WriteTo implements Engine. It checkpoints, then copies that checkpoint
// while writers keep running; a done ctx aborts the copy.
func (e *boltEngine) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	var btx *bolt.Tx
	err := e.runControl(ctx, func() error {
		var err error
		btx, err = e.db.Begin(false)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
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
// check on the checkpointer goroutine, bbolt's only writer (the check reads
// the freelist, which a writer would change). Updates go on meanwhile, but
// the next checkpoint waits. The returned error joins up to 100 problems
// found.
func (e *boltEngine) Check(ctx context.Context) error {
	var errs []error
	extra := 0
	err := e.runControl(ctx, func() error {
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
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
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
		if err := e.wal.Close(); err != nil {
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
// runs them until e.reqs is closed and drained. Then it waits for the
// syncer to answer everything, has the checkpointer make a last checkpoint
// and stop, and stops the syncer.
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
		done := make(chan struct{})
		e.syncq <- &syncItem{barrier: done}
		<-done
		close(e.ckptStop)
		<-e.ckptDone
		close(e.syncq)
		<-e.syncStopped
		// The last checkpoint holds every record: empty the log, so
		// that the next open need not read it.
		if e.failure() == nil && e.durable.Load() == e.cur.Load().base {
			if err := e.wal.Reset(); err != nil {
				e.log.Error("kv: cannot empty the log", "err", err)
			}
		}
	}()
	batch := make([]*request, 0, e.maxBatch)
	var carry []*request // requests a full record left for the next batch
	for {
		batch = append(batch[:0], carry...)
		if len(batch) == 0 {
			r, ok := <-e.reqs
			if !ok {
				return
			}
			if r.claim() {
				batch = append(batch, r)
			}
		}
		var open bool
		batch, open = e.drain(batch)
		for n := 0; open && n < maxGatherYields && len(batch) < e.maxBatch && e.waking.Load() > 0; n++ {
			runtime.Gosched()
			batch, open = e.drain(batch)
		}
		carry = nil
		if len(batch) > 0 {
			e.nBatches.Add(1)
			if rest := e.runBatch(batch); len(rest) > 0 {
				carry = slices.Clone(rest)
			}
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

// beginBatch returns a read transaction on the current epoch's checkpoint,
// with insertMu held, so that the epoch stays current until the batch ends.
func (e *boltEngine) beginBatch() (readHandle, error) {
	for {
		h, err := e.acquireRead()
		if err != nil {
			return h, err
		}
		e.insertMu.Lock()
		if e.cur.Load() == h.ep {
			return h, nil
		}
		e.insertMu.Unlock()
		h.release()
	}
}

// runBatch runs the requests of batch in order, adds the writes of those
// that succeeded to the overlay, and hands the batch (and its record, if it
// wrote) to the syncer. Once the record holds MaxUpdateSize bytes, the
// batch ends: it returns the requests not run, for the next batch.
func (e *boltEngine) runBatch(batch []*request) (rest []*request) {
	it := &syncItem{reqs: slices.Clone(batch)}
	if err := e.failure(); err != nil {
		it.err = err
		e.syncq <- it
		return nil
	}
	h, err := e.beginBatch()
	ep := h.ep
	if err != nil {
		e.log.Error("kv: cannot begin a batch", "err", err, "batch", len(batch))
		it.err = err
		e.syncq <- it
		return nil
	}
	seq := e.seq + 1
	// Size the record for the batch from the bytes recent functions wrote,
	// so that it is allocated once, not grown by copying.
	e.rec.reset(min(len(batch)*(e.bytesPerRun+e.bytesPerRun/4), MaxUpdateSize))
	var written []Bucket
	for i, r := range batch {
		if e.rec.size() >= MaxUpdateSize {
			rest, batch = batch[i:], batch[:i]
			it.reqs = it.reqs[:i]
			break
		}
		tx := &boltTx{e: e, tx: h.tx, ep: ep, shared: h.shared, writable: true, snap: math.MaxUint64}
		tx.local = e.locals[:0] // reuse the buffer (see Put)
		tx.seqs = tx.seqsArr[:0]
		tx.written = tx.writtenArr[:0]
		nbuf, nops := len(e.rec.buf), len(e.rec.ops)
		err, _ := e.run(r.fn, tx)
		e.locals = tx.local[:0]
		e.nRuns.Add(1)
		if n := len(e.rec.buf) - nbuf; err == nil && n > MaxUpdateSize {
			err = fmt.Errorf("%w: it writes %d bytes, over the limit of %d", ErrTooLarge, n, MaxUpdateSize)
		}
		r.err = err
		if err != nil {
			if tx.wrote {
				// Drop what it wrote.
				e.rec.buf, e.rec.ops = e.rec.buf[:nbuf], e.rec.ops[:nops]
				e.nRollbacks.Add(1)
			}
			continue
		}
		for _, w := range tx.local {
			ep.lists[w.bucket].insert(w.key, w.val, w.del, seq)
		}
		for _, p := range tx.seqs {
			e.bucketSeq[p.b] = p.n
			ep.seqs[p.b] = append(ep.seqs[p.b], seqVersion{seq: seq, n: p.n})
		}
		for _, b := range tx.written {
			if !slices.Contains(written, b) {
				written = append(written, b)
			}
		}
	}
	e.insertMu.Unlock()
	h.release()
	e.bytesPerRun = (7*e.bytesPerRun + e.rec.size()/len(batch)) / 8
	if len(e.rec.ops) > 0 {
		e.seq = seq
		it.seq, it.rec, it.written = seq, e.rec.buf, written
		if e.opsSince.Add(int64(len(e.rec.ops))) >= e.maxOps {
			select {
			case e.ckptKick <- struct{}{}:
			default:
			}
		}
	}
	e.syncq <- it
	return rest
}

// fillPercent is how full checkpoints leave the pages they split.
const fillPercent = 0.9

// checkpointLoop is the checkpointer goroutine.
func (e *boltEngine) checkpointLoop() {
	defer close(e.ckptDone)
	// The log starts in file 0: make file 1 ready for the first switch.
	if err := e.wal.PrepareSpare(1); err != nil {
		e.fail(fmt.Errorf("prepare the log: %w", err))
	}
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = e.checkpoint()
		case <-e.ckptKick:
			_ = e.checkpoint()
		case c := <-e.ckptCtl:
			err := e.checkpoint()
			if err == nil {
				err = c.fn()
			}
			c.done <- err
		case <-e.ckptStop:
			_ = e.checkpoint()
			e.cur.Load().retire() // before the database closes
			return
		}
	}
}

// checkpoint applies the durable writes of the overlay to bbolt in one
// write transaction, commits it, and replaces the epoch with one whose
// overlay holds only the writes made after them.
func (e *boltEngine) checkpoint() error {
	if err := e.failure(); err != nil {
		return err
	}
	ep := e.cur.Load()
	if e.durable.Load() == ep.base {
		return nil // nothing new
	}
	// Switch the log to its other file: its records are all in bbolt since
	// the last checkpoint, and the file written so far will be once this
	// one commits (the switch comes after its records are durable).
	rot := &syncItem{rotate: make(chan struct{})}
	e.syncq <- rot
	<-rot.rotate
	if err := e.failure(); err != nil {
		return err
	}
	k := e.durable.Load()
	err := e.commitCheckpoint(ep, k, rot.gen)
	if err == nil {
		// The file the log switched from is all in bbolt now: ready it
		// for the next switch (usually nothing to do).
		err = e.wal.PrepareSpare(rot.current ^ 1)
	}
	if err != nil {
		e.fail(fmt.Errorf("checkpoint %s: %w", e.path, err))
		return e.failure()
	}
	return nil
}

// commitCheckpoint writes into bbolt the overlay of ep up to seq k, with
// the log's generation gen, commits, and makes the new epoch current.
func (e *boltEngine) commitCheckpoint(ep *epoch, k, gen uint64) error {
	btx, err := e.db.Begin(true)
	if err != nil {
		return err
	}
	// Sequences as of k.
	seqs := make(map[Bucket]uint64)
	e.insertMu.Lock()
	for b, vs := range ep.seqs {
		for _, v := range vs {
			if v.seq <= k {
				seqs[b] = v.n
			}
		}
	}
	e.insertMu.Unlock()
	for b, l := range ep.lists {
		bk := btx.Bucket(e.names[b])
		// Keys mostly grow (sequence numbers, times, UUIDv7s; within a
		// thread for its replies), and a checkpoint writes them in key
		// order: split full pages at 90% rather than bbolt's 50%, which
		// would leave most pages half empty (as etcd does for its keys).
		bk.FillPercent = fillPercent
		err := l.latestUpTo(k, func(n *ovNode) error {
			if n.del {
				return bk.Delete(n.key)
			}
			return bk.Put(n.key, n.val)
		})
		if err == nil {
			if n, ok := seqs[b]; ok {
				err = bk.SetSequence(n)
			}
		}
		if err != nil {
			_ = btx.Rollback()
			return fmt.Errorf("bucket %q: %w", b, err)
		}
	}
	ib := btx.Bucket([]byte(internalBucket))
	if err := ib.Put(appliedKey, binary.BigEndian.AppendUint64(nil, k)); err != nil {
		_ = btx.Rollback()
		return err
	}
	if err := ib.Put(genKey, binary.BigEndian.AppendUint64(nil, gen)); err != nil {
		_ = btx.Rollback()
		return err
	}
	txid := btx.ID()
	ep.retire()
	start := time.Now()
	err = e.commitTx(btx)
	e.commitNanos.Add(int64(time.Since(start)))
	st := btx.Stats()
	e.nPageWrites.Add(st.GetWrite())
	if err != nil {
		return err
	}
	e.nCommits.Add(1)

	nep := e.openEpoch(txid, k)
	e.insertMu.Lock()
	copied := 0
	for b, l := range ep.lists {
		copied += l.copyAbove(k, nep.lists[b])
	}
	for b, vs := range ep.seqs {
		for _, v := range vs {
			if v.seq > k {
				nep.seqs[b] = append(nep.seqs[b], v)
			}
		}
	}
	e.cur.Store(nep)
	e.opsSince.Store(int64(copied))
	e.insertMu.Unlock()
	return nil
}

// syncLoop is the syncer goroutine: it takes what it is handed, as many
// items at a time as are waiting, writes their records to the log with one
// fdatasync, publishes them to Views and answers their callers.
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

// syncItems handles items in order. Batches between barriers and switches
// share one fdatasync.
func (e *boltEngine) syncItems(items []*syncItem) {
	start := 0
	for i, it := range items {
		if it.barrier == nil && it.rotate == nil {
			continue
		}
		e.syncBatches(items[start:i])
		start = i + 1
		if it.rotate != nil {
			if e.failure() == nil {
				if _, err := e.wal.Switch(e.walSeq + 1); err != nil {
					e.fail(err)
				}
			}
			it.gen, it.current = e.wal.Gen(), e.wal.Current()
			close(it.rotate)
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
	if e.testSyncHook != nil {
		e.testSyncHook()
	}
	err := e.failure()
	if err == nil {
		start := time.Now()
		n := 0
		for _, it := range batches {
			if it.rec == nil {
				continue
			}
			if err = e.wal.Append(it.rec, it.seq); err != nil {
				break
			}
			e.walSeq = it.seq
			n++
		}
		if err == nil && n > 0 {
			err = e.wal.Sync()
			e.nSyncs.Add(1)
		}
		e.nRecords.Add(int64(n))
		e.syncNanos.Add(int64(time.Since(start)))
		if err != nil {
			e.fail(fmt.Errorf("write log: %w", err))
			err = e.failure()
		}
	}
	for _, it := range batches {
		if err == nil && it.rec != nil {
			e.durable.Store(it.seq)
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

// localWrite is a write of an Update function, not yet in the overlay.
type localWrite struct {
	bucket   Bucket
	key, val []byte // point into the batch's record
	del      bool
}

// boltTx is the Tx given to View and Update functions. Both read bbolt's
// checkpoint (tx) through the epoch's overlay at seq snap. A View sees the
// durable versions; an Update sees every version, and its own writes,
// which it keeps in local (and in the batch's record) until it returns.
type boltTx struct {
	e        *boltEngine
	tx       *bolt.Tx
	ep       *epoch
	shared   bool // tx is ep.rtx, with its buckets in ep.bks
	snap     uint64
	writable bool
	done     bool // the function returned; the Tx must not be used

	// Update only.
	local      []localWrite // in the engine's buffer, reused by the next function
	seqs       []seqPair    // sequences this function took
	seqsArr    [2]seqPair
	wrote      bool     // a Put, Delete or NextSequence succeeded
	written    []Bucket // the buckets written to
	writtenArr [4]Bucket
}

// seqPair is a bucket's sequence as an Update function took it.
type seqPair struct {
	b Bucket
	n uint64
}

// markWritten records that the transaction wrote to bucket b.
func (t *boltTx) markWritten(b Bucket) {
	t.wrote = true
	if !slices.Contains(t.written, b) {
		t.written = append(t.written, b)
	}
}

// bucket returns bucket b of the checkpoint: from the epoch's buckets,
// opened once, when tx is the shared transaction, or else opened now (only
// while a checkpoint retires the shared transaction).
func (t *boltTx) bucket(b Bucket) (*bolt.Bucket, error) {
	if t.done {
		return nil, ErrTxDone
	}
	var bk *bolt.Bucket
	if t.shared {
		bk = t.ep.bks[b]
	} else if name, ok := t.e.names[b]; ok {
		bk = t.tx.Bucket(name)
	}
	if bk == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownBucket, b)
	}
	return bk, nil
}

func (t *boltTx) writableCheck(b Bucket) error {
	if _, err := t.bucket(b); err != nil {
		return err
	}
	if !t.writable {
		return ErrReadOnly
	}
	return nil
}

// overlay returns the overlay of bucket b, or nil if it is empty.
func (t *boltTx) overlay(b Bucket) *skiplist {
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
	for i := len(t.local) - 1; i >= 0; i-- {
		if w := t.local[i]; w.bucket == b && bytes.Equal(w.key, key) {
			if w.del {
				return nil, nil
			}
			return bytes.Clone(w.val), nil
		}
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

// Put implements Tx. Keys and values are checked as bbolt would, since
// bbolt only sees them at the next checkpoint.
func (t *boltTx) Put(b Bucket, key, value []byte) error {
	err := t.writableCheck(b)
	switch {
	case err != nil:
		return err
	case len(key) == 0:
		err = berrors.ErrKeyRequired
	case len(key) > bolt.MaxKeySize:
		err = berrors.ErrKeyTooLarge
	case int64(len(value)) > bolt.MaxValueSize:
		err = berrors.ErrValueTooLarge
	}
	if err != nil {
		return fmt.Errorf("kv: put %q in %q: %w", key, b, err)
	}
	if value == nil {
		value = []byte{} // present, not absent
	}
	k, v := t.e.rec.put(b, key, value)
	t.local = append(t.local, localWrite{bucket: b, key: k, val: v})
	t.markWritten(b)
	return nil
}

// Delete implements Tx.
func (t *boltTx) Delete(b Bucket, key []byte) error {
	if err := t.writableCheck(b); err != nil {
		return err
	}
	if len(key) == 0 {
		return nil // no such key
	}
	k := t.e.rec.delete(b, key)
	t.local = append(t.local, localWrite{bucket: b, key: k, del: true})
	t.markWritten(b)
	return nil
}

// NextSequence implements Tx.
func (t *boltTx) NextSequence(b Bucket) (uint64, error) {
	if err := t.writableCheck(b); err != nil {
		return 0, err
	}
	i := slices.IndexFunc(t.seqs, func(p seqPair) bool { return p.b == b })
	if i < 0 {
		t.seqs = append(t.seqs, seqPair{b, t.e.bucketSeq[b]})
		i = len(t.seqs) - 1
	}
	t.seqs[i].n++
	n := t.seqs[i].n
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
	var arr [3]source
	srcs := arr[:0]
	if len(t.local) > 0 {
		if es := localEntries(t.local, b, start, end); len(es) > 0 {
			srcs = append(srcs, newSliceSource(es, reverse))
		}
	}
	if l := t.overlay(b); l != nil {
		if reverse {
			srcs = append(srcs, newSliceSource(listEntries(l, start, end, t.snap), true))
		} else {
			srcs = append(srcs, newListSource(l, start, end, t.snap))
		}
	}
	srcs = append(srcs, newBoltSource(bk, start, end, reverse))
	mergeScan(srcs, reverse, fn)
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
