package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forumhq/forum/server/store/kv/wal"
	"github.com/forumhq/forum/server/store/kv/wal/faultfs"
	bolt "go.etcd.io/bbolt"
)

// neverCheckpoint keeps every write in the log and the overlay (no
// checkpoint while a test runs), so a copy of the files is what a crash
// would leave.
var neverCheckpoint = BoltOptions{CheckpointInterval: time.Hour, CheckpointOps: 1 << 30}

// crashCopy copies the database and its log into a new directory, as a
// process killed at this moment would leave them: every acknowledged write
// is in the log, none since the last checkpoint in the bbolt file (bbolt
// writes the file only when a checkpoint commits). The caller must make sure
// no checkpoint is running and no write is in flight.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal.0", "-wal.1"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// model is the expected content of the test buckets.
type model map[Bucket]map[string]string

func (m model) sorted(b Bucket) []string {
	var out []string
	for k, v := range m[b] {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// applyRandom runs one Update of a few random puts and deletes over a small
// key space, mirrored in m, and returns the keys' bucket sequence use.
func applyRandom(t *testing.T, e Engine, m model, rnd *rand.Rand, i int) {
	t.Helper()
	type op struct {
		b   Bucket
		k   string
		del bool
	}
	var ops []op
	for range 1 + rnd.IntN(4) {
		ops = append(ops, op{b: testBuckets[rnd.IntN(2)], k: fmt.Sprintf("k%02d", rnd.IntN(40)), del: rnd.IntN(4) == 0})
	}
	v := fmt.Sprintf("v%d", i)
	err := e.Update(context.Background(), func(tx Tx) error {
		for _, o := range ops {
			var err error
			if o.del {
				err = tx.Delete(o.b, []byte(o.k))
			} else {
				err = tx.Put(o.b, []byte(o.k), []byte(v))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("update %d: %v", i, err)
	}
	for _, o := range ops {
		if m[o.b] == nil {
			m[o.b] = map[string]string{}
		}
		if o.del {
			delete(m[o.b], o.k)
		} else {
			m[o.b][o.k] = v
		}
	}
}

// checkModel compares every bucket with m: a full scan both ways, ranged
// scans both ways, and a Get of every key of the key space.
func checkModel(t *testing.T, e Engine, m model, rnd *rand.Rand) {
	t.Helper()
	for _, b := range testBuckets {
		want := m.sorted(b)
		if got := contents(t, e, b); !slices.Equal(got, want) {
			t.Fatalf("bucket %s:\n got %q\nwant %q", b, got, want)
		}
		lo, hi := fmt.Sprintf("k%02d", rnd.IntN(40)), fmt.Sprintf("k%02d", rnd.IntN(40))
		var inRange []string
		for _, kv := range want {
			if k := kv[:strings.IndexByte(kv, '=')]; k >= lo && k < hi {
				inRange = append(inRange, kv)
			}
		}
		err := e.View(context.Background(), func(tx Tx) error {
			var fwd, rev, all []string
			collect := func(dst *[]string) func(k, v []byte) bool {
				return func(k, v []byte) bool { *dst = append(*dst, string(k)+"="+string(v)); return true }
			}
			if err := tx.Scan(b, []byte(lo), []byte(hi), false, collect(&fwd)); err != nil {
				return err
			}
			if err := tx.Scan(b, []byte(lo), []byte(hi), true, collect(&rev)); err != nil {
				return err
			}
			if err := tx.Scan(b, nil, nil, true, collect(&all)); err != nil {
				return err
			}
			slices.Reverse(rev)
			slices.Reverse(all)
			if !slices.Equal(fwd, inRange) || !slices.Equal(rev, inRange) {
				return fmt.Errorf("scan [%s, %s): forward %q, reverse %q, want %q", lo, hi, fwd, rev, inRange)
			}
			if !slices.Equal(all, want) {
				return fmt.Errorf("reverse scan %q, want %q", all, want)
			}
			for k := range 40 {
				key := fmt.Sprintf("k%02d", k)
				v, err := tx.Get(b, []byte(key))
				if err != nil {
					return err
				}
				w, ok := m[b][key]
				if (v != nil) != ok || string(v) != w {
					return fmt.Errorf("Get(%s) = %q, want %q (present %v)", key, v, w, ok)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
	}
}

// TestOverlayMatchesModel checks Views against a model while writes pile up
// in the overlay and checkpoints (every few writes) move them into bbolt.
func TestOverlayMatchesModel(t *testing.T) {
	for _, opts := range []BoltOptions{neverCheckpoint, {CheckpointOps: 7}, {CheckpointInterval: time.Millisecond}} {
		t.Run(fmt.Sprintf("interval=%v,ops=%d", opts.CheckpointInterval, opts.CheckpointOps), func(t *testing.T) {
			e := openTest(t, "", opts)
			rnd := rand.New(rand.NewPCG(1, 2))
			m := model{}
			for i := range 300 {
				applyRandom(t, e, m, rnd, i)
				checkModel(t, e, m, rnd)
			}
			be := e.(*boltEngine)
			t.Logf("%d records, %d checkpoints", be.nRecords.Load(), be.nCommits.Load())
		})
	}
}

// TestRecoverFromLog "crashes" with every write in the log only and checks
// that reopening brings back all of them, sequences included.
func TestRecoverFromLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	e := openTest(t, path, neverCheckpoint)
	rnd := rand.New(rand.NewPCG(3, 4))
	m := model{}
	for i := range 200 {
		applyRandom(t, e, m, rnd, i)
	}
	var seq uint64
	err := e.Update(context.Background(), func(tx Tx) error {
		var err error
		seq, err = tx.NextSequence(bB)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.(*boltEngine).nCommits.Load(); n != 0 {
		t.Fatalf("%d checkpoints, want none", n)
	}

	e2 := openTest(t, crashCopy(t, path), BoltOptions{})
	checkModel(t, e2, m, rnd)
	err = e2.Update(context.Background(), func(tx Tx) error {
		n, err := tx.NextSequence(bB)
		if err == nil && n != seq+1 {
			err = fmt.Errorf("sequence after recovery = %d, want %d", n, seq+1)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if err := e2.Check(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestRecoverAfterRewinds crashes after many checkpoints, each of which
// rewinds the log over the records of the one before: the stale records
// behind the newest ones must not be applied.
func TestRecoverAfterRewinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	// Checkpoints every 5 writes (and never on a timer, which could run one
	// while the files are copied).
	e := openTest(t, path, BoltOptions{CheckpointOps: 5, CheckpointInterval: time.Hour})
	rnd := rand.New(rand.NewPCG(5, 6))
	m := model{}
	for i := range 300 {
		applyRandom(t, e, m, rnd, i)
	}
	be := e.(*boltEngine)
	if be.nCommits.Load() < 20 {
		t.Fatalf("only %d checkpoints", be.nCommits.Load())
	}
	// A last update, below the threshold, stays in the log only. Wait for
	// any checkpoint still running first: Check runs right after one, on
	// the checkpointer, which then has nothing left to do.
	if err := e.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	put(t, e, bA, "last", "1")
	m[bA]["last"] = "1"
	e2 := openTest(t, crashCopy(t, path), BoltOptions{})
	checkModel(t, e2, m, rnd)
}

// TestRecoverTornTail cuts the log inside its last record, as a crash
// during its write leaves it (a whole sector never written: zeros), and
// checks that reopening keeps every record before it, with a warning.
func TestRecoverTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	e := openTest(t, path, neverCheckpoint)
	for i := range 9 {
		put(t, e, bA, fmt.Sprintf("k%d", i), "v")
	}
	big := strings.Repeat("Z", 4096)
	put(t, e, bA, "k9", big)
	dst := crashCopy(t, path)
	b, err := os.ReadFile(wal.Path(dst, 0))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte(big[:400])) // the log stamps each sector
	if at < 0 {
		t.Fatal("the last record is not in file 0")
	}
	sector := (at + 1024) / 512 * 512
	clear(b[sector : sector+512])
	if err := os.WriteFile(wal.Path(dst, 0), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	e2, err := OpenBolt(dst, testBuckets, BoltOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	var want []string
	for i := range 9 {
		want = append(want, fmt.Sprintf("k%d=v", i))
	}
	if got := contents(t, e2, bA); !slices.Equal(got, want) {
		t.Errorf("after a torn last record: %q, want %q", got, want)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "torn record") {
		t.Errorf("no warning about the torn record in the log:\n%s", logs.String())
	}
	// The log goes on from there.
	put(t, e2, bA, "k9", "again")
	if got := get(t, e2, bA, "k9"); string(got) != "again" {
		t.Errorf("k9 = %q", got)
	}
}

// TestLogOfAnotherDatabase refuses a log that belongs to another database
// (a database file replaced without removing the old log).
func TestLogOfAnotherDatabase(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	ea := openTest(t, a, neverCheckpoint)
	put(t, ea, bA, "k", "v")
	eb := openTest(t, b, BoltOptions{})
	if err := eb.Close(); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, a)
	for i := range 2 {
		data, err := os.ReadFile(wal.Path(crashed, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wal.Path(b, i), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := OpenBolt(b, testBuckets, BoltOptions{Logger: quietLogger()})
	if !errors.Is(err, ErrLogForeign) || !strings.Contains(err.Error(), "belongs to database") {
		t.Fatalf("OpenBolt = %v, want ErrLogForeign", err)
	}
}

// TestLogWriteFailure makes writing the log fail: that batch's Updates and
// every later one fail with ErrFailed, nothing of them is visible, Views go
// on, and reopening recovers what was acknowledged.
func TestLogWriteFailure(t *testing.T) {
	for _, op := range []faultfs.Op{faultfs.Write, faultfs.Sync} {
		t.Run(fmt.Sprint(op), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal.db")
			fsys := &faultfs.FS{}
			e, err := OpenBolt(path, testBuckets, BoltOptions{Logger: quietLogger(), CheckpointInterval: time.Hour, CheckpointOps: 1 << 30, WALFS: fsys})
			if err != nil {
				t.Fatal(err)
			}
			put(t, e, bA, "before", "1")
			if e.Err() != nil {
				t.Fatalf("Err() = %v before any failure", e.Err())
			}
			fsys.FailAfter(op, 0, syscall.ENOSPC)
			err = e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, []byte("lost"), []byte("1")) })
			if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Update with a broken log = %v, want ErrFailed and ENOSPC", err)
			}
			select {
			case <-e.Failed():
			default:
				t.Error("Failed() is not closed after the failure")
			}
			if !errors.Is(e.Err(), ErrFailed) {
				t.Errorf("Err() = %v, want ErrFailed", e.Err())
			}
			fsys.Heal() // even once the disk works again, nothing more is written
			err = e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, []byte("later"), []byte("1")) })
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("later Update = %v, want ErrFailed", err)
			}
			if got, want := contents(t, e, bA), []string{"before=1"}; !slices.Equal(got, want) {
				t.Errorf("View after the failure = %q, want %q", got, want)
			}
			if err := e.Close(); !errors.Is(err, ErrFailed) {
				t.Errorf("Close = %v, want it to report ErrFailed", err)
			}
			e2 := openTest(t, path, BoltOptions{})
			got := contents(t, e2, bA)
			if !slices.Contains(got, "before=1") || slices.Contains(got, "later=1") {
				t.Errorf("after reopening = %q, want before=1 (lost=1 may be there: it may have reached the disk), never later=1", got)
			}
		})
	}
}

// TestViewsSeeOnlyDurableWrites holds the syncer before it writes an
// Update's record: Views must not see the write yet, while a later Update
// does see it and is answered only after the first. Once the syncer goes
// on, both are answered and Views see both writes.
func TestViewsSeeOnlyDurableWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	e, err := OpenBolt(path, testBuckets, BoltOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	be := e.(*boltEngine)
	held := make(chan struct{}, 8)
	release := make(chan struct{})
	hold := atomic.Bool{}
	be.testSyncHook = func() {
		if hold.Load() {
			held <- struct{}{}
			<-release
		}
	}
	put(t, e, bA, "before", "1")
	hold.Store(true)
	first := make(chan error, 1)
	go func() {
		first <- e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, []byte("k"), []byte("1")) })
	}()
	<-held // the record of the first Update is with the syncer, not written
	if v := get(t, e, bA, "k"); v != nil {
		t.Errorf("a View saw %q before the write was durable", v)
	}
	second := make(chan error, 1)
	go func() {
		second <- e.Update(context.Background(), func(tx Tx) error {
			v, err := tx.Get(bA, []byte("k"))
			if err != nil {
				return err
			}
			return tx.Put(bA, []byte("k2"), append([]byte("saw "), v...))
		})
	}()
	select {
	case err := <-second:
		t.Fatalf("the second Update was answered (%v) before the first was durable", err)
	case <-time.After(50 * time.Millisecond):
	}
	hold.Store(false)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, e, bA), []string{"before=1", "k=1", "k2=saw 1"}; !slices.Equal(got, want) {
		t.Errorf("contents = %q, want %q", got, want)
	}
}

// TestCheckpointFillsPages appends keys in order, as the forum's sequences
// and UUIDv7s do, and checks that the checkpoints left bbolt's leaf pages
// mostly full (bbolt's default splits them half full).
func TestCheckpointFillsPages(t *testing.T) {
	e := openTest(t, "", BoltOptions{CheckpointOps: 100})
	for i := range 40 {
		err := e.Update(context.Background(), func(tx Tx) error {
			for j := range 50 {
				if err := tx.Put(bA, binary.BigEndian.AppendUint64(nil, uint64(i*50+j)), bytes.Repeat([]byte("v"), 200)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Check(context.Background()); err != nil { // a last checkpoint
		t.Fatal(err)
	}
	be := e.(*boltEngine)
	err := be.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket([]byte(bA)).Stats()
		used := float64(st.LeafInuse) / float64(st.LeafAlloc)
		t.Logf("%d keys on %d leaf pages, %.0f%% used", st.KeyN, st.LeafPageN, 100*used)
		if st.KeyN != 2000 || used < 0.8 {
			return fmt.Errorf("%d keys, leaf pages %.0f%% used, want 2000 keys and at least 80%%", st.KeyN, 100*used)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestCloseEmptiesLog checks that a clean Close, which checkpoints
// everything, leaves both log files empty for the next open, and that the
// data is in bbolt.
func TestCloseEmptiesLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	e := openTest(t, path, neverCheckpoint)
	for i := range 20 {
		put(t, e, bA, fmt.Sprintf("k%02d", i), "v")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		fi, err := os.Stat(wal.Path(path, i))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 0 {
			t.Errorf("log file %d after Close: %d bytes, want none", i, fi.Size())
		}
	}
	e2 := openTest(t, path, BoltOptions{})
	if got := len(contents(t, e2, bA)); got != 20 {
		t.Errorf("%d keys after reopening, want 20", got)
	}
}
