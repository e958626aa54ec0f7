package gateway_test

// Fuzz targets of the HTTP door (issue 12). Both run the real gateway
// handler in process against the fake ThreadService on bufconn (newEnv), so
// every call the gateway makes succeeds: any 5xx is the gateway's own.
//
//	go test -run '^$' -fuzz '^FuzzJSONBody$' -fuzztime 60s ./gateway/
//	go test -run '^$' -fuzz '^FuzzPathParams$' -fuzztime 60s ./gateway/
//
// Without -fuzz, `go test` runs the seeds below as ordinary tests.

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/gateway"
)

// fuzzRoute is a route of the fake ThreadService a fuzz target sends to.
type fuzzRoute struct {
	method, path, body string // path: "%s" stands for the fuzzed parameter
}

// fuzzBodyRoutes are the routes taking a body, one of each kind: a body
// field, a body field with the field mask taken from the body, a body field
// with an explicit mask, and the whole request as the body.
func fuzzBodyRoutes() []fuzzRoute {
	return []fuzzRoute{
		{http.MethodPost, "/v1/threads", ""},
		{http.MethodPatch, "/v1/threads/t1", ""},
		{http.MethodPatch, "/v1/threads/t1?updateMask=title", ""},
		{http.MethodPost, "/v1/threads/t1:undelete", ""},
	}
}

// fuzzParamRoutes are the routes with a path parameter, with and without a
// body, and a list route with none.
func fuzzParamRoutes() []fuzzRoute {
	return []fuzzRoute{
		{http.MethodGet, "/v1/threads/%s", ""},
		{http.MethodDelete, "/v1/threads/%s", ""},
		{http.MethodPatch, "/v1/threads/%s", `{"title":"x"}`},
		{http.MethodPost, "/v1/threads/%s:undelete", `{}`},
		{http.MethodPost, "/v1/threads", `{"title":"x"}`},
		{http.MethodGet, "/v1/threads", ""},
	}
}

// newFuzzEnv is the gateway of the fuzz targets, logging nowhere (a fuzz
// function may not log through f) and with a 64 KiB body limit.
func newFuzzEnv(f *testing.F) *env {
	return newEnv(f, nil, gateway.Options{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 64 << 10})
}

// checkFuzzResponse fails t unless rec is a success with a JSON body, or a
// 4xx error whose body is google.rpc.Status JSON with a code that matches
// the HTTP status. A 5xx is always a failure: the fake server never fails.
func checkFuzzResponse(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	what := req.Method + " " + req.URL.String()
	if rec.Code >= 500 {
		t.Fatalf("%s: HTTP status %d; body %s", what, rec.Code, rec.Body.String())
	}
	if rec.Code < 400 {
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s: HTTP status %d with a body that is not JSON: %q", what, rec.Code, rec.Body.String())
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: error Content-Type %q", what, ct)
	}
	var st spb.Status
	if err := protojson.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("%s: HTTP status %d, body %q is not google.rpc.Status JSON: %v", what, rec.Code, rec.Body.String(), err)
	}
	code := codes.Code(st.GetCode())
	want := runtime.HTTPStatusFromCode(code)
	switch {
	case code == codes.OK || st.GetMessage() == "":
		t.Fatalf("%s: error body without code or message: %s", what, rec.Body.String())
	case rec.Code == http.StatusMethodNotAllowed && code == codes.Unimplemented,
		rec.Code == http.StatusRequestEntityTooLarge && code == codes.ResourceExhausted:
	case rec.Code != want:
		t.Fatalf("%s: HTTP status %d with code %v (which maps to %d)", what, rec.Code, code, want)
	}
}

// FuzzJSONBody sends arbitrary bytes as the JSON body of each kind of body
// route: never a 5xx, never a panic, errors as google.rpc.Status JSON.
func FuzzJSONBody(f *testing.F) {
	e := newFuzzEnv(f)
	routes := fuzzBodyRoutes()
	seeds := []string{
		``,
		`{}`,
		`{"title":"x"}`,
		`{"title":"x"}garbage`,
		`{"title":"x"} {"title":"y"}`,
		`{"title":"x"}` + "\n\t ",
		"{\"title\":\"\xff\"}",
		"{\"\xc0\xaf\":1}",
		`{"title":"\ud800"}`,
		`{"title":"\udc00\ud800"}`,
		`{"title":"x","title":"y"}`,
		`{"tittle":"x"}`,
		`{"tags":["a","b"],"kind":"THREAD_KIND_FOLLOW_UP","replyCount":"18446744073709551616"}`,
		`{"createTime":"2026-13-45T99:00:00Z"}`,
		`{"kind":999999999999}`,
		`{"pinned":"true"}`,
		`[]`,
		`null`,
		`"x"`,
		`{"title":` + strings.Repeat(`[`, 10000),
		`{"a":{"b":{"c":{}}}}`,
		`{"name":"threads/other","etag":"\"1\""}`,
		`{"@type":"x"}`,
		"\xef\xbb\xbf{}",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		checkFuzzResponse(t, req, e.do(req))
	})
}

// FuzzPathParams sends an arbitrary path parameter (the decoded path, as
// net/http hands it to the handler) and an arbitrary raw query string to
// routes with and without a path parameter and a body: never a 5xx, never
// a panic, errors as google.rpc.Status JSON.
func FuzzPathParams(f *testing.F) {
	e := newFuzzEnv(f)
	routes := fuzzParamRoutes()
	seeds := []struct{ param, query string }{
		{"t1", ""},
		{"\xc0\xaf", ""},
		{"\xff\xfe", ""},
		{"caf\u00e9", "orderBy=%E2%9C%93"},
		{"t1", "orderBy=%FF"},
		{"t1", "order_by=%FF"},
		{"t1", "pageToken=%FF%FE"},
		{"t1", "requestId=%FF"},
		{"t1", "%FF=1"},
		{"t1", "filter=a&filter=%C3"},
		{"t1", "pageSize=99999999999999999999"},
		{"t1", "pageSize=-1&showDeleted=maybe"},
		{"t1", "updateMask=title,%FF"},
		{"t1", "updateMask=no.such.field"},
		{"t1", "a=%zz"},
		{"t1", "a=1;b=2"},
		{"t1", "thread.title=x&thread.tags=a&thread.tags=b"},
		{"t1", "\xff=\xfe"},
		{"t1:undelete", ""},
		{"a/b", ""},
		{"", ""},
		{"%2F", "x=%00"},
		{strings.Repeat("\xed\xa0\x80", 100), ""},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s.param, s.query)
	}
	f.Fuzz(func(t *testing.T, route uint8, param, query string) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, "/", strings.NewReader(rt.body))
		req.Header.Set("Content-Type", "application/json")
		path := strings.Replace(rt.path, "%s", param, 1)
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
		req.RequestURI = req.URL.RequestURI()
		checkFuzzResponse(t, req, e.do(req))
	})
}
