package app

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestMkdirAllDurable checks that mkdirAll creates the missing directories
// and syncs each of them and the parent of the topmost one, deepest first,
// and nothing when the directory exists.
func TestMkdirAllDurable(t *testing.T) {
	root := t.TempDir()
	var synced []string
	record := func(dir string) error {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("sync of %s before it exists: %v", dir, err)
		}
		synced = append(synced, dir)
		return nil
	}

	data := filepath.Join(root, "a", "b", "data")
	if err := mkdirAll(data+"/", 0o700, record); err != nil {
		t.Fatal(err)
	}
	want := []string{data, filepath.Join(root, "a", "b"), filepath.Join(root, "a"), root}
	if !slices.Equal(synced, want) {
		t.Errorf("synced %q, want %q", synced, want)
	}
	for _, d := range want[:3] {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v", d, fi.Mode(), err)
		}
	}

	// It exists: nothing to create or sync.
	synced = nil
	if err := mkdirAll(data, 0o700, record); err != nil || len(synced) != 0 {
		t.Errorf("existing dir: err %v, synced %q", err, synced)
	}

	// Only the missing part is created and synced, with its parent.
	synced = nil
	sub := filepath.Join(root, "a", "c")
	if err := mkdirAll(sub, 0o700, record); err != nil {
		t.Fatal(err)
	}
	if want := []string{sub, filepath.Join(root, "a")}; !slices.Equal(synced, want) {
		t.Errorf("synced %q, want %q", synced, want)
	}

	// A relative path: the working directory is the parent synced.
	t.Chdir(root)
	synced = nil
	if err := mkdirAll("rel", 0o700, record); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rel", "."}; !slices.Equal(synced, want) {
		t.Errorf("relative: synced %q, want %q", synced, want)
	}

	// A file in the way.
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	synced = nil
	for _, p := range []string{file, filepath.Join(file, "data")} {
		if err := mkdirAll(p, 0o700, record); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("mkdirAll(%s) over a file: %v, want ENOTDIR", p, err)
		}
	}
	if len(synced) != 0 {
		t.Errorf("synced %q after failures", synced)
	}

	// A failed sync fails the call.
	boom := errors.New("boom")
	if err := mkdirAll(filepath.Join(root, "d"), 0o700, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failed sync: %v, want it", err)
	}

	// The real thing.
	if err := mkdirAllDurable(filepath.Join(root, "e", "f"), 0o700); err != nil {
		t.Errorf("mkdirAllDurable: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "e", "f")); err != nil || !fi.IsDir() {
		t.Errorf("mkdirAllDurable made %v, %v", fi, err)
	}
}
