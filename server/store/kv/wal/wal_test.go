package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var testID = ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// payload returns the payload of record seq: sizes vary from a few bytes
// to several sectors, and no byte is zero (so that no run of zeros in a
// payload passes for a sector the disk never wrote).
func payload(seq uint64) []byte {
	n := 5 + int(seq*397%1500)
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + (int(seq)+i)%26)
	}
	return p
}

// frame returns a frame buffer for Append holding payload(seq).
func frame(seq uint64) []byte {
	return append(make([]byte, FrameHeaderSize), payload(seq)...)
}

// appendN appends records from..to to l and syncs.
func appendN(t *testing.T, l *Log, from, to uint64) {
	t.Helper()
	for s := from; s <= to; s++ {
		if err := l.Append(frame(s), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// fixture is a log on disk and the database state that goes with it.
type fixture struct {
	path string
	st   State
	last uint64 // the last record written (acknowledged)
	// ends[i] lists, for file i, the stream offset where each of its frames
	// ends (padding included); dataEnds, where its checksummed bytes end.
	// starts[i] is where its first frame starts.
	ends, dataEnds [2][]int64
	starts         [2]int64
	files          [2][]byte // the files' bytes, read once
}

// frameEnd returns the file offset where frame r of file i ends, its
// padding included: the file offset of the next frame.
func (fx *fixture) frameEnd(i, r int) int64 { return physOff(fx.ends[i][r]) }

// frameStart returns the file offset where frame r of file i starts.
func (fx *fixture) frameStart(i, r int) int64 {
	if r == 0 {
		return physOff(fx.starts[i])
	}
	return fx.frameEnd(i, r-1)
}

// load reads the files of fx into fx.files.
func (fx *fixture) load(t *testing.T) {
	t.Helper()
	for i := range 2 {
		b, err := os.ReadFile(Path(fx.path, i))
		if err != nil {
			t.Fatal(err)
		}
		// What follows the used part reads the same shorter: keep 1 KiB
		// of it.
		used := int64(HeaderSize)
		if n := len(fx.ends[i]); n > 0 {
			used = fx.frameEnd(i, n-1)
		}
		fx.files[i] = b[:min(int64(len(b)), used+1024)]
	}
}

// recoverChanged runs recovery on the files of fx (loaded), file i altered
// by change (on a copy), without writing them.
func recoverChanged(fx fixture, i int, change func([]byte) []byte) (*Recovery, error) {
	var files [2]*scanned
	for j := range 2 {
		b := slices.Clone(fx.files[j])
		if j == i {
			b = change(b)
		}
		files[j] = &scanned{path: Path(fx.path, j), index: j, data: b}
	}
	return recoverFiles(files, fx.st)
}

// record appends record s to the current file of l, syncs, and notes where
// its frame lies in fx.
func (fx *fixture) record(t *testing.T, l *Log, s uint64) {
	t.Helper()
	f := l.files[l.cur]
	start := f.off
	if len(fx.ends[l.cur]) == 0 {
		fx.starts[l.cur] = start
	}
	appendN(t, l, s, s)
	fx.ends[l.cur] = append(fx.ends[l.cur], f.off)
	fx.dataEnds[l.cur] = append(fx.dataEnds[l.cur], start+FrameHeaderSize+int64(len(payload(s))))
}

// oneFile writes records 1..n to file 0 of a new log.
func oneFile(t *testing.T, n uint64) fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fx := fixture{path: path, st: State{ID: testID, Gen: 2}, last: n}
	for s := uint64(1); s <= n; s++ {
		fx.record(t, l, s)
	}
	fx.load(t)
	return fx
}

// twoFiles writes records 1..n to file 0, switches (as a checkpoint does)
// and writes n+1..2n to file 1, then "crashes" before the checkpoint
// commits: the database holds nothing, and its state is still generation
// 2's.
func twoFiles(t *testing.T, n uint64) fixture {
	t.Helper()
	return twoFilesAfter(t, n, 0)
}

// reusedFiles is twoFiles on files the log used before: first generations
// 2 and 3 hold records 1..40, larger ones (all in the database), so that both files hold stale sectors of earlier
// generations after their used part. Then generation 4 (file 0) holds
// records base+1..base+n, and generation 5 (file 1) the next n; the
// database holds the records up to base, with generation 4.
func reusedFiles(t *testing.T, n uint64) fixture {
	t.Helper()
	return twoFilesAfter(t, n, 40)
}

// twoFilesAfter is twoFiles, or reusedFiles if prior > 0.
func twoFilesAfter(t *testing.T, n, prior uint64) fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.PrepareSpare(1); err != nil {
		t.Fatal(err)
	}
	s := uint64(1)
	if prior > 0 {
		// Earlier uses of both files, with records of 2-3 KiB.
		for ; s <= prior; s++ {
			if s == prior/2+1 {
				if _, err := l.Switch(s); err != nil {
					t.Fatal(err)
				}
			}
			big := append(make([]byte, FrameHeaderSize), bytes.Repeat(payload(s), 2)...)
			if err := l.Append(big, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Switch(s); err != nil {
			t.Fatal(err)
		}
		if l.Current() != 0 || l.Gen() != 4 {
			t.Fatalf("after the earlier uses: file %d, generation %d", l.Current(), l.Gen())
		}
	}
	base := s - 1
	fx := fixture{path: path, st: State{ID: testID, Gen: l.Gen(), Applied: base}, last: base + 2*n}
	for ; s <= base+2*n; s++ {
		if s == base+n+1 {
			if _, err := l.Switch(s); err != nil {
				t.Fatal(err)
			}
		}
		fx.record(t, l, s)
	}
	fx.load(t)
	return fx
}

// checkAll requires that rec holds exactly the records after applied up to
// last.
func checkAll(t *testing.T, rec *Recovery, applied, last uint64) {
	t.Helper()
	var got []uint64
	for _, r := range rec.Records {
		got = append(got, r.Seq)
		if !bytes.Equal(r.Payload, payload(r.Seq)) {
			t.Fatalf("record %d has the wrong payload", r.Seq)
		}
	}
	var want []uint64
	for s := applied + 1; s <= last; s++ {
		want = append(want, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("recovered %v, want %v", got, want)
	}
}

// mutate copies the log of fx to a new place, lets change alter the bytes
// of file i, and returns the new database path.
func mutate(t *testing.T, fx fixture, i int, change func([]byte) []byte) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "db")
	for j := range 2 {
		b, err := os.ReadFile(Path(fx.path, j))
		if err != nil {
			t.Fatal(err)
		}
		if j == i {
			b = change(b)
		}
		if err := os.WriteFile(Path(dst, j), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestRecoverSoundLogs(t *testing.T) {
	fx := oneFile(t, 30)
	rec, err := Recover(OS, fx.path, fx.st)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 0, 30)
	if len(rec.Warnings) != 0 {
		t.Errorf("warnings on a sound log: %q", rec.Warnings)
	}
	// Records the database holds are skipped.
	st := fx.st
	st.Applied = 12
	if rec, err = Recover(OS, fx.path, st); err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 12, 30)
	if rec.Skipped != 12 {
		t.Errorf("Skipped = %d, want 12", rec.Skipped)
	}
	if rec.NextGen <= st.Gen+1 {
		t.Errorf("NextGen = %d, want above %d", rec.NextGen, st.Gen+1)
	}
}

// TestRecoverBetweenSwitchAndCommit: the log switched files, and the
// checkpoint that was to record it never committed. Both files' records
// come back, in order, whatever the database held of the first.
func TestRecoverBetweenSwitchAndCommit(t *testing.T) {
	fx := twoFiles(t, 20)
	for _, applied := range []uint64{0, 7, 20} {
		st := fx.st
		st.Applied = applied
		rec, err := Recover(OS, fx.path, st)
		if err != nil {
			t.Fatalf("applied %d: %v", applied, err)
		}
		checkAll(t, rec, applied, 40)
	}
	// And once the checkpoint committed (generation 3, records to 20 in
	// the database), file 0 is stale.
	rec, err := Recover(OS, fx.path, State{ID: testID, Gen: 3, Applied: 20})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 20, 40)
}

// fixtures are the two-file logs the torture tests run on: fresh files,
// and files that hold stale sectors of earlier generations.
var fixtures = []struct {
	name string
	make func(t *testing.T, n uint64) fixture
}{{"fresh", twoFiles}, {"reused", reusedFiles}}

// TestTruncateEverywhere cuts a file at every byte offset. Every record
// whose frame ends before the cut must come back, or recovery must refuse.
// Cutting the newest file is a torn write, which recovery accepts.
func TestTruncateEverywhere(t *testing.T) {
	for _, fxs := range fixtures {
		t.Run(fxs.name, func(t *testing.T) {
			fx := fxs.make(t, 6)
			base := fx.st.Applied
			for i := range 2 {
				size := fx.frameEnd(i, len(fx.ends[i])-1)
				for cut := int64(0); cut <= size; cut++ {
					rec, err := recoverChanged(fx, i, func(b []byte) []byte { return b[:cut] })
					complete := 0
					for _, e := range fx.dataEnds[i] {
						if physOff(e-1)+1 <= cut {
							complete++
						}
					}
					if i == 0 {
						// The older file: the newer one's records need all of it.
						if complete == len(fx.ends[0]) && err == nil {
							checkAll(t, rec, base, base+12)
						} else if err == nil {
							t.Fatalf("file 0 cut at %d (%d of 6 records whole): recovered %d records without an error", cut, complete, len(rec.Records))
						}
						continue
					}
					if err != nil {
						t.Fatalf("file 1 cut at %d: %v", cut, err)
					}
					checkAll(t, rec, base, base+uint64(6+complete))
				}
			}
		})
	}
}

// TestFlipEveryRecord flips bytes in every record of both files: the
// first word, the checksum, the seq, and bytes of the payload. Recovery
// must refuse; no record may silently go missing.
func TestFlipEveryRecord(t *testing.T) {
	for _, fxs := range fixtures {
		t.Run(fxs.name, func(t *testing.T) {
			fx := fxs.make(t, 5)
			for i := range 2 {
				start := fx.starts[i]
				for r, end := range fx.ends[i] {
					n := end - start
					for _, at := range []int64{0, 3, 5, 9, 13, 17, 24, 25, n / 2, n - 9} {
						if at < 0 || start+at >= fx.dataEnds[i][r] {
							continue
						}
						pos := physOff(start + at)
						rec, err := recoverChanged(fx, i, func(b []byte) []byte { b[pos] ^= 0x10; return b })
						if err == nil {
							t.Errorf("file %d record %d, byte %d flipped: recovered %d records without an error", i, r, at, len(rec.Records))
						} else if !errors.Is(err, ErrCorrupt) {
							t.Errorf("file %d record %d, byte %d flipped: %v, want ErrCorrupt", i, r, at, err)
						}
					}
					start = end
				}
			}
		})
	}
}

// TestTornLastRecord tears the write of the last record of the newest
// file, as a crash during it leaves it: one of its sectors as the file
// held it before (zeros in a fresh file, another generation's sector in a
// reused one), or all of them from one on (a write cut short between two
// pages). Recovery drops that record only, and warns. The same in any
// other record is damage, since valid records follow it.
func TestTornLastRecord(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) { testTornLastRecord(t, reuse) })
	}
}

func testTornLastRecord(t *testing.T, reuse bool) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Records of 1,300 bytes or more span whole sectors.
	big := func(seq uint64, c byte) []byte {
		return append(make([]byte, FrameHeaderSize), bytes.Repeat([]byte{c + byte(seq)}, 1300)...)
	}
	seq := uint64(1)
	if reuse {
		// Generation 2 fills file 0 with other records first.
		for ; seq <= 8; seq++ {
			if err := l.Append(big(seq, 'a'), seq); err != nil {
				t.Fatal(err)
			}
		}
		l.Switch(seq)
		l.Switch(seq)
	}
	before, err := os.ReadFile(Path(path, 0))
	if err != nil {
		t.Fatal(err)
	}
	applied := seq - 1
	var starts, ends []int64
	for range 4 {
		starts = append(starts, physOff(l.files[0].off))
		if err := l.Append(big(seq, 'A'), seq); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, physOff(l.files[0].off))
		seq++
	}
	l.Sync()
	l.Close()
	fx := fixture{path: path, st: State{ID: testID, Gen: l.files[0].gen, Applied: applied}}
	// tear restores, in the record [start, end), the sector that holds
	// start+600, or every sector from it on.
	tear := func(start, end int64, all bool) func([]byte) []byte {
		return func(b []byte) []byte {
			s := (start + 600) / sectorSize * sectorSize
			if s+sectorSize > end {
				t.Fatalf("no whole sector in [%d, %d)", start, end)
			}
			e := s + sectorSize
			if all {
				e = int64(len(b))
			}
			old := make([]byte, len(b))
			copy(old, before)
			copy(b[s:e], old[s:e])
			return b
		}
	}
	for _, all := range []bool{false, true} {
		rec, err := Recover(OS, mutate(t, fx, 0, tear(starts[3], ends[3], all)), fx.st)
		if err != nil {
			t.Fatalf("torn last record (every sector from one on: %v): %v", all, err)
		}
		if len(rec.Records) != 3 || len(rec.Warnings) == 0 || !strings.Contains(rec.Warnings[len(rec.Warnings)-1], "torn") {
			t.Fatalf("torn last record (every sector from one on: %v): %d records, warnings %q; want 3 and a warning", all, len(rec.Records), rec.Warnings)
		}
	}
	_, err = Recover(OS, mutate(t, fx, 0, tear(starts[2], ends[2], false)), fx.st)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != starts[2] || ce.LastSeq != applied+2 || !strings.Contains(ce.Error(), "follows at offset") {
		t.Fatalf("torn record before the last: %v, want a CorruptError at %d after record %d", err, starts[2], applied+2)
	}
	// A byte flipped in the last record is damage, not a torn write: its
	// sectors are all of this generation.
	_, err = Recover(OS, mutate(t, fx, 0, func(b []byte) []byte { b[starts[3]+700] ^= 4; return b }), fx.st)
	if !errors.As(err, &ce) || ce.Offset != starts[3] || strings.Contains(ce.Error(), "torn") {
		t.Fatalf("a byte flipped in the last record: %v, want a CorruptError at %d", err, starts[3])
	}
}

// TestStamps damages the stamps: a stamp inside a valid record changes
// nothing; a stamp that ends the log, damaged, is refused, and a sector
// that damage made look unwritten cannot hide the records after it.
func TestStamps(t *testing.T) {
	fx := reusedFiles(t, 6)
	stampAt := func(sector int64) int64 { return sector*sectorSize + sectorData }
	// A stamp inside record 3 of file 1 (which spans sectors).
	s := fx.frameStart(1, 2)/sectorSize + 1
	if stampAt(s) >= fx.frameEnd(1, 2) {
		t.Fatal("record 3 spans no sector boundary")
	}
	rec, err := recoverChanged(fx, 1, func(b []byte) []byte { b[stampAt(s)] ^= 1; return b })
	if err != nil {
		t.Fatalf("a damaged stamp inside a record: %v", err)
	}
	checkAll(t, rec, fx.st.Applied, fx.last)
	// The stamp of a sector that starts a record, set to another
	// generation's: the records after it are found, so recovery refuses.
	for i := range 2 {
		for r := range fx.ends[i] {
			st := fx.frameStart(i, r)
			if st%sectorSize != 0 {
				continue
			}
			_, err := recoverChanged(fx, i, func(b []byte) []byte {
				binary.LittleEndian.PutUint64(b[stampAt(st/sectorSize):], stampOf(1))
				return b
			})
			if r < len(fx.ends[i])-1 || i == 0 {
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("file %d, record %d's sector marked unwritten: %v, want ErrCorrupt", i, r, err)
				}
			}
		}
	}
	// Zeroing the whole sector that holds the start of a middle record.
	for i := range 2 {
		st := fx.frameStart(i, 2)
		_, err := recoverChanged(fx, i, func(b []byte) []byte {
			sec := st / sectorSize * sectorSize
			clear(b[sec : sec+sectorSize])
			return b
		})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("file %d: the sector of record 3's start zeroed: %v, want ErrCorrupt", i, err)
		}
	}
}

// TestSectorStartsARecord: a record that starts a sector, where a sector
// this generation did not write would end the log. Damage that makes the
// sector look unwritten (zeroed, or another generation's stamp) must not
// hide it and the records after it; a stamp changed on a whole record
// changes nothing.
func TestSectorStartsARecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	// Record 1's frame fills sector 0 after the header: record 2 starts
	// sector 1.
	if err := l.Append(append(make([]byte, FrameHeaderSize), bytes.Repeat([]byte{'x'}, sectorData-HeaderSize-FrameHeaderSize)...), 1); err != nil {
		t.Fatal(err)
	}
	if l.files[0].off != sectorData {
		t.Fatalf("record 2 starts at %d", l.files[0].off)
	}
	appendN(t, l, 2, 6)
	l.Close()
	fx := fixture{path: path, st: State{ID: testID, Gen: 2}}
	for _, c := range []struct {
		name   string
		change func(b []byte)
		whole  bool // every record comes back
	}{
		{"zeroed", func(b []byte) { clear(b[sectorSize : 2*sectorSize]) }, false},
		// Its frame is whole: the stamp matters only where frames end.
		{"another generation's stamp", func(b []byte) { binary.LittleEndian.PutUint64(b[sectorSize+sectorData:], stampOf(1)) }, true},
		{"zeroed, and another generation's stamp", func(b []byte) {
			clear(b[sectorSize : 2*sectorSize])
			binary.LittleEndian.PutUint64(b[sectorSize+sectorData:], stampOf(1))
		}, false},
		{"a damaged stamp", func(b []byte) { b[sectorSize+sectorData+2] ^= 8 }, true},
	} {
		rec, err := Recover(OS, mutate(t, fx, 0, func(b []byte) []byte { c.change(b); return b }), fx.st)
		if c.whole {
			if err != nil || len(rec.Records) != 6 {
				t.Errorf("%s: %v, want the 6 records", c.name, err)
			}
			continue
		}
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != sectorSize || !strings.Contains(err.Error(), "follows") {
			t.Errorf("%s: %v, want a CorruptError at %d", c.name, err, sectorSize)
		}
	}
}

// TestStampStream checks the stamped bytes Append writes against the
// stream they hold, at every offset in a sector.
func TestStampStream(t *testing.T) {
	for _, n := range []int64{8, 16, 496, 504, 512, 1008, 1500} {
		for off := int64(0); off < 2*sectorData; off += 8 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(1 + i%255)
			}
			out := stampStream(nil, off, b, stampOf(7))
			at := physOff(off)
			if (at+int64(len(out)))%sectorSize != 0 {
				t.Fatalf("n %d at %d: the write ends at %d, not at a sector's end", n, off, at+int64(len(out)))
			}
			file := append(make([]byte, at), out...)
			data, stamps := destamp(file)
			if !bytes.Equal(data[off:off+n], b) || !allZero(data[off+n:]) {
				t.Fatalf("n %d at %d: the stream does not hold the bytes, then zeros", n, off)
			}
			for i := at / sectorSize; i < int64(len(stamps)); i++ {
				if classify(stamps[i], 7) != stampCurrent {
					t.Fatalf("n %d at %d: sector %d has stamp %#x", n, off, i, stamps[i])
				}
			}
		}
	}
	if classify(0, 3) != stampOther || classify(stampOf(5), 3) != stampOther || classify(stampOf(3)^1<<40, 3) != stampDamaged {
		t.Error("classify")
	}
}

// TestForeignAndFutureLogs refuses a log of another database, one newer
// than the database, and one of a format version from the future.
func TestForeignAndFutureLogs(t *testing.T) {
	fx := oneFile(t, 3)
	other := fx.st
	other.ID[0] ^= 1
	if _, err := Recover(OS, fx.path, other); !errors.Is(err, ErrForeign) {
		t.Errorf("another database's log: %v, want ErrForeign", err)
	}
	older := State{ID: testID, Gen: 0, Applied: 0}
	if _, err := Recover(OS, fx.path, older); !errors.Is(err, ErrForeign) && !errors.Is(err, ErrCorrupt) {
		t.Errorf("a log on a database without one: %v, want a refusal", err)
	}
	if _, err := Recover(OS, fx.path, State{ID: testID, Gen: 1}); err != nil {
		t.Errorf("the generation after the database's: %v", err)
	}
	path := mutate(t, fx, 0, func(b []byte) []byte {
		h := header{version: Version, id: testID, gen: 9, firstSeq: 1}
		copy(b, h.encode())
		return b
	})
	if _, err := Recover(OS, path, fx.st); !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "older copy") {
		t.Errorf("a log newer than the database: %v, want ErrForeign", err)
	}
	path = mutate(t, fx, 0, func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[8:12], Version+1)
		binary.LittleEndian.PutUint32(b[60:64], crc32.Checksum(b[0:60], crcTable))
		return b
	})
	if _, err := Recover(OS, path, fx.st); !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("a log of version %d: %v, want ErrVersion", Version+1, err)
	}
}

// TestStaleFramesNeverPass reuses a file (as the log does every other
// switch, without clearing it): the older generation's frames and sectors
// behind the newer ones are not read as records, and the log ends where
// the newer generation's writes end.
func TestStaleFramesNeverPass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 1, 20)
	if _, err := l.Switch(21); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 21, 22)
	if _, err := l.Switch(23); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 23, 24)
	// The database holds up to 22 and generation 4 (file 0's).
	rec, err := Recover(OS, path, State{ID: testID, Gen: 4, Applied: 22})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 22, 24)
	// File 1 (generation 3) is all in the database: the one warning.
	if len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "generation 3, older") {
		t.Errorf("warnings: %q, want one about the stale file 1", rec.Warnings)
	}
}

// TestSpareIsNotRewritten checks that PrepareSpare leaves a used file's
// bytes as they are (no clearing, no write), zero-fills a new one a chunk
// ahead, and that the log recovers across many reuses of both files.
func TestSpareIsNotRewritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	fsys := &countingFS{FS: OS}
	l, err := Create(fsys, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.PrepareSpare(1); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(Path(path, 1)); err != nil || fi.Size() != sectorSize+chunk {
		t.Fatalf("the new spare: %v, size %d, want %d", err, fi.Size(), sectorSize+chunk)
	}
	seq := uint64(1)
	for gen := uint64(2); gen < 12; gen++ {
		// Fewer records each time, so that every file holds an earlier
		// generation's sectors after the used part.
		appendN(t, l, seq, seq+uint64(40-3*gen))
		seq += uint64(40 - 3*gen + 1)
		spare := l.Current() ^ 1
		before, _ := os.ReadFile(Path(path, spare))
		writes := fsys.writes
		if gen > 3 {
			if err := l.PrepareSpare(spare); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(Path(path, spare))
			if !bytes.Equal(before, after) || fsys.writes != writes {
				t.Fatalf("generation %d: PrepareSpare changed the used spare file (%d writes)", gen, fsys.writes-writes)
			}
		}
		applied := seq - 1
		if _, err := l.Switch(seq); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, seq, seq+2)
		rec, err := Recover(OS, path, State{ID: testID, Gen: gen, Applied: applied - 5})
		if err != nil {
			t.Fatalf("generation %d: %v", gen, err)
		}
		checkAll(t, rec, applied-5, seq+2)
		if len(rec.Warnings) != 0 {
			t.Fatalf("generation %d: warnings on a sound log: %q", gen, rec.Warnings)
		}
		seq += 3
	}
}

// countingFS counts the writes to its files.
type countingFS struct {
	FS
	writes int
}

func (c *countingFS) OpenFile(path string) (File, bool, error) {
	f, created, err := c.FS.OpenFile(path)
	if err != nil {
		return nil, false, err
	}
	return countingFile{f, c}, created, nil
}

type countingFile struct {
	File
	c *countingFS
}

func (f countingFile) WriteAt(b []byte, off int64) (int, error) {
	f.c.writes++
	return f.File.WriteAt(b, off)
}

// TestAppendLimit refuses a record over MaxRecordSize.
func TestAppendLimit(t *testing.T) {
	l, err := Create(OS, filepath.Join(t.TempDir(), "db"), testID, 2, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(make([]byte, FrameHeaderSize+MaxRecordSize+1), 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of %d bytes = %v, want ErrTooLarge", MaxRecordSize+1, err)
	}
	if err := l.Append(make([]byte, FrameHeaderSize), 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of an empty record = %v, want an error", err)
	}
}

// TestRepair cuts a damaged log where its valid records end, after saving
// the file aside, and keeps the records before the damage.
func TestRepair(t *testing.T) {
	fx := twoFiles(t, 8)
	// Damage record 4 of file 0 (seq 4): 1..3 survive, 4..16 are cut.
	path := mutate(t, fx, 0, func(b []byte) []byte { b[physOff(fx.ends[0][2]+30)] ^= 1; return b })
	if _, err := Recover(OS, path, fx.st); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("before repair: %v, want ErrCorrupt", err)
	}
	before, _ := os.ReadFile(Path(path, 0))
	done, rec, err := Repair(OS, path, fx.st)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 0, 3)
	if len(done) != 2 || done[0].Path != Path(path, 0) || done[0].Offset != fx.frameEnd(0, 2) || done[1].Path != Path(path, 1) {
		t.Fatalf("repairs %+v, want file 0 cut at %d, then file 1", done, fx.frameEnd(0, 2))
	}
	saved, err := os.ReadFile(done[0].Saved)
	if err != nil || !bytes.Equal(saved, before) || !strings.HasSuffix(done[0].Saved, ".broken") {
		t.Errorf("saved copy %s: %v, equal %v", done[0].Saved, err, bytes.Equal(saved, before))
	}
	// A sound log needs no repair.
	done, rec, err = Repair(OS, fx.path, fx.st)
	if err != nil || len(done) != 0 {
		t.Fatalf("repair of a sound log: %+v, %v", done, err)
	}
	checkAll(t, rec, 0, 16)
	// Repair refuses what is not damage.
	other := fx.st
	other.ID[0] ^= 1
	if _, _, err := Repair(OS, fx.path, other); !errors.Is(err, ErrForeign) {
		t.Errorf("repair of another database's log: %v, want ErrForeign", err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := header{version: Version, id: testID, gen: 7, firstSeq: 99}
	got, st := decodeHeader(h.encode())
	if st != headerValid || got != h {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", h, got, st)
	}
	for i := range HeaderSize {
		b := h.encode()
		b[i] ^= 0x40
		if _, st := decodeHeader(b); st == headerValid {
			t.Errorf("header with byte %d flipped decodes as valid", i)
		}
	}
	if _, st := decodeHeader(make([]byte, HeaderSize)); st != headerZero {
		t.Errorf("zero header: %v", st)
	}
}

func ExampleRecover() {
	dir, _ := os.MkdirTemp("", "wal")
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "forum.db")
	id := ID{42}
	// A new log (the database records generation 2 first).
	l, _ := Create(OS, db, id, 2, 1, false)
	for seq := uint64(1); seq <= 3; seq++ {
		_ = l.Append(append(make([]byte, FrameHeaderSize), fmt.Sprintf("record %d", seq)...), seq)
	}
	_ = l.Sync()
	_ = l.Close()
	// After a crash: the database holds record 1.
	rec, err := Recover(OS, db, State{ID: id, Applied: 1, Gen: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rec.Records {
		fmt.Printf("%d: %s\n", r.Seq, r.Payload)
	}
	// Output:
	// 2: record 2
	// 3: record 3
}

// TwoFilesForTest exports twoFiles to the external tests (fault_test.go).
func TwoFilesForTest(t *testing.T, n uint64) (path string, st State) {
	fx := twoFiles(t, n)
	return fx.path, fx.st
}

// TestSpareShrinks cuts back a file that a burst grew past maxSpare when it
// becomes the spare, and the log still recovers across it.
func TestSpareShrinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := append(make([]byte, FrameHeaderSize), bytes.Repeat([]byte("b"), 1<<20)...)
	for s := uint64(1); s <= 20; s++ {
		if err := l.Append(slices.Clone(big), s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Switch(21); err != nil {
		t.Fatal(err)
	}
	if err := l.PrepareSpare(0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(Path(path, 0))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != sectorSize+chunk {
		t.Errorf("the spare is %d bytes after a 20 MiB burst, want %d", fi.Size(), sectorSize+chunk)
	}
	appendN(t, l, 21, 25)
	if _, err := l.Switch(26); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 26, 30)
	rec, err := Recover(OS, path, State{ID: testID, Gen: 3, Applied: 20})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 20, 30)
}

// writeV1 writes file i of a version 1 (unstamped) log of generation gen,
// holding records first..last, then 4 KiB of zeros, as forumd wrote it
// before sectors were stamped; it returns where each frame ends.
func writeV1(t *testing.T, path string, i int, gen, first, last uint64) []int64 {
	t.Helper()
	b := header{version: versionUnstamped, id: testID, gen: gen, firstSeq: first}.encode()
	var ends []int64
	for s := first; s <= last; s++ {
		b = append(b, sealFrame(frame(s), s, salt(testID, gen))...)
		ends = append(ends, int64(len(b)))
	}
	if err := os.WriteFile(Path(path, i), append(b, make([]byte, 4096)...), 0o600); err != nil {
		t.Fatal(err)
	}
	return ends
}

// TestReadVersion1 recovers a log an older forumd left in the unstamped
// format, across both files, and still tells its torn last record from
// damage by its zeros.
func TestReadVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	writeV1(t, path, 0, 6, 1, 10)
	ends := writeV1(t, path, 1, 7, 11, 20)
	st := State{ID: testID, Gen: 6, Applied: 4}
	rec, err := Recover(OS, path, st)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 4, 20)
	fx := fixture{path: path, st: st}
	// The last record torn: a sector of it zeros.
	big := mutate(t, fx, 1, func(b []byte) []byte {
		s := (ends[8] + 8 + sectorSize - 1) / sectorSize * sectorSize
		if s+minTornChunk > ends[9] {
			t.Skip("the last record spans no sector boundary")
		}
		clear(b[s:min(s+sectorSize, ends[9])])
		return b
	})
	if rec, err = Recover(OS, big, st); err != nil {
		t.Fatalf("a torn last record: %v", err)
	}
	checkAll(t, rec, 4, 19)
	// A byte flipped in record 15.
	if _, err := Recover(OS, mutate(t, fx, 1, func(b []byte) []byte { b[ends[3]+30] ^= 1; return b }), st); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a flipped byte: %v, want ErrCorrupt", err)
	}
}
