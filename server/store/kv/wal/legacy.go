package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// ReadV0 reads file i of a log written before this format (version 0:
// records of a length, a CRC-32C and a payload that starts with the
// uvarint seq, with no file header) and returns its records after the seq
// after, their payloads without the seq. Its files ended at their first
// torn record or the first whose seq did not follow, which could not tell
// damage from the end; it is kept only to bring an older database up to
// this format, once.
func ReadV0(fsys FS, dbPath string, i int, after uint64) ([]Record, error) {
	f, err := readFile(fsys, Path(dbPath, i), i)
	if err != nil {
		return nil, err
	}
	data := f.data
	var out []Record
	for off := 0; off+8 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n == 0 || n > MaxRecordSize || off+8+n > len(data) {
			break
		}
		payload := data[off+8 : off+8+n]
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(data[off+4:]) {
			break
		}
		off += 8 + n
		seq, m := binary.Uvarint(payload)
		if m <= 0 {
			return nil, fmt.Errorf("%w: %s: a version 0 record without a seq", ErrCorrupt, f.path)
		}
		if len(out) > 0 && seq != out[len(out)-1].Seq+1 {
			break
		}
		out = append(out, Record{Seq: seq, Payload: payload[m:]})
	}
	var kept []Record
	for _, r := range out {
		if r.Seq > after {
			kept = append(kept, r)
		}
	}
	return kept, nil
}
