package wal

import (
	"io"
	"os"
	"path/filepath"
)

// File is what the log needs of one of its files. Tests wrap it to inject
// failures on write, sync and read, and short reads.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes what was written durable (fdatasync on Linux).
	Sync() error
	// Size returns the file's size.
	Size() (int64, error)
	// Truncate changes the file's size.
	Truncate(size int64) error
	Close() error
}

// FS opens the log's files. OS is the real one.
type FS interface {
	// OpenFile opens the file at path for reading and writing, creating
	// it (mode 0600) if it does not exist, and reports whether it did.
	OpenFile(path string) (f File, created bool, err error)
	// SyncDir makes the entries of directory dir durable (after a file
	// was created in it).
	SyncDir(dir string) error
}

// OS is the FS of the operating system.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(path string) (File, bool, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	return osFile{f}, os.IsNotExist(statErr), nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type osFile struct{ *os.File }

func (f osFile) Sync() error { return fdatasync(f.File) }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Path returns the path of file i (0 or 1) of the log of the database at
// dbPath: dbPath+"-wal.0" and dbPath+"-wal.1".
func Path(dbPath string, i int) string {
	if i == 0 {
		return dbPath + "-wal.0"
	}
	return dbPath + "-wal.1"
}

// dirOf returns the directory holding path.
func dirOf(path string) string { return filepath.Dir(path) }
