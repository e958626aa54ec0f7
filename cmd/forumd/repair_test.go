package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
)

// crashedDataDir writes n replies' worth of keys through the engine without
// a checkpoint and copies the files as a crash would leave them, into a
// new data directory.
func crashedDataDir(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "forum.db")
	eng, err := kv.OpenBolt(src, store.Buckets(), kv.BoltOptions{CheckpointInterval: time.Hour, CheckpointOps: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	b := store.Buckets()[0]
	for i := range n {
		err := eng.Update(context.Background(), func(tx kv.Tx) error {
			return tx.Put(b, fmt.Appendf(nil, "repair-test-%03d", i), bytes.Repeat([]byte{byte('a' + i%26)}, 200))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal.0", "-wal.1"} {
		data, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "forum.db"+suffix), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestAdminRepair(t *testing.T) {
	dir := crashedDataDir(t, 10)
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"admin", "repair", "--data", dir}, noEnv, nil, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "nothing to repair") {
		t.Fatalf("repair of a sound log: exit %d, %q %q", code, out.String(), errOut.String())
	}
	// Damage the 6th put (its value is 200 'f's).
	wal0 := filepath.Join(dir, "forum.db-wal.0")
	data, err := os.ReadFile(wal0)
	if err != nil {
		t.Fatal(err)
	}
	// The log stamps every 512-byte sector: a stamp may split the run,
	// but one part of it is 100 bytes or more.
	at := bytes.Index(data, bytes.Repeat([]byte("f"), 100))
	if at < 0 {
		t.Fatal("the 6th put is not in file 0")
	}
	data[at+50] ^= 1
	if err := os.WriteFile(wal0, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// forumd refuses to start, and names the repair command.
	errOut.Reset()
	code := run(context.Background(), []string{"serve", "--data", dir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, noEnv, nil, &out, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), "damaged at offset") || !strings.Contains(errOut.String(), "forumd admin repair --data "+dir) {
		t.Fatalf("serve on a damaged log: exit %d, stderr:\n%s", code, errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"admin", "repair", "--data", dir}, noEnv, nil, &out, &errOut); code != exitOK {
		t.Fatalf("repair: exit %d, %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "forum.db-wal.0.broken") {
		t.Errorf("repair output does not name the saved copy:\n%s", out.String())
	}
	if saved, err := os.ReadFile(wal0 + ".broken"); err != nil || !bytes.Equal(saved, data) {
		t.Errorf("saved copy: %v", err)
	}
	eng, err := kv.OpenBolt(filepath.Join(dir, "forum.db"), store.Buckets(), kv.BoltOptions{})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer eng.Close()
	n := 0
	err = eng.View(context.Background(), func(tx kv.Tx) error {
		return tx.Scan(store.Buckets()[0], []byte("repair-test-"), []byte("repair-test-~"), false, func(k, v []byte) bool { n++; return true })
	})
	if err != nil || n != 5 {
		t.Errorf("after repair: %d keys (%v), want the 5 before the damage", n, err)
	}
	// Usage errors.
	if code := run(context.Background(), []string{"admin", "repair", "extra"}, noEnv, nil, &out, &errOut); code != exitUsage {
		t.Errorf("repair with an extra argument: exit %d, want %d", code, exitUsage)
	}
}

func noEnv(string) string { return "" }
