package wal_test

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/forumhq/forum/server/store/kv/wal"
	"github.com/forumhq/forum/server/store/kv/wal/faultfs"
)

// TestReadErrorEverywhere fails each read of recovery in turn, with EIO
// and with short reads: recovery refuses every time.
func TestReadErrorEverywhere(t *testing.T) {
	path, st := wal.TwoFilesForTest(t, 300) // files over 1 MiB: several reads each
	fsys := &faultfs.FS{}
	if _, err := wal.Recover(fsys, path, st); err != nil {
		t.Fatal(err)
	}
	reads := fsys.Calls(faultfs.Read)
	if reads < 4 {
		t.Fatalf("only %d reads", reads)
	}
	for _, op := range []faultfs.Op{faultfs.Read, faultfs.ShortRead} {
		for n := range reads {
			fsys := &faultfs.FS{}
			fsys.FailAfter(op, n, syscall.EIO)
			rec, err := wal.Recover(fsys, path, st)
			if err == nil {
				t.Fatalf("op %d failing after %d reads: recovered %d records without an error", op, n, len(rec.Records))
			}
			if !errors.Is(err, wal.ErrRead) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("op %d failing after %d reads: %v, want wal.ErrRead naming the offset", op, n, err)
			}
		}
	}
}

// TestFailedSync reports a failed fdatasync (not a closed file).
func TestFailedSync(t *testing.T) {
	fsys := &faultfs.FS{}
	l, err := wal.Create(fsys, filepath.Join(t.TempDir(), "db"), wal.ID{1}, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fsys.FailAfter(faultfs.Sync, 0, syscall.EIO)
	if err := l.Append(append(make([]byte, wal.FrameHeaderSize), "x"...), 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Sync = %v, want EIO", err)
	}
}
