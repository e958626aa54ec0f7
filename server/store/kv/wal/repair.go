package wal

import (
	"errors"
	"fmt"
	"os"
)

// Repaired is what Repair did to one file.
type Repaired struct {
	Path   string // the file cut
	Saved  string // where its whole former content was saved
	Offset int64  // the length it was cut to
	Reason string // the damage found
}

// Repair salvages a damaged log: while Recover reports damage or a read
// error, it saves the file concerned aside (as path+".broken", or
// ".broken.N" if that exists), then cuts the file where its valid records
// end, so that the records before the damage are kept and the ones after
// it are dropped from the log (they stay in the saved copy). It returns
// what it did and the Recovery of the repaired log. It refuses a log of
// another database or of an unknown version: those are not damage.
func Repair(fsys FS, dbPath string, st State) ([]Repaired, *Recovery, error) {
	var done []Repaired
	for range 8 {
		rec, err := Recover(fsys, dbPath, st)
		if err == nil {
			return done, rec, nil
		}
		var ce *CorruptError
		var path string
		var cut int64
		switch {
		case errors.As(err, &ce):
			path, cut = ce.Path, ce.Offset
		case errors.Is(err, ErrRead):
			var re *readError
			if !errors.As(err, &re) {
				return done, nil, err
			}
			path, cut = re.path, re.off&^(align-1)
		default:
			return done, nil, err
		}
		saved, err := saveAside(fsys, path)
		if err != nil {
			return done, nil, fmt.Errorf("wal: repair: save %s aside: %w", path, err)
		}
		if err := cutFile(fsys, path, cut); err != nil {
			return done, nil, fmt.Errorf("wal: repair: cut %s: %w", path, err)
		}
		reason := "a read error"
		if ce != nil {
			reason = ce.Reason
		}
		done = append(done, Repaired{Path: path, Saved: saved, Offset: cut, Reason: reason})
	}
	return done, nil, errors.New("wal: repair: the log is still damaged after cutting it 8 times")
}

// saveAside copies the file at path to a new file beside it and makes the
// copy durable. What cannot be read is left out of the copy.
func saveAside(fsys FS, path string) (string, error) {
	dst := path + ".broken"
	for n := 1; ; n++ {
		if _, err := os.Stat(dst); os.IsNotExist(err) {
			break
		}
		dst = fmt.Sprintf("%s.broken.%d", path, n)
	}
	src, _, err := fsys.OpenFile(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	out, _, err := fsys.OpenFile(dst)
	if err != nil {
		return "", err
	}
	defer out.Close()
	size, err := src.Size()
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		n, rerr := src.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				return "", err
			}
		}
		off += int64(n)
		if rerr != nil {
			break // keep what could be read
		}
	}
	if err := out.Sync(); err != nil {
		return "", err
	}
	return dst, fsys.SyncDir(dirOf(path))
}

// cutFile shortens the file at path to size and makes that durable.
func cutFile(fsys FS, path string, size int64) error {
	f, _, err := fsys.OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}
