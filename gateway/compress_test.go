package gateway

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestCompressJSON(t *testing.T) {
	big := `{"replies":[` + strings.Repeat(`{"body":"hello"},`, 200) + `{}]}`
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := big
		if r.URL.Path == "/small" {
			body = `{"ok":true}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	h := compressJSON(inner)
	tests := []struct {
		path, accept string
		gz           bool
	}{
		{"/big", "gzip, deflate, br", true},
		{"/big", "", false},
		{"/big", "gzip;q=0", false},
		{"/big", "*", true},
		{"/big", "br, *;q=0", false},
		{"/small", "gzip", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.path, nil)
		if tt.accept != "" {
			r.Header.Set("Accept-Encoding", tt.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tt.gz {
			t.Errorf("%s with %q: gzip %v, want %v", tt.path, tt.accept, got, tt.gz)
			continue
		}
		if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: no Vary: Accept-Encoding", tt.path)
		}
		body := w.Body.Bytes()
		if tt.gz {
			if w.Header().Get("Content-Length") != "" {
				t.Errorf("a compressed response keeps the plain Content-Length")
			}
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if w.Body.Len() >= len(big)/3 {
				t.Errorf("compressed to %d of %d bytes", w.Body.Len(), len(big))
			}
		}
		if want := big; tt.path == "/big" && string(body) != want {
			t.Errorf("%s: body changed", tt.path)
		}
	}
}
