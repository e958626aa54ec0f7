package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// Bounds of the harness. They are generous on purpose: the tests must pass
// on a loaded 2-core CI machine, and none of them asserts anything about
// timing.
const (
	startTimeout   = 60 * time.Second
	cliTimeout     = 60 * time.Second
	callTimeout    = 30 * time.Second
	httpTimeout    = 60 * time.Second
	maxLogDumpSize = 64 << 10
)

// forumdBin is the forumd binary TestMain builds (forumdtest.Build).
var forumdBin string

// forumd is one running forumd process, started by forumdtest: its
// addresses, log, Stop (SIGTERM, exit status 0), Terminate, Kill
// (SIGKILL) and exit status.
type forumd struct {
	*forumdtest.Server
}

// noRateLimits is the forumd flag that turns rate limiting off, for the
// tests that write thousands of posts as a handful of users.
const noRateLimits = "--rate-limits=off"

// serveOptions are the e2e tests' settings of forumd: reflection on,
// forumd's default rate limits unless args (more serve flags) say
// otherwise.
func serveOptions(via []string, stderr io.Writer, args []string) forumdtest.Options {
	return forumdtest.Options{Reflection: true, Via: via, Stderr: stderr, Args: args}
}

// startForumd starts `forumd serve` on ephemeral loopback ports with its data
// in dataDir, plus the extra flags in args, and waits until it listens. The
// process is killed in t.Cleanup if it is still running, and its log is
// shown if the test failed.
func startForumd(t testing.TB, dataDir string, args ...string) *forumd {
	t.Helper()
	return startForumdVia(t, nil, dataDir, args...)
}

// startForumdVia is startForumd with the command line of forumd put after
// via, a command that runs it in turn by exec (nsenter): the process
// started, signalled and waited for is still forumd itself.
func startForumdVia(t testing.TB, via []string, dataDir string, args ...string) *forumd {
	t.Helper()
	return &forumd{forumdtest.StartProcess(t, forumdBin, dataDir, serveOptions(via, nil, args))}
}

// mustCreateUserCLI runs `forumd admin create-user` on dataDir with the
// password on standard input, and fails the test on error.
func mustCreateUserCLI(t testing.TB, dataDir, username, displayName, role, password string) {
	t.Helper()
	forumdtest.MustCreateUser(t, forumdBin, dataDir, username, displayName, role, password)
}

// api holds gRPC clients of one forumd.
type api struct {
	conn    *grpc.ClientConn
	auth    forumv1.AuthServiceClient
	users   forumv1.UserServiceClient
	themes  forumv1.ThemeServiceClient
	threads forumv1.ThreadServiceClient
	replies forumv1.ReplyServiceClient
	events  forumv1.EventServiceClient
	search  forumv1.SearchServiceClient
}

// dial connects to forumd's gRPC listener; the connection is closed in
// t.Cleanup.
func (p *forumd) dial(t testing.TB) *api {
	t.Helper()
	conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial forumd gRPC at %s: %v", p.GRPCAddr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &api{
		conn:    conn,
		auth:    forumv1.NewAuthServiceClient(conn),
		users:   forumv1.NewUserServiceClient(conn),
		themes:  forumv1.NewThemeServiceClient(conn),
		threads: forumv1.NewThreadServiceClient(conn),
		replies: forumv1.NewReplyServiceClient(conn),
		events:  forumv1.NewEventServiceClient(conn),
		search:  forumv1.NewSearchServiceClient(conn),
	}
}

// withToken returns ctx carrying `authorization: Bearer token`.
func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// callCtx returns a context for one call: bounded by callTimeout and
// carrying the token, if any.
func callCtx(ctx context.Context, token string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	if token != "" {
		ctx = withToken(ctx, token)
	}
	return ctx, cancel
}

// httpAPI is a JSON client of one forumd's HTTP listener.
type httpAPI struct {
	base string
	c    *http.Client
}

// jsonAPI returns a JSON client of forumd's HTTP listener.
func (p *forumd) jsonAPI(t testing.TB) *httpAPI {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &httpAPI{base: "http://" + p.HTTPAddr, c: &http.Client{Timeout: httpTimeout, Transport: tr}}
}

// do sends a request with body (nil for none) and the bearer token (if any)
// and returns the status code and the response body.
func (h *httpAPI) do(ctx context.Context, method, path, token string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// must sends a request whose body is JSON-encoded from body (a string or
// []byte is sent as is) and fails the test unless the status is want. It
// returns the response body.
func (h *httpAPI) must(t testing.TB, method, path, token string, body any, want int) []byte {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatalf("encode %s %s body: %v", method, path, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), httpTimeout)
	defer cancel()
	got, resp, err := h.do(ctx, method, path, token, data)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if got != want {
		t.Fatalf("%s %s: status %d, want %d; body: %.2000s", method, path, got, want, resp)
	}
	return resp
}
