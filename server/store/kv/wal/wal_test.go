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
	// ends[i] lists, for file i, the offset where each of its frames ends
	// (padding included); dataEnds, where its checksummed bytes end.
	ends, dataEnds [2][]int64
	files          [2][]byte // the files' bytes, read once
}

// load reads the files of fx into fx.files.
func (fx *fixture) load(t *testing.T) {
	t.Helper()
	for i := range 2 {
		b, err := os.ReadFile(Path(fx.path, i))
		if err != nil {
			t.Fatal(err)
		}
		// The zero-filled tail reads the same shorter: keep 1 KiB of it.
		used := int64(HeaderSize)
		if n := len(fx.ends[i]); n > 0 {
			used = fx.ends[i][n-1]
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
		start := l.files[0].off
		appendN(t, l, s, s)
		fx.ends[0] = append(fx.ends[0], l.files[0].off)
		fx.dataEnds[0] = append(fx.dataEnds[0], start+FrameHeaderSize+int64(len(payload(s))))
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
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.PrepareSpare(1); err != nil {
		t.Fatal(err)
	}
	fx := fixture{path: path, st: State{ID: testID, Gen: 2}, last: 2 * n}
	for s := uint64(1); s <= 2*n; s++ {
		if s == n+1 {
			if _, err := l.Switch(s); err != nil {
				t.Fatal(err)
			}
		}
		start := l.files[l.cur].off
		appendN(t, l, s, s)
		fx.ends[l.cur] = append(fx.ends[l.cur], l.files[l.cur].off)
		fx.dataEnds[l.cur] = append(fx.dataEnds[l.cur], start+FrameHeaderSize+int64(len(payload(s))))
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

// TestTruncateEverywhere cuts a file at every byte offset. Every record
// whose frame ends before the cut must come back, or recovery must refuse.
// Cutting the newest file is a torn write, which recovery accepts.
func TestTruncateEverywhere(t *testing.T) {
	fx := twoFiles(t, 6)
	for i := range 2 {
		size := fx.ends[i][len(fx.ends[i])-1]
		for cut := int64(0); cut <= size; cut++ {
			rec, err := recoverChanged(fx, i, func(b []byte) []byte { return b[:cut] })
			complete := 0
			for _, e := range fx.dataEnds[i] {
				if e <= cut {
					complete++
				}
			}
			if i == 0 {
				// The older file: the newer one's records need all of it.
				if complete == len(fx.ends[0]) && err == nil {
					checkAll(t, rec, 0, 12)
				} else if err == nil {
					t.Fatalf("file 0 cut at %d (%d of 6 records whole): recovered %d records without an error", cut, complete, len(rec.Records))
				}
				continue
			}
			if err != nil {
				t.Fatalf("file 1 cut at %d: %v", cut, err)
			}
			checkAll(t, rec, 0, uint64(6+complete))
		}
	}
}

// TestFlipEveryRecord flips bytes in every record of both files: the
// first word, the checksum, the seq, and bytes of the payload. Recovery
// must refuse; no record may silently go missing.
func TestFlipEveryRecord(t *testing.T) {
	fx := twoFiles(t, 5)
	for i := range 2 {
		start := int64(HeaderSize)
		for r, end := range fx.ends[i] {
			n := end - start
			for _, at := range []int64{0, 3, 5, 9, 13, 17, 24, 25, n / 2, n - 9} {
				if at < 0 || start+at >= fx.dataEnds[i][r] {
					continue
				}
				rec, err := recoverChanged(fx, i, func(b []byte) []byte { b[start+at] ^= 0x10; return b })
				if err == nil {
					t.Errorf("file %d record %d, byte %d flipped: recovered %d records without an error", i, r, at, len(rec.Records))
				} else if !errors.Is(err, ErrCorrupt) {
					t.Errorf("file %d record %d, byte %d flipped: %v, want ErrCorrupt", i, r, at, err)
				}
			}
			start = end
		}
	}
}

// TestTornLastRecord zeroes a sector of the last record of the newest
// file, as a crash during its write leaves it: recovery drops that record
// only, and warns. The same in any other record is damage.
func TestTornLastRecord(t *testing.T) {
	// Records of 1,300 bytes or more span whole sectors.
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	big := func(seq uint64) []byte {
		return append(make([]byte, FrameHeaderSize), bytes.Repeat([]byte{byte('A' + seq)}, 1300)...)
	}
	var ends []int64
	for s := uint64(1); s <= 4; s++ {
		if err := l.Append(big(s), s); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, l.files[0].off)
	}
	l.Sync()
	l.Close()
	fx := fixture{path: path, st: State{ID: testID, Gen: 2}}
	zeroSectorIn := func(start, end int64) func([]byte) []byte {
		return func(b []byte) []byte {
			s := (start + 600) / sectorSize * sectorSize
			if s+sectorSize > end {
				t.Fatalf("no whole sector in [%d, %d)", start, end)
			}
			clear(b[s : s+sectorSize])
			return b
		}
	}
	rec, err := Recover(OS, mutate(t, fx, 0, zeroSectorIn(ends[2], ends[3])), fx.st)
	if err != nil {
		t.Fatalf("torn last record: %v", err)
	}
	if len(rec.Records) != 3 || len(rec.Warnings) != 1 || !strings.Contains(rec.Warnings[0], "torn") {
		t.Fatalf("torn last record: %d records, warnings %q; want 3 and a warning", len(rec.Records), rec.Warnings)
	}
	_, err = Recover(OS, mutate(t, fx, 0, zeroSectorIn(ends[1], ends[2])), fx.st)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != ends[1] || ce.LastSeq != 2 || !strings.Contains(ce.Error(), "follows at offset") {
		t.Fatalf("torn record before the last: %v, want a CorruptError at %d after record 2", err, ends[1])
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
// switch) without zeroing it: the older generation's frames behind the
// newer ones fail their salted checksums, and are not read as records.
func TestStaleFramesNeverPass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 1, 20)
	// Switch twice, skipping PrepareSpare's zeroing of file 0.
	if _, err := l.Switch(21); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 21, 22)
	l.files[0].dirty = 0
	if _, err := l.Switch(23); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 23, 24)
	// The database holds up to 22 and generation 4 (file 0's).
	rec, err := Recover(OS, path, State{ID: testID, Gen: 4, Applied: 22})
	if err != nil {
		// A stale frame right after the last one reads as damage, never as
		// records: refusing is right too, but the frames must not pass.
		if !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
		return
	}
	checkAll(t, rec, 22, 24)
}

// TestSpareIsZeroed checks that PrepareSpare leaves the used part of a
// file zero, and that Switch zeroes a file PrepareSpare did not.
func TestSpareIsZeroed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	l, err := Create(OS, path, testID, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 1, 10)
	if _, err := l.Switch(11); err != nil {
		t.Fatal(err)
	}
	if err := l.PrepareSpare(0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(Path(path, 0))
	if !allZero(b) {
		t.Error("file 0 is not zero after PrepareSpare")
	}
	appendN(t, l, 11, 20)
	if _, err := l.Switch(21); err != nil { // zeroes file 0 itself
		t.Fatal(err)
	}
	appendN(t, l, 21, 21)
	b, _ = os.ReadFile(Path(path, 1))
	l.files[1].dirty = int64(len(b))
	if _, err := l.Switch(22); err != nil { // back to file 1, zeroed by Switch
		t.Fatal(err)
	}
	b, _ = os.ReadFile(Path(path, 1))
	if !allZero(b[HeaderSize:]) {
		t.Error("Switch did not zero a file PrepareSpare had not")
	}
	rec, err := Recover(OS, path, State{ID: testID, Gen: 4, Applied: 20})
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 20, 21)
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
	path := mutate(t, fx, 0, func(b []byte) []byte { b[fx.ends[0][2]+30] ^= 1; return b })
	if _, err := Recover(OS, path, fx.st); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("before repair: %v, want ErrCorrupt", err)
	}
	before, _ := os.ReadFile(Path(path, 0))
	done, rec, err := Repair(OS, path, fx.st)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, rec, 0, 3)
	if len(done) != 2 || done[0].Path != Path(path, 0) || done[0].Offset != fx.ends[0][2] || done[1].Path != Path(path, 1) {
		t.Fatalf("repairs %+v, want file 0 cut at %d, then file 1", done, fx.ends[0][2])
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
	if fi.Size() != HeaderSize+chunk {
		t.Errorf("the spare is %d bytes after a 20 MiB burst, want %d", fi.Size(), HeaderSize+chunk)
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
