// Package wal is the write-ahead log of the kv engine: two files beside the
// database, written in turns, holding framed records that a reader can
// classify. It knows nothing of bbolt nor of what a record's payload
// means; the engine keeps, in its own database, the three facts the log
// needs to recover (see State).
//
// # Files
//
// A file starts with a 64-byte header:
//
//	[0:8]   magic "forumWAL"
//	[8:12]  format version (little endian; this package writes and reads 1)
//	[12:16] zero
//	[16:32] the database's identity (a random ID stored in the database)
//	[32:40] generation: a number the log gives each use of a file, one more
//	        each time it switches files, never reused
//	[40:48] the seq of the first record of this generation
//	[48:60] zero
//	[60:64] CRC-32C of bytes [0:60]
//
// Frames follow from offset 64, each at an offset that is a multiple of 8:
//
//	[0:4]   n, the payload's length (0 < n <= MaxRecordSize)
//	[4:8]   ^n, so that a damaged length is never mistaken for another one
//	[8:12]  CRC-32C, salted with the file's identity and generation, of
//	        bytes [0:4] and [12:24] and the payload
//	[12:16] zero
//	[16:24] seq: each record's is the one before's plus one
//	[24:24+n] payload, then zeros up to the next multiple of 8
//
// # Invariants
//
//   - Frames are 8-byte aligned, so a frame's first word (n and ^n) lies in
//     one disk sector and is never torn.
//   - A file is all zeros after its last frame: the log zero-fills files
//     ahead of its writes, and zeroes a file's used part (and fsyncs) before
//     it switches to it again. A write cut short by a crash leaves whole
//     sectors of zeros in its frame: that is how a torn write is told apart
//     from damage.
//   - A frame's CRC is salted with its file's generation, so a frame left
//     from an earlier use of the file never passes as one of this use.
//   - The log switches to the other file only when every record in it is in
//     the database (the engine commits a checkpoint between two switches).
//     So the records the database lacks are in the file of the generation
//     the last checkpoint recorded (State.Gen), and, if the log switched
//     again since, in the file of the next generation.
//
// # Recovery
//
// Recover reads both files and returns the records after State.Applied. It
// accepts as the end of the log only zeros, or one torn last frame of the
// newest file with zeros after it. Anything else makes it fail with an
// error that says what it found and where: damage (*CorruptError, which
// Repair can cut the log at), a read error, a log of another database, a
// log newer than the database, or a format version it does not know.
package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Format constants.
const (
	// Version is the format version this package writes and reads.
	Version = 1
	// HeaderSize is the size of a file's header.
	HeaderSize = 64
	// FrameHeaderSize is the size of a frame's header, before its payload.
	FrameHeaderSize = 24
	// MaxRecordSize bounds a record's payload, on write and on read.
	MaxRecordSize = 64 << 20
	// align is the alignment of frames.
	align = 8
	// sectorSize is the unit a disk writes atomically.
	sectorSize = 512
	// minTornChunk is the smallest part of a frame, cut at a sector
	// boundary, whose zeros count as a sign of a torn write: shorter runs
	// of zeros occur in payloads and padding.
	minTornChunk = 32
)

var magic = [8]byte{'f', 'o', 'r', 'u', 'm', 'W', 'A', 'L'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ID is a database's identity, stamped in every file header of its log.
type ID [16]byte

// ErrTooLarge is returned by Append for a payload over MaxRecordSize.
var ErrTooLarge = errors.New("wal: record larger than the limit")

// header is a file's header, decoded.
type header struct {
	version  uint32
	id       ID
	gen      uint64
	firstSeq uint64
}

func (h header) encode() []byte {
	b := make([]byte, HeaderSize)
	copy(b[0:8], magic[:])
	binary.LittleEndian.PutUint32(b[8:12], h.version)
	copy(b[16:32], h.id[:])
	binary.LittleEndian.PutUint64(b[32:40], h.gen)
	binary.LittleEndian.PutUint64(b[40:48], h.firstSeq)
	binary.LittleEndian.PutUint32(b[60:64], crc32.Checksum(b[0:60], crcTable))
	return b
}

// headerState is what a file's first bytes turned out to be.
type headerState int

const (
	headerZero    headerState = iota // all zeros, or an empty file: unused
	headerValid                      // a header of this format
	headerDamaged                    // neither zeros nor a valid header
	headerFuture                     // the magic, with a version this package does not know
)

// decodeHeader classifies and decodes the first bytes of a file.
func decodeHeader(b []byte) (header, headerState) {
	if len(b) < HeaderSize {
		if allZero(b) {
			return header{}, headerZero
		}
		return header{}, headerDamaged
	}
	b = b[:HeaderSize]
	if allZero(b) {
		return header{}, headerZero
	}
	if [8]byte(b[0:8]) != magic {
		return header{}, headerDamaged
	}
	h := header{version: binary.LittleEndian.Uint32(b[8:12])}
	if crc32.Checksum(b[0:60], crcTable) != binary.LittleEndian.Uint32(b[60:64]) {
		return h, headerDamaged
	}
	if h.version != Version {
		return h, headerFuture
	}
	copy(h.id[:], b[16:32])
	h.gen = binary.LittleEndian.Uint64(b[32:40])
	h.firstSeq = binary.LittleEndian.Uint64(b[40:48])
	return h, headerValid
}

// salt is the CRC seed of the frames of generation gen of database id.
func salt(id ID, gen uint64) uint32 {
	var b [24]byte
	copy(b[:16], id[:])
	binary.LittleEndian.PutUint64(b[16:], gen)
	return crc32.Checksum(b[:], crcTable)
}

// frameLen returns the length of a frame with a payload of n bytes,
// padding included.
func frameLen(n int) int { return (FrameHeaderSize + n + align - 1) &^ (align - 1) }

// frameCRC computes the CRC of frame f (header and payload, no padding)
// with seed s.
func frameCRC(s uint32, f []byte) uint32 {
	c := crc32.Update(s, crcTable, f[0:4])
	return crc32.Update(c, crcTable, f[12:])
}

// sealFrame fills in the header of frame f (FrameHeaderSize bytes, then the
// payload) for seq and salt s, and appends the padding.
func sealFrame(f []byte, seq uint64, s uint32) []byte {
	n := uint32(len(f) - FrameHeaderSize)
	binary.LittleEndian.PutUint32(f[0:4], n)
	binary.LittleEndian.PutUint32(f[4:8], ^n)
	binary.LittleEndian.PutUint32(f[12:16], 0)
	binary.LittleEndian.PutUint64(f[16:24], seq)
	binary.LittleEndian.PutUint32(f[8:12], frameCRC(s, f))
	var pad [align]byte
	return append(f, pad[:frameLen(int(n))-len(f)]...)
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
