package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and the metadata needed to read it back) to
// the disk, as bbolt does on Linux.
func fdatasync(f *os.File) error {
	return syscall.Fdatasync(int(f.Fd()))
}
