package testlog

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name    string
		written string
		n       int
		want    string
	}{
		{"empty", "", 10, ""},
		{"shorter", "abc", 10, "abc"},
		{"exactly n", "abcdef", 6, "abcdef"},
		{"longer", "abcdef", 4, "…cdef"},
		{"one byte", "abcdef", 1, "…f"},
		{"nothing kept", "abcdef", 0, "…"},
		{"negative n", "abcdef", -1, "…"},
		{"cut at a character", "aé", 2, "…é"},            // é is 2 bytes
		{"cut inside a character", "aéb", 2, "…b"},       // the last 2 bytes are é's second and b
		{"cut inside a 4-byte character", "😀x", 3, "…x"}, // 😀 is 4 bytes
		{"whole 4-byte character", "a😀x", 5, "…😀x"},
		{"lines", "one\ntwo\nthree\n", 6, "…three\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Buffer
			b.Write([]byte(tt.written))
			if got := b.Tail(tt.n); got != tt.want {
				t.Errorf("Tail(%d) of %q = %q, want %q", tt.n, tt.written, got, tt.want)
			}
			if got := b.String(); got != tt.written {
				t.Errorf("String() after Tail = %q, want %q", got, tt.written)
			}
		})
	}
}

// TestConcurrentWrites writes and reads from many goroutines at once: under
// -race a Buffer without its lock fails here, and with or without -race
// every line must arrive whole.
func TestConcurrentWrites(t *testing.T) {
	tests := []struct {
		name             string
		writers, records int
	}{
		{"one writer", 1, 200},
		{"many writers", 8, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Buffer
			var wg sync.WaitGroup
			for w := range tt.writers {
				wg.Go(func() {
					for i := range tt.records {
						fmt.Fprintf(&b, "writer=%d i=%d\n", w, i) // one Write a line
						_ = b.String()
						_ = b.Tail(64)
					}
				})
			}
			wg.Wait()
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != tt.writers*tt.records {
				t.Fatalf("%d lines, want %d", len(lines), tt.writers*tt.records)
			}
			seen := make(map[string]bool, len(lines))
			for _, l := range lines {
				seen[l] = true
			}
			for w := range tt.writers {
				for i := range tt.records {
					if l := fmt.Sprintf("writer=%d i=%d", w, i); !seen[l] {
						t.Fatalf("no line %q", l)
					}
				}
			}
		})
	}
}
