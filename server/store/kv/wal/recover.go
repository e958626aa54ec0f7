package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// State is what the database records of the log, in the same transaction
// as the checkpoint it describes.
type State struct {
	// ID is the database's identity.
	ID ID
	// Applied is the seq of the last record the database holds.
	Applied uint64
	// Gen is the generation of the file the log wrote to when the
	// checkpoint holding Applied was made. Zero means the log has never
	// been written for this database.
	Gen uint64
}

// Record is a record read back from the log. Its payload points into a
// buffer that Recover allocated.
type Record struct {
	Seq     uint64
	Payload []byte
}

// Recovery is what Recover found.
type Recovery struct {
	// Records are the records after State.Applied, in seq order, each the
	// one before plus one, the first State.Applied+1.
	Records []Record
	// NextGen is the generation the log must use next: higher than any
	// found in the files or recorded in State, with room for one that a
	// crash may have left half written.
	NextGen uint64
	// Warnings say what recovery discarded or ignored, if anything: a torn
	// last record, unused or stale files. The engine logs them.
	Warnings []string
	// Skipped counts the records found that the database already held.
	Skipped int
}

// Errors of Recover. Each is wrapped with a message that says what was
// found and where.
var (
	// ErrCorrupt: a file is damaged (see *CorruptError).
	ErrCorrupt = errors.New("wal: the log is damaged")
	// ErrRead: a file could not be read.
	ErrRead = errors.New("wal: the log cannot be read")
	// ErrForeign: a file belongs to another database, or is newer than the
	// database (which was then replaced by an older copy).
	ErrForeign = errors.New("wal: the log does not belong to this database")
	// ErrVersion: a file has a format version this package does not know.
	ErrVersion = errors.New("wal: the log has an unknown format version")
)

// CorruptError describes damage in a file of the log: where the readable
// log ends and what follows it. Repair cuts the log there.
type CorruptError struct {
	Path   string // the damaged file
	File   int    // its index, 0 or 1
	Offset int64  // where the valid log of that file ends
	Reason string // what was found at Offset
	// LastSeq is the seq of the last record before the damage (State's
	// Applied if none).
	LastSeq uint64
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is damaged at offset %d: %s (the records up to %d before it are intact)", e.Path, e.Offset, e.Reason, e.LastSeq)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// readError is a failed read of a log file.
type readError struct {
	path string
	off  int64
	err  error
}

func (e *readError) Error() string {
	return fmt.Sprintf("%s cannot be read at offset %d: %v (check the disk)", e.path, e.off, e.err)
}

func (e *readError) Unwrap() []error { return []error{ErrRead, e.err} }

// scanned is one file as Recover read it.
type scanned struct {
	path   string
	index  int
	data   []byte // the file's bytes; its stream once destamped
	stamps []uint64
	state  headerState
	hdr    header
	recs   []Record
	end    int64  // where its valid frames end, in the stream
	torn   bool   // a torn frame at end
	reason string // why the frames end at end, if not at the log's end
}

// stamped reports whether f's data is the stream of a stamped file.
func (f *scanned) stamped() bool { return f.state == headerValid && f.hdr.version != versionUnstamped }

// phys returns the file offset of offset off of f's stream.
func (f *scanned) phys(off int64) int64 {
	if f.stamped() {
		return physOff(off)
	}
	return off
}

// sector says what the stamp of the sector holding stream offset off says,
// for f's generation.
func (f *scanned) sector(off int64) stampClass {
	i := off / sectorData
	if i >= int64(len(f.stamps)) {
		return stampAbsent
	}
	return classify(f.stamps[i], f.hdr.gen)
}

// Recover reads both files of the log of the database at dbPath, whose
// state is st, and returns the records the database lacks. It changes
// nothing on disk.
func Recover(fsys FS, dbPath string, st State) (*Recovery, error) {
	var files [2]*scanned
	for i := range files {
		s, err := readFile(fsys, Path(dbPath, i), i)
		if err != nil {
			return nil, err
		}
		files[i] = s
	}
	return recoverFiles(files, st)
}

// readFile reads the whole of file i of the log. A missing file reads as
// an empty one.
func readFile(fsys FS, path string, i int) (*scanned, error) {
	f, _, err := fsys.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrRead, path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRead, path, err)
	}
	data := make([]byte, size)
	for off := int64(0); off < size; {
		n, err := f.ReadAt(data[off:min(size, off+1<<20)], off)
		off += int64(n)
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("short read: the file ends at %d of %d bytes", off, size)
			}
			return nil, &readError{path: path, off: off, err: err}
		}
	}
	return &scanned{path: path, index: i, data: data}, nil
}

// recoverFiles is Recover on files already read.
func recoverFiles(files [2]*scanned, st State) (*Recovery, error) {
	rec := &Recovery{}
	maxGen := st.Gen
	var active []*scanned // the files of generations st.Gen and st.Gen+1
	for _, f := range files {
		f.hdr, f.state = decodeHeader(f.data)
		if f.stamped() {
			f.data, f.stamps = destamp(f.data)
		}
		switch f.state {
		case headerFuture:
			return nil, fmt.Errorf("%w: %s has format version %d; this forumd reads version %d (upgrade forumd)", ErrVersion, f.path, f.hdr.version, Version)
		case headerValid:
			if f.hdr.id != st.ID {
				return nil, fmt.Errorf("%w: %s belongs to database %x, and this database is %x (was the database file replaced without removing its log?)", ErrForeign, f.path, f.hdr.id, st.ID)
			}
			maxGen = max(maxGen, f.hdr.gen)
			switch {
			case f.hdr.gen > st.Gen+1:
				return nil, fmt.Errorf("%w: %s is of generation %d, but the database's last checkpoint was made at generation %d (was the database file replaced by an older copy without removing its log?)", ErrForeign, f.path, f.hdr.gen, st.Gen)
			case f.hdr.gen >= st.Gen && st.Gen > 0:
				active = append(active, f)
			default:
				rec.Warnings = append(rec.Warnings, fmt.Sprintf("%s is of generation %d, older than the last checkpoint's %d: every record in it is in the database, ignored", f.path, f.hdr.gen, st.Gen))
			}
		case headerZero, headerDamaged:
			// No usable header: it must hold no frame of the generations
			// that may have records the database lacks.
			if err := checkHeaderless(f, st); err != nil {
				return nil, err
			}
			if f.state == headerDamaged {
				rec.Warnings = append(rec.Warnings, fmt.Sprintf("%s has a damaged header and no records the database lacks: ignored", f.path))
			}
		}
	}
	rec.NextGen = maxGen + 2
	if len(active) == 2 && active[0].hdr.gen == active[1].hdr.gen {
		return nil, &CorruptError{Path: active[1].path, File: active[1].index, Offset: 0, Reason: fmt.Sprintf("both files have generation %d", active[1].hdr.gen), LastSeq: st.Applied}
	}
	if len(active) == 2 && active[0].hdr.gen > active[1].hdr.gen {
		active[0], active[1] = active[1], active[0]
	}
	// Read each active file's frames, oldest first. Only the newest may
	// end in a torn frame.
	last := st.Applied
	for i, f := range active {
		newest := i == len(active)-1
		if f.stamped() {
			scanStamped(f, salt(st.ID, f.hdr.gen))
		} else {
			scanUnstamped(f, salt(st.ID, f.hdr.gen))
		}
		if f.reason != "" && !(newest && f.torn) {
			return nil, &CorruptError{Path: f.path, File: f.index, Offset: f.phys(f.end), Reason: f.reason, LastSeq: lastBefore(f, last)}
		}
		// The file must start where the database or the file before ends.
		if i == 0 && f.hdr.firstSeq > st.Applied+1 {
			return nil, &CorruptError{Path: f.path, File: f.index, Offset: 0, Reason: fmt.Sprintf("it starts at record %d, but the database holds records up to %d only: records %d to %d are missing", f.hdr.firstSeq, st.Applied, st.Applied+1, f.hdr.firstSeq-1), LastSeq: st.Applied}
		}
		if i == 1 {
			prev := active[0]
			prevLast := prev.hdr.firstSeq - 1
			if n := len(prev.recs); n > 0 {
				prevLast = prev.recs[n-1].Seq
			}
			if f.hdr.firstSeq != prevLast+1 {
				return nil, &CorruptError{Path: f.path, File: f.index, Offset: 0, Reason: fmt.Sprintf("it starts at record %d, but %s ends at record %d", f.hdr.firstSeq, prev.path, prevLast), LastSeq: max(st.Applied, prevLast)}
			}
		}
		for _, r := range f.recs {
			if r.Seq <= st.Applied {
				rec.Skipped++
				continue
			}
			rec.Records = append(rec.Records, r)
			last = r.Seq
		}
		if f.torn {
			rec.Warnings = append(rec.Warnings, fmt.Sprintf("%s ends in a torn record at offset %d (%s: a write cut short by a crash, never acknowledged): discarded %d bytes", f.path, f.phys(f.end), f.reason, f.discarded()))
		}
	}
	return rec, nil
}

// lastBefore is the seq of the last record of f, or last if it has none.
func lastBefore(f *scanned, last uint64) uint64 {
	if n := len(f.recs); n > 0 {
		return max(last, f.recs[n-1].Seq)
	}
	return last
}

// checkHeaderless fails if f, a file without a valid header, holds a frame
// of a generation whose records the database may lack.
func checkHeaderless(f *scanned, st State) error {
	if st.Gen == 0 {
		if !allZero(f.data) {
			return &CorruptError{Path: f.path, File: f.index, Offset: 0, Reason: "the database has no log yet, but this file is not empty (is it the log of another database?)", LastSeq: st.Applied}
		}
		return nil
	}
	// Its format is unknown: look for frames as either would hold them.
	stream, _ := destamp(f.data)
	for _, g := range []uint64{st.Gen, st.Gen + 1} {
		for _, v := range []struct {
			data []byte
			phys func(int64) int64
		}{{f.data, func(o int64) int64 { return o }}, {stream, physOff}} {
			if off, seq, ok := findFrame(v.data, HeaderSize, salt(st.ID, g)); ok && seq > st.Applied {
				return &CorruptError{Path: f.path, File: f.index, Offset: 0, Reason: fmt.Sprintf("its header is damaged, and it holds record %d (at offset %d) that the database lacks", seq, v.phys(off)), LastSeq: st.Applied}
			}
		}
	}
	return nil
}

// scanStamped reads the frames of f, a stamped file with a valid header,
// from HeaderSize on, and sets f.recs and where and why they end.
func scanStamped(f *scanned, s uint32) {
	data := f.data
	off := int64(HeaderSize)
	next := f.hdr.firstSeq
	for {
		r, reason, _ := readFrame(data, off, s)
		if reason == "" {
			if r.Seq != next {
				f.end, f.reason = off, fmt.Sprintf("record %d where record %d was expected", r.Seq, next)
				return
			}
			f.recs = append(f.recs, r)
			next++
			off += int64(frameLen(len(r.Payload)))
			continue
		}
		f.end, f.reason, f.torn = off, "", false
		secEnd := min(int64(len(data)), (off/sectorData+1)*sectorData)
		switch c := f.sector(off); {
		case off >= int64(len(data)):
			return // the file ends with its last frame
		case off+8 > int64(len(data)):
			if !allZero(data[off:]) {
				f.reason, f.torn = "a partial frame header at the end of the file", true
			}
		case c == stampDamaged:
			f.reason = fmt.Sprintf("a damaged sector stamp (%#016x) where a record or the log's end should be", f.stamps[off/sectorData])
		case c == stampOther:
			// The log ends here: this generation never wrote this sector.
		case binary.LittleEndian.Uint64(data[off:]) == 0:
			// This generation wrote the sector, and ended it with zeros
			// after its last frame: the log ends here, unless it wrote
			// later sectors too (a write whose first sector the disk did
			// not keep).
			switch {
			case !allZero(data[off:secEnd]):
				f.reason = "a frame whose first word is zero, followed by other bytes"
			case secEnd < int64(len(data)) && f.sector(secEnd) == stampCurrent:
				f.reason, f.torn = "zeros where a record should start, and a later sector written by this generation", true
			}
		default:
			// Not a frame, in a sector this generation wrote: torn only if
			// a sector of the frame was not written (or is missing).
			f.reason = reason
			n := int64(binary.LittleEndian.Uint32(data[off:]))
			if n == int64(^binary.LittleEndian.Uint32(data[off+4:])) && n <= MaxRecordSize {
				end := off + FrameHeaderSize + n
				if end > int64(len(data)) {
					f.torn = true
				}
				for o := secEnd; o < min(end, int64(len(data))); o += sectorData {
					switch f.sector(o) {
					case stampOther, stampAbsent:
						f.torn = true
					case stampDamaged:
						f.torn = false
						f.reason = fmt.Sprintf("%s, with a damaged sector stamp at offset %d", reason, o/sectorData*sectorSize+sectorData)
						o = end // stop
					}
				}
				if f.torn {
					f.reason = "a torn frame"
				}
			}
		}
		// Whatever ends the log, no valid frame of this generation may
		// follow: a sector that damage made look unwritten, or zeroed,
		// must not hide the records after it.
		if fo, seq, ok := findFrame(data, off+align, s); ok {
			f.torn = false
			if f.reason == "" {
				f.reason = "a sector this generation did not write"
				if f.sector(off) == stampCurrent {
					f.reason = "zeros where a record should start"
				}
			}
			f.reason = fmt.Sprintf("%s, and a valid record (%d) follows at offset %d", f.reason, seq, physOff(fo))
		}
		return
	}
}

// discarded counts the bytes the torn frame at f.end spans in sectors this
// generation wrote (or, in an unstamped file, the bytes before the zeros).
func (f *scanned) discarded() int64 {
	if !f.stamped() {
		return int64(len(f.data)) - f.end - int64(zeroTail(f.data[f.end:]))
	}
	var n int64
	for o := f.end; o < int64(len(f.data)); {
		secEnd := min(int64(len(f.data)), (o/sectorData+1)*sectorData)
		if c := f.sector(o); c == stampCurrent || c == stampAbsent {
			n += secEnd - o - int64(zeroTail(f.data[o:secEnd]))
		}
		o = secEnd
	}
	return n
}

// scanUnstamped reads the frames of f, an unstamped (version 1) file with a
// valid header, from HeaderSize on, and sets f.recs and where and why they
// end. Such files were zeroed before reuse: the log ends at zeros.
func scanUnstamped(f *scanned, s uint32) {
	data := f.data
	off := int64(HeaderSize)
	next := f.hdr.firstSeq
	for {
		if off+8 > int64(len(data)) || binary.LittleEndian.Uint64(data[off:]) == 0 {
			if allZero(data[min(int64(len(data)), off):]) {
				f.end = off
				return // zeros to the end: the log ends here
			}
		}
		r, reason, torn := readFrame(data, off, s)
		if reason != "" {
			f.end, f.reason, f.torn = off, reason, torn
			if fo, seq, ok := findFrame(data, off+align, s); ok {
				f.torn = false
				f.reason = fmt.Sprintf("%s, and a valid record (%d) follows at offset %d", reason, seq, fo)
			}
			return
		}
		if r.Seq != next {
			f.end, f.reason = off, fmt.Sprintf("record %d where record %d was expected", r.Seq, next)
			return
		}
		f.recs = append(f.recs, r)
		next++
		off += int64(frameLen(len(r.Payload)))
	}
}

// readFrame reads the frame at off. If it is not a valid frame, reason
// says why, and torn reports whether it looks like a write cut short: a
// sound length, and a whole sector (or a long enough piece cut at a sector
// boundary) of zeros inside it, or an end past the end of the file.
func readFrame(data []byte, off int64, s uint32) (r Record, reason string, torn bool) {
	size := int64(len(data))
	if off+8 > size {
		return r, "a partial frame header at the end of the file", true
	}
	n := binary.LittleEndian.Uint32(data[off:])
	nc := binary.LittleEndian.Uint32(data[off+4:])
	if n == 0 && nc == 0 {
		// The frame's first word was never written; what follows may be
		// the rest of a torn write.
		return r, "a frame whose first word is zero, followed by other bytes", true
	}
	if n != ^nc {
		return r, fmt.Sprintf("a damaged frame header (length %d, check %#x)", n, nc), false
	}
	if n > MaxRecordSize {
		return r, fmt.Sprintf("a frame length of %d bytes, over the limit of %d", n, MaxRecordSize), false
	}
	end := off + int64(FrameHeaderSize) + int64(n)
	if end > size {
		return r, fmt.Sprintf("a frame of %d bytes that runs past the end of the file", n), true
	}
	fr := data[off:end]
	if frameCRC(s, fr) != binary.LittleEndian.Uint32(fr[8:12]) {
		if hasZeroChunk(fr, off) {
			return r, "a torn frame", true
		}
		return r, "a frame whose checksum does not match its contents", false
	}
	return Record{Seq: binary.LittleEndian.Uint64(fr[16:24]), Payload: fr[FrameHeaderSize:]}, "", false
}

// hasZeroChunk reports whether frame fr, at file offset off, has a piece
// cut at sector boundaries that is all zeros (a sector the disk never
// wrote), not counting its first word and pieces shorter than
// minTornChunk.
func hasZeroChunk(fr []byte, off int64) bool {
	start := int64(8) // the first word is not zero (checked)
	for start < int64(len(fr)) {
		end := min(int64(len(fr)), (off+start)/sectorSize*sectorSize+sectorSize-off)
		if end-start >= minTornChunk && allZero(fr[start:end]) {
			return true
		}
		start = end
	}
	return false
}

// findFrame looks for a valid frame with salt s at any aligned offset from
// from on, and returns the first one's offset and seq.
func findFrame(data []byte, from int64, s uint32) (int64, uint64, bool) {
	from = (from + align - 1) &^ (align - 1)
	for off := from; off+FrameHeaderSize <= int64(len(data)); off += align {
		n := binary.LittleEndian.Uint32(data[off:])
		if n == 0 || n > MaxRecordSize || n != ^binary.LittleEndian.Uint32(data[off+4:]) {
			continue
		}
		end := off + int64(FrameHeaderSize) + int64(n)
		if end > int64(len(data)) {
			continue
		}
		fr := data[off:end]
		if frameCRC(s, fr) == binary.LittleEndian.Uint32(fr[8:12]) {
			return off, binary.LittleEndian.Uint64(fr[16:24]), true
		}
	}
	return 0, 0, false
}

// zeroTail returns how many bytes at the end of b are zero.
func zeroTail(b []byte) int {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return len(b) - i
}
