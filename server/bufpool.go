package server

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// streamBuffers is the pool of the buffers StreamEvents encodes its
// messages into (sendEvents). gRPC's default pool clears every buffer it
// hands out, up to the capacity of its size class (1 MiB for anything over
// 32 KiB); a buffer that is written whole right after does not need it,
// and at a thousand subscribers clearing came to a fifth of the server's
// time. This pool does not clear.
var streamBuffers mem.BufferPool = newTieredPool(9, 21) // 512 B to 2 MiB

// tieredPool is a mem.BufferPool of buffers whose capacities are powers of
// two, one sync.Pool per power; it neither clears what it hands out nor
// keeps buffers above its largest size.
type tieredPool struct {
	min, max int // log2 of the smallest and largest capacities
	pools    []sync.Pool
}

func newTieredPool(min, max int) *tieredPool {
	return &tieredPool{min: min, max: max, pools: make([]sync.Pool, max-min+1)}
}

// tier returns the log2 of the capacity a buffer of size bytes gets.
func (p *tieredPool) tier(size int) int {
	return max(p.min, bits.Len(uint(size-1)))
}

// Get implements mem.BufferPool: a buffer of length size, its contents
// whatever they were.
func (p *tieredPool) Get(size int) *[]byte {
	t := p.tier(size)
	if t > p.max {
		b := make([]byte, size)
		return &b
	}
	if v := p.pools[t-p.min].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 1<<t)
	return &b
}

// Put implements mem.BufferPool.
func (p *tieredPool) Put(b *[]byte) {
	c := cap(*b)
	if c == 0 || c&(c-1) != 0 {
		return // not one of ours
	}
	t := bits.Len(uint(c - 1))
	if t < p.min || t > p.max {
		return
	}
	p.pools[t-p.min].Put(b)
}
