package wal

import (
	"errors"
	"fmt"
)

// chunk is how far ahead of its writes the log zero-fills a file, so that
// an fdatasync after a write flushes only data, not the file's size. It is
// a multiple of sectorSize.
const chunk = 4 << 20

// maxSpare is the size past which PrepareSpare cuts a file back.
const maxSpare = 4 * chunk

// Log is an open log, ready for appending. Append, Sync and Switch must be
// called from one goroutine at a time (the engine's syncer); PrepareSpare
// may run on another goroutine while they do, but never together with
// Switch.
type Log struct {
	fsys   FS
	id     ID
	noSync bool
	files  [2]*logFile
	cur    int
	zeros  []byte
	buf    []byte // Append's stamped bytes, reused
}

// logFile is one of the two files.
type logFile struct {
	f      File
	path   string
	gen    uint64
	salt   uint32
	stamp  uint64
	off    int64 // where the next frame goes, in the stream
	filled int64 // the file is zero-filled or written up to here (a file offset)
}

// Create starts the log of the database at dbPath anew, once everything it
// held is in the database (after Recover's records were applied): it
// empties both files and makes file 0 the current one, of generation gen,
// whose first record will be firstSeq. The database must already record
// gen (State.Gen). Files it creates are made durable in their directory.
// With noSync the log never fsyncs (tests and benchmarks only).
func Create(fsys FS, dbPath string, id ID, gen, firstSeq uint64, noSync bool) (*Log, error) {
	l := &Log{fsys: fsys, id: id, noSync: noSync, zeros: make([]byte, 1<<20)}
	created := false
	for i := range l.files {
		path := Path(dbPath, i)
		f, c, err := fsys.OpenFile(path)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("wal: open %s: %w", path, err)
		}
		created = created || c
		l.files[i] = &logFile{f: f, path: path}
		if err := f.Truncate(0); err != nil {
			l.Close()
			return nil, fmt.Errorf("wal: empty %s: %w", path, err)
		}
	}
	if created && !noSync {
		if err := fsys.SyncDir(dirOf(dbPath)); err != nil {
			l.Close()
			return nil, fmt.Errorf("wal: sync the directory of %s: %w", dbPath, err)
		}
	}
	if err := l.start(l.files[0], gen, firstSeq); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// start makes f the current file, of generation gen: it writes the
// header's sector. Whatever f held after it is left as it is; the stamps
// tell it apart.
func (l *Log) start(f *logFile, gen, firstSeq uint64) error {
	f.gen, f.salt, f.stamp = gen, salt(l.id, gen), stampOf(gen)
	h := header{version: Version, id: l.id, gen: gen, firstSeq: firstSeq}
	if _, err := f.f.WriteAt(stampStream(l.buf[:0], 0, h.encode(), f.stamp), 0); err != nil {
		return fmt.Errorf("wal: write the header of %s: %w", f.path, err)
	}
	f.off = HeaderSize
	f.filled = max(f.filled, sectorSize)
	return nil
}

// Gen returns the generation of the current file.
func (l *Log) Gen() uint64 { return l.files[l.cur].gen }

// Current returns the index of the current file.
func (l *Log) Current() int { return l.cur }

// maxKeptBuf bounds the stamping buffer Append keeps between calls.
const maxKeptBuf = 4 << 20

// Append writes a record to the current file; it is durable after the next
// Sync. frame holds FrameHeaderSize bytes, which Append fills in, followed
// by the payload; Append may append padding to it.
func (l *Log) Append(frame []byte, seq uint64) error {
	if n := len(frame) - FrameHeaderSize; n <= 0 || n > MaxRecordSize {
		return fmt.Errorf("%w: %d bytes (the limit is %d)", ErrTooLarge, n, MaxRecordSize)
	}
	f := l.files[l.cur]
	frame = sealFrame(frame, seq, f.salt)
	b := stampStream(l.buf[:0], f.off, frame, f.stamp)
	if cap(b) <= maxKeptBuf {
		l.buf = b
	}
	at := physOff(f.off)
	if end := at + int64(len(b)); end > f.filled {
		if err := l.fill(f, end+chunk); err != nil {
			return err
		}
	}
	if _, err := f.f.WriteAt(b, at); err != nil {
		return fmt.Errorf("wal: write %s: %w", f.path, err)
	}
	f.off += int64(len(frame))
	return nil
}

// fill zero-fills f from f.filled up to target.
func (l *Log) fill(f *logFile, target int64) error {
	for f.filled < target {
		n := min(int64(len(l.zeros)), target-f.filled)
		if _, err := f.f.WriteAt(l.zeros[:n], f.filled); err != nil {
			return fmt.Errorf("wal: zero-fill %s: %w", f.path, err)
		}
		f.filled += n
	}
	return nil
}

// Sync makes the records appended so far durable.
func (l *Log) Sync() error {
	if l.noSync {
		return nil
	}
	f := l.files[l.cur]
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s: %w", f.path, err)
	}
	return nil
}

// Switch makes the other file current, as the next generation, whose first
// record will be firstSeq, and returns its index. Every record of the
// other file must be in the database. Its header is written now and made
// durable with the next Sync. What the file held before is not cleared:
// its sectors carry an older generation's stamp.
func (l *Log) Switch(firstSeq uint64) (int, error) {
	gen := l.files[l.cur].gen + 1
	next := l.cur ^ 1
	if err := l.start(l.files[next], gen, firstSeq); err != nil {
		return l.cur, err
	}
	l.cur = next
	return next, nil
}

// PrepareSpare readies file i, which is not current and whose records are
// all in the database, for the next Switch: a file that a burst of writes
// grew past maxSpare is cut back, so that the log's files, and what
// recovery reads, stay the size of recent use; and a file shorter than a
// chunk is zero-filled to one and made durable, so that the writes after
// the switch do not grow it. A file already that long is left untouched:
// it is not cleared, and nothing is written or synced.
func (l *Log) PrepareSpare(i int) error {
	f := l.files[i]
	if f.filled > maxSpare {
		if err := f.f.Truncate(0); err != nil {
			return fmt.Errorf("wal: cut %s: %w", f.path, err)
		}
		f.filled = 0
	}
	if f.filled >= sectorSize+chunk {
		return nil
	}
	if err := l.fill(f, sectorSize+chunk); err != nil {
		return err
	}
	if !l.noSync {
		if err := f.f.Sync(); err != nil {
			return fmt.Errorf("wal: sync %s: %w", f.path, err)
		}
	}
	return nil
}

// Reset empties both files, once everything is in the database (at a clean
// close), so that the next Recover reads nothing.
func (l *Log) Reset() error {
	var errs []error
	for _, f := range l.files {
		if err := f.f.Truncate(0); err != nil {
			errs = append(errs, fmt.Errorf("wal: empty %s: %w", f.path, err))
			continue
		}
		f.off, f.filled = 0, 0
		if !l.noSync {
			if err := f.f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("wal: sync %s: %w", f.path, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close closes both files.
func (l *Log) Close() error {
	var errs []error
	for _, f := range l.files {
		if f != nil {
			if err := f.f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
