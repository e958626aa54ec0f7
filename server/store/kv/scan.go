package kv

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// A scan merges sorted sources of entries: the transaction's own writes (in
// an Update), the overlay, and bbolt's checkpoint. Where several hold the
// same key, the first source in the list wins; a deletion hides the key.

// source is one sorted input of a merged scan, positioned on an entry or
// exhausted.
type source interface {
	valid() bool
	key() []byte
	value() []byte
	deleted() bool
	next()
}

// mergeScan calls fn for each visible key of srcs in order (descending if
// reverse) until fn returns false. srcs are in priority order.
func mergeScan(srcs []source, reverse bool, fn func(k, v []byte) bool) {
	if len(srcs) == 1 {
		s := srcs[0]
		for ; s.valid(); s.next() {
			if !s.deleted() && !fn(s.key(), s.value()) {
				return
			}
		}
		return
	}
	for {
		best := -1
		var bk []byte
		for i, s := range srcs {
			if !s.valid() {
				continue
			}
			if best < 0 {
				best, bk = i, s.key()
				continue
			}
			c := bytes.Compare(s.key(), bk)
			if reverse {
				c = -c
			}
			if c < 0 {
				best, bk = i, s.key()
			}
		}
		if best < 0 {
			return
		}
		w := srcs[best]
		k, v, del := w.key(), w.value(), w.deleted()
		for _, s := range srcs {
			if s.valid() && bytes.Equal(s.key(), k) {
				s.next()
			}
		}
		if !del && !fn(k, v) {
			return
		}
	}
}

// boltSource walks a bbolt cursor over [start, end).
type boltSource struct {
	c          *bolt.Cursor
	k, v       []byte
	start, end []byte
	reverse    bool
}

func newBoltSource(bk *bolt.Bucket, start, end []byte, reverse bool) *boltSource {
	s := &boltSource{c: bk.Cursor(), start: start, end: end, reverse: reverse}
	switch {
	case !reverse && start == nil:
		s.k, s.v = s.c.First()
	case !reverse:
		s.k, s.v = s.c.Seek(start)
	case end == nil:
		s.k, s.v = s.c.Last()
	default:
		if s.k, s.v = s.c.Seek(end); s.k == nil {
			// Every key is < end.
			s.k, s.v = s.c.Last()
		} else {
			// s.k is the first key >= end; the one before it is the last < end.
			s.k, s.v = s.c.Prev()
		}
	}
	s.bound()
	return s
}

// bound ends the walk at the range's far end.
func (s *boltSource) bound() {
	if s.k == nil {
		return
	}
	if !s.reverse && s.end != nil && bytes.Compare(s.k, s.end) >= 0 ||
		s.reverse && s.start != nil && bytes.Compare(s.k, s.start) < 0 {
		s.k, s.v = nil, nil
	}
}

func (s *boltSource) valid() bool   { return s.k != nil }
func (s *boltSource) key() []byte   { return s.k }
func (s *boltSource) value() []byte { return s.v }
func (s *boltSource) deleted() bool { return false }
func (s *boltSource) next() {
	if s.reverse {
		s.k, s.v = s.c.Prev()
	} else {
		s.k, s.v = s.c.Next()
	}
	s.bound()
}

// listSource walks the versions of an overlay skiplist visible at snap,
// forward over [start, end).
type listSource struct {
	l    *skiplist
	n    *ovNode
	end  []byte
	snap uint64
}

func newListSource(l *skiplist, start, end []byte, snap uint64) *listSource {
	s := &listSource{l: l, n: l.first(start, snap), end: end, snap: snap}
	s.bound()
	return s
}

func (s *listSource) bound() {
	if s.n != nil && s.end != nil && bytes.Compare(s.n.key, s.end) >= 0 {
		s.n = nil
	}
}

func (s *listSource) valid() bool   { return s.n != nil }
func (s *listSource) key() []byte   { return s.n.key }
func (s *listSource) value() []byte { return s.n.val }
func (s *listSource) deleted() bool { return s.n.del }
func (s *listSource) next() {
	s.n = s.l.nextVisible(s.n, s.snap)
	s.bound()
}

// entry is a key's value or deletion.
type entry struct {
	key, val []byte
	del      bool
}

// sliceSource walks entries sorted by key, backwards if reverse.
type sliceSource struct {
	es      []entry
	i       int
	reverse bool
}

func newSliceSource(es []entry, reverse bool) *sliceSource {
	s := &sliceSource{es: es, reverse: reverse}
	if reverse {
		s.i = len(es) - 1
	}
	return s
}

func (s *sliceSource) valid() bool   { return s.i >= 0 && s.i < len(s.es) }
func (s *sliceSource) key() []byte   { return s.es[s.i].key }
func (s *sliceSource) value() []byte { return s.es[s.i].val }
func (s *sliceSource) deleted() bool { return s.es[s.i].del }
func (s *sliceSource) next() {
	if s.reverse {
		s.i--
	} else {
		s.i++
	}
}

// listEntries returns the versions of l visible at snap in [start, end), in
// key order: a skiplist only goes forward, so reverse scans take them as a
// slice (at most the writes since the last checkpoint).
func listEntries(l *skiplist, start, end []byte, snap uint64) []entry {
	var es []entry
	for s := newListSource(l, start, end, snap); s.valid(); s.next() {
		es = append(es, entry{key: s.n.key, val: s.n.val, del: s.n.del})
	}
	return es
}

// localEntries returns the last write of each key of bucket b in [start,
// end) among writes, in key order.
func localEntries(writes []localWrite, b Bucket, start, end []byte) []entry {
	var es []entry
	for i := len(writes) - 1; i >= 0; i-- {
		w := writes[i]
		if w.bucket != b || start != nil && bytes.Compare(w.key, start) < 0 || end != nil && bytes.Compare(w.key, end) >= 0 {
			continue
		}
		if slices.ContainsFunc(es, func(e entry) bool { return bytes.Equal(e.key, w.key) }) {
			continue // an earlier write of a key written again later
		}
		es = append(es, entry{key: w.key, val: w.val, del: w.del})
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	return es
}
