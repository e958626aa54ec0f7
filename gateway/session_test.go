package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
)

const livePassword = "a long enough password"

// liveEnv is the gateway in front of the real forum server, assembled as
// forumd assembles it (internal/app: a real store in a temporary
// directory, the gateway dialling the server's loopback listener with a
// shared gateway secret), with users alice and bob. Requests go to the
// App's HTTP handler directly, so that a test can choose their
// RemoteAddr.
type liveEnv struct {
	handler http.Handler
	logs    *testlog.Buffer
	alice   string // users/{id}
}

func newLiveEnv(t *testing.T, cfg server.Config, opts gateway.Options) *liveEnv {
	t.Helper()
	e := &liveEnv{logs: &testlog.Buffer{}}
	a, err := app.New(t.Context(), app.Config{
		DataDir:  t.TempDir(),
		GRPCAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		Server:   cfg,
		Gateway:  opts,
		Logger:   slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(context.Background()) }()
	t.Cleanup(func() {
		if err := a.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	hash, err := auth.HashPassword(livePassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob"} {
		u, err := a.Store().CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: name, DisplayName: name, Role: forumv1.Role_ROLE_MEMBER}, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			e.alice = u.Name
		}
	}
	e.handler = a.Handler()
	return e
}

// do sends a request built by the arguments: body is JSON ("" for none),
// headers are name/value pairs.
func (e *liveEnv) do(method, url, body string, headers ...string) *httptest.ResponseRecorder {
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, url, nil)
	} else {
		req = httptest.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "RemoteAddr" {
			req.RemoteAddr = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// login logs in as user over JSON at url and returns the response and the
// token from its body.
func (e *liveEnv) login(t *testing.T, url, user string, headers ...string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	rec := e.do(http.MethodPost, url+"/v1/auth:login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, livePassword), headers...)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: status %d, body %s", rec.Code, rec.Body.String())
	}
	var resp struct {
		Token      string    `json:"token"`
		ExpireTime time.Time `json:"expireTime"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Token == "" {
		t.Fatalf("login body %s: %v", rec.Body.String(), err)
	}
	return rec, resp.Token
}

// setCookies returns the Set-Cookie headers of rec.
func setCookies(rec *httptest.ResponseRecorder) []string { return rec.Header().Values("Set-Cookie") }

func wantSetCookie(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if got := setCookies(rec); len(got) != 1 || got[0] != want {
		t.Errorf("Set-Cookie = %q\n          want %q", got, want)
	}
}

// TestSessionCookieLifecycle: login sets the cookie, the cookie
// authenticates, logout revokes the session and clears the cookie, and the
// old cookie is then refused (and cleared again).
func TestSessionCookieLifecycle(t *testing.T) {
	e := newLiveEnv(t, server.Config{}, gateway.Options{})
	const origin = "http://localhost:8080"
	rec, token := e.login(t, origin, "alice")
	// 30 days: the session's absolute limit, the expire_time of the response.
	wantSetCookie(t, rec, "__Host-forum_session="+token+"; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax")
	cookie := gateway.SessionCookie + "=" + token

	tokens := origin + "/v1/" + e.alice + "/tokens"
	if rec := e.do(http.MethodGet, tokens, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without cookie: status %d, body %s", rec.Code, rec.Body.String())
	}
	rec = e.do(http.MethodGet, tokens, "", "Cookie", cookie)
	if rec.Code != http.StatusOK {
		t.Fatalf("with cookie: status %d, body %s", rec.Code, rec.Body.String())
	}
	if got := setCookies(rec); len(got) != 0 {
		t.Errorf("ordinary response sets cookies: %q", got)
	}
	// Other cookies of the site do not disturb it.
	if rec := e.do(http.MethodGet, tokens, "", "Cookie", "theme=dark; "+cookie+"; lang=fr"); rec.Code != http.StatusOK {
		t.Fatalf("with other cookies: status %d, body %s", rec.Code, rec.Body.String())
	}

	rec = e.do(http.MethodPost, origin+"/v1/auth:logout", "{}", "Cookie", cookie)
	if rec.Code != http.StatusOK {
		t.Fatalf("logout: status %d, body %s", rec.Code, rec.Body.String())
	}
	const cleared = "__Host-forum_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
	wantSetCookie(t, rec, cleared)

	// The session is revoked: replaying the cookie fails, and the answer
	// clears it once more.
	rec = e.do(http.MethodGet, tokens, "", "Cookie", cookie)
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
	wantSetCookie(t, rec, cleared)
	// So does the token as a bearer.
	rec = e.do(http.MethodGet, tokens, "", "Authorization", "Bearer "+token)
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
	if got := setCookies(rec); len(got) != 0 {
		t.Errorf("bearer failure sets cookies: %q", got)
	}
}

// TestSessionCookieBothCredentials: a cookie and an Authorization header
// together are refused, as is the cookie twice.
func TestSessionCookieBothCredentials(t *testing.T) {
	e := newLiveEnv(t, server.Config{}, gateway.Options{})
	const origin = "http://localhost"
	_, token := e.login(t, origin, "alice")
	tokens := origin + "/v1/" + e.alice + "/tokens"
	cookie := gateway.SessionCookie + "=" + token
	for name, headers := range map[string][]string{
		"cookie and bearer":       {"Cookie", cookie, "Authorization", "Bearer " + token},
		"cookie and other scheme": {"Cookie", cookie, "Authorization", "Basic YTpi"},
	} {
		rec := e.do(http.MethodGet, tokens, "", headers...)
		wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "send either a session cookie or an Authorization header, not both")
		if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="forum"` {
			t.Errorf("%s: WWW-Authenticate = %q", name, got)
		}
	}
	rec := e.do(http.MethodGet, tokens, "", "Cookie", cookie, "Cookie", gateway.SessionCookie+"=other")
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "more than one session cookie")
	// The insecure name is not read in a secure context: a cookie a
	// plain-HTTP sibling could plant does not count.
	rec = e.do(http.MethodGet, tokens, "", "Cookie", gateway.InsecureSessionCookie+"="+token)
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
}

// TestSessionCookieStaleLogin: a browser holding a revoked or unknown
// cookie can still log in; the new session replaces it.
func TestSessionCookieStaleLogin(t *testing.T) {
	e := newLiveEnv(t, server.Config{}, gateway.Options{})
	rec, token := e.login(t, "http://localhost", "bob", "Cookie", gateway.SessionCookie+"=forum_sess_revoked")
	if got := setCookies(rec); len(got) != 1 || !strings.HasPrefix(got[0], gateway.SessionCookie+"="+token+";") {
		t.Errorf("Set-Cookie = %q", got)
	}
	// A wrong password with a stale cookie: 401, and the cookie is left
	// alone (it may belong to a live session of another account).
	rec = e.do(http.MethodPost, "http://localhost/v1/auth:login", `{"username":"bob","password":"wrong password"}`, "Cookie", gateway.SessionCookie+"="+token)
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
	if got := setCookies(rec); len(got) != 0 {
		t.Errorf("failed login sets cookies: %q", got)
	}
}

// TestSessionCookieSecureContexts: which cookie each kind of request gets.
func TestSessionCookieSecureContexts(t *testing.T) {
	proxies, err := gateway.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e := newLiveEnv(t, server.Config{}, gateway.Options{TrustedProxies: proxies})
	secure := func(tok string) string {
		return "__Host-forum_session=" + tok + "; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax"
	}
	plain := func(tok string) string {
		return "forum_session=" + tok + "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
	}
	cases := []struct {
		name    string
		url     string
		headers []string
		want    func(string) string
	}{
		{"TLS", "https://forum.example", nil, secure},
		{"localhost", "http://localhost:8080", nil, secure},
		{"127.0.0.1", "http://127.0.0.1:8080", nil, secure},
		{"[::1]", "http://[::1]:8080", nil, secure},
		{"TLS proxy", "http://forum.example", []string{"RemoteAddr", "10.0.0.2:3000", "X-Forwarded-Proto", "https"}, secure},
		{"plain HTTP", "http://forum.example", nil, plain},
		{"untrusted proxy header", "http://forum.example", []string{"X-Forwarded-Proto", "https"}, plain},
		{"plain HTTP proxy", "http://forum.example", []string{"RemoteAddr", "10.0.0.2:3000", "X-Forwarded-Proto", "http"}, plain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, token := e.login(t, tc.url, "alice", tc.headers...)
			wantSetCookie(t, rec, tc.want(token))
		})
	}
	// Plain HTTP is warned about once, however many logins.
	if n := strings.Count(e.logs.String(), "session cookie sent without Secure"); n != 1 {
		t.Errorf("%d warnings about insecure cookies, want 1; log:\n%s", n, e.logs.String())
	}
	// On plain HTTP the insecure cookie is the one read.
	_, token := e.login(t, "http://forum.example", "alice")
	if rec := e.do(http.MethodGet, "http://forum.example/v1/"+e.alice+"/tokens", "", "Cookie", gateway.InsecureSessionCookie+"="+token); rec.Code != http.StatusOK {
		t.Errorf("forum_session on plain HTTP: status %d, body %s", rec.Code, rec.Body.String())
	}
}

func TestRegisterSetsSessionCookie(t *testing.T) {
	e := newLiveEnv(t, server.Config{SelfRegistration: true}, gateway.Options{})
	rec := e.do(http.MethodPost, "https://forum.example/v1/auth:register",
		fmt.Sprintf(`{"username":"carol","displayName":"Carol","email":"carol@example.org","password":%q}`, livePassword))
	if rec.Code != http.StatusOK {
		t.Fatalf("register: status %d, body %s", rec.Code, rec.Body.String())
	}
	var resp struct{ Token string }
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	wantSetCookie(t, rec, "__Host-forum_session="+resp.Token+"; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax")
}

// TestSessionCookieCrossOrigin: a cross-site POST carrying the cookie is
// refused before it reaches the server, and the session survives it.
func TestSessionCookieCrossOrigin(t *testing.T) {
	e := newLiveEnv(t, server.Config{}, gateway.Options{})
	const origin = "http://localhost"
	_, token := e.login(t, origin, "alice")
	cookie := gateway.SessionCookie + "=" + token
	evil := []string{"Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	rec := e.do(http.MethodPost, origin+"/v1/threads", `{"theme":"themes/knowledge-exchange","title":"pwned"}`, evil...)
	wantError(t, rec, http.StatusForbidden, codes.PermissionDenied, "cross-origin request rejected")
	rec = e.do(http.MethodPost, origin+"/v1/auth:logout", "{}", evil...)
	wantError(t, rec, http.StatusForbidden, codes.PermissionDenied, "")
	// Without Sec-Fetch-Site (older browsers) Origin alone decides.
	rec = e.do(http.MethodPost, origin+"/v1/auth:logout", "{}", "Cookie", cookie, "Origin", "https://evil.example")
	wantError(t, rec, http.StatusForbidden, codes.PermissionDenied, "")
	// A text/plain "simple" form post is refused the same way.
	req := httptest.NewRequest(http.MethodPost, origin+"/v1/auth:logout", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "text/plain")
	for i := 0; i < len(evil); i += 2 {
		req.Header.Set(evil[i], evil[i+1])
	}
	rr := httptest.NewRecorder()
	e.handler.ServeHTTP(rr, req)
	if rr.Code != http.StatusForbidden {
		t.Errorf("text/plain cross-site POST: status %d", rr.Code)
	}
	// The session is still alive, and a same-origin POST works.
	if rec := e.do(http.MethodGet, origin+"/v1/"+e.alice+"/tokens", "", "Cookie", cookie); rec.Code != http.StatusOK {
		t.Fatalf("session after refused cross-site logout: status %d, body %s", rec.Code, rec.Body.String())
	}
	rec = e.do(http.MethodPost, origin+"/v1/threads", `{"theme":"themes/knowledge-exchange","title":"Same-origin post"}`, "Cookie", cookie, "Origin", origin, "Sec-Fetch-Site", "same-origin")
	if rec.Code != http.StatusOK {
		t.Errorf("same-origin POST with cookie: status %d, body %s", rec.Code, rec.Body.String())
	}
}

// TestRateLimit429: a rate-limited call is 429 with Retry-After and the
// RetryInfo detail in the JSON body.
func TestRateLimit429(t *testing.T) {
	e := newLiveEnv(t, server.Config{RateLimits: server.DefaultRateLimits()}, gateway.Options{})
	body := `{"username":"alice","password":"wrong password"}`
	var rec *httptest.ResponseRecorder
	for i := range 6 {
		rec = e.do(http.MethodPost, "http://localhost/v1/auth:login", body)
		if i < 5 && rec.Code != http.StatusUnauthorized {
			t.Fatalf("login %d: status %d, body %s", i, rec.Code, rec.Body.String())
		}
	}
	st := wantError(t, rec, http.StatusTooManyRequests, codes.ResourceExhausted, "")
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || secs < 1 || secs > 12 {
		t.Errorf("Retry-After = %q, want 1..12", rec.Header().Get("Retry-After"))
	}
	var details []map[string]any
	if err := json.Unmarshal(st.Details, &details); err != nil {
		t.Fatalf("details %s: %v", st.Details, err)
	}
	var sawRetry, sawReason bool
	for _, d := range details {
		switch d["@type"] {
		case "type.googleapis.com/google.rpc.RetryInfo":
			sawRetry = d["retryDelay"] != nil
		case "type.googleapis.com/google.rpc.ErrorInfo":
			sawReason = d["reason"] == "RATE_LIMITED"
		}
	}
	if !sawRetry || !sawReason {
		t.Errorf("details lack RetryInfo or ErrorInfo RATE_LIMITED: %s", st.Details)
	}
}

// TestRateLimitKeyedByClient: the server's buckets follow the HTTP client,
// not the gateway's connection; X-Forwarded-For counts only from a
// trusted proxy.
func TestRateLimitKeyedByClient(t *testing.T) {
	limits := server.RateLimits{Address: server.Per(1, time.Hour, 3)}
	get := func(e *liveEnv, remote, xff string) int {
		h := []string{"RemoteAddr", remote}
		if xff != "" {
			h = append(h, "X-Forwarded-For", xff)
		}
		// Spoofing the gateway's own metadata through headers does nothing.
		h = append(h, "Grpc-Metadata-X-Forum-Client-Ip", xff, "X-Forum-Client-Ip", xff)
		return e.do(http.MethodGet, "http://localhost/v1/themes", "", h...).Code
	}

	t.Run("untrusted peer", func(t *testing.T) {
		e := newLiveEnv(t, server.Config{RateLimits: limits}, gateway.Options{})
		for i := range 3 {
			if code := get(e, "203.0.113.1:1000", fmt.Sprintf("198.51.100.%d", i)); code != http.StatusOK {
				t.Fatalf("call %d: status %d", i, code)
			}
		}
		if code := get(e, "203.0.113.1:1001", "198.51.100.99"); code != http.StatusTooManyRequests {
			t.Errorf("4th call with a new X-Forwarded-For: status %d, want 429", code)
		}
		if code := get(e, "203.0.113.2:1000", ""); code != http.StatusOK {
			t.Errorf("another client: status %d", code)
		}
	})

	t.Run("trusted proxy", func(t *testing.T) {
		proxies, err := gateway.ParseTrustedProxies("10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		e := newLiveEnv(t, server.Config{RateLimits: limits}, gateway.Options{TrustedProxies: proxies})
		for i := range 6 {
			if code := get(e, "10.0.0.1:1000", fmt.Sprintf("6.6.6.6, 198.51.100.%d", i)); code != http.StatusOK {
				t.Fatalf("client %d behind the proxy: status %d", i, code)
			}
		}
		for i := range 3 {
			if code := get(e, "10.0.0.1:1000", fmt.Sprintf("6.6.6.%d, 198.51.100.200", i)); code != http.StatusOK {
				t.Fatalf("call %d: status %d", i, code)
			}
		}
		if code := get(e, "10.0.0.1:1000", "6.6.6.9, 198.51.100.200"); code != http.StatusTooManyRequests {
			t.Errorf("4th call of one client behind the proxy: status %d, want 429", code)
		}
	})
}

// TestGatewayMetadata: what the gateway sends to gRPC, seen by a fake
// server: the client address with the secret (never the client's own
// version of either), the session cookie as a bearer token, and no Cookie
// metadata.
func TestGatewayMetadata(t *testing.T) {
	got := make(chan metadata.MD, 1)
	fake := &fakeThreads{get: func(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got <- md
		return &forumv1.Thread{Name: req.GetName()}, nil
	}}
	e := newEnv(t, fake, gateway.Options{GatewaySecret: "s3cret"})
	req := httptest.NewRequest(http.MethodGet, "http://localhost/v1/threads/t1", nil)
	req.RemoteAddr = "198.51.100.7:4000"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("Grpc-Metadata-X-Forum-Client-Ip", "6.6.6.6")
	req.Header.Set("Grpc-Metadata-X-Forum-Gateway-Secret", "guess")
	req.Header.Set("X-Forum-Client-Ip", "6.6.6.6")
	req.Header.Set("Cookie", "__Host-forum_session=forum_sess_abc; theme=dark")
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body.String())
	}
	md := <-got
	for key, want := range map[string]string{
		"x-forum-client-ip":      "198.51.100.7",
		"x-forum-gateway-secret": "s3cret",
		"authorization":          "Bearer forum_sess_abc",
	} {
		if v := md.Get(key); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want [%q]", key, v, want)
		}
	}
	if v := md.Get("grpcgateway-cookie"); len(v) != 0 {
		t.Errorf("cookie forwarded as metadata: %q", v)
	}

	// Without a secret nothing is sent: the server would not believe it.
	e = newEnv(t, fake, gateway.Options{})
	req = httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil)
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	md = <-got
	if v := md.Get("x-forum-client-ip"); len(v) != 0 {
		t.Errorf("x-forum-client-ip sent without a secret: %q", v)
	}
}

// TestBrowserGetsTokenOnlyInCookie: a login or registration from a browser
// (Sec-Fetch-Site present) sets the HttpOnly cookie and answers without the
// token, so no script on the page can read it; the cookie then works.
// Without Sec-Fetch-Site (curl, integrators) the body keeps the token.
func TestBrowserGetsTokenOnlyInCookie(t *testing.T) {
	e := newLiveEnv(t, server.Config{SelfRegistration: true}, gateway.Options{})
	const origin = "http://localhost"
	tokens := origin + "/v1/" + e.alice + "/tokens"
	check := func(name string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d, body %s", name, rec.Code, rec.Body.String())
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if tok, ok := body["token"]; ok && tok != "" {
			t.Errorf("%s: a browser's answer carries the token: %s", name, rec.Body.String())
		}
		if _, ok := body["user"]; !ok {
			t.Errorf("%s: answer without the user: %s", name, rec.Body.String())
		}
		cookies := setCookies(rec)
		if len(cookies) != 1 || !strings.HasPrefix(cookies[0], gateway.SessionCookie+"=fgs_") || !strings.Contains(cookies[0], "HttpOnly") {
			t.Fatalf("%s: Set-Cookie = %q", name, cookies)
		}
		cookie, _, _ := strings.Cut(cookies[0], ";")
		if rec := e.do(http.MethodGet, tokens, "", "Cookie", cookie); name == "login" && rec.Code != http.StatusOK {
			t.Errorf("%s: the cookie does not authenticate: status %d, body %s", name, rec.Code, rec.Body.String())
		}
	}
	rec := e.do(http.MethodPost, origin+"/v1/auth:login", fmt.Sprintf(`{"username":"alice","password":%q}`, livePassword), "Sec-Fetch-Site", "same-origin")
	check("login", rec)
	rec = e.do(http.MethodPost, origin+"/v1/auth:register", fmt.Sprintf(`{"username":"zoe","displayName":"Zoe","password":%q}`, livePassword), "Sec-Fetch-Site", "same-origin")
	check("register", rec)

	// Not a browser: the token is in the body too (e.login checks it).
	if _, token := e.login(t, origin, "alice"); !strings.HasPrefix(token, "fgs_") {
		t.Errorf("non-browser login token %q", token)
	}
}
