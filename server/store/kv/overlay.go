package kv

import (
	"bytes"
	"math"
	"runtime"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// The overlay holds, per bucket, the writes made since the last checkpoint:
// they are in the WAL but not yet in bbolt. Every transaction reads bbolt's
// last checkpoint through the overlay.
//
// Each bucket's overlay is a skiplist of versions ordered by key, then by
// seq (the WAL record that wrote them) from newest to oldest. Only the
// committer goroutine inserts (holding the engine's insertMu); readers walk
// it without locks (a node is fully built before it is linked in, level 0
// first). A View sees the versions whose seq is at most the durable seq
// when it began: writes whose record is not yet fsynced stay invisible.
// Update functions see every version.

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
	nx := n.next[0].Load()
	if nx != nil && bytes.Equal(nx.key, n.key) {
		// Skip the older versions of a key written many times since the
		// checkpoint in one descent rather than one by one (seqs start
		// at 1, so (key, 0) sorts after every version of key).
		nx = s.seek(n.key, 0, nil)
	}
	return visible(nx, n.key, snap)
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

// latestUpTo calls fn, in key order, with the newest version of each key
// whose seq is at most k. Readers may run it while the writer inserts.
func (s *skiplist) latestUpTo(k uint64, fn func(n *ovNode) error) error {
	var prev []byte
	for n := s.head.next[0].Load(); n != nil; n = n.next[0].Load() {
		if n.seq > k || (prev != nil && bytes.Equal(n.key, prev)) {
			continue
		}
		prev = n.key
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// copyAbove inserts into dst the versions of s whose seq is above k (for a
// key written twice under one seq, only the later write, the one readers
// find). It returns how many it copied. The caller must hold off the
// writer.
func (s *skiplist) copyAbove(k uint64, dst *skiplist) int {
	copied := 0
	var prev *ovNode
	for n := s.head.next[0].Load(); n != nil; n = n.next[0].Load() {
		if n.seq > k && (prev == nil || prev.seq != n.seq || !bytes.Equal(prev.key, n.key)) {
			dst.insert(n.key, n.val, n.del, n.seq)
			copied++
		}
		prev = n
	}
	return copied
}

// seqVersion is a bucket's sequence as set by the record seq.
type seqVersion struct {
	seq uint64
	n   uint64
}

// epoch is what a transaction reads: bbolt's checkpoint with transaction id
// txid, which holds the records up to base, plus the overlays of the writes
// made since.
type epoch struct {
	txid  int
	base  uint64
	lists map[Bucket]*skiplist // fixed when the epoch is made
	// seqs holds, per bucket, the sequences set since base, in seq order.
	// The engine's insertMu guards it.
	seqs map[Bucket][]seqVersion

	// rtx is a read transaction on the checkpoint that transactions share
	// (as etcd shares one: bbolt's read-only transactions and buckets may
	// be read concurrently), with its buckets opened once in bks: a
	// transaction of its own costs bbolt's Begin and Rollback, under a
	// mutex every reader takes, and a cursor seek per bucket opened. Nil
	// if the epoch has none; users counts the transactions using it, and
	// is made negative when the checkpointer retires it.
	rtx     *bolt.Tx
	bks     map[Bucket]*bolt.Bucket
	users   atomic.Int64
	retired bool // the checkpointer's
}

// retiredUsers is added to epoch.users to retire the shared transaction.
const retiredUsers = math.MinInt64 / 2

// acquire reports whether the caller may use ep.rtx; if so, it must call
// release when done.
func (ep *epoch) acquire() bool {
	if ep.rtx == nil {
		return false
	}
	if ep.users.Add(1) > 0 {
		return true
	}
	ep.users.Add(-1)
	return false
}

func (ep *epoch) release() { ep.users.Add(-1) }

// retire stops new transactions from using ep.rtx, waits for those using
// it (their functions are short by contract) and rolls it back, so that a
// commit never waits for it (bbolt grows its memory map only once every
// read transaction has ended). Only the checkpointer calls it.
func (ep *epoch) retire() {
	if ep.rtx == nil || ep.retired {
		return
	}
	ep.retired = true
	ep.users.Add(retiredUsers)
	for ep.users.Load() != retiredUsers {
		runtime.Gosched()
	}
	_ = ep.rtx.Rollback()
}

func newEpoch(txid int, base uint64, buckets map[Bucket][]byte) *epoch {
	ep := &epoch{txid: txid, base: base, lists: make(map[Bucket]*skiplist, len(buckets)), seqs: make(map[Bucket][]seqVersion)}
	for b := range buckets {
		ep.lists[b] = newSkiplist()
	}
	return ep
}
