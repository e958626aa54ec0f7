package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func get(t *testing.T, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every response carries the security headers.
func checkSecurityHeaders(t *testing.T, path string, r *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	for _, d := range []string{"script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "style-src 'self'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(ContentSecurityPolicy, d+";") && !strings.HasSuffix(ContentSecurityPolicy, d) {
			t.Errorf("the policy lacks %q: %s", d, ContentSecurityPolicy)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe-") {
		t.Errorf("the policy allows something unsafe: %s", ContentSecurityPolicy)
	}
}

func TestAppRoutesServeIndex(t *testing.T) {
	for _, p := range []string{"/", "/themes/knowledge-exchange", "/themes/x/new", "/threads/12", "/threads/12/edit", "/threads/12/follow-up", "/users/3", "/users/me", "/u/ana", "/u/Ana.B-2_x", "/notifications", "/login", "/register", "/password", "/search", "/convenings", "/convenings/beijing-2015", "/action-items"} {
		r := get(t, "GET", p, nil)
		b := body(t, r)
		if r.StatusCode != 200 || !bytes.Contains(b, []byte(`<main id="main"`)) {
			t.Errorf("GET %s: %d, body %.80q", p, r.StatusCode, b)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
		checkSecurityHeaders(t, p, r)
	}
	// Other paths get the page too (it shows "page not found"), with 404.
	for _, p := range []string{"/nope", "/threads/abc", "/threads/12/replies", "/favicon.ico", "/static", "/themes/UPPER", "/search/x", "/u/", "/u/a/b", "/u/" + strings.Repeat("a", 33), "/notifications/1", "/convenings/", "/convenings/Beijing", "/convenings/a/b", "/action-items/1", "/threads/12/actionItems"} {
		r := get(t, "GET", p, nil)
		if r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
		checkSecurityHeaders(t, p, r)
	}
}

// The router of app.js and appRoutes must agree.
func TestRoutesMatchTheScript(t *testing.T) {
	src, err := fs.ReadFile(staticFiles, "static/js/app.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const routes = \[(.*?)\n\];`).FindSubmatch(src)
	if block == nil {
		t.Fatal("no routes table in app.js")
	}
	n := len(regexp.MustCompile(`\[/\^`).FindAll(block[1], -1))
	// appRoutes folds edit and follow-up, and login, register and password,
	// into one pattern each.
	if n != len(appRoutes)+3 {
		t.Errorf("app.js has %d routes, web.appRoutes %d (+3 folded): keep them in step", n, len(appRoutes))
	}
}

func TestStaticFiles(t *testing.T) {
	idx := body(t, get(t, "GET", "/", nil))
	refs := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllSubmatch(idx, -1)
	if len(refs) < 5 {
		t.Fatalf("index.html references %d static files", len(refs))
	}
	prefix := StaticPrefix + Version() + "/"
	for _, m := range refs {
		p := string(m[1])
		if !strings.HasPrefix(p, prefix) {
			t.Errorf("index.html references %s, not under %s", p, prefix)
			continue
		}
		r := get(t, "GET", p, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		b := body(t, r)
		if r.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, r.StatusCode)
			continue
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
		if r.Header.Get("Vary") != "Accept-Encoding" || r.Header.Get("ETag") == "" {
			t.Errorf("GET %s: Vary %q, ETag %q", p, r.Header.Get("Vary"), r.Header.Get("ETag"))
		}
		checkSecurityHeaders(t, p, r)
		if strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css") {
			if r.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("GET %s: not gzipped", p)
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := fs.ReadFile(staticFiles, "static/"+strings.TrimPrefix(p, prefix))
			if !bytes.Equal(plain, orig) {
				t.Errorf("GET %s: the gzip body is not the file", p)
			}
		}
	}
	for p, ct := range map[string]string{"js/app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml"} {
		if got := get(t, "GET", prefix+p, nil).Header.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", p, got, ct)
		}
	}
}

func TestStaticCaching(t *testing.T) {
	p := StaticPrefix + Version() + "/js/app.js"
	r := get(t, "GET", p, nil)
	if r.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip sent without Accept-Encoding")
	}
	etag := r.Header.Get("ETag")
	if r := get(t, "GET", p, map[string]string{"If-None-Match": etag}); r.StatusCode != 304 {
		t.Errorf("If-None-Match %s: %d, want 304", etag, r.StatusCode)
	}
	gz := get(t, "GET", p, map[string]string{"Accept-Encoding": "gzip"}).Header.Get("ETag")
	if gz == etag {
		t.Errorf("the gzip and plain bodies share the ETag %s", gz)
	}
	if r := get(t, "GET", p, map[string]string{"If-None-Match": gz, "Accept-Encoding": "gzip"}); r.StatusCode != 304 {
		t.Errorf("If-None-Match %s: %d, want 304", gz, r.StatusCode)
	}
	// A page from an older version still gets the files, not cached.
	r = get(t, "GET", StaticPrefix+"0123456789ab/js/app.js", nil)
	if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("an old version's URL: %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	for _, bad := range []string{p + "x", StaticPrefix + Version() + "/index.html", StaticPrefix + Version() + "/", StaticPrefix + Version() + "/../web.go"} {
		if r := get(t, "GET", bad, nil); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", bad, r.StatusCode)
		}
	}
	// HEAD has the headers and no body; other methods are refused.
	r = get(t, "HEAD", p, nil)
	if b := body(t, r); r.StatusCode != 200 || len(b) != 0 || r.Header.Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", r.StatusCode, len(b), r.Header.Get("Content-Length"))
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		r := get(t, m, "/", nil)
		if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: %d, Allow %q", m, r.StatusCode, r.Header.Get("Allow"))
		}
	}
}

// The static files keep the rules that make the Content-Security-Policy
// and the server-side sanitiser the only ways content becomes markup.
func TestStaticSourceRules(t *testing.T) {
	files := map[string]string{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(staticFiles, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []struct{ re, why string }{
		{`\binnerHTML\b`, "only dom.js's setHTML may set HTML (body_html)"},
		{`\bouterHTML\s*=|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser`, "no other HTML sinks"},
		{`\beval\(|new Function|setTimeout\(\s*['"]`, "no code from strings"},
		{`setAttribute\(\s*['"]on|\.on[a-z]+\s*=`, "listeners with addEventListener, not handler attributes"},
		{`javascript:`, "no javascript: URLs"},
		{`localStorage\.setItem\([^K]`, "only the language choice (KEY) in localStorage, never a token"},
		{`\btoken\b.*Storage|Storage.*\btoken\b`, "never store a token"},
	}
	for p, src := range files {
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		for _, f := range forbidden {
			re := regexp.MustCompile(f.re)
			if p == "static/js/dom.js" && f.re == `\binnerHTML\b` {
				if n := len(re.FindAllString(src, -1)); n != 1 {
					t.Errorf("%s: %d uses of innerHTML, want the one in setHTML", p, n)
				}
				continue
			}
			if loc := re.FindStringIndex(src); loc != nil {
				t.Errorf("%s: %q at byte %d: %s", p, src[loc[0]:loc[1]], loc[0], f.why)
			}
		}
	}
	idx := files["static/index.html"]
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(idx, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	if regexp.MustCompile(`\son[a-z]+=|\sstyle=|<style`).MatchString(idx) {
		t.Error("index.html has inline handlers or styles")
	}
}

// One message catalogue: every key the scripts use is in English, French
// and Spanish, and the three languages have the same keys.
func TestMessageCatalogue(t *testing.T) {
	src, err := fs.ReadFile(staticFiles, "static/js/messages.js")
	if err != nil {
		t.Fatal(err)
	}
	langs := map[string]map[string]bool{}
	var cur string
	keyRE := regexp.MustCompile(`^\s+'?([A-Za-z][A-Za-z.]*)'?:`)
	for _, line := range strings.Split(string(src), "\n") {
		if m := regexp.MustCompile(`^  (en|fr|es): \{$`).FindStringSubmatch(line); m != nil {
			cur = m[1]
			langs[cur] = map[string]bool{}
			continue
		}
		if cur != "" {
			if m := keyRE.FindStringSubmatch(line); m != nil {
				langs[cur][m[1]] = true
			}
		}
	}
	if len(langs) != 3 || len(langs["en"]) < 100 {
		t.Fatalf("parsed %d languages, %d English keys", len(langs), len(langs["en"]))
	}
	for _, l := range []string{"fr", "es"} {
		for k := range langs["en"] {
			if !langs[l][k] {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		for k := range langs[l] {
			if !langs["en"][k] {
				t.Errorf("%s has %q, which English lacks", l, k)
			}
		}
	}
	used := map[string]bool{}
	dir, _ := fs.ReadDir(staticFiles, "static/js")
	for _, d := range dir {
		b, _ := fs.ReadFile(staticFiles, "static/js/"+d.Name())
		for _, m := range regexp.MustCompile(`\bt\('([A-Za-z.]*[A-Za-z])'`).FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
	}
	// Keys built at run time.
	for _, k := range []string{"kind.discussion", "kind.question", "kind.followup", "kind.announcement", "state.open", "state.resolved", "state.locked", "vis.members", "vis.groups", "vis.public", "role.member", "role.convener", "role.admin"} {
		used[k] = true
	}
	var missing []string
	for k := range used {
		if !langs["en"][k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys used but not in the catalogue: %v", missing)
	}
}

// The embedded files are the files on disk (go:embed picks up every
// file, so nothing is left out by mistake).
func TestEmbeddedMatchesDisk(t *testing.T) {
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		disk, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		emb, err := fs.ReadFile(staticFiles, filepath.ToSlash(p))
		if err != nil || !bytes.Equal(disk, emb) {
			t.Errorf("%s: embedded copy differs (%v)", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// live.js names the event types (a stream for several subscribers leaves
// out those none of them takes, and a filter with an unknown type is
// refused): its list is forumd's, in the short form of filters.
func TestLiveEventTypes(t *testing.T) {
	src, err := fs.ReadFile(staticFiles, "static/js/live.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)export const TYPES = \[(.*?)\];`).FindSubmatch(src)
	if block == nil {
		t.Fatal("no TYPES list in live.js")
	}
	got := map[string]bool{}
	for _, m := range regexp.MustCompile(`'([a-z_.]+)'`).FindAllSubmatch(block[1], -1) {
		if got[string(m[1])] {
			t.Errorf("live.js lists %s twice", m[1])
		}
		got[string(m[1])] = true
	}
	want := map[string]bool{}
	for n, name := range forumv1.EventType_name {
		if n == 0 {
			continue
		}
		s := strings.ToLower(strings.TrimPrefix(name, "EVENT_TYPE_"))
		i := strings.LastIndexByte(s, '_')
		want[s[:i]+"."+s[i+1:]] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("live.js lacks the event type %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("live.js lists %s, which is no event type of forumd", k)
		}
	}
}
