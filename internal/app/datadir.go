package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// mkdirAllDurable is os.MkdirAll(dir, perm) that also makes what it creates
// durable: it fsyncs every directory it creates and the parent of the
// topmost one, whose entries name them, so that a crash right after it
// returns cannot lose the data directory (and with it, files fsynced inside
// it) on file systems that need the directory synced (ext4, XFS). A dir
// that exists already is left alone and nothing is synced.
func mkdirAllDurable(dir string, perm fs.FileMode) error {
	return mkdirAll(dir, perm, syncDir)
}

// mkdirAll is mkdirAllDurable with the directory sync as a parameter, for
// the tests.
func mkdirAll(dir string, perm fs.FileMode, sync func(dir string) error) error {
	dir = filepath.Clean(dir)
	// The directories to create, deepest first, up to the first that exists.
	var missing []string
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break // a root that does not exist: Mkdir reports it
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	// Create them from the top down; one that appears meanwhile (another
	// process) is fine, as MkdirAll allows, but is still synced.
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// Then sync each of them and the parent of the topmost, from the
	// bottom up: each entry is made durable after what it names.
	toSync := append(missing, filepath.Dir(missing[len(missing)-1]))
	for _, d := range toSync {
		if err := sync(d); err != nil {
			return fmt.Errorf("sync directory %s: %w", d, err)
		}
	}
	return nil
}

// syncDir fsyncs the directory dir.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
