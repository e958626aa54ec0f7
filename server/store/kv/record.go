package kv

import (
	"encoding/binary"
	"errors"

	"github.com/forumhq/forum/server/store/kv/wal"
)

// A record is the payload of one frame of the write-ahead log (package
// wal): the writes of one batch of Updates, in order, until the payload
// ends:
//
//	byte    opPut | opDelete | opSetSequence
//	uvarint len(bucket), bucket
//	opPut:         uvarint len(key), key, uvarint len(value), value
//	opDelete:      uvarint len(key), key
//	opSetSequence: uvarint sequence
//
// The log frames it (length, checksum, seq); the database's internal
// bucket holds what the log needs to recover (see wal.State): the seq of
// the last record a checkpoint applied, the database's identity and the
// log's generation at that checkpoint.
const (
	opPut         byte = 1
	opDelete      byte = 2
	opSetSequence byte = 3
)

// internalBucket holds the engine's own keys; no caller may use the name.
const internalBucket Bucket = "\x00kv"

// The keys of internalBucket.
var (
	appliedKey = []byte("applied") // the seq of the last record applied
	idKey      = []byte("id")      // the database's identity (wal.ID)
	genKey     = []byte("gen")     // the log's generation at the last checkpoint
)

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

// reset starts a new record in a new buffer of capacity size, with room
// for the log's frame header (and padding). The bytes of the previous
// record are left to whoever holds them (the syncer, bbolt, the overlay).
func (r *record) reset(size int) {
	r.buf = make([]byte, wal.FrameHeaderSize, max(size, 64)+8)
	r.ops = r.ops[:0]
}

// size returns the length of the record's payload so far.
func (r *record) size() int { return len(r.buf) - wal.FrameHeaderSize }

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

// errBadRecord marks a payload that passed its CRC but does not decode: a
// bug or a log from another program, never a torn write.
var errBadRecord = errors.New("kv: malformed WAL record")

// decodeRecord parses a payload into its ops. The ops' slices point into
// payload.
func decodeRecord(payload []byte) ([]walOp, error) {
	p := payload
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
			return nil, errBadRecord
		}
		op := walOp{kind: kind, bucket: Bucket(b)}
		switch kind {
		case opPut:
			if op.key, ok = bytesField(); !ok {
				return nil, errBadRecord
			}
			if op.val, ok = bytesField(); !ok {
				return nil, errBadRecord
			}
		case opDelete:
			if op.key, ok = bytesField(); !ok {
				return nil, errBadRecord
			}
		case opSetSequence:
			v, n := binary.Uvarint(p)
			if n <= 0 {
				return nil, errBadRecord
			}
			op.seq = v
			p = p[n:]
		default:
			return nil, errBadRecord
		}
		ops = append(ops, op)
	}
	return ops, nil
}
