package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/testlog"
)

// fakeThreads is a ThreadServiceServer whose methods the tests set; calls
// counts every call that reached it, deletes the DeleteThread calls.
type fakeThreads struct {
	forumv1.UnimplementedThreadServiceServer

	calls   atomic.Int64
	deletes atomic.Int64
	get     func(context.Context, *forumv1.GetThreadRequest) (*forumv1.Thread, error)
	create  func(context.Context, *forumv1.CreateThreadRequest) (*forumv1.Thread, error)
}

func (f *fakeThreads) GetThread(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
	f.calls.Add(1)
	if f.get == nil {
		return &forumv1.Thread{Name: req.GetName(), Title: "hello"}, nil
	}
	return f.get(ctx, req)
}

func (f *fakeThreads) CreateThread(ctx context.Context, req *forumv1.CreateThreadRequest) (*forumv1.Thread, error) {
	f.calls.Add(1)
	if f.create == nil {
		t := req.GetThread()
		t.Name = "threads/new"
		return t, nil
	}
	return f.create(ctx, req)
}

func (f *fakeThreads) UpdateThread(_ context.Context, req *forumv1.UpdateThreadRequest) (*forumv1.Thread, error) {
	f.calls.Add(1)
	return req.GetThread(), nil
}

func (f *fakeThreads) ListThreads(context.Context, *forumv1.ListThreadsRequest) (*forumv1.ListThreadsResponse, error) {
	f.calls.Add(1)
	return &forumv1.ListThreadsResponse{}, nil
}

func (f *fakeThreads) DeleteThread(_ context.Context, req *forumv1.DeleteThreadRequest) (*forumv1.Thread, error) {
	f.calls.Add(1)
	f.deletes.Add(1)
	return &forumv1.Thread{Name: req.GetName()}, nil
}

func (f *fakeThreads) UndeleteThread(_ context.Context, req *forumv1.UndeleteThreadRequest) (*forumv1.Thread, error) {
	f.calls.Add(1)
	return &forumv1.Thread{Name: req.GetName()}, nil
}

// env is a gateway in front of a real gRPC server on bufconn.
type env struct {
	handler http.Handler
	fake    *fakeThreads
	health  *health.Server
}

func newEnv(t testing.TB, fake *fakeThreads, opts gateway.Options) *env {
	t.Helper()
	if fake == nil {
		fake = &fakeThreads{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	forumv1.RegisterThreadServiceServer(srv, fake)
	hs := health.NewServer()
	grpc_health_v1.RegisterHealthServer(srv, hs)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	t.Cleanup(func() {
		srv.Stop()
		wg.Wait()
	})

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	h, err := gateway.New(t.Context(), conn, opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	return &env{handler: h, fake: fake, health: hs}
}

// testWriter sends log lines to t.Log, shown with -v or on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// do sends req to the gateway and returns the recorded response.
func (e *env) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// rpcStatus is the google.rpc.Status JSON body of an error.
type rpcStatus struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func decodeStatus(t *testing.T, rec *httptest.ResponseRecorder) rpcStatus {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var st rpcStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("body %q is not a google.rpc.Status: %v", rec.Body.String(), err)
	}
	return st
}

func wantError(t *testing.T, rec *httptest.ResponseRecorder, httpStatus int, code codes.Code, msg string) rpcStatus {
	t.Helper()
	if rec.Code != httpStatus {
		t.Errorf("HTTP status = %d, want %d; body %s", rec.Code, httpStatus, rec.Body.String())
	}
	st := decodeStatus(t, rec)
	if codes.Code(st.Code) != code {
		t.Errorf("code = %v, want %v", codes.Code(st.Code), code)
	}
	if msg != "" && st.Message != msg {
		t.Errorf("message = %q, want %q", st.Message, msg)
	}
	return st
}

func TestBodyLimitContentLength(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	body := `{"title":"` + strings.Repeat("a", 1<<20) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := e.do(req)
	wantError(t, rec, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "request body exceeds 1 MiB")
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("fake called %d times, want 0", n)
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q on 413", got)
	}
}

func TestBodyLimitUnderLimitPasses(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{MaxBodyBytes: 1024})
	body := `{"title":"` + strings.Repeat("a", 900) + `"}`
	rec := e.do(httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body.String())
	}
	var got struct{ Name, Title string }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "threads/new" || len(got.Title) != 900 {
		t.Errorf("response = %s", rec.Body.String())
	}
}

// hideLength hides the length of a reader from net/http, so the request is
// sent chunked (recorder: ContentLength -1).
type hideLength struct{ io.Reader }

func TestBodyLimitChunked(t *testing.T) {
	const limit = 1024
	big := `{"title":"` + strings.Repeat("a", 16*limit) + `"}`
	cases := []struct{ method, path string }{
		{http.MethodPost, "/v1/threads"},             // decoder reads req.Body
		{http.MethodPatch, "/v1/threads/t1"},         // PATCH reads it all first
		{http.MethodPost, "/v1/threads/t1:undelete"}, // body "*"
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e := newEnv(t, nil, gateway.Options{MaxBodyBytes: limit})

			// Recorder: ContentLength -1, as net/http sets for chunked bodies.
			req := httptest.NewRequest(tc.method, tc.path, hideLength{strings.NewReader(big)})
			req.ContentLength = -1
			wantError(t, e.do(req), http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "request body exceeds 1 KiB")

			// A real server and client, with Transfer-Encoding: chunked on the wire.
			srv := httptest.NewServer(e.handler)
			defer srv.Close()
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, hideLength{strings.NewReader(big)})
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("chunked request: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("chunked: status = %d, want 413; body %s", resp.StatusCode, b)
			}
			var st rpcStatus
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
			if codes.Code(st.Code) != codes.ResourceExhausted || st.Message != "request body exceeds 1 KiB" {
				t.Errorf("chunked: status body = %+v", st)
			}
			if n := e.fake.calls.Load(); n != 0 {
				t.Errorf("fake called %d times, want 0", n)
			}
		})
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	rec := e.do(httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(`{"title":"x","tittle":"y"}`)))
	wantError(t, rec, http.StatusBadRequest, codes.InvalidArgument, "")
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("fake called %d times, want 0", n)
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	cases := []struct {
		method, path string
		httpStatus   int
		code         codes.Code
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, codes.NotFound},
		{http.MethodGet, "/v1/nope/a/b/c", http.StatusNotFound, codes.NotFound},
		{http.MethodPut, "/v1/threads", http.StatusMethodNotAllowed, codes.Unimplemented},
		{http.MethodPost, "/v1/threads/t1", http.StatusMethodNotAllowed, codes.Unimplemented},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, codes.Unimplemented},
	}
	for _, tc := range cases {
		rec := e.do(httptest.NewRequest(tc.method, tc.path, nil))
		t.Logf("%s %s -> %d %s", tc.method, tc.path, rec.Code, rec.Body.String())
		wantError(t, rec, tc.httpStatus, tc.code, "")
	}
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("fake called %d times, want 0", n)
	}
}

func TestErrorMapping(t *testing.T) {
	fake := &fakeThreads{get: func(_ context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		switch req.GetName() {
		case "threads/missing":
			return nil, status.Error(codes.NotFound, "thread threads/missing not found")
		case "threads/internal":
			return nil, status.Error(codes.Internal, "bolt: open /srv/forum/data/forum.db: permission denied")
		case "threads/unknown":
			return nil, errors.New("runtime error: index out of range [3] with length 3")
		case "threads/dataloss":
			return nil, status.Error(codes.DataLoss, "checksum mismatch in page 42")
		case "threads/unavailable":
			return nil, status.Error(codes.Unavailable, "dial tcp 10.0.0.7:5432: connection refused")
		case "threads/unauth":
			return nil, status.Error(codes.Unauthenticated, "missing or invalid token")
		}
		return nil, status.Error(codes.InvalidArgument, "bad name")
	}}
	var logs testlog.Buffer
	e := newEnv(t, fake, gateway.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	cases := []struct {
		name       string
		httpStatus int
		code       codes.Code
		msg        string
	}{
		{"missing", http.StatusNotFound, codes.NotFound, "thread threads/missing not found"},
		{"internal", http.StatusInternalServerError, codes.Internal, "internal error"},
		{"unknown", http.StatusInternalServerError, codes.Unknown, "internal error"},
		{"dataloss", http.StatusInternalServerError, codes.DataLoss, "internal error"},
		{"unavailable", http.StatusServiceUnavailable, codes.Unavailable, "service unavailable"},
		{"unauth", http.StatusUnauthorized, codes.Unauthenticated, "missing or invalid token"},
		{"other", http.StatusBadRequest, codes.InvalidArgument, "bad name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(httptest.NewRequest(http.MethodGet, "/v1/threads/"+tc.name, nil))
			wantError(t, rec, tc.httpStatus, tc.code, tc.msg)
			for _, leak := range []string{"bolt", "/srv", "index out of range", "checksum", "10.0.0.7"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("body leaks %q: %s", leak, rec.Body.String())
				}
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if tc.msg == "internal error" || tc.msg == "service unavailable" {
				if !strings.Contains(logs.String(), "/v1/threads/"+tc.name) {
					t.Errorf("masked error not logged; log:\n%s", logs.String())
				}
			}
			if tc.code == codes.Unauthenticated {
				if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="forum"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			}
		})
	}
}

func TestSuccessJSON(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	rec := e.do(httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body.String())
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// lowerCamelCase names; unpopulated fields omitted.
	if m["name"] != "threads/t1" || m["title"] != "hello" {
		t.Errorf("body = %s", rec.Body.String())
	}
	if _, ok := m["replyCount"]; ok {
		t.Errorf("unpopulated replyCount emitted: %s", rec.Body.String())
	}
}

// authRecorder returns a fake ThreadService whose GetThread sends the
// authorization metadata it received on got, and answers.
func authRecorder() (fake *fakeThreads, got chan []string) {
	got = make(chan []string, 1)
	fake = &fakeThreads{get: func(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got <- md.Get("authorization")
		return &forumv1.Thread{Name: req.GetName()}, nil
	}}
	return fake, got
}

func TestAuthorizationForwarded(t *testing.T) {
	fake, got := authRecorder()
	e := newEnv(t, fake, gateway.Options{})
	req := httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil)
	req.Header.Set("Authorization", "Bearer forum_tok_123")
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body.String())
	}
	if md := <-got; len(md) != 1 || md[0] != "Bearer forum_tok_123" {
		t.Errorf("authorization metadata = %q", md)
	}
}

func TestDeadlineClamp(t *testing.T) {
	deadlines := make(chan time.Duration, 1)
	fake := &fakeThreads{get: func(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		d, ok := ctx.Deadline()
		if !ok {
			deadlines <- -1
		} else {
			deadlines <- time.Until(d)
		}
		return &forumv1.Thread{Name: req.GetName()}, nil
	}}
	const maxTimeout = 3 * time.Second
	e := newEnv(t, fake, gateway.Options{MaxTimeout: maxTimeout})
	cases := []struct {
		header   string
		min, max time.Duration
	}{
		{"", maxTimeout - time.Second, maxTimeout},          // none: MaxTimeout
		{"99999H", maxTimeout - time.Second, maxTimeout},    // clamped
		{"99999999H", maxTimeout - time.Second, maxTimeout}, // overflowing: clamped
		{"500m", 0, 500 * time.Millisecond},                 // shorter: honoured
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil)
		if tc.header != "" {
			req.Header.Set("Grpc-Timeout", tc.header)
		}
		if rec := e.do(req); rec.Code != http.StatusOK {
			t.Fatalf("Grpc-Timeout %q: status = %d; body %s", tc.header, rec.Code, rec.Body.String())
		}
		got := <-deadlines
		if got <= tc.min || got > tc.max {
			t.Errorf("Grpc-Timeout %q: server saw deadline in %v, want in (%v, %v]", tc.header, got, tc.min, tc.max)
		}
	}

	req := httptest.NewRequest(http.MethodGet, "/v1/threads/t1", nil)
	req.Header.Set("Grpc-Timeout", "soon")
	wantError(t, e.do(req), http.StatusBadRequest, codes.InvalidArgument, "")
}

func TestCrossOriginProtection(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{TrustedOrigins: []string{"https://app.example.org"}})
	body := `{"title":"x"}`

	req := httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	wantError(t, e.do(req), http.StatusForbidden, codes.PermissionDenied, "")
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("fake called %d times, want 0", n)
	}

	req = httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://app.example.org")
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Errorf("trusted origin: status = %d; body %s", rec.Code, rec.Body.String())
	}

	req = httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Errorf("same origin: status = %d; body %s", rec.Code, rec.Body.String())
	}

	// Non-browser clients send neither header.
	req = httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(body))
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Errorf("no browser headers: status = %d; body %s", rec.Code, rec.Body.String())
	}
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	rec := e.do(httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var doc struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q", doc.Swagger)
	}
	if _, ok := doc.Paths["/v1/threads"]; !ok {
		t.Errorf("no /v1/threads path in %d paths", len(doc.Paths))
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{})
	check := func(wantCode int, wantStatus string) {
		t.Helper()
		rec := e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != wantCode {
			t.Errorf("status = %d, want %d; body %s", rec.Code, wantCode, rec.Body.String())
		}
		var body struct{ Status string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("healthz body %q: %v", rec.Body.String(), err)
		}
		if body.Status != wantStatus {
			t.Errorf("status field = %q, want %q", body.Status, wantStatus)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("X-Content-Type-Options = %q", got)
		}
	}
	check(http.StatusOK, "SERVING") // health.NewServer starts with "" SERVING
	e.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	check(http.StatusServiceUnavailable, "NOT_SERVING")
	e.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_SERVING)
	check(http.StatusOK, "SERVING")
}

func TestHealthzCustom(t *testing.T) {
	var healthy atomic.Bool
	e := newEnv(t, nil, gateway.Options{Health: func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("draining")
	}})
	if rec := e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("unhealthy: status = %d", rec.Code)
	}
	healthy.Store(true)
	if rec := e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)); rec.Code != http.StatusOK {
		t.Errorf("healthy: status = %d", rec.Code)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, opts := range map[string]gateway.Options{
		"negative body": {MaxBodyBytes: -1},
		"negative time": {MaxTimeout: -time.Second},
		"bad origin":    {TrustedOrigins: []string{"not an origin"}},
	} {
		if _, err := gateway.New(t.Context(), conn, opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := gateway.New(t.Context(), nil, gateway.Options{}); err == nil {
		t.Error("nil conn: New succeeded")
	}
}

func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, nil, gateway.Options{Health: func(context.Context) error { panic("secret detail") }})
	rec := e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil))
	wantError(t, rec, http.StatusInternalServerError, codes.Internal, "internal error")
	if strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("body leaks the panic: %s", rec.Body.String())
	}
}
