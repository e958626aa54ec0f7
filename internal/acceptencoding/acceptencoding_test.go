package acceptencoding

import (
	"net/http"
	"testing"
)

func TestGzip(t *testing.T) {
	tests := []struct {
		name  string
		lines []string // Accept-Encoding field lines
		want  bool
	}{
		{"no header", nil, false},
		{"empty", []string{""}, false},
		{"gzip", []string{"gzip"}, true},
		{"a browser's", []string{"gzip, deflate, br"}, true},
		{"gzip last", []string{"br, gzip"}, true},
		{"other codings only", []string{"br, deflate"}, false},
		{"identity", []string{"identity"}, false},
		{"identity refused", []string{"identity;q=0"}, false},
		{"x-gzip", []string{"x-gzip"}, true},

		// Weights.
		{"q=0", []string{"gzip;q=0"}, false},
		{"q=0.0", []string{"gzip;q=0.0"}, false},
		{"q=0.00", []string{"gzip;q=0.00"}, false},
		{"q=0.000", []string{"gzip;q=0.000"}, false},
		{"q=0.001", []string{"gzip;q=0.001"}, true},
		{"q=0.5", []string{"gzip; q=0.5"}, true},
		{"q=1", []string{"gzip;q=1"}, true},
		{"x-gzip refused", []string{"x-gzip;q=0"}, false},
		{"refused among others", []string{"br, gzip;q=0, deflate"}, false},
		{"q after another parameter", []string{"gzip;level=9;q=0"}, false},
		{"q before another parameter", []string{"gzip;q=0;level=9"}, false},
		{"the last q", []string{"gzip;q=1;q=0"}, false},
		{"not a number", []string{"gzip;q=abc"}, true},
		{"NaN", []string{"gzip;q=NaN"}, true},
		{"negative", []string{"gzip;q=-1"}, false},
		{"a parameter without a value", []string{"gzip;q"}, true},

		// Case and white space.
		{"upper case", []string{"GZIP"}, true},
		{"mixed case", []string{"GZip"}, true},
		{"upper-case Q", []string{"gzip;Q=0"}, false},
		{"spaces", []string{"  gzip  ;  q = 0  "}, false},
		{"tabs", []string{"br,\tgzip\t;\tq=0"}, false},
		{"spaces accepted", []string{" br , gzip ; q=0.8 "}, true},
		{"empty elements", []string{", ,gzip,"}, true},
		{"not a prefix", []string{"gzipped"}, false},
		{"not a suffix", []string{"x-gzip2"}, false},

		// "*" stands for codings not listed.
		{"star", []string{"*"}, true},
		{"star refused", []string{"*;q=0"}, false},
		{"star refused, others listed", []string{"br;q=1, *;q=0"}, false},
		{"gzip listed over star refused", []string{"*;q=0, gzip;q=0.1"}, true},
		{"gzip refused over star", []string{"gzip;q=0, *"}, false},
		{"x-gzip refused over star", []string{"*, x-gzip;q=0"}, false},
		{"star with identity", []string{"identity, *;q=0.5"}, true},

		// Several field lines are one list.
		{"gzip on the second line", []string{"br", "gzip"}, true},
		{"refused on the second line", []string{"br", "gzip;q=0"}, false},
		{"star on one line, refusal on another", []string{"*", "gzip;q=0"}, false},

		// Listed twice: the lowest weight counts.
		{"accepted, then refused", []string{"gzip, gzip;q=0"}, false},
		{"refused, then accepted", []string{"gzip;q=0, gzip"}, false},
		{"refused as x-gzip", []string{"gzip, x-gzip;q=0"}, false},
		{"refused on another line", []string{"gzip;q=0", "gzip"}, false},
		{"star twice", []string{"*, *;q=0"}, false},
		{"two weights above zero", []string{"gzip;q=0.2, gzip;q=0.9"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.lines {
				h.Add("Accept-Encoding", l)
			}
			if got := Gzip(h); got != tt.want {
				t.Errorf("Gzip(Accept-Encoding: %q) = %v, want %v", tt.lines, got, tt.want)
			}
		})
	}
}
