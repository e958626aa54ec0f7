package gateway

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/forumhq/forum/internal/acceptencoding"
)

// minCompressBytes is the smallest response worth compressing.
const minCompressBytes = 1024

// gzipWriters reuses gzip writers, which are costly to allocate.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return w
}}

// compressJSON gzips API responses of at least minCompressBytes for clients
// that accept gzip: a thread page's replies shrink about fivefold, which
// matters to delegates on slow links. The size is known from Content-Length,
// which the mux writes (runtime.WithWriteContentLength). Streams have none
// (and the event stream is text/event-stream), so they are never
// compressed: gzip would hold each event back until its buffer filled.
func compressJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || !acceptencoding.Gzip(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		cw := &compressWriter{ResponseWriter: w}
		defer cw.close()
		next.ServeHTTP(cw, r)
	})
}

// compressWriter decides at WriteHeader whether to compress.
type compressWriter struct {
	http.ResponseWriter
	gz          *gzip.Writer
	wroteHeader bool
}

func (c *compressWriter) WriteHeader(code int) {
	if c.wroteHeader {
		return
	}
	c.wroteHeader = true
	h := c.Header()
	n, err := strconv.Atoi(h.Get("Content-Length"))
	if err == nil && n >= minCompressBytes && h.Get("Content-Encoding") == "" &&
		strings.HasPrefix(h.Get("Content-Type"), "application/json") && code != http.StatusNoContent && code != http.StatusNotModified {
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		c.gz = gzipWriters.Get().(*gzip.Writer)
		c.gz.Reset(c.ResponseWriter)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *compressWriter) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	if c.gz != nil {
		return c.gz.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *compressWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *compressWriter) close() {
	if c.gz != nil {
		c.gz.Close()
		gzipWriters.Put(c.gz)
		c.gz = nil
	}
}
