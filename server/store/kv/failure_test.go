package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/forumhq/forum/server/store/kv/wal"
	"github.com/forumhq/forum/server/store/kv/wal/faultfs"
	bolt "go.etcd.io/bbolt"
)

// TestCheckpointCommitFailure fails a checkpoint's bbolt commit, as a
// failed write of its data pages (nothing reaches bbolt) and as a failed
// fsync of its meta page (bbolt already shows the new checkpoint): writes
// stop, reads go on with everything acknowledged, and reopening recovers
// it all.
func TestCheckpointCommitFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit func(*bolt.Tx) error
	}{
		{"data pages", func(tx *bolt.Tx) error { _ = tx.Rollback(); return fmt.Errorf("write data pages: %w", syscall.EIO) }},
		{"meta page", func(tx *bolt.Tx) error {
			if err := tx.Commit(); err != nil {
				return err
			}
			return fmt.Errorf("fsync meta page: %w", syscall.EIO)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ckpt.db")
			e := openTest(t, path, neverCheckpoint)
			be := e.(*boltEngine)
			put(t, e, bA, "a", "1")
			if err := e.Check(context.Background()); err != nil { // a checkpoint that works
				t.Fatal(err)
			}
			put(t, e, bA, "b", "2")
			put(t, e, bB, "c", "3")
			be.commitTx = tc.commit
			if err := e.Check(context.Background()); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("Check with a failing checkpoint = %v, want ErrFailed and EIO", err)
			}
			if err := e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, []byte("d"), []byte("4")) }); !errors.Is(err, ErrFailed) {
				t.Fatalf("Update after a failed checkpoint = %v, want ErrFailed", err)
			}
			for range 3 { // reads keep working, and agree
				if got, want := contents(t, e, bA), []string{"a=1", "b=2"}; !slices.Equal(got, want) {
					t.Fatalf("bucket a after the failure = %q, want %q", got, want)
				}
				if got := get(t, e, bB, "c"); string(got) != "3" {
					t.Fatalf("c = %q after the failure", got)
				}
			}
			if err := e.Close(); !errors.Is(err, ErrFailed) {
				t.Errorf("Close = %v, want ErrFailed", err)
			}
			e2 := openTest(t, path, BoltOptions{})
			if got, want := contents(t, e2, bA), []string{"a=1", "b=2"}; !slices.Equal(got, want) {
				t.Errorf("after reopening: %q, want %q", got, want)
			}
			if got := get(t, e2, bB, "c"); string(got) != "3" {
				t.Errorf("c = %q after reopening", got)
			}
			if err := e2.Check(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPrepareSpareFailure fails the zero-filling of the log's spare file
// after a checkpoint: that is a storage error too.
func TestPrepareSpareFailure(t *testing.T) {
	fsys := &faultfs.FS{}
	path := filepath.Join(t.TempDir(), "spare.db")
	e := openTest(t, path, BoltOptions{WALFS: fsys, CheckpointInterval: neverCheckpoint.CheckpointInterval, CheckpointOps: neverCheckpoint.CheckpointOps})
	put(t, e, bA, "a", "1")
	// The checkpoint switches files (a header write), commits, then
	// zero-fills the file it left a chunk ahead (its one record fit in its
	// first sector, so it never grew): fail the writes from the second on.
	fsys.FailAfter(faultfs.Write, 1, syscall.ENOSPC)
	if err := e.Check(context.Background()); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Check = %v, want ErrFailed and ENOSPC", err)
	}
	fsys.Heal()
	if err := e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, []byte("b"), nil) }); !errors.Is(err, ErrFailed) {
		t.Fatalf("Update = %v, want ErrFailed", err)
	}
	e.Close()
	e2 := openTest(t, path, BoltOptions{})
	if got := get(t, e2, bA, "a"); string(got) != "1" {
		t.Errorf("a = %q after reopening", got)
	}
}

// TestUpdateTooLarge refuses an Update that writes more than MaxUpdateSize,
// without disturbing the others, and ends a batch's record once it is that
// large, so records stay within the log's limit.
func TestUpdateTooLarge(t *testing.T) {
	e := openTest(t, "", BoltOptions{NoSync: true})
	huge := bytes.Repeat([]byte("x"), MaxUpdateSize/2+1)
	err := e.Update(context.Background(), func(tx Tx) error {
		if err := tx.Put(bA, []byte("h1"), huge); err != nil {
			return err
		}
		return tx.Put(bA, []byte("h2"), huge)
	})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Update of %d bytes = %v, want ErrTooLarge", 2*len(huge), err)
	}
	if got := contents(t, e, bA); len(got) != 0 {
		t.Fatalf("the refused Update left %d keys", len(got))
	}
	// Four Updates of 12 MiB each, all queued at once: the first three
	// fill a record (36 MiB), the fourth goes to the next.
	be := e.(*boltEngine)
	records := be.nRecords.Load()
	val := bytes.Repeat([]byte("y"), 12<<20)
	release, started := make(chan struct{}), make(chan struct{}, 1)
	blocker := make(chan error, 1)
	go func() { // holds the committer, so the four queue up behind it
		blocker <- e.Update(context.Background(), func(tx Tx) error {
			started <- struct{}{}
			<-release
			return tx.Put(bB, []byte("first"), nil)
		})
	}()
	<-started
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() {
			errs[i] = e.Update(context.Background(), func(tx Tx) error { return tx.Put(bA, fmt.Appendf(nil, "big%d", i), val) })
		})
	}
	for len(be.reqs) < 4 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
	}
	if got := len(contents(t, e, bA)); got != 4 {
		t.Fatalf("%d big keys, want 4", got)
	}
	if n := be.nRecords.Load() - records; n != 3 {
		t.Errorf("the blocker and four Updates of 12 MiB queued together took %d records, want 3 (the first three fill one)", n)
	}
}

// TestOpenRefusesDamagedLog damages a record in the middle of the log:
// OpenBolt refuses, says where, changes nothing, and RepairBolt then saves
// the file aside and keeps the records before the damage.
func TestOpenRefusesDamagedLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dmg.db")
	e := openTest(t, path, neverCheckpoint)
	for i := range 10 {
		put(t, e, bA, fmt.Sprintf("k%d", i), strings.Repeat(string(rune('a'+i)), 100))
	}
	dst := crashCopy(t, path)
	b, err := os.ReadFile(wal.Path(dst, 0))
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, bytes.Repeat([]byte("f"), 100)) // k5's value
	b[at+50] ^= 1
	if err := os.WriteFile(wal.Path(dst, 0), b, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 { // refusing changes nothing: it refuses again
		_, err = OpenBolt(dst, testBuckets, BoltOptions{Logger: quietLogger()})
		if !errors.Is(err, ErrLogDamaged) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("OpenBolt on a damaged log = %v, want ErrLogDamaged with the offset", err)
		}
	}
	done, err := RepairBolt(dst, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || !strings.HasSuffix(done[0].Saved, ".broken") {
		t.Fatalf("RepairBolt = %+v", done)
	}
	if saved, err := os.ReadFile(done[0].Saved); err != nil || !bytes.Equal(saved, b) {
		t.Errorf("the saved copy differs from the damaged file (%v)", err)
	}
	e2 := openTest(t, dst, BoltOptions{})
	var want []string
	for i := range 5 {
		want = append(want, fmt.Sprintf("k%d=%s", i, strings.Repeat(string(rune('a'+i)), 100)))
	}
	if got := contents(t, e2, bA); !slices.Equal(got, want) {
		t.Errorf("after repair: %d keys, want k0..k4", len(got))
	}
}

// TestOpenReadError fails a read of the log while opening: OpenBolt
// refuses (a read error is not the end of the log) and changes nothing;
// once the disk reads again, everything comes back.
func TestOpenReadError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eio.db")
	e := openTest(t, path, neverCheckpoint)
	for i := range 20 {
		put(t, e, bA, fmt.Sprintf("k%02d", i), "v")
	}
	dst := crashCopy(t, path)
	fsys := &faultfs.FS{}
	fsys.FailAfter(faultfs.Read, 0, syscall.EIO)
	_, err := OpenBolt(dst, testBuckets, BoltOptions{Logger: quietLogger(), WALFS: fsys})
	if !errors.Is(err, ErrLogUnreadable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("OpenBolt with a failing read = %v, want ErrLogUnreadable and EIO", err)
	}
	e2 := openTest(t, dst, BoltOptions{})
	if got := len(contents(t, e2, bA)); got != 20 {
		t.Errorf("%d keys once the disk reads again, want 20", got)
	}
}

// TestOpenLegacyLog opens a database whose log has the format of the
// forumd before framed logs (no header; records of a length, a CRC and the
// seq in the payload): its records are applied once and the log goes on
// in the new format.
func TestOpenLegacyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append(testBuckets, internalBucket) {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte(internalBucket)).Put(appliedKey, binary.BigEndian.AppendUint64(nil, 7))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	var log []byte
	for seq := uint64(6); seq <= 9; seq++ { // 6 and 7 are in the database
		var r record
		r.reset(0)
		r.put(bA, fmt.Appendf(nil, "k%d", seq), []byte("v"))
		payload := binary.AppendUvarint(nil, seq)
		payload = append(payload, r.buf[wal.FrameHeaderSize:]...)
		log = binary.LittleEndian.AppendUint32(log, uint32(len(payload)))
		log = binary.LittleEndian.AppendUint32(log, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
		log = append(log, payload...)
	}
	if err := os.WriteFile(wal.Path(path, 1), log, 0o600); err != nil {
		t.Fatal(err)
	}
	e := openTest(t, path, neverCheckpoint)
	if got, want := contents(t, e, bA), []string{"k8=v", "k9=v"}; !slices.Equal(got, want) {
		t.Fatalf("after opening the old log: %q, want %q", got, want)
	}
	put(t, e, bA, "k10", "v")
	dst := crashCopy(t, path)
	b, _ := os.ReadFile(wal.Path(dst, 0))
	if !bytes.HasPrefix(b, []byte("forumWAL")) {
		t.Error("the log did not go on in the new format")
	}
	e2 := openTest(t, dst, BoltOptions{})
	if got := len(contents(t, e2, bA)); got != 3 {
		t.Errorf("%d keys after a crash in the new format, want 3", got)
	}
}

// TestFreelistSyncedByDefault checks that checkpoints write bbolt's
// freelist unless NoFreelistSync says otherwise, so that opening a large
// file does not visit every page (docs/PERFORMANCE.md). It reads the meta
// page with the highest txid: its freelist page id is bbolt's "none"
// (all ones) when the list is not written.
func TestFreelistSyncedByDefault(t *testing.T) {
	for _, tc := range []struct {
		opts   BoltOptions
		synced bool
	}{{BoltOptions{}, true}, {BoltOptions{NoFreelistSync: true}, false}} {
		path := filepath.Join(t.TempDir(), "fl.db")
		e := openTest(t, path, tc.opts)
		put(t, e, bA, "k", "v")
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// Meta pages 0 and 1: page header (16 bytes), then magic, version,
		// page size, flags (4 bytes each), the root bucket (16), the
		// freelist page id (8), the high-water page id (8), the txid (8).
		pageSize := int(binary.LittleEndian.Uint32(b[16+8:]))
		var freelist, txid uint64
		for _, off := range []int{0, pageSize} {
			m := b[off+16:]
			if id := binary.LittleEndian.Uint64(m[48:]); id >= txid {
				txid, freelist = id, binary.LittleEndian.Uint64(m[32:])
			}
		}
		if synced := freelist != ^uint64(0); synced != tc.synced {
			t.Errorf("%+v: freelist page %#x, synced %v, want %v", tc.opts, freelist, synced, tc.synced)
		}
	}
}
