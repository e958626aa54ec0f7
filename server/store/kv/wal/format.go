// Package wal is the write-ahead log of the kv engine: two files beside the
// database, written in turns, holding framed records that a reader can
// classify. It knows nothing of bbolt nor of what a record's payload
// means; the engine keeps, in its own database, the three facts the log
// needs to recover (see State).
//
// # Files
//
// A file is a sequence of 512-byte sectors. Each sector holds 504 bytes of
// the log's stream, then an 8-byte stamp: the low 32 bits of the
// generation of the file's use that last wrote the sector, and their
// complement (little endian). The stream starts with a 64-byte header:
//
//	[0:8]   magic "forumWAL"
//	[8:12]  format version (little endian; this package writes 2, and
//	        reads 1, the same without stamps, to recover an older log)
//	[12:16] zero
//	[16:32] the database's identity (a random ID stored in the database)
//	[32:40] generation: a number the log gives each use of a file, one more
//	        each time it switches files, never reused
//	[40:48] the seq of the first record of this generation
//	[48:60] zero
//	[60:64] CRC-32C of bytes [0:60]
//
// Frames follow from offset 64 of the stream, each at an offset that is a
// multiple of 8:
//
//	[0:4]   n, the payload's length (0 < n <= MaxRecordSize)
//	[4:8]   ^n, so that a damaged length is never mistaken for another one
//	[8:12]  CRC-32C, salted with the file's identity and generation, of
//	        bytes [0:4] and [12:24] and the payload
//	[12:16] zero
//	[16:24] seq: each record's is the one before's plus one
//	[24:24+n] payload, then zeros up to the next multiple of 8
//
// Offsets in errors (and where Repair cuts) are offsets in the file,
// stamps counted.
//
// # Invariants
//
//   - Frames are 8-byte aligned in the stream, and 504 is a multiple of 8,
//     so a frame's first word (n and ^n) lies in one sector and is never
//     torn.
//   - Every write of the log ends at the end of a sector: it pads the
//     stream with zeros up to the sector's end, and writes the stamp of
//     every sector it touches. A sector on disk is therefore either as
//     this generation last wrote it, stamp included, or as an earlier use
//     of the file (or the zero-filling of new space) left it, with another
//     stamp. After the last frame, a written sector holds zeros.
//   - Files are reused without being cleared: a sector not written in this
//     generation is told by its stamp, and a frame left from an earlier
//     use of the file never passes, since a frame's CRC is salted with its
//     file's generation. New space is zero-filled ahead of the writes, so
//     that an fdatasync flushes data, not the file's size.
//   - A write cut short by a crash leaves sectors of its frame that carry
//     another generation's stamp (or none): that is how a torn write is
//     told apart from damage, which leaves the stamps as they were.
//   - The log switches to the other file only when every record in it is in
//     the database (the engine commits a checkpoint between two switches).
//     So the records the database lacks are in the file of the generation
//     the last checkpoint recorded (State.Gen), and, if the log switched
//     again since, in the file of the next generation.
//
// # Recovery
//
// Recover reads both files and returns the records after State.Applied. It
// accepts as the end of a file only a sector this generation did not
// write, or the zeros after the last frame in one it did, with no valid
// frame of the generation anywhere after; and, in the newest file only,
// one torn last frame (a frame that fails its checksum and has a sector
// this generation did not write, or that runs past the end of the file).
// Anything else makes it fail with an error that says what it found and
// where: damage (*CorruptError, which Repair can cut the log at), a read
// error, a log of another database, a log newer than the database, or a
// format version it does not know.
package wal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Format constants.
const (
	// Version is the format version this package writes and reads.
	Version = 2
	// versionUnstamped is the format before sectors were stamped (files
	// zeroed before reuse instead): read, to recover a log an older forumd
	// left, and never written.
	versionUnstamped = 1
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
	// stampSize is the size of the stamp at the end of each sector.
	stampSize = 8
	// sectorData is how many bytes of the stream a sector holds.
	sectorData = sectorSize - stampSize
	// minTornChunk is the smallest part of a frame, cut at a sector
	// boundary, whose zeros count as a sign of a torn write: shorter runs
	// of zeros occur in payloads and padding.
	minTornChunk = 32
)

// stampOf returns the stamp of generation gen.
func stampOf(gen uint64) uint64 {
	g := uint32(gen)
	return uint64(g) | uint64(^g)<<32
}

// stampClass is what a sector's stamp says of the sector.
type stampClass int

const (
	stampCurrent stampClass = iota // written by the generation at hand
	stampOther                     // zeros, or another generation's stamp: not written by it
	stampDamaged                   // neither: the stamp itself is damaged
	stampAbsent                    // the file ends inside the sector, before its stamp
)

// classify says what stamp s means to a reader of generation gen.
func classify(s, gen uint64) stampClass {
	switch {
	case s == stampOf(gen):
		return stampCurrent
	case s == 0 || uint32(s>>32) == ^uint32(s):
		return stampOther
	}
	return stampDamaged
}

// physOff returns the offset in the file of offset off of the stream.
func physOff(off int64) int64 { return off/sectorData*sectorSize + off%sectorData }

// destamp splits raw, the bytes of a stamped file, into the stream and the
// stamps of its whole sectors. A last partial sector contributes its bytes
// (up to sectorData) and no stamp.
func destamp(raw []byte) (data []byte, stamps []uint64) {
	whole := len(raw) / sectorSize
	rest := len(raw) % sectorSize
	data = make([]byte, 0, whole*sectorData+min(rest, sectorData))
	stamps = make([]uint64, whole)
	for i := range whole {
		sec := raw[i*sectorSize : (i+1)*sectorSize]
		data = append(data, sec[:sectorData]...)
		stamps[i] = binary.LittleEndian.Uint64(sec[sectorData:])
	}
	return append(data, raw[whole*sectorSize:whole*sectorSize+min(rest, sectorData)]...), stamps
}

// stampStream appends to dst the bytes to write at file offset
// physOff(off) so that the stream holds b at off: b, with the stamp s after
// every sector's data, and zeros then the stamp after b's end up to the
// end of its sector. It returns the extended dst.
func stampStream(dst []byte, off int64, b []byte, s uint64) []byte {
	var st [stampSize]byte
	binary.LittleEndian.PutUint64(st[:], s)
	for {
		n := min(int64(len(b)), sectorData-off%sectorData)
		dst = append(dst, b[:n]...)
		b, off = b[n:], off+n
		if len(b) == 0 {
			break
		}
		dst = append(dst, st[:]...) // off is at a sector's end
	}
	var pad [sectorData]byte
	if r := off % sectorData; r != 0 {
		dst = append(dst, pad[:sectorData-r]...)
	}
	return append(dst, st[:]...)
}

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
	headerValid                      // a header of this format or the unstamped one
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
	if h.version != Version && h.version != versionUnstamped {
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
