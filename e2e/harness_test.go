package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/testlog"
)

// Bounds of the harness. They are generous on purpose: the tests must pass
// on a loaded 2-core CI machine, and none of them asserts anything about
// timing.
const (
	buildTimeout   = 10 * time.Minute
	startTimeout   = 60 * time.Second
	stopTimeout    = 60 * time.Second
	cliTimeout     = 60 * time.Second
	callTimeout    = 30 * time.Second
	httpTimeout    = 60 * time.Second
	maxLogDumpSize = 64 << 10
)

// forumdBin is the forumd binary TestMain builds.
var forumdBin string

// buildForumd builds cmd/forumd into dir and returns the binary's path.
func buildForumd(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go command: %w", err)
	}
	bin := filepath.Join(dir, "forumd")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/forumd")
	cmd.Dir = ".." // the module root; go test runs in the package directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/forumd: %w\n%s", err, out)
	}
	return bin, nil
}

// forumd is one running forumd process.
type forumd struct {
	t        testing.TB
	dataDir  string
	grpcAddr string
	httpAddr string
	cmd      *exec.Cmd
	log      *testlog.Buffer
	done     chan struct{} // closed once the process has exited
}

// noRateLimits is the forumd flag that turns rate limiting off, for the
// tests that write thousands of posts as a handful of users.
const noRateLimits = "--rate-limits=off"

// startForumd starts `forumd serve` on ephemeral loopback ports with its data
// in dataDir, plus the extra flags in args, and waits until it has written
// its address file. The process is killed in t.Cleanup if it is still
// running, and its log is shown if the test failed.
func startForumd(t testing.TB, dataDir string, args ...string) *forumd {
	t.Helper()
	return startForumdVia(t, nil, dataDir, args...)
}

// startForumdVia is startForumd with the command line of forumd put after
// via, a command that runs it in turn by exec (nsenter): the process
// started, signalled and waited for is still forumd itself.
func startForumdVia(t testing.TB, via []string, dataDir string, args ...string) *forumd {
	t.Helper()
	p, exited := launchForumd(t, via, dataDir, nil, args...)
	if exited {
		t.Fatalf("forumd exited before listening (%v); log:\n%s", p.cmd.ProcessState, p.log.Tail(maxLogDumpSize))
	}
	return p
}

// launchForumd starts forumd as startForumdVia does, and waits until it has
// written its address file (exited is false) or has exited (true). What
// forumd writes on standard error also goes to stderr, if not nil.
func launchForumd(t testing.TB, via []string, dataDir string, stderr io.Writer, args ...string) (p *forumd, exited bool) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr.json")
	p = &forumd{t: t, dataDir: dataDir, log: &testlog.Buffer{}, done: make(chan struct{})}
	argv := append(append(slices.Clone(via), forumdBin, "serve",
		"--grpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--data", dataDir,
		"--addr-file", addrFile,
		"--reflection=true",
		"--log-level", "warn",
	), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if stderr != nil {
		p.cmd.Stderr = io.MultiWriter(p.log, stderr)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start forumd: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			t.Errorf("forumd (pid %d) did not die after SIGKILL", p.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("forumd (pid %d) log:\n%s", p.cmd.Process.Pid, p.log.Tail(maxLogDumpSize))
		}
	})

	deadline := time.Now().Add(startTimeout)
	for {
		data, err := os.ReadFile(addrFile)
		if err == nil {
			var addrs struct{ GRPC, HTTP string }
			if err := json.Unmarshal(data, &addrs); err != nil {
				t.Fatalf("forumd address file %q: %v", data, err)
			}
			if !strings.HasPrefix(addrs.GRPC, "127.0.0.1:") || !strings.HasPrefix(addrs.HTTP, "127.0.0.1:") {
				t.Fatalf("forumd listens on %q and %q, want loopback addresses", addrs.GRPC, addrs.HTTP)
			}
			p.grpcAddr, p.httpAddr = addrs.GRPC, addrs.HTTP
			return p, false
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("read forumd address file: %v", err)
		}
		select {
		case <-p.done:
			return p, true
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("forumd did not write its address file within %v; log:\n%s", startTimeout, p.log.Tail(maxLogDumpSize))
		}
	}
}

// cleanEnv returns the environment without FORUM_* variables, so that
// forumd's settings come from the test's flags alone.
func cleanEnv() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FORUM_") {
			env = append(env, kv)
		}
	}
	return env
}

// signal sends sig to the process unless it has exited.
func (p *forumd) signal(sig os.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// stop shuts forumd down with SIGTERM and checks that it exits with status 0.
func (p *forumd) stop() {
	p.t.Helper()
	if code := p.terminate().ExitCode(); code != 0 {
		p.t.Fatalf("forumd exited with %v after SIGTERM, want status 0; log:\n%s", p.cmd.ProcessState, p.log.Tail(maxLogDumpSize))
	}
}

// terminate sends forumd SIGTERM and returns how it exited.
func (p *forumd) terminate() *os.ProcessState {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.t.Fatalf("forumd did not exit within %v of SIGTERM; log:\n%s", stopTimeout, p.log.Tail(maxLogDumpSize))
	}
	return p.cmd.ProcessState
}

// kill kills forumd with SIGKILL (kill -9) and waits until it is gone.
func (p *forumd) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.t.Fatalf("forumd did not die within %v of SIGKILL", stopTimeout)
	}
}

// createUserCLI runs `forumd admin create-user` on dataDir with the password
// on standard input and returns its combined output.
func createUserCLI(dataDir, username, displayName, role, password string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, forumdBin, "admin", "create-user",
		"--data", dataDir, "--username", username, "--display-name", displayName, "--role", role)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustCreateUserCLI is createUserCLI that fails the test on error.
func mustCreateUserCLI(t testing.TB, dataDir, username, displayName, role, password string) {
	t.Helper()
	if out, err := createUserCLI(dataDir, username, displayName, role, password); err != nil {
		t.Fatalf("forumd admin create-user %s: %v\n%s", username, err, out)
	}
}

// api holds gRPC clients of one forumd.
type api struct {
	conn    *grpc.ClientConn
	auth    forumv1.AuthServiceClient
	users   forumv1.UserServiceClient
	themes  forumv1.ThemeServiceClient
	threads forumv1.ThreadServiceClient
	replies forumv1.ReplyServiceClient
}

// dial connects to forumd's gRPC listener; the connection is closed in
// t.Cleanup.
func (p *forumd) dial(t testing.TB) *api {
	t.Helper()
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial forumd gRPC at %s: %v", p.grpcAddr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &api{
		conn:    conn,
		auth:    forumv1.NewAuthServiceClient(conn),
		users:   forumv1.NewUserServiceClient(conn),
		themes:  forumv1.NewThemeServiceClient(conn),
		threads: forumv1.NewThreadServiceClient(conn),
		replies: forumv1.NewReplyServiceClient(conn),
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
	return &httpAPI{base: "http://" + p.httpAddr, c: &http.Client{Timeout: httpTimeout, Transport: tr}}
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
