package kv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The write-ahead log (WAL) makes a transaction durable with one sequential
// fdatasync, so that bbolt itself needs to commit only now and then (a
// checkpoint). It is two files beside the database, its path plus "-wal.0"
// and "-wal.1", written in turns: each checkpoint switches the log to the
// other file, whose records the checkpoint before put into bbolt.
//
// A file is a sequence of records, each the writes of one batch of Updates:
//
//	uint32  length of payload (little endian, > 0)
//	uint32  CRC-32C of payload
//	payload:
//	  uvarint seq                  (consecutive: each record is the last + 1)
//	  ops, until the payload ends:
//	    byte    opPut | opDelete | opSetSequence
//	    uvarint len(bucket), bucket
//	    opPut:         uvarint len(key), key, uvarint len(value), value
//	    opDelete:      uvarint len(key), key
//	    opSetSequence: uvarint sequence
//
// Invariants:
//   - Records are written in seq order from offset 0 of a file each time the
//     log switches to it, over whatever the file held before; files are
//     never shortened. A file's log ends at its first record that is torn
//     (bad length or CRC) or whose seq does not follow the one before it, so
//     the older records behind the newest ones are never read as part of it.
//   - The log switches to a file only when every record in it is in bbolt.
//   - bbolt's internal bucket holds the seq of the last record a checkpoint
//     applied ("applied"). On open, the records of both files after it are
//     applied to bbolt in one transaction before anything else runs; they
//     must follow it without a gap.
//   - Files are zero-filled ahead of the writes (in walChunk steps), so an
//     fdatasync after a write flushes only the data, not the file's size.
const (
	opPut         byte = 1
	opDelete      byte = 2
	opSetSequence byte = 3

	walHeaderLen = 8
	// walChunk is how far ahead of the writes the file is zero-filled.
	walChunk = 4 << 20
	// maxRecord bounds a record's payload when reading, so that a corrupt
	// length cannot make recovery allocate without limit.
	maxRecord = 1 << 30
)

// internalBucket holds the engine's own keys; no caller may use the name.
const internalBucket Bucket = "\x00kv"

// appliedKey is the key in internalBucket of the last applied WAL seq.
var appliedKey = []byte("applied")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// walPath returns the path of file i (0 or 1) of the WAL of the database at
// dbPath.
func walPath(dbPath string, i int) string { return fmt.Sprintf("%s-wal.%d", dbPath, i) }

// record builds the payload of one WAL record. Keys and values are copied
// into it, and the copies are what bbolt and the overlay keep: callers may
// reuse their slices once Update has returned.
type record struct {
	buf []byte // header + payload
	ops []walOp
}

// walOp is one write of a record; key and val point into record.buf.
type walOp struct {
	kind   byte
	bucket Bucket
	key    []byte
	val    []byte
	seq    uint64 // opSetSequence
}

// reset starts a new record with the given seq in a new buffer of capacity
// size. The bytes of the previous record are left to whoever holds them
// (the syncer, bbolt, the overlay).
func (r *record) reset(seq uint64, size int) {
	r.buf = make([]byte, walHeaderLen, max(size, 64))
	r.buf = binary.AppendUvarint(r.buf, seq)
	r.ops = r.ops[:0]
}

func (r *record) appendBytes(p []byte) []byte {
	r.buf = binary.AppendUvarint(r.buf, uint64(len(p)))
	r.buf = append(r.buf, p...)
	n := len(r.buf)
	return r.buf[n-len(p) : n : n]
}

func (r *record) put(b Bucket, key, value []byte) (k, v []byte) {
	r.buf = append(r.buf, opPut)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(b)))
	r.buf = append(r.buf, b...)
	k = r.appendBytes(key)
	v = r.appendBytes(value)
	r.ops = append(r.ops, walOp{kind: opPut, bucket: b, key: k, val: v})
	return k, v
}

func (r *record) delete(b Bucket, key []byte) []byte {
	r.buf = append(r.buf, opDelete)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(b)))
	r.buf = append(r.buf, b...)
	k := r.appendBytes(key)
	r.ops = append(r.ops, walOp{kind: opDelete, bucket: b, key: k})
	return k
}

func (r *record) setSequence(b Bucket, n uint64) {
	r.buf = append(r.buf, opSetSequence)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(b)))
	r.buf = append(r.buf, b...)
	r.buf = binary.AppendUvarint(r.buf, n)
	r.ops = append(r.ops, walOp{kind: opSetSequence, bucket: b, seq: n})
}

// seal fills in the header and returns the finished record bytes.
func (r *record) seal() []byte {
	payload := r.buf[walHeaderLen:]
	binary.LittleEndian.PutUint32(r.buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(r.buf[4:8], crc32.Checksum(payload, crcTable))
	return r.buf
}

// errBadRecord marks a payload that passed its CRC but does not decode: a
// bug or a log from another program, never a torn write.
var errBadRecord = errors.New("kv: malformed WAL record")

// decodeRecord parses a payload into its seq and ops. The ops' slices
// point into payload.
func decodeRecord(payload []byte) (uint64, []walOp, error) {
	seq, n := binary.Uvarint(payload)
	if n <= 0 {
		return 0, nil, errBadRecord
	}
	p := payload[n:]
	bytesField := func() ([]byte, bool) {
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return nil, false
		}
		f := p[n : n+int(l)]
		p = p[n+int(l):]
		return f, true
	}
	var ops []walOp
	for len(p) > 0 {
		kind := p[0]
		p = p[1:]
		b, ok := bytesField()
		if !ok {
			return 0, nil, errBadRecord
		}
		op := walOp{kind: kind, bucket: Bucket(b)}
		switch kind {
		case opPut:
			if op.key, ok = bytesField(); !ok {
				return 0, nil, errBadRecord
			}
			if op.val, ok = bytesField(); !ok {
				return 0, nil, errBadRecord
			}
		case opDelete:
			if op.key, ok = bytesField(); !ok {
				return 0, nil, errBadRecord
			}
		case opSetSequence:
			v, n := binary.Uvarint(p)
			if n <= 0 {
				return 0, nil, errBadRecord
			}
			op.seq = v
			p = p[n:]
		default:
			return 0, nil, errBadRecord
		}
		ops = append(ops, op)
	}
	return seq, ops, nil
}

// walRecord is a record read back from the log.
type walRecord struct {
	seq uint64
	ops []walOp
}

// readWAL reads the log in f from offset 0 up to its end (see the
// invariants above) and returns its records in order. Records up to seq
// after are checked but not decoded, and returned without ops.
func readWAL(f *os.File, after uint64) ([]walRecord, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	off := int64(0)
	var out []walRecord
	var hdr [walHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return out, nil // the end of the file
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > maxRecord || off+walHeaderLen+int64(n) > size {
			return out, nil // zeros ahead of the writes, or a torn header
		}
		off += walHeaderLen + int64(n)
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return out, nil // torn
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return out, nil // torn, or the stale tail of an older log
		}
		seq, m := binary.Uvarint(payload)
		if m <= 0 {
			return nil, fmt.Errorf("record %d: %w", len(out), errBadRecord)
		}
		var ops []walOp
		if seq > after {
			var err error
			if _, ops, err = decodeRecord(payload); err != nil {
				return nil, fmt.Errorf("record %d: %w", len(out), err)
			}
		}
		if len(out) > 0 && seq != out[len(out)-1].seq+1 {
			return out, nil // an older log's record
		}
		out = append(out, walRecord{seq: seq, ops: ops})
	}
}

// walFile is the open log. Only the syncer goroutine uses it once the
// engine runs.
type walFile struct {
	f      *os.File
	off    int64 // where the next record goes
	filled int64 // the file is zero-filled (or written) up to here
	noSync bool
}

// openWAL opens (creating it if needed) the log at path. A new file is
// made durable in its directory.
func openWAL(path string, noSync bool) (*walFile, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) && !noSync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &walFile{f: f, filled: fi.Size(), noSync: noSync}, nil
}

// write appends rec at the current offset, zero-filling the file ahead of
// it first when needed. It does not sync.
func (w *walFile) write(rec []byte) error {
	end := w.off + int64(len(rec))
	if end > w.filled {
		if err := w.fill(end); err != nil {
			return err
		}
	}
	if _, err := w.f.WriteAt(rec, w.off); err != nil {
		return err
	}
	w.off = end
	return nil
}

// fill zero-fills the file from w.filled to at least end plus a walChunk.
func (w *walFile) fill(end int64) error {
	target := end + walChunk
	zeros := make([]byte, 1<<20)
	for w.filled < target {
		n := min(int64(len(zeros)), target-w.filled)
		if _, err := w.f.WriteAt(zeros[:n], w.filled); err != nil {
			return err
		}
		w.filled += n
	}
	return nil
}

// sync makes what was written durable.
func (w *walFile) sync() error {
	if w.noSync {
		return nil
	}
	return fdatasync(w.f)
}

// clear ends the log at offset 0 (its records are all in bbolt), so that
// the next open reads nothing of it.
func (w *walFile) clear() error {
	if _, err := w.f.WriteAt(make([]byte, walHeaderLen), 0); err != nil {
		return err
	}
	w.off = 0
	return w.sync()
}

// rewind makes the next record go to offset 0 (after a checkpoint).
func (w *walFile) rewind() { w.off = 0 }

func (w *walFile) close() error { return w.f.Close() }

// syncDir fsyncs a directory so that a file created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
