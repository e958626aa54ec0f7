package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"
)

const (
	bA Bucket = "a"
	bB Bucket = "b"
)

var testBuckets = []Bucket{bA, bB}

// quietLogger drops the error logs of tests that panic on purpose.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openTest(t testing.TB, path string, opts BoltOptions) Engine {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.db")
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	e, err := OpenBolt(path, testBuckets, opts)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func put(t testing.TB, e Engine, b Bucket, kvs ...string) {
	t.Helper()
	err := e.Update(context.Background(), func(tx Tx) error {
		for i := 0; i < len(kvs); i += 2 {
			if err := tx.Put(b, []byte(kvs[i]), []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// contents returns bucket b as "k=v" strings in key order.
func contents(t testing.TB, e Engine, b Bucket) []string {
	t.Helper()
	var out []string
	err := e.View(context.Background(), func(tx Tx) error {
		return tx.Scan(b, nil, nil, false, func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return true
		})
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return out
}

func get(t testing.TB, e Engine, b Bucket, key string) []byte {
	t.Helper()
	var v []byte
	err := e.View(context.Background(), func(tx Tx) error {
		var err error
		v, err = tx.Get(b, []byte(key))
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return v
}

func TestGetPutDelete(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()
	put(t, e, bA, "k1", "v1", "k2", "v2")
	put(t, e, bB, "k1", "other")

	if got := get(t, e, bA, "k1"); string(got) != "v1" {
		t.Errorf("Get k1 = %q, want v1", got)
	}
	if got := get(t, e, bB, "k1"); string(got) != "other" {
		t.Errorf("Get b/k1 = %q, want other", got)
	}
	if got := get(t, e, bA, "missing"); got != nil {
		t.Errorf("Get missing = %q, want nil", got)
	}

	// Overwrite, delete, delete of a missing key, empty value.
	err := e.Update(ctx, func(tx Tx) error {
		if err := tx.Put(bA, []byte("k1"), []byte("v1b")); err != nil {
			return err
		}
		if err := tx.Delete(bA, []byte("k2")); err != nil {
			return err
		}
		if err := tx.Delete(bA, []byte("nope")); err != nil {
			return err
		}
		if err := tx.Put(bA, []byte("empty"), nil); err != nil {
			return err
		}
		// Read-your-writes inside the transaction.
		v, err := tx.Get(bA, []byte("k1"))
		if err != nil || string(v) != "v1b" {
			return fmt.Errorf("in-tx Get k1 = %q, %v", v, err)
		}
		if v, err := tx.Get(bA, []byte("empty")); err != nil || v == nil || len(v) != 0 {
			return fmt.Errorf("in-tx Get empty = %#v, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, e, bA), []string{"empty=", "k1=v1b"}; !slices.Equal(got, want) {
		t.Errorf("contents = %q, want %q", got, want)
	}
	if v := get(t, e, bA, "empty"); v == nil || len(v) != 0 {
		t.Errorf("Get empty = %#v, want non-nil empty", v)
	}

	// Get returns a copy that outlives the transaction.
	v := get(t, e, bA, "k1")
	put(t, e, bA, "k1", "zzz")
	if string(v) != "v1b" {
		t.Errorf("copy changed to %q", v)
	}
}

func TestTxErrors(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()

	err := e.View(ctx, func(tx Tx) error {
		if _, err := tx.Get("nope", []byte("k")); !errors.Is(err, ErrUnknownBucket) || !strings.Contains(err.Error(), "nope") {
			return fmt.Errorf("Get unknown bucket: %v", err)
		}
		if err := tx.Scan("nope", nil, nil, false, func(k, v []byte) bool { return true }); !errors.Is(err, ErrUnknownBucket) {
			return fmt.Errorf("Scan unknown bucket: %v", err)
		}
		if _, err := tx.NextSequence(bA); !errors.Is(err, ErrReadOnly) {
			return fmt.Errorf("NextSequence in View: %v", err)
		}
		if err := tx.Put(bA, []byte("k"), []byte("v")); !errors.Is(err, ErrReadOnly) {
			return fmt.Errorf("Put in View: %v", err)
		}
		if err := tx.Delete(bA, []byte("k")); !errors.Is(err, ErrReadOnly) {
			return fmt.Errorf("Delete in View: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var kept Tx
	err = e.Update(ctx, func(tx Tx) error {
		kept = tx
		if err := tx.Put("nope", []byte("k"), []byte("v")); !errors.Is(err, ErrUnknownBucket) {
			return fmt.Errorf("Put unknown bucket: %v", err)
		}
		if _, err := tx.NextSequence("nope"); !errors.Is(err, ErrUnknownBucket) {
			return fmt.Errorf("NextSequence unknown bucket: %v", err)
		}
		if err := tx.Put(bA, nil, []byte("v")); !errors.Is(err, berrors.ErrKeyRequired) {
			return fmt.Errorf("Put empty key: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Get(bA, []byte("k")); !errors.Is(err, ErrTxDone) {
		t.Errorf("Get on a kept Tx: %v, want ErrTxDone", err)
	}

	// An error from fn is returned as is.
	errMine := errors.New("mine")
	if err := e.Update(ctx, func(tx Tx) error { return errMine }); err != errMine {
		t.Errorf("Update = %v, want %v", err, errMine)
	}
	if err := e.View(ctx, func(tx Tx) error { return errMine }); err != errMine {
		t.Errorf("View = %v, want %v", err, errMine)
	}
}

func TestScan(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	put(t, e, bA, "b", "1", "d", "2", "f", "3", "h", "4")
	put(t, e, bB, "a", "x") // must not show up

	s := func(x string) []byte {
		if x == "-" {
			return nil
		}
		return []byte(x)
	}
	tests := []struct {
		start, end string // "-" = nil
		reverse    bool
		limit      int // stop after this many (0 = all)
		want       string
	}{
		{"-", "-", false, 0, "bdfh"},
		{"-", "-", true, 0, "hfdb"},
		{"d", "h", false, 0, "df"},
		{"d", "h", true, 0, "fd"},
		{"c", "g", false, 0, "df"},
		{"c", "g", true, 0, "fd"},
		{"a", "z", false, 0, "bdfh"},
		{"a", "z", true, 0, "hfdb"},
		{"-", "d", false, 0, "b"},
		{"-", "d", true, 0, "b"},
		{"-", "e", true, 0, "db"},
		{"e", "-", false, 0, "fh"},
		{"e", "-", true, 0, "hf"},
		{"h", "-", true, 0, "h"},
		{"i", "-", false, 0, ""},
		{"i", "-", true, 0, ""},
		{"-", "b", false, 0, ""},
		{"-", "b", true, 0, ""},
		{"d", "d", false, 0, ""},
		{"f", "d", true, 0, ""},
		{"d", "e", true, 0, "d"},
		{"-", "-", false, 2, "bd"},
		{"-", "-", true, 2, "hf"},
		{"c", "-", true, 1, "h"},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s-%s/rev=%v/limit=%d", tc.start, tc.end, tc.reverse, tc.limit)
		t.Run(name, func(t *testing.T) {
			var got strings.Builder
			n := 0
			err := e.View(context.Background(), func(tx Tx) error {
				return tx.Scan(bA, s(tc.start), s(tc.end), tc.reverse, func(k, v []byte) bool {
					got.Write(k)
					n++
					return tc.limit == 0 || n < tc.limit
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("got %q, want %q", got.String(), tc.want)
			}
		})
	}
}

func TestScanManyKeys(t *testing.T) {
	// Enough keys to span many pages, so cursor moves cross page borders.
	e := openTest(t, "", BoltOptions{})
	const n = 5000
	err := e.Update(context.Background(), func(tx Tx) error {
		for i := 0; i < n; i += 2 { // even numbers only
			k := binary.BigEndian.AppendUint32(nil, uint32(i))
			if err := tx.Put(bA, k, bytes.Repeat([]byte{'x'}, 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	key := func(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }
	for _, rng := range [][2]int{{0, n}, {1, n - 1}, {1001, 3999}, {1000, 4000}, {2500, 2501}} {
		for _, reverse := range []bool{false, true} {
			var got []int
			err := e.View(context.Background(), func(tx Tx) error {
				return tx.Scan(bA, key(rng[0]), key(rng[1]), reverse, func(k, v []byte) bool {
					got = append(got, int(binary.BigEndian.Uint32(k)))
					return true
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for i := rng[0]; i < rng[1]; i++ {
				if i%2 == 0 {
					want = append(want, i)
				}
			}
			if reverse {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("range %v reverse=%v: got %d keys (%v...), want %d", rng, reverse, len(got), got[:min(3, len(got))], len(want))
			}
		}
	}
}

func TestNextSequence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.db")
	e := openTest(t, path, BoltOptions{})
	ctx := context.Background()
	var got []uint64
	for range 3 {
		err := e.Update(ctx, func(tx Tx) error {
			n, err := tx.NextSequence(bA)
			got = append(got, n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Sequences are per bucket.
	err := e.Update(ctx, func(tx Tx) error {
		n, err := tx.NextSequence(bB)
		got = append(got, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failed Update does not consume a sequence number.
	boom := errors.New("boom")
	err = e.Update(ctx, func(tx Tx) error {
		if _, err := tx.NextSequence(bA); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v, want boom", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, path, BoltOptions{})
	err = e.Update(ctx, func(tx Tx) error {
		n, err := tx.NextSequence(bA)
		got = append(got, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 2, 3, 1, 4}; !slices.Equal(got, want) {
		t.Errorf("sequences = %v, want %v", got, want)
	}
}

// TestBatchFailureIsolation runs many concurrent Updates, some of which fail
// after writing, fail without writing, or panic, and checks that exactly the
// successful ones are kept.
func TestBatchFailureIsolation(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()
	errWrote := errors.New("failed after writing")
	errClean := errors.New("failed without writing")

	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	// start makes the goroutines submit at nearly the same time so that
	// batches really mix the kinds.
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			key := fmt.Appendf(nil, "k%03d", i)
			errs[i] = e.Update(ctx, func(tx Tx) error {
				switch i % 4 {
				case 1: // fails after writing: must be rolled back
					if err := tx.Put(bA, key, []byte("bad")); err != nil {
						return err
					}
					if _, err := tx.NextSequence(bB); err != nil {
						return err
					}
					return errWrote
				case 2: // fails without writing
					if _, err := tx.Get(bA, key); err != nil {
						return err
					}
					return errClean
				case 3: // panics after writing
					if err := tx.Put(bA, key, []byte("bad")); err != nil {
						return err
					}
					panic(fmt.Sprintf("panic %d", i))
				}
				return tx.Put(bA, key, []byte("ok"))
			})
		})
	}
	close(start)
	wg.Wait()

	var want []string
	for i, err := range errs {
		switch i % 4 {
		case 0:
			if err != nil {
				t.Errorf("update %d: %v, want nil", i, err)
			}
			want = append(want, fmt.Sprintf("k%03d=ok", i))
		case 1:
			if err != errWrote {
				t.Errorf("update %d: %v, want %v", i, err, errWrote)
			}
		case 2:
			if err != errClean {
				t.Errorf("update %d: %v, want %v", i, err, errClean)
			}
		case 3:
			if !errors.Is(err, errPanicked) || !strings.Contains(err.Error(), fmt.Sprintf("panic %d", i)) {
				t.Errorf("update %d: %v, want panic error", i, err)
			}
		}
	}
	if got := contents(t, e, bA); !slices.Equal(got, want) {
		t.Errorf("bucket a has %d keys, want %d\n got %q\nwant %q", len(got), len(want), got, want)
	}
	if got := contents(t, e, bB); len(got) != 0 {
		t.Errorf("bucket b = %q, want empty", got)
	}
	// No NextSequence of a failed Update was kept.
	err := e.Update(ctx, func(tx Tx) error {
		n, err := tx.NextSequence(bB)
		if err == nil && n != 1 {
			err = fmt.Errorf("sequence = %d, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	be := e.(*boltEngine)
	t.Logf("%d updates in %d batches: %d function runs, %d commits, %d rollbacks",
		n, be.nBatches.Load(), be.nRuns.Load(), be.nCommits.Load(), be.nRollbacks.Load())
	// Each function that failed after writing or panicked cost exactly one
	// rollback; the ones that failed cleanly cost none.
	if got, want := be.nRollbacks.Load(), int64(n/2); got != want {
		t.Errorf("%d rollbacks, want %d", got, want)
	}
	// Reruns stay linear: at most 3 runs per function (+1 for the final
	// NextSequence Update above).
	if runs := be.nRuns.Load(); runs > 3*n+1 {
		t.Errorf("%d function runs for %d updates, want at most %d", runs, n, 3*n+1)
	}
}

func TestPanicDoesNotBreakEngine(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()
	errBoom := errors.New("boom")
	err := e.Update(ctx, func(tx Tx) error { panic(errBoom) })
	if !errors.Is(err, errPanicked) || !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want panic error wrapping boom", err)
	}
	err = e.Update(ctx, func(tx Tx) error { panic("no writes") })
	if !errors.Is(err, errPanicked) {
		t.Fatalf("Update = %v, want panic error", err)
	}
	put(t, e, bA, "after", "panic")
	if got := get(t, e, bA, "after"); string(got) != "panic" {
		t.Errorf("Get after = %q", got)
	}
	if err := e.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	openTest(t, path, BoltOptions{})
	begin := time.Now()
	e2, err := OpenBolt(path, testBuckets, BoltOptions{Timeout: 100 * time.Millisecond, Logger: quietLogger()})
	if err == nil {
		_ = e2.Close()
		t.Fatal("second OpenBolt succeeded")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("second OpenBolt took %v", d)
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Errorf("error %v does not wrap berrors.ErrTimeout", err)
	}
	for _, s := range []string{path, "locked by another process", "another forumd"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenBolt(filepath.Join(dir, "x.db"), []Bucket{""}, BoltOptions{}); err == nil {
		t.Error("empty bucket name accepted")
	}
	if _, err := OpenBolt(filepath.Join(dir, "missing", "x.db"), testBuckets, BoltOptions{}); err == nil {
		t.Error("open in a missing directory succeeded")
	}
	// Not a bbolt file.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(junk, testBuckets, BoltOptions{}); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("open junk file: %v", err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reopen.db")
	e := openTest(t, path, BoltOptions{})
	put(t, e, bA, "k", "v")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Reopen with an extra bucket: old data is there, the new bucket works.
	e2, err := OpenBolt(path, append(testBuckets, "c"), BoltOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := get(t, e2, bA, "k"); string(got) != "v" {
		t.Errorf("after reopen Get = %q, want v", got)
	}
	put(t, e2, "c", "x", "y")
	if got := contents(t, e2, "c"); !slices.Equal(got, []string{"x=y"}) {
		t.Errorf("bucket c = %q", got)
	}
}

// TestConcurrentCounters has 64 writers increment counters, with the
// default checkpoints and with one every 3 writes, so that checkpoints swap
// the overlay while the committer adds to it.
func TestConcurrentCounters(t *testing.T) {
	for _, opts := range []BoltOptions{{}, {CheckpointOps: 3}} {
		t.Run(fmt.Sprintf("ops=%d", opts.CheckpointOps), func(t *testing.T) { testConcurrentCounters(t, opts) })
	}
}

func testConcurrentCounters(t *testing.T, opts BoltOptions) {
	e := openTest(t, "", opts)
	ctx := context.Background()
	const writers, incs = 64, 50
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range writers {
		wg.Go(func() {
			key := fmt.Appendf(nil, "counter-%02d", w)
			for range incs {
				err := e.Update(ctx, func(tx Tx) error {
					v, err := tx.Get(bA, key)
					if err != nil {
						return err
					}
					var n uint64
					if v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					if err := tx.Put(bA, key, binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
						return err
					}
					// A shared counter too, incremented by everybody.
					v, err = tx.Get(bB, []byte("total"))
					if err != nil {
						return err
					}
					n = 0
					if v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					return tx.Put(bB, []byte("total"), binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					failed.Add(1)
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	err := e.View(ctx, func(tx Tx) error {
		for w := range writers {
			v, err := tx.Get(bA, fmt.Appendf(nil, "counter-%02d", w))
			if err != nil {
				return err
			}
			if v == nil || binary.BigEndian.Uint64(v) != incs {
				t.Errorf("counter %d = %x, want %d", w, v, incs)
			}
		}
		v, err := tx.Get(bB, []byte("total"))
		if err != nil {
			return err
		}
		if v == nil || binary.BigEndian.Uint64(v) != writers*incs {
			t.Errorf("total = %x, want %d", v, writers*incs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	be := e.(*boltEngine)
	syncs := be.nSyncs.Load()
	t.Logf("%d updates in %d log records, %d syncs (%.1f updates per sync), %d checkpoints",
		writers*incs, be.nRecords.Load(), syncs, float64(writers*incs)/float64(syncs), be.nCommits.Load())
	if syncs >= writers*incs {
		t.Errorf("no group commit: %d syncs for %d updates", syncs, writers*incs)
	}
}

func TestContextCancelled(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := e.Update(ctx, func(tx Tx) error {
		ran = true
		return tx.Put(bA, []byte("k"), []byte("v"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want context.Canceled", err)
	}
	if ran {
		t.Error("fn ran with a cancelled context")
	}
	if got := get(t, e, bA, "k"); got != nil {
		t.Errorf("Get = %q, want nil", got)
	}
	if err := e.View(ctx, func(tx Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View = %v, want context.Canceled", err)
	}
	if _, err := e.WriteTo(ctx, io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTo = %v, want context.Canceled", err)
	}
	if err := e.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check = %v, want context.Canceled", err)
	}
}

// TestContextCancelledWhileQueued cancels Updates that wait behind a slow
// one: each either was not applied and returns ctx.Err(), or was applied and
// returns nil.
func TestContextCancelledWhileQueued(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	release := make(chan struct{})
	started := make(chan struct{})
	slowDone := make(chan error, 1)
	go func() {
		slowDone <- e.Update(context.Background(), func(tx Tx) error {
			close(started)
			<-release // hold the committer
			return tx.Put(bA, []byte("slow"), []byte("1"))
		})
	}()
	<-started

	const n = 20
	ctx, cancel := context.WithCancel(context.Background())
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = e.Update(ctx, func(tx Tx) error {
				return tx.Put(bA, fmt.Appendf(nil, "q%02d", i), []byte("1"))
			})
		})
	}
	time.Sleep(50 * time.Millisecond) // let them queue
	cancel()
	wg.Wait()
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("queued update %d = %v, want context.Canceled", i, err)
		}
	}
	if got := contents(t, e, bA); !slices.Equal(got, []string{"slow=1"}) {
		t.Errorf("contents = %q, want only slow=1", got)
	}
}

// TestContextCancelledWhileRunning cancels an Update whose fn is running: it
// must wait for and report the real outcome.
func TestContextCancelledWhileRunning(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	err := e.Update(ctx, func(tx Tx) error {
		cancel()
		time.Sleep(10 * time.Millisecond)
		return tx.Put(bA, []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Errorf("Update = %v, want nil (it committed)", err)
	}
	if got := get(t, e, bA, "k"); string(got) != "v" {
		t.Errorf("Get = %q, want v", got)
	}
}

func TestClose(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()

	// Updates in flight when Close is called are committed.
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = e.Update(ctx, func(tx Tx) error {
				return tx.Put(bA, fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
		})
	}
	time.Sleep(time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("update %d: %v", i, err)
		}
	}

	if err := e.Update(ctx, func(tx Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := e.View(ctx, func(tx Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if _, err := e.WriteTo(ctx, io.Discard); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteTo after Close = %v, want ErrClosed", err)
	}
	if err := e.Check(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Check after Close = %v, want ErrClosed", err)
	}
}

func TestCloseKeepsAcceptedUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "close.db")
	e := openTest(t, path, BoltOptions{})
	ctx := context.Background()
	const n = 100
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = e.Update(ctx, func(tx Tx) error {
				return tx.Put(bA, fmt.Appendf(nil, "k%03d", i), []byte("v"))
			})
		})
	}
	go func() { _ = e.Close() }()
	wg.Wait()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen: exactly the Updates that returned nil are there.
	e = openTest(t, path, BoltOptions{})
	got := contents(t, e, bA)
	var want []string
	for i, err := range errs {
		switch {
		case err == nil:
			want = append(want, fmt.Sprintf("k%03d=v", i))
		case !errors.Is(err, ErrClosed):
			t.Errorf("update %d: %v", i, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("after reopen %d keys, want %d", len(got), len(want))
	}
}

func TestWriteTo(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, filepath.Join(dir, "src.db"), BoltOptions{})
	ctx := context.Background()
	for i := range 100 {
		put(t, e, bA, fmt.Sprintf("k%03d", i), strings.Repeat("v", i))
	}
	put(t, e, bB, "x", "y")

	backup := filepath.Join(dir, "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.WriteTo(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Size() != n {
		t.Fatalf("backup size %v (%v), WriteTo said %d", fi.Size(), err, n)
	}
	// Writes after the backup are not in it.
	put(t, e, bA, "later", "1")

	b := openTest(t, backup, BoltOptions{})
	if err := b.Check(ctx); err != nil {
		t.Errorf("Check backup: %v", err)
	}
	if got, want := contents(t, b, bA), contents(t, e, bA); len(got) != 100 || len(want) != 101 {
		t.Errorf("backup has %d keys, source %d; want 100 and 101", len(got), len(want))
	}
	if got := get(t, b, bA, "k042"); string(got) != strings.Repeat("v", 42) {
		t.Errorf("backup k042 = %q", got)
	}
	if got := contents(t, b, bB); !slices.Equal(got, []string{"x=y"}) {
		t.Errorf("backup bucket b = %q", got)
	}

	// A failing writer fails WriteTo.
	if _, err := e.WriteTo(ctx, failWriter{}); err == nil {
		t.Error("WriteTo to a failing writer succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestCheck(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()
	for i := range 200 {
		put(t, e, bA, fmt.Sprintf("k%03d", i), strings.Repeat("v", 500))
	}
	// Free some pages too.
	err := e.Update(ctx, func(tx Tx) error {
		for i := 0; i < 200; i += 3 {
			if err := tx.Delete(bA, fmt.Appendf(nil, "k%03d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Check concurrently with writers (it holds them off).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { put(t, e, bB, fmt.Sprint(i), "x") })
	}
	if err := e.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
	wg.Wait()
	if err := e.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestReadOnlyBatchDoesNotCommit checks that a batch in which no function
// wrote writes no log record (no fsync for nothing).
func TestReadOnlyBatchDoesNotCommit(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	be := e.(*boltEngine)
	before, syncs := be.nRecords.Load(), be.nSyncs.Load()
	err := e.Update(context.Background(), func(tx Tx) error {
		_, err := tx.Get(bA, []byte("k"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := be.nRecords.Load(); got != before {
		t.Errorf("%d log records for a read-only Update", got-before)
	}
	if got := be.nSyncs.Load(); got != syncs {
		t.Errorf("%d syncs for a read-only Update", got-syncs)
	}
}

// TestViewsDuringUpdates runs readers while writers commit, checking that a
// snapshot never sees a half-applied transaction, with the default
// checkpoints and with one every 3 writes (the shared read transaction
// retired and replaced while readers use it).
func TestViewsDuringUpdates(t *testing.T) {
	for _, opts := range []BoltOptions{{}, {CheckpointOps: 3}} {
		t.Run(fmt.Sprintf("ops=%d", opts.CheckpointOps), func(t *testing.T) { testViewsDuringUpdates(t, opts) })
	}
}

func testViewsDuringUpdates(t *testing.T, opts BoltOptions) {
	e := openTest(t, "", opts)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each Update writes the same value to a and b.
				v := fmt.Appendf(nil, "%d-%d", w, i)
				err := e.Update(ctx, func(tx Tx) error {
					if err := tx.Put(bA, []byte("x"), v); err != nil {
						return err
					}
					return tx.Put(bB, []byte("x"), v)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 200 {
		err := e.View(ctx, func(tx Tx) error {
			a, err := tx.Get(bA, []byte("x"))
			if err != nil {
				return err
			}
			b, err := tx.Get(bB, []byte("x"))
			if err != nil {
				return err
			}
			if !bytes.Equal(a, b) {
				return fmt.Errorf("torn snapshot: a=%q b=%q", a, b)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

// TestGrowWhileReading grows the file far beyond its first memory map while
// readers keep reading: bbolt remaps only once every read transaction has
// ended, so checkpoints must retire the shared one (a deadlock otherwise).
func TestGrowWhileReading(t *testing.T) {
	e := openTest(t, "", BoltOptions{InitialMmapSize: 1, CheckpointOps: 4})
	ctx := context.Background()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := e.View(ctx, func(tx Tx) error {
					return tx.Scan(bA, nil, nil, false, func(k, v []byte) bool { return true })
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		value := bytes.Repeat([]byte("x"), 64<<10)
		for i := range 200 {
			put(t, e, bA, fmt.Sprintf("k%03d", i), string(value))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes stalled while readers read (remap deadlock?)")
	}
	close(stop)
	readers.Wait()
	if n := len(contents(t, e, bA)); n != 200 {
		t.Errorf("%d keys, want 200", n)
	}
	if err := e.Check(ctx); err != nil {
		t.Error(err)
	}
	t.Logf("%d checkpoints", e.(*boltEngine).nCommits.Load())
}

func benchUpdate(b *testing.B, parallel bool, opts BoltOptions) {
	e, err := OpenBolt(filepath.Join(b.TempDir(), "bench.db"), testBuckets, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	be := e.(*boltEngine)
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 1024)
	create := func(tx Tx) error {
		n, err := tx.NextSequence(bA)
		if err != nil {
			return err
		}
		return tx.Put(bA, binary.BigEndian.AppendUint64(nil, n), value)
	}
	b.SetBytes(int64(len(value)))
	b.ResetTimer()
	start := time.Now()
	syncs0 := be.nSyncs.Load()
	if parallel {
		// 64 writers in all, whatever GOMAXPROCS is.
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := e.Update(ctx, create); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for range b.N {
			if err := e.Update(ctx, create); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	elapsed := time.Since(start)
	syncs := be.nSyncs.Load() - syncs0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	if syncs > 0 {
		b.ReportMetric(float64(b.N)/float64(syncs), "ops/sync")
		b.ReportMetric(float64(syncs)/elapsed.Seconds(), "syncs/s")
	}
}

// BenchmarkUpdateParallel measures group commit: 64 concurrent writers, each
// Update creating a 1 KiB record under a new sequence key, fsync on.
func BenchmarkUpdateParallel(b *testing.B) { benchUpdate(b, true, BoltOptions{}) }

// BenchmarkUpdateSerial is the same with a single writer: one commit (two
// fdatasyncs) per Update.
func BenchmarkUpdateSerial(b *testing.B) { benchUpdate(b, false, BoltOptions{}) }

// BenchmarkUpdateParallelNoSync is BenchmarkUpdateParallel with NoSync: not
// durable, it shows the CPU ceiling of the engine without the disk.
func BenchmarkUpdateParallelNoSync(b *testing.B) {
	benchUpdate(b, true, BoltOptions{NoSync: true})
}

// BenchmarkOpen measures how long opening a used database takes, with the
// default (the freelist synced) and with NoFreelistSync (bbolt rebuilds it
// by scanning the file). The file holds 64 MiB of 1 KiB records, a quarter of
// them rewritten afterwards so that it has free pages, as a forum's file does.
func BenchmarkOpen(b *testing.B) {
	for _, v := range []struct {
		name string
		opts BoltOptions
	}{
		{"freelist=rebuilt", BoltOptions{NoFreelistSync: true}},
		{"freelist=synced", BoltOptions{}},
	} {
		b.Run(v.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "open.db")
			build := v.opts
			build.NoSync = true // only to build the file quickly
			e, err := OpenBolt(path, []Bucket{"b"}, build)
			if err != nil {
				b.Fatal(err)
			}
			const records, perTx = 64 << 10, 1024
			val := bytes.Repeat([]byte{'v'}, 1024)
			put := func(from, to, step int) {
				for i := from; i < to; i += perTx * step {
					if err := e.Update(b.Context(), func(tx Tx) error {
						for j := i; j < min(i+perTx*step, to); j += step {
							if err := tx.Put("b", binary.BigEndian.AppendUint64(nil, uint64(j)), val); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			put(0, records, 1)
			put(0, records, 4)
			if err := e.Close(); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				e, err := OpenBolt(path, []Bucket{"b"}, v.opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
		})
	}
}

// TestWrites checks Engine.Writes: it counts committed transactions per
// bucket written, not failed or read-only ones, and has grown by the time
// Update returns.
func TestWrites(t *testing.T) {
	e := openTest(t, "", BoltOptions{})
	ctx := context.Background()
	want := map[Bucket]uint64{bA: 0, bB: 0}
	check := func(step string) {
		t.Helper()
		for b, n := range want {
			if got := e.Writes(b); got != n {
				t.Errorf("%s: Writes(%s) = %d, want %d", step, b, got, n)
			}
		}
	}
	check("new engine")
	put(t, e, bA, "k", "1")
	want[bA]++
	check("after a put to A")
	if err := e.Update(ctx, func(tx Tx) error {
		if err := tx.Put(bA, []byte("k"), []byte("2")); err != nil {
			return err
		}
		return tx.Delete(bB, []byte("absent"))
	}); err != nil {
		t.Fatal(err)
	}
	want[bA]++
	want[bB]++
	check("after one transaction writing A twice and B once")
	if err := e.Update(ctx, func(tx Tx) error {
		if err := tx.Put(bB, []byte("k"), []byte("1")); err != nil {
			return err
		}
		return errors.New("changed my mind")
	}); err == nil {
		t.Fatal("failing update succeeded")
	}
	check("after a failed update")
	if err := e.Update(ctx, func(tx Tx) error {
		_, err := tx.Get(bA, []byte("k"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("after a read-only update")
	if got := e.Writes("no such bucket"); got != 0 {
		t.Errorf("Writes of an unknown bucket = %d", got)
	}

	// Concurrent writers: every Update that returned is counted.
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			before := e.Writes(bB)
			if err := e.Update(ctx, func(tx Tx) error {
				return tx.Put(bB, fmt.Appendf(nil, "c%02d", i), []byte("v"))
			}); err != nil {
				t.Error(err)
				return
			}
			if after := e.Writes(bB); after <= before {
				t.Errorf("Writes(B) = %d after an Update returned, %d before it", after, before)
			}
		})
	}
	wg.Wait()
}
