package server

import "testing"

// TestTieredPool checks that the pool hands out buffers of the length
// asked for, with a power-of-two capacity within its tiers, takes back
// only such buffers.
func TestTieredPool(t *testing.T) {
	p := newTieredPool(9, 12) // 512 B to 4 KiB
	for _, c := range []struct{ size, cap int }{{1, 512}, {512, 512}, {513, 1024}, {4096, 4096}, {4097, 4097}} {
		b := p.Get(c.size)
		if len(*b) != c.size || cap(*b) != c.cap {
			t.Errorf("Get(%d): len %d, cap %d; want cap %d", c.size, len(*b), cap(*b), c.cap)
		}
		p.Put(b)
	}
	odd := make([]byte, 700) // not one of the pool's: dropped
	p.Put(&odd)
	for range 10 {
		c := p.Get(700)
		if cap(*c) != 1024 || len(*c) != 700 {
			t.Fatalf("Get(700) after putting back a 700-byte buffer: len %d, cap %d", len(*c), cap(*c))
		}
		p.Put(c)
	}
}
