// Package testlog collects the output of code under test: a Buffer is the
// io.Writer a test hands to a slog handler, a server or a child process
// (exec.Cmd's Stdout and Stderr), and reads back while they may still be
// writing.
//
// It is for tests; it lives in a non-test file so that the tests of every
// package in the module can import it.
package testlog

import (
	"bytes"
	"sync"
	"unicode/utf8"
)

// Buffer is a byte buffer safe for concurrent use: any number of goroutines
// may call Write, String and Tail at once. The zero value is empty and ready
// to use. A Buffer must not be copied after first use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer; it implements io.Writer and never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns what String returns when that is at most n bytes long;
// otherwise, for a log too long to print whole, it returns "…" followed by
// the last n bytes or fewer, starting at the first whole UTF-8 character
// among them.
func (b *Buffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.buf.Bytes()
	if len(p) <= n {
		return string(p)
	}
	p = p[len(p)-max(n, 0):]
	for i := 0; i < utf8.UTFMax-1 && len(p) > 0 && !utf8.RuneStart(p[0]); i++ {
		p = p[1:]
	}
	return "…" + string(p)
}
