package kv

import (
	"bytes"
	"sync/atomic"
)

// The overlay holds, per bucket, the writes made since the last checkpoint:
// they are in bbolt's open write transaction, which readers cannot see, and
// in the WAL. A View reads bbolt's last commit through the overlay.
//
// Each bucket's overlay is a skiplist of versions ordered by key, then by
// seq (the WAL record that wrote them) from newest to oldest. Only the
// committer goroutine inserts; readers walk it without locks (a node is
// fully built before it is linked in, level 0 first). A View sees the
// versions whose seq is at most the epoch's durable seq at the time it
// began: writes whose record is not yet fsynced stay invisible.

const maxHeight = 12

// ovNode is one version of a key.
type ovNode struct {
	key  []byte
	val  []byte // nil for a deletion
	del  bool
	seq  uint64
	next [maxHeight]atomic.Pointer[ovNode]
}

// skiplist is one bucket's overlay.
type skiplist struct {
	head ovNode
	rnd  uint64 // the writer's random state
	n    int    // versions inserted (writer only)
}

func newSkiplist() *skiplist { return &skiplist{rnd: 0x9e3779b97f4a7c15} }

// empty reports whether nothing was ever inserted.
func (s *skiplist) empty() bool { return s.head.next[0].Load() == nil }

// before reports whether n sorts before the version (key, seq).
func before(n *ovNode, key []byte, seq uint64) bool {
	c := bytes.Compare(n.key, key)
	return c < 0 || (c == 0 && n.seq > seq)
}

// seek returns the first node that does not sort before (key, seq), and
// fills preds with its predecessor at each level if preds is not nil.
func (s *skiplist) seek(key []byte, seq uint64, preds *[maxHeight]*ovNode) *ovNode {
	x := &s.head
	for lvl := maxHeight - 1; lvl >= 0; lvl-- {
		for {
			nx := x.next[lvl].Load()
			if nx == nil || !before(nx, key, seq) {
				break
			}
			x = nx
		}
		if preds != nil {
			preds[lvl] = x
		}
	}
	return x.next[0].Load()
}

// insert adds a version. Within one seq, a later insert of the same key
// sorts first, so it is the one readers find.
func (s *skiplist) insert(key, val []byte, del bool, seq uint64) {
	var preds [maxHeight]*ovNode
	s.seek(key, seq, &preds)
	h := 1
	for h < maxHeight {
		s.rnd ^= s.rnd << 13
		s.rnd ^= s.rnd >> 7
		s.rnd ^= s.rnd << 17
		if s.rnd&3 != 0 {
			break
		}
		h++
	}
	n := &ovNode{key: key, val: val, del: del, seq: seq}
	for i := range h {
		n.next[i].Store(preds[i].next[i].Load())
	}
	for i := range h {
		preds[i].next[i].Store(n)
	}
	s.n++
}

// get returns the newest version of key visible at snapshot snap, or nil.
func (s *skiplist) get(key []byte, snap uint64) *ovNode {
	n := s.seek(key, snap, nil)
	if n != nil && bytes.Equal(n.key, key) {
		return n
	}
	return nil
}

// first returns the first visible version at or after start (nil start:
// the first key).
func (s *skiplist) first(start []byte, snap uint64) *ovNode {
	var n *ovNode
	if start == nil {
		n = s.head.next[0].Load()
	} else {
		n = s.seek(start, snap, nil)
	}
	return visible(n, nil, snap)
}

// nextVisible returns the visible version of the key after n's.
func (s *skiplist) nextVisible(n *ovNode, snap uint64) *ovNode {
	return visible(n.next[0].Load(), n.key, snap)
}

// visible returns the first node from n on that is visible at snap and is
// not a version of prev (when prev is not nil).
func visible(n *ovNode, prev []byte, snap uint64) *ovNode {
	for ; n != nil; n = n.next[0].Load() {
		if n.seq > snap || (prev != nil && bytes.Equal(n.key, prev)) {
			continue
		}
		return n
	}
	return nil
}

// latest calls fn with the newest version of every key, in key order
// (writer only: it sees every seq).
func (s *skiplist) latest(fn func(n *ovNode)) {
	var prev []byte
	for n := s.head.next[0].Load(); n != nil; n = n.next[0].Load() {
		if prev != nil && bytes.Equal(n.key, prev) {
			continue
		}
		prev = n.key
		fn(n)
	}
}

// epoch is what a View reads: bbolt's commit with transaction id txid plus
// the overlays of the writes made since it.
type epoch struct {
	txid  int
	lists map[Bucket]*skiplist // fixed when the epoch is made
	// durable is the seq of the last WAL record known to be on disk: the
	// newest versions a new View may see.
	durable atomic.Uint64
}

func newEpoch(txid int, durable uint64, buckets map[Bucket][]byte) *epoch {
	ep := &epoch{txid: txid, lists: make(map[Bucket]*skiplist, len(buckets))}
	for b := range buckets {
		ep.lists[b] = newSkiplist()
	}
	ep.durable.Store(durable)
	return ep
}
