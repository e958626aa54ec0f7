// Package faultfs is a wal.FS for tests that fails on demand: writes,
// syncs and reads of the log's files, and short reads, each after a
// chosen number of successful calls.
package faultfs

import (
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/forumhq/forum/server/store/kv/wal"
)

// Op is a kind of file operation.
type Op int

// The operations that can be made to fail.
const (
	Write Op = iota
	Sync
	Read
	ShortRead // a read that returns fewer bytes than asked, and io.EOF
	numOps
)

// ErrInjected is the default error of an injected failure.
var ErrInjected = errors.New("faultfs: injected failure")

// FS wraps another wal.FS (wal.OS if nil) and fails operations as told.
// It is safe for concurrent use.
type FS struct {
	Base wal.FS

	mu     sync.Mutex
	counts [numOps]int
	after  [numOps]int // fail once counts reaches after (if armed)
	armed  [numOps]bool
	err    [numOps]error
	failed [numOps]int
}

// FailAfter makes the operation op fail with err (ErrInjected if nil) from
// its (n+1)-th call from now on: n more calls succeed.
func (f *FS) FailAfter(op Op, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		err = ErrInjected
	}
	f.counts[op], f.after[op], f.armed[op], f.err[op] = 0, n, true, err
}

// DiskFull makes every write from now on fail with ENOSPC.
func (f *FS) DiskFull() { f.FailAfter(Write, 0, syscall.ENOSPC) }

// Heal stops every injected failure.
func (f *FS) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = [numOps]bool{}
}

// Calls returns how many calls of op were made since it was last armed
// (or since the start).
func (f *FS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Failed returns how many calls of op failed by injection.
func (f *FS) Failed(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed[op]
}

// check counts a call of op and returns the error to inject, if any.
func (f *FS) check(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[op]++
	if f.armed[op] && f.counts[op] > f.after[op] {
		f.failed[op]++
		return f.err[op]
	}
	return nil
}

func (f *FS) base() wal.FS {
	if f.Base == nil {
		return wal.OS
	}
	return f.Base
}

// OpenFile implements wal.FS.
func (f *FS) OpenFile(path string) (wal.File, bool, error) {
	file, created, err := f.base().OpenFile(path)
	if err != nil {
		return nil, false, err
	}
	return &faultFile{File: file, fs: f}, created, nil
}

// SyncDir implements wal.FS.
func (f *FS) SyncDir(dir string) error {
	if err := f.check(Sync); err != nil {
		return err
	}
	return f.base().SyncDir(dir)
}

type faultFile struct {
	wal.File
	fs *FS
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(Write); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(Sync); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(Read); err != nil {
		return 0, err
	}
	if err := f.fs.check(ShortRead); err != nil {
		n, rerr := f.File.ReadAt(p[:len(p)/2], off)
		if rerr == nil {
			rerr = io.EOF
		}
		return n, rerr
	}
	return f.File.ReadAt(p, off)
}
