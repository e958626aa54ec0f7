// Package acceptencoding reads the Accept-Encoding request header (RFC 9110,
// section 12.5.3) for the handlers that send compressed responses: the
// gateway's JSON and the web UI's static files.
package acceptencoding

import (
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Gzip reports whether a request with header h accepts a response coded
// with gzip.
//
// Every Accept-Encoding field line counts, as if they were one
// comma-separated list. Content codings and the q parameter are matched
// without regard to case, and spaces and tabs around elements, codings and
// parameters are ignored. "x-gzip" is taken as gzip (RFC 9110, section
// 8.4.1.3). gzip is accepted when it is listed with a weight above zero
// (no weight is 1), or, when it is not listed, "*" is, with a weight above
// zero; so "gzip;q=0" refuses it, and so does "*;q=0" or a header that names
// neither. When gzip is listed more than once the lowest weight counts, so
// that a refusal is never overridden. A weight that is not a number is
// ignored.
func Gzip(h http.Header) bool {
	var gzip, star weight
	for _, line := range h.Values("Accept-Encoding") {
		for _, elem := range strings.Split(line, ",") {
			coding, params, _ := strings.Cut(elem, ";")
			q := quality(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzip.add(q)
			case "*":
				star.add(q)
			}
		}
	}
	if gzip.listed {
		return gzip.q > 0
	}
	return star.listed && star.q > 0
}

// weight is the lowest weight a coding is listed with, if it is listed.
type weight struct {
	listed bool
	q      float64
}

func (w *weight) add(q float64) {
	if !w.listed || q < w.q {
		w.listed, w.q = true, q
	}
}

// quality returns the weight in an element's parameters (what follows the
// coding's first ";"): the value of the last q parameter that is a number,
// or 1.
func quality(params string) float64 {
	q := 1.0
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) {
			q = f
		}
	}
	return q
}
