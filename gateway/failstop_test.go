package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestServerUnavailableKeepsMessage checks that an UNAVAILABLE error the
// forum server made (ErrorInfo of the forum's domain), such as writes
// stopped by a full disk, reaches the JSON client as 503 with its message
// and reason, while other UNAVAILABLE errors (the gateway's connection,
// another domain) are still masked.
func TestServerUnavailableKeepsMessage(t *testing.T) {
	withInfo := func(domain, reason, msg string) error {
		st, err := status.New(codes.Unavailable, msg).WithDetails(&errdetails.ErrorInfo{Domain: domain, Reason: reason})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	fake := &fakeThreads{create: func(_ context.Context, req *forumv1.CreateThreadRequest) (*forumv1.Thread, error) {
		switch req.GetThread().GetTitle() {
		case "stopped":
			return nil, withInfo("forum", "WRITES_STOPPED", "writes are stopped: disk full")
		case "other-domain":
			return nil, withInfo("example.org", "DIAL", "dial tcp 10.0.0.7:5432: connection refused")
		default:
			return nil, status.Error(codes.Unavailable, "dial tcp 10.0.0.7:5432: connection refused")
		}
	}}
	e := newEnv(t, fake, gateway.Options{})
	post := func(title string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/threads", strings.NewReader(fmt.Sprintf(`{"theme":"themes/x","title":%q}`, title)))
		req.Header.Set("Content-Type", "application/json")
		return e.do(req)
	}

	rec := post("stopped")
	st := wantError(t, rec, http.StatusServiceUnavailable, codes.Unavailable, "writes are stopped: disk full")
	var details []struct {
		Type   string `json:"@type"`
		Reason string `json:"reason"`
		Domain string `json:"domain"`
	}
	if err := json.Unmarshal(st.Details, &details); err != nil || len(details) != 1 ||
		details[0].Reason != "WRITES_STOPPED" || details[0].Domain != "forum" {
		t.Errorf("details = %s (%v), want the forum's ErrorInfo WRITES_STOPPED", st.Details, err)
	}

	for _, title := range []string{"other-domain", "plain"} {
		rec := post(title)
		wantError(t, rec, http.StatusServiceUnavailable, codes.Unavailable, "service unavailable")
		if strings.Contains(rec.Body.String(), "10.0.0.7") {
			t.Errorf("%s: body leaks the address: %s", title, rec.Body.String())
		}
	}
}

// TestHealthzReason checks that /healthz gives the reason of a
// *gateway.NotServingError, also wrapped, and only that: other errors'
// text stays out of the answer.
func TestHealthzReason(t *testing.T) {
	var healthErr error
	e := newEnv(t, nil, gateway.Options{Health: func(context.Context) error { return healthErr }})
	get := func() (int, map[string]any) {
		t.Helper()
		rec := e.do(httptest.NewRequest(http.MethodGet, "/healthz", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("healthz body %q: %v", rec.Body.String(), err)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q", got)
		}
		return rec.Code, body
	}

	healthErr = fmt.Errorf("store: %w", &gateway.NotServingError{Reason: "writes are stopped: disk full"})
	code, body := get()
	if code != http.StatusServiceUnavailable || body["status"] != "NOT_SERVING" || body["reason"] != "writes are stopped: disk full" || len(body) != 2 {
		t.Errorf("not serving with a reason: %d %v", code, body)
	}

	healthErr = errors.New("health check: dial tcp 10.0.0.7:7070: connection refused")
	code, body = get()
	if code != http.StatusServiceUnavailable || body["status"] != "NOT_SERVING" || len(body) != 1 {
		t.Errorf("not serving without a reason: %d %v, want only the status", code, body)
	}

	healthErr = nil
	code, body = get()
	if code != http.StatusOK || body["status"] != "SERVING" || len(body) != 1 {
		t.Errorf("serving: %d %v", code, body)
	}
}
