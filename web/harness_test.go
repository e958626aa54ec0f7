package web_test

// The harness of the browser tests: the real forumd binary (built once, in
// TestMain's package, on first use) on ephemeral loopback ports, and
// Debian's chromium driven headless with chromedp. In CI (CI set) a missing
// browser fails the tests; elsewhere they are skipped with a message.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/forumhq/forum/internal/forumdtest"
)

// Passwords of the users every environment has.
const (
	adminPass    = "admin password 1234"
	convenerPass = "convener password 1234"
	memberPass   = "member password 1234"
)

// Bounds of the waits; generous, since the tests share 2 cores.
const (
	stepTimeout = 30 * time.Second
	waitTimeout = 20 * time.Second
)

var (
	tmpDir string // removed by TestMain

	buildOnce sync.Once
	forumdBin string
	buildErr  error

	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	stopBrowser = func() {}
)

func TestMain(m *testing.M) {
	var err error
	tmpDir, err = os.MkdirTemp("", "forum-web-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stopBrowser()
	os.RemoveAll(tmpDir)
	os.Exit(code)
}

// forumd returns the path of the forumd binary, building it on first use
// (go build ./cmd/forumd); a build failure fails the test, never skips it.
func forumd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { forumdBin, buildErr = forumdtest.Build(tmpDir, "./cmd/forumd") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return forumdBin
}

// chromiumPath finds the browser: $FORUM_CHROMIUM, else Debian's.
func chromiumPath() (string, error) {
	candidates := []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"}
	if p := os.Getenv("FORUM_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("chromium is not installed (no %s)", strings.Join(candidates, " or "))
}

// browser returns the context of the one headless chromium the tests share,
// starting it on first use. Each test opens its own tabs in their own
// browser contexts (separate cookies and caches).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: in CI the browser tests must run; .ci/run installs Debian's chromium", err)
		}
		t.Skipf("%v; install it (apt-get install chromium) to run the browser tests, which CI always runs", err)
	}
	browserOnce.Do(func() {
		profile := filepath.Join(tmpDir, "chromium-profile")
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(profile),
			chromedp.WindowSize(1280, 900),
			// Nothing but loopback is reachable: keep chromium from trying.
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-breakpad", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions"),
			chromedp.Flag("no-proxy-server", true),
			chromedp.Flag("metrics-recording-only", true),
			chromedp.Flag("password-store", "basic"),
			chromedp.Flag("lang", "en-US"),
			chromedp.Flag("accept-lang", "en-US,en"),
			chromedp.Flag("font-render-hinting", "none"),
		}
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		stopBrowser = func() {
			cancelCtx()
			cancelAlloc()
		}
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			browserErr = fmt.Errorf("start %s: %w", path, err)
			return
		}
		browserCtx = ctx
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	return browserCtx
}

// env is one running forumd with an admin ("admin") and a convener
// ("chidi"), and the admin's bearer token for setting up data.
type env struct {
	t     *testing.T
	srv   *forumdtest.Server
	base  string // http://127.0.0.1:port
	admin string // bearer token
}

// newEnv starts forumd for t; extra arguments go to forumd serve.
func newEnv(t *testing.T, extraArgs ...string) *env {
	t.Helper()
	bin := forumd(t)
	data := t.TempDir()
	forumdtest.MustCreateUser(t, bin, data, "admin", "Ada Admin", "admin", adminPass)
	forumdtest.MustCreateUser(t, bin, data, "chidi", "Chidi Okafor", "convener", convenerPass)
	srv := forumdtest.Start(t, bin, data, extraArgs...)
	e := &env{t: t, srv: srv, base: "http://" + srv.HTTPAddr}
	e.admin = e.login("admin", adminPass)
	return e
}

// call sends a JSON request with a bearer token ("" for none) and decodes
// the answer into out (if not nil); a status other than 2xx fails the test.
func (e *env) call(token, method, path string, body, out any) {
	e.t.Helper()
	code, data := e.do(token, method, path, body)
	if code/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// do sends a JSON request and returns the status and body.
func (e *env) do(token, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// login returns a session token for a user.
func (e *env) login(username, password string) string {
	e.t.Helper()
	var res struct{ Token string }
	e.call("", "POST", "/v1/auth:login", map[string]string{"username": username, "password": password}, &res)
	return res.Token
}

// invitation returns a fresh invitation code.
func (e *env) invitation() string {
	e.t.Helper()
	var inv struct{ Code string }
	e.call(e.admin, "POST", "/v1/invitations", map[string]any{}, &inv)
	if inv.Code == "" {
		e.t.Fatal("CreateInvitation returned no code")
	}
	return inv.Code
}

// member registers a delegate through the API and returns its session
// token and resource name.
func (e *env) member(username, displayName string) (token, name string) {
	e.t.Helper()
	var res struct {
		Token string
		User  struct{ Name string }
	}
	e.call("", "POST", "/v1/auth:register", map[string]string{
		"username": username, "displayName": displayName, "password": memberPass, "invitationCode": e.invitation(),
	}, &res)
	return res.Token, res.User.Name
}

// thread creates a thread and returns its name ("threads/N").
func (e *env) thread(token string, fields map[string]any) string {
	e.t.Helper()
	if fields["theme"] == nil {
		fields["theme"] = "themes/knowledge-exchange"
	}
	var th struct{ Name string }
	e.call(token, "POST", "/v1/threads", fields, &th)
	return th.Name
}

// reply adds a reply and returns its name.
func (e *env) reply(token, thread, body, inReplyTo string) string {
	e.t.Helper()
	var r struct{ Name string }
	e.call(token, "POST", "/v1/"+thread+"/replies", map[string]string{"body": body, "inReplyTo": inReplyTo}, &r)
	return r.Name
}

// tab is one browser tab in a browser context of its own. It records
// uncaught exceptions, console errors and Content-Security-Policy
// violations; check() fails the test on any.
type tab struct {
	t   *testing.T
	e   *env
	ctx context.Context

	mu       sync.Mutex
	problems []string
	network  map[network.RequestID]*transfer
	order    []network.RequestID
}

// transfer is what the tab saw of one request.
type transfer struct {
	url      string
	status   int64
	encoding string
	bytes    float64 // encoded bytes received, headers included
	done     bool
}

// newTab opens a tab for t against e.
func (e *env) newTab(t *testing.T) *tab {
	t.Helper()
	b := browser(t)
	tb := &tab{t: t, e: e, network: map[network.RequestID]*transfer{}}
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	t.Cleanup(func() {
		tb.check()
		cancel()
	})
	tb.ctx = ctx
	// The first action binds the tab's life to its context: run it on the
	// tab's own context, not on one with a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tb.do(chromedp.EmulateViewport(1280, 900))
	// Record CSP violations as the page sees them, from before any script
	// of the page runs.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));`,
	}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// listen runs in chromedp's event loop: record, never block.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			tb.problems = append(tb.problems, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		// Failed requests (a 401 from /v1/users/me when logged out, a 404
		// image in a post) are the network's business, not the page's.
		if e := ev.Entry; e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork {
			tb.problems = append(tb.problems, "console ("+string(e.Source)+"): "+e.Text)
		}
	case *network.EventRequestWillBeSent:
		if _, ok := tb.network[ev.RequestID]; !ok {
			tb.network[ev.RequestID] = &transfer{url: ev.Request.URL}
			tb.order = append(tb.order, ev.RequestID)
		}
	case *network.EventResponseReceived:
		if tr := tb.network[ev.RequestID]; tr != nil {
			tr.status = ev.Response.Status
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					tr.encoding = fmt.Sprint(v)
				}
			}
		}
	case *network.EventLoadingFinished:
		if tr := tb.network[ev.RequestID]; tr != nil {
			tr.bytes, tr.done = ev.EncodedDataLength, true
		}
	case *network.EventLoadingFailed:
		if tr := tb.network[ev.RequestID]; tr != nil {
			tr.done = true
		}
	}
}

// check fails the test if the page threw, logged an error or violated the
// Content-Security-Policy since the last check.
func (tb *tab) check() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		tb.t.Logf("read CSP violations: %v", err)
	}
	for i := range csp {
		csp[i] = "Content-Security-Policy violation: " + csp[i]
	}
	tb.mu.Lock()
	problems := append(tb.problems, csp...)
	tb.problems = nil
	tb.mu.Unlock()
	for _, p := range problems {
		tb.t.Errorf("page problem: %s", p)
	}
}

// timeout returns the tab's context bounded by stepTimeout.
func (tb *tab) timeout() context.Context {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	tb.t.Cleanup(cancel)
	return ctx
}

// do runs actions, failing the test (with a screenshot) on error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.timeout(), actions...); err != nil {
		tb.fail("%v", err)
	}
}

// fail saves a screenshot and the page's text, then fails the test.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(tb.t.ArtifactDir(), "failure.png")
		if os.WriteFile(p, png, 0o644) == nil {
			msg += "\nscreenshot: " + p
		}
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		msg += "\nat " + loc
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ''`)); err == nil {
		msg += "\npage text:\n" + text
	}
	tb.t.Fatal(msg)
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.timeout(), chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition until it is true.
func (tb *tab) wait(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := chromedp.Run(tb.timeout(), chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.fail("waited %v for %s (%s); last error: %v", waitTimeout, what, cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// open loads path in the tab and waits until the page is rendered.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.e.base + path))
	tb.waitRendered(path)
}

// waitRendered waits until the application has rendered the URL path
// (path and query) and is not busy.
func (tb *tab) waitRendered(path string) {
	tb.t.Helper()
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	tb.wait("page "+path+" rendered", `(() => { const m = document.querySelector('main'); return m && m.dataset.url === `+js(path)+` && !m.hasAttribute('aria-busy'); })()`)
}

// waitText waits until the element sel exists and its text contains s.
func (tb *tab) waitText(sel, s string) {
	tb.t.Helper()
	tb.wait(fmt.Sprintf("%q in %s", s, sel), `[...document.querySelectorAll(`+js(sel)+`)].some((el) => el.textContent.includes(`+js(s)+`))`)
}

// click clicks the first visible element matching the CSS selector.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// clickText clicks the visible button or link inside scope whose text is
// exactly text.
func (tb *tab) clickText(scope, text string) {
	tb.t.Helper()
	tb.wait("a control "+js(text)+" in "+scope, `(() => {
		const el = [...document.querySelectorAll(`+js(scope)+` + ' button, '+`+js(scope)+` + ' a')].find((x) => x.textContent.trim() === `+js(text)+` && x.offsetParent !== null);
		if (!el) return false;
		document.querySelectorAll('[data-test-click]').forEach((x) => x.removeAttribute('data-test-click'));
		el.setAttribute('data-test-click', '1');
		return true;
	})()`)
	tb.click(`[data-test-click="1"]`)
}

// fill sets a form control's value and signals input, as typing would.
func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	tb.wait("control "+sel, `document.querySelector(`+js(sel)+`)`)
	ok := eval[bool](tb, `(() => { const el = document.querySelector(`+js(sel)+`); el.focus(); el.value = `+js(value)+`; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	if !ok {
		tb.fail("fill %s", sel)
	}
}

// typeInto types text into a control with real key events.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// screenshot saves a full-page PNG under the test's artifact directory.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.timeout(), chromedp.FullScreenshot(100))
	if err != nil {
		tb.fail("screenshot %s: %v", name, err)
	}
	p := filepath.Join(tb.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", p)
}

// setSession puts a session token into the tab's cookie jar, as a login
// from this browser would.
func (tb *tab) setSession(token string) {
	tb.t.Helper()
	if _, err := chromedp.Call(tb.timeout(), network.SetCookie, network.SetCookieParams{
		Name: "__Host-forum_session", Value: token, URL: tb.e.base + "/", Path: "/",
		Secure: new(true), HTTPOnly: new(true), SameSite: network.CookieSameSiteLax,
	}); err != nil {
		tb.t.Fatal(err)
	}
}

// viewport sets the tab's viewport; mobile adds touch and a mobile layout.
func (tb *tab) viewport(width, height int64, mobile bool) {
	tb.t.Helper()
	if mobile {
		tb.do(chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch))
		return
	}
	tb.do(chromedp.EmulateViewport(width, height))
}

// acceptLanguage makes the tab's browser languages (navigator.languages)
// langs, as a browser set up in that language would have them.
func (tb *tab) acceptLanguage(langs string) {
	tb.t.Helper()
	ua := eval[string](tb, `navigator.userAgent`)
	if _, err := chromedp.Call(tb.timeout(), emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: langs}); err != nil {
		tb.t.Fatal(err)
	}
}

// resetNetwork forgets the requests seen so far.
func (tb *tab) resetNetwork() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.network = map[network.RequestID]*transfer{}
	tb.order = nil
}

// transfers returns the requests seen since resetNetwork, once all have
// finished. A live page's event stream (/v1/events:stream), which lasts
// as long as the page, is left out.
func (tb *tab) transfers() []transfer {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		tb.mu.Lock()
		pending := 0
		out := make([]transfer, 0, len(tb.order))
		for _, id := range tb.order {
			tr := tb.network[id]
			if strings.Contains(tr.url, "/v1/events:stream") {
				continue
			}
			if !tr.done {
				pending++
			}
			out = append(out, *tr)
		}
		tb.mu.Unlock()
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			tb.fail("%d requests still pending after %v", pending, waitTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keyTab, keyEnter and typeKeys press keys in the focused element, as a
// keyboard does.
func keyTab() chromedp.Action[chromedp.Void]   { return chromedp.KeyEvent(kb.Tab) }
func keyEnter() chromedp.Action[chromedp.Void] { return chromedp.KeyEvent(kb.Enter) }
func typeKeys(s string) chromedp.Action[chromedp.Void] {
	return chromedp.KeyEvent(s)
}
