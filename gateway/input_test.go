package gateway_test

// Regression tests of the hostile-input audit (issue 12): invalid UTF-8 in
// parameters (defect 4), method override (defect 7), data after the JSON
// body (defect 9), and the gRPC response metadata leaking as headers.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// parseStatus parses an error body as google.rpc.Status JSON, with its
// details resolved, and fails the test if it is not one.
func parseStatus(t testing.TB, body []byte) *status.Status {
	t.Helper()
	var p spb.Status
	if err := protojson.Unmarshal(body, &p); err != nil {
		t.Fatalf("body %q is not google.rpc.Status JSON: %v", body, err)
	}
	return status.FromProto(&p)
}

// violations returns the fields named by the BadRequest details of st.
func violations(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

// newRequest returns a request to the gateway with body, sent as JSON
// unless contentType says otherwise ("-" for no Content-Type).
func newRequest(method, target, body, contentType string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	switch contentType {
	case "-":
	case "":
		req.Header.Set("Content-Type", "application/json")
	default:
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// TestInvalidUTF8ParamsRefused: invalid UTF-8 in a path parameter, a query
// parameter's value or a query parameter's name is 400 INVALID_ARGUMENT
// naming the parameter, and never reaches the server (it was 500: the
// request message could not be marshalled for the loopback call).
func TestInvalidUTF8ParamsRefused(t *testing.T) {
	cases := []struct {
		name, method, target, body string
		field                      string
	}{
		{"overlong slash in GetThread name", http.MethodGet, "/v1/threads/%C0%AF", "", "name"},
		{"lone byte in GetThread name", http.MethodGet, "/v1/threads/t%FF1", "", "name"},
		{"encoded surrogate in GetThread name", http.MethodGet, "/v1/threads/%ED%A0%80", "", "name"},
		{"DeleteThread name", http.MethodDelete, "/v1/threads/%FF", "", "name"},
		{"UpdateThread thread.name", http.MethodPatch, "/v1/threads/%FF", `{"title":"x"}`, "thread.name"},
		{"UndeleteThread name", http.MethodPost, "/v1/threads/%FF:undelete", `{}`, "name"},
		{"orderBy", http.MethodGet, "/v1/threads?orderBy=%FF", "", "orderBy"},
		{"order_by", http.MethodGet, "/v1/threads?order_by=%FF", "", "order_by"},
		{"pageToken", http.MethodGet, "/v1/threads?pageToken=%FF%FE", "", "pageToken"},
		{"second value of filter", http.MethodGet, "/v1/threads?filter=ok&filter=%C3", "", "filter"},
		{"requestId of CreateThread", http.MethodPost, "/v1/threads?requestId=%FF", `{"title":"x"}`, "requestId"},
		{"updateMask of UpdateThread", http.MethodPatch, "/v1/threads/t1?updateMask=%FF", `{"title":"x"}`, "updateMask"},
		{"parameter GetThread does not have", http.MethodGet, "/v1/threads/t1?colour=%FF", "", "colour"},
		{"parameter name", http.MethodGet, "/v1/threads?%FF=1", "", "\uFFFD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, gateway.Options{})
			rec := e.do(newRequest(tc.method, tc.target, tc.body, ""))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("HTTP status = %d, want 400; body %s", rec.Code, rec.Body.String())
			}
			st := parseStatus(t, rec.Body.Bytes())
			if st.Code() != codes.InvalidArgument {
				t.Errorf("code = %v, want InvalidArgument", st.Code())
			}
			if got := violations(st); len(got) != 1 || got[0] != tc.field {
				t.Errorf("field violations %q, want [%q]", got, tc.field)
			}
			if !strings.Contains(st.Message(), "UTF-8") {
				t.Errorf("message %q does not say what is wrong", st.Message())
			}
			if n := e.fake.calls.Load(); n != 0 {
				t.Errorf("server called %d times, want 0", n)
			}
		})
	}
}

// TestValidUTF8ParamsPass: parameters holding valid non-ASCII UTF-8 reach
// the server unchanged, so the check above refuses only what it should.
func TestValidUTF8ParamsPass(t *testing.T) {
	got := make(chan string, 1)
	fake := &fakeThreads{get: func(_ context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		got <- req.GetName()
		return &forumv1.Thread{Name: req.GetName()}, nil
	}}
	e := newEnv(t, fake, gateway.Options{})
	if rec := e.do(newRequest(http.MethodGet, "/v1/threads/caf%C3%A9?orderBy=%E2%9C%93", "", "")); rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body.String())
	}
	if name := <-got; name != "threads/café" {
		t.Errorf("server got name %q, want threads/café", name)
	}
	if rec := e.do(newRequest(http.MethodGet, "/v1/threads?orderBy=%E2%9C%93", "", "")); rec.Code != http.StatusOK {
		t.Errorf("ListThreads: status = %d; body %s", rec.Code, rec.Body.String())
	}
}

// TestMethodOverrideRefused: a method override header is refused with 400,
// whatever the content type and the method it names, and the request never
// reaches a handler, DeleteThread least of all. (A form-encoded POST with
// X-HTTP-Method-Override: DELETE used to run DeleteThread.)
func TestMethodOverrideRefused(t *testing.T) {
	headers := []struct {
		sent, field string
		raw         bool // the key as sent, not canonicalised as net/http does
	}{
		{"X-HTTP-Method-Override", "X-HTTP-Method-Override", false},
		{"x-http-method-override", "X-HTTP-Method-Override", true},
		{"X-HTTP-Method", "X-HTTP-Method", false},
		{"X-Method-Override", "X-Method-Override", false},
	}
	contentTypes := []string{"-", "", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", "text/plain"}
	requests := []struct{ method, target, body string }{
		{http.MethodPost, "/v1/threads/t1", ""},
		{http.MethodPost, "/v1/threads/t1", "a=b"},
		{http.MethodGet, "/v1/threads/t1", ""},
		{http.MethodPost, "/v1/threads", `{"title":"x"}`},
	}
	e := newEnv(t, nil, gateway.Options{})
	for _, h := range headers {
		for _, ct := range contentTypes {
			for _, rq := range requests {
				req := newRequest(rq.method, rq.target, rq.body, ct)
				if h.raw {
					req.Header[h.sent] = []string{http.MethodDelete}
				} else {
					req.Header.Set(h.sent, http.MethodDelete)
				}
				rec := e.do(req)
				if rec.Code != http.StatusBadRequest {
					t.Errorf("%s %s, %s: DELETE, Content-Type %q: HTTP status %d, want 400; body %s", rq.method, rq.target, h.sent, ct, rec.Code, rec.Body.String())
					continue
				}
				st := parseStatus(t, rec.Body.Bytes())
				if got := violations(st); st.Code() != codes.InvalidArgument || len(got) != 1 || got[0] != h.field {
					t.Errorf("%s %s, %s, Content-Type %q: %v, field violations %q", rq.method, rq.target, h.sent, ct, st.Err(), got)
				}
			}
		}
	}
	if n := e.fake.deletes.Load(); n != 0 {
		t.Errorf("DeleteThread called %d times, want 0", n)
	}
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("server called %d times, want 0", n)
	}

	// No POST-to-GET fallback for form-encoded POSTs either: the method on
	// the request line is the one that runs.
	rec := e.do(newRequest(http.MethodPost, "/v1/threads/t1", "", "application/x-www-form-urlencoded"))
	wantError(t, rec, http.StatusMethodNotAllowed, codes.Unimplemented, "")
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("form POST to a GET route: server called %d times, want 0", n)
	}

	// A real DELETE still deletes.
	if rec := e.do(newRequest(http.MethodDelete, "/v1/threads/t1", "", "-")); rec.Code != http.StatusOK || e.fake.deletes.Load() != 1 {
		t.Errorf("DELETE: status %d, %d deletes; body %s", rec.Code, e.fake.deletes.Load(), rec.Body.String())
	}
}

// TestTrailingDataRefused: a request body is one JSON value and nothing
// after it but whitespace, on every kind of body route (a body field, a
// body field with a field mask from the body, the whole request); data
// after it is 400 and nothing is called. (It was ignored: 200.)
func TestTrailingDataRefused(t *testing.T) {
	routes := []struct{ method, target, body string }{
		{http.MethodPost, "/v1/threads", `{"title":"x"}`},              // body: thread
		{http.MethodPatch, "/v1/threads/t1", `{"title":"x"}`},          // body: thread, mask from the body
		{http.MethodPost, "/v1/threads/t1:undelete", `{}`},             // body: "*"
		{http.MethodPost, "/v1/threads?requestId=r1", `{"title":"x"}`}, // with a query parameter
	}
	bad := []string{
		"garbage",
		` {"title":"y"}`,
		"{}",
		"}",
		"]",
		",",
		"\x00",
		"\n\n\"x\"",
		strings.Repeat(" ", 4096) + "x", // past what the JSON decoder buffers
	}
	good := []string{"", "\n", " \t\r\n", strings.Repeat(" ", 4096)}
	for _, rt := range routes {
		for _, suffix := range bad {
			e := newEnv(t, nil, gateway.Options{})
			rec := e.do(newRequest(rt.method, rt.target, rt.body+suffix, ""))
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s %s with %.20q after the body: HTTP status %d, want 400; body %s", rt.method, rt.target, suffix, rec.Code, rec.Body.String())
				continue
			}
			if st := parseStatus(t, rec.Body.Bytes()); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "after the JSON value") {
				t.Errorf("%s %s with %.20q after the body: %v", rt.method, rt.target, suffix, st.Err())
			}
			if n := e.fake.calls.Load(); n != 0 {
				t.Errorf("%s %s with %.20q after the body: server called %d times", rt.method, rt.target, suffix, n)
			}
		}
		for _, suffix := range good {
			e := newEnv(t, nil, gateway.Options{})
			if rec := e.do(newRequest(rt.method, rt.target, rt.body+suffix, "")); rec.Code != http.StatusOK {
				t.Errorf("%s %s with %.20q after the body: HTTP status %d, want 200; body %s", rt.method, rt.target, suffix, rec.Code, rec.Body.String())
			}
		}
	}

	// Trailing whitespace counts toward the body limit: 413, not 200.
	e := newEnv(t, nil, gateway.Options{MaxBodyBytes: 1024})
	req := newRequest(http.MethodPost, "/v1/threads", "", "")
	req.Body = io.NopCloser(hideLength{strings.NewReader(`{"title":"x"}` + strings.Repeat(" ", 2048))})
	req.ContentLength = -1
	wantError(t, e.do(req), http.StatusRequestEntityTooLarge, codes.ResourceExhausted, "request body exceeds 1 KiB")
}

// TestInvalidUTF8BodyRefused: invalid UTF-8 in a JSON string of a body, raw
// or as an unpaired surrogate escape, is 400, never 500, and the error body
// is valid google.rpc.Status JSON.
func TestInvalidUTF8BodyRefused(t *testing.T) {
	bodies := []string{
		"{\"title\":\"bad \xff title\"}",
		"{\"title\":\"\xc0\xaf\"}",
		"{\"\xff\":\"x\"}",
		"{\"tags\":[\"ok\",\"\xed\xa0\x80\"]}",
		`{"title":"\ud800"}`,
		`{"title":"\udc00 x"}`,
		`{"title":"\ud800\u0041"}`,
	}
	for _, target := range []string{"/v1/threads", "/v1/threads/t1"} {
		method := http.MethodPost
		if target != "/v1/threads" {
			method = http.MethodPatch
		}
		for _, body := range bodies {
			e := newEnv(t, nil, gateway.Options{})
			rec := e.do(newRequest(method, target, body, ""))
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s %s %q: HTTP status %d, want 400; body %s", method, target, body, rec.Code, rec.Body.String())
				continue
			}
			if st := parseStatus(t, rec.Body.Bytes()); st.Code() != codes.InvalidArgument || !utf8.ValidString(st.Message()) {
				t.Errorf("%s %s %q: %v", method, target, body, st.Err())
			}
			if n := e.fake.calls.Load(); n != 0 {
				t.Errorf("%s %s %q: server called %d times", method, target, body, n)
			}
		}
	}
}

// TestNoResponseMetadataHeaders: gRPC response metadata (what gRPC adds,
// such as content-type, and anything the server sets) does not become
// Grpc-Metadata-* headers or Grpc-Trailer-* trailers, on success or error,
// with or without TE: trailers.
func TestNoResponseMetadataHeaders(t *testing.T) {
	fake := &fakeThreads{get: func(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-internal", "header-secret"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-internal-trailer", "trailer-secret"))
		if req.GetName() == "threads/fail" {
			return nil, status.Error(codes.NotFound, "no such thread")
		}
		return &forumv1.Thread{Name: req.GetName()}, nil
	}}
	e := newEnv(t, fake, gateway.Options{})
	for _, target := range []string{"/v1/threads/t1", "/v1/threads/fail"} {
		for _, te := range []string{"", "trailers"} {
			req := newRequest(http.MethodGet, target, "", "-")
			if te != "" {
				req.Header.Set("TE", te)
			}
			rec := e.do(req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusNotFound {
				t.Fatalf("GET %s: status %d; body %s", target, rec.Code, rec.Body.String())
			}
			res := rec.Result()
			for _, h := range []http.Header{rec.Header(), res.Trailer} {
				for k, v := range h {
					if strings.HasPrefix(k, "Grpc-") || k == "Trailer" || strings.Contains(strings.Join(v, ","), "secret") {
						t.Errorf("GET %s (TE %q): header %s: %q", target, te, k, v)
					}
				}
			}
		}
	}
}

// TestMalformedAuthorizationRefused: an Authorization header gRPC metadata
// cannot carry is 401, not dropped (which ran the call anonymously).
func TestMalformedAuthorizationRefused(t *testing.T) {
	fake, got := authRecorder()
	e := newEnv(t, fake, gateway.Options{})
	for _, v := range []string{"Bearer \xff", "Bearer tok\x7f", "Bearer a\tb", "Bearer café"} {
		req := newRequest(http.MethodGet, "/v1/threads/t1", "", "-")
		req.Header.Set("Authorization", v)
		rec := e.do(req)
		wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
		if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="forum"` {
			t.Errorf("%q: WWW-Authenticate = %q", v, got)
		}
	}
	if n := e.fake.calls.Load(); n != 0 {
		t.Errorf("server called %d times, want 0", n)
	}
	req := newRequest(http.MethodGet, "/v1/threads/t1", "", "-")
	req.Header.Set("Authorization", "Bearer forum_tok_1")
	if rec := e.do(req); rec.Code != http.StatusOK {
		t.Fatalf("valid token: status %d; body %s", rec.Code, rec.Body.String())
	}
	if md := <-got; len(md) != 1 || md[0] != "Bearer forum_tok_1" {
		t.Errorf("authorization metadata = %q", md)
	}
}
