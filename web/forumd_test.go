package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/forumhq/forum/web"
)

// TestServedByForumd checks the mount in the real binary: the UI answers
// every path but the API's (/v1/..., /openapi.json, /healthz), which
// keep their JSON answers, errors included.
func TestServedByForumd(t *testing.T) {
	e := newEnv(t)
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.base+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// A bare transport: no transparent decompression.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range []struct {
		path, ctype string
		code        int
		csp         bool
	}{
		{"/", "text/html; charset=utf-8", 200, true},
		{"/threads/1", "text/html; charset=utf-8", 200, true},
		{"/users/me", "text/html; charset=utf-8", 200, true},
		{"/nope", "text/html; charset=utf-8", 404, true},
		{"/v1/themes", "application/json", 200, false},
		{"/v1/nope", "application/json", 404, false},
		{"/v1", "application/json", 404, false},
		{"/healthz", "application/json", 200, false},
		{"/openapi.json", "application/json", 200, false},
	} {
		resp, _ := get(c.path, "")
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy") != ""; got != c.csp {
			t.Errorf("GET %s: CSP present %v, want %v", c.path, got, c.csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", c.path)
		}
	}
	resp, _ := get("/static/"+web.Version()+"/js/app.js", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("app.js through forumd: %d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	_, page := get("/", "")
	if !strings.Contains(page, `/static/`+web.Version()+`/js/app.js`) {
		t.Errorf("the page does not load this version's script")
	}
	// The API's own answers are unchanged: a write to a UI path is the UI's
	// 405, a write to the API without credentials the API's 401.
	req, _ := http.NewRequest("POST", e.base+"/v1/threads", strings.NewReader(`{"title":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 401 {
		t.Errorf("POST /v1/threads without credentials: %d, want 401", r.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.base+"/threads/1", nil)
	if r, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 405 {
		t.Errorf("POST /threads/1: %d, want 405", r.StatusCode)
	}
}
