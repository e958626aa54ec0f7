// Package web is the forum's browser interface: plain ES modules and CSS,
// embedded in the binary, built on the public JSON API (/v1/...) and the
// gateway's session cookie. There is no build step.
//
// Handler serves it. The gateway hands it every path the API does not own
// (everything except /v1/..., /openapi.json and /healthz):
//
//   - /static/<version>/<file>: the files under static/, where <version> is
//     a hash of all of them. They are cached for a year (immutable); a new
//     binary with changed files has a new version, so browsers never mix
//     old and new files. A request for another version gets the current
//     file, not cached, so a page loaded before an upgrade still works.
//   - The application's URLs (/, /themes/x, /threads/12, /users/3, /u/ana,
//     /notifications, /login, /search, /convenings/beijing-2015,
//     /action-items, ...; see appRoutes) answer index.html with status
//     200, so they can be shared, bookmarked and reloaded; the page's
//     script then renders them (history API). Other paths answer
//     index.html with status 404, and the script shows "page not found".
//     index.html is revalidated on every load (Cache-Control: no-cache,
//     ETag).
//
// Every file is compressed with gzip once, when the handler is built, and
// sent compressed to clients that accept it (Vary: Accept-Encoding). Every
// response carries a Content-Security-Policy that allows scripts, styles
// and connections only from the same origin, no inline script or style, no
// plugins, no <base>, no framing, and requires Trusted Types for DOM HTML
// sinks (only the "forum" policy, which the script uses for the server's
// sanitised body_html); plus nosniff, a same-origin Referrer-Policy, and
// frame and opener isolation.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/forumhq/forum/internal/acceptencoding"
)

//go:embed static
var staticFiles embed.FS

// StaticPrefix is the URL path under which the embedded files are served,
// followed by the version and the file's path.
const StaticPrefix = "/static/"

// ContentSecurityPolicy is the policy sent with every response of Handler.
// img-src allows https: images because posts may show them (the server's
// sanitiser keeps <img> with http(s) sources).
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self'; " +
	"img-src 'self' https: data:; " +
	"connect-src 'self'; " +
	"manifest-src 'self'; " +
	"form-action 'self'; " +
	"object-src 'none'; " +
	"base-uri 'none'; " +
	"frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; " +
	"trusted-types forum"

// appRoutes are the URL paths the script renders (see static/js/app.js,
// whose router must agree): they answer index.html with 200.
var appRoutes = []*regexp.Regexp{
	regexp.MustCompile(`^/$`),
	regexp.MustCompile(`^/themes/[a-z0-9-]+$`),
	regexp.MustCompile(`^/themes/[a-z0-9-]+/new$`),
	regexp.MustCompile(`^/threads/[0-9]+$`),
	regexp.MustCompile(`^/threads/[0-9]+/(edit|follow-up)$`),
	regexp.MustCompile(`^/users/([0-9]+|me)$`),
	regexp.MustCompile(`^/u/[A-Za-z0-9_.-]{1,32}$`), // a mention's link: @ana is /u/ana
	regexp.MustCompile(`^/notifications$`),
	regexp.MustCompile(`^/settings/notifications$`),
	regexp.MustCompile(`^/unsubscribe$`), // an e-mail's link: the page asks before it unsubscribes
	regexp.MustCompile(`^/(login|register|password)$`),
	regexp.MustCompile(`^/search$`),
	regexp.MustCompile(`^/convenings$`),
	regexp.MustCompile(`^/convenings/[a-z0-9-]+$`),
	regexp.MustCompile(`^/action-items$`),
}

// IsAppRoute reports whether p is a URL path of the application's pages.
func IsAppRoute(p string) bool {
	for _, re := range appRoutes {
		if re.MatchString(p) {
			return true
		}
	}
	return false
}

// file is one embedded file, ready to serve.
type file struct {
	contentType string
	plain, gz   []byte // gz is nil when compression does not pay
	etag        string // strong ETag of the plain bytes; the gzip one adds "-gz"
}

// ui serves the embedded files.
type ui struct {
	version string           // hash of all static files
	files   map[string]*file // by path under static/ ("js/app.js")
	index   *file            // index.html with the version filled in
}

var (
	buildOnce sync.Once
	built     *ui
	buildErr  error
)

// Handler returns the handler of the web UI (see the package documentation).
// It is built once, on the first call, and shared.
func Handler() http.Handler {
	buildOnce.Do(func() { built, buildErr = build(staticFiles) })
	if buildErr != nil {
		// The files are embedded at compile time; failing to read them is
		// a programming error that every test catches.
		panic(fmt.Sprintf("web: %v", buildErr))
	}
	return built
}

// Version returns the version string in the URLs of the static files.
func Version() string {
	Handler()
	return built.version
}

// build reads and compresses every file under static/ in fsys.
func build(fsys fs.FS) (*ui, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	var names []string
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	u := &ui{files: make(map[string]*file, len(names))}
	h := sha256.New()
	contents := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			return nil, err
		}
		contents[name] = b
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	u.version = hex.EncodeToString(h.Sum(nil))[:12]
	for _, name := range names {
		b := contents[name]
		if name == "index.html" {
			// Point the page at this version's files.
			b = bytes.ReplaceAll(b, []byte(`"`+StaticPrefix), []byte(`"`+StaticPrefix+u.version+"/"))
		}
		f, err := newFile(name, b)
		if err != nil {
			return nil, err
		}
		u.files[name] = f
	}
	u.index = u.files["index.html"]
	if u.index == nil {
		return nil, fmt.Errorf("static/index.html is missing")
	}
	return u, nil
}

// contentTypes maps the extensions of the static files to their types; a
// file with another extension is refused at build time, so nothing is ever
// served with a guessed type.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

// newFile prepares one file: its type, ETag and gzip form.
func newFile(name string, b []byte) (*file, error) {
	ext := path.Ext(name)
	ct, ok := contentTypes[ext]
	if !ok {
		if ct = mime.TypeByExtension(ext); ct == "" {
			return nil, fmt.Errorf("static/%s: no content type for %q", name, ext)
		}
	}
	sum := sha256.Sum256(b)
	f := &file{contentType: ct, plain: b, etag: `"` + hex.EncodeToString(sum[:])[:20] + `"`}
	if compressible(ct) {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if buf.Len() < len(b) {
			f.gz = buf.Bytes()
		}
	}
	return f, nil
}

// compressible reports whether content of type ct is worth compressing.
func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "javascript") || strings.HasPrefix(ct, "image/svg")
}

// setSecurityHeaders sets the headers every response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}

// ServeHTTP implements http.Handler.
func (u *ui) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setSecurityHeaders(h)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, StaticPrefix); ok {
		version, name, _ := strings.Cut(rest, "/")
		f := u.files[name]
		if f == nil || name == "index.html" {
			http.NotFound(w, r)
			return
		}
		if version == u.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			// A page from before an upgrade: serve what there is now,
			// but do not let it be cached under the old version's URL.
			h.Set("Cache-Control", "no-cache")
		}
		u.serveFile(w, r, f, http.StatusOK)
		return
	}
	code := http.StatusOK
	if !IsAppRoute(p) {
		code = http.StatusNotFound
	}
	h.Set("Cache-Control", "no-cache")
	u.serveFile(w, r, u.index, code)
}

// serveFile writes f, gzipped when the client accepts it, answering 304
// to a matching If-None-Match (for status 200 only).
func (u *ui) serveFile(w http.ResponseWriter, r *http.Request, f *file, code int) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Add("Vary", "Accept-Encoding")
	body, etag := f.plain, f.etag
	if f.gz != nil && acceptencoding.Gzip(r.Header) {
		body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	if code == http.StatusOK {
		h.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), f.etag) {
			h.Del("Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches reports whether an If-None-Match header names the file whose
// plain ETag is etag, in either encoding (weak comparison, RFC 9110 13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	bare := strings.Trim(etag, `"`)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.Trim(strings.TrimPrefix(t, "W/"), `"`)
		if t == bare || t == bare+"-gz" {
			return true
		}
	}
	return false
}
