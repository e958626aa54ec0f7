// Package forumdtest runs the real forumd binary for the tests of other
// packages (client, cmd/forumctl): it builds binaries of this module, seeds
// users with `forumd admin create-user`, and starts `forumd serve` on
// ephemeral loopback ports with its data in a test's temporary directory.
//
// A test package builds forumd once, in TestMain:
//
//	func TestMain(m *testing.M) {
//		dir, err := os.MkdirTemp("", "forumd-bin-")
//		...
//		forumdBin, err = forumdtest.Build(dir, "./cmd/forumd")
//		if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) } // fail, never skip
//		code := m.Run()
//		os.RemoveAll(dir)
//		os.Exit(code)
//	}
//
// and then, in a test:
//
//	data := t.TempDir()
//	forumdtest.MustCreateUser(t, forumdBin, data, "admin", "Admin", "admin", "a long password")
//	srv := forumdtest.Start(t, forumdBin, data) // killed in t.Cleanup
//	... srv.GRPCAddr ...
//
// It is for tests only; the e2e package has its own, fuller harness.
package forumdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/testlog"
)

// Bounds of the helpers, generous because tests run on a loaded 2-core
// machine; nothing here asserts anything about timing.
const (
	buildTimeout   = 10 * time.Minute
	startTimeout   = 60 * time.Second
	stopTimeout    = 60 * time.Second
	adminTimeout   = 60 * time.Second
	maxLogDumpSize = 32 << 10
)

// ModuleRoot returns the directory of this module's go.mod, as `go env
// GOMOD` sees it from the current directory (a package directory under go
// test).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// Build runs `go build` on pkg, a package path relative to the module root
// such as "./cmd/forumd", and returns the path of the binary it wrote into
// dir (named after the package's last element).
func Build(dir, pkg string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// CreateUser runs `forumd admin create-user` on dataDir (forumd must not be
// serving it) with the password on standard input. role is member,
// convener or admin. Like Start, it makes dataDir private (mode 0700), as
// forumd wants it.
func CreateUser(bin, dataDir, username, displayName, role, password string) error {
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "admin", "create-user", "--data", dataDir,
		"--username", username, "--display-name", displayName, "--role", role)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("forumd admin create-user %s: %w\n%s", username, err, out)
	}
	return nil
}

// MustCreateUser is CreateUser that fails the test on error.
func MustCreateUser(t testing.TB, bin, dataDir, username, displayName, role, password string) {
	t.Helper()
	if err := CreateUser(bin, dataDir, username, displayName, role, password); err != nil {
		t.Fatal(err)
	}
}

// Server is a running `forumd serve`.
type Server struct {
	// GRPCAddr and HTTPAddr are the addresses it listens on, 127.0.0.1
	// with ephemeral ports.
	GRPCAddr, HTTPAddr string

	t    testing.TB
	cmd  *exec.Cmd
	log  *testlog.Buffer
	done chan struct{} // closed once the process has exited
}

// Start starts `forumd serve` with its data in dataDir on ephemeral
// loopback ports and returns once it listens (it has written its address
// file). The process is killed in t.Cleanup if it is still running, and its
// log is shown if the test failed. dataDir is made private (mode 0700): a
// t.TempDir is not, and forumd warns about that.
//
// extraArgs are added to the serve command line. The environment carries
// FORUM_RATE_LIMITS=off, so that tests creating many resources quickly as
// one user are not throttled by a forumd that reads that variable; a test
// of rate limiting passes its own setting in extraArgs.
func Start(t testing.TB, bin, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	if err := os.Chmod(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(t.TempDir(), "addr.json")
	s := &Server{t: t, log: &testlog.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve",
		"--grpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--data", dataDir,
		"--addr-file", addrFile,
		"--log-level", "warn",
	)
	s.cmd.Args = append(s.cmd.Args, extraArgs...)
	s.cmd.Env = append(os.Environ(), "FORUM_RATE_LIMITS=off")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start forumd: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.signal(syscall.SIGKILL)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			t.Errorf("forumd (pid %d) did not die after SIGKILL", s.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("forumd (pid %d) log:\n%s", s.cmd.Process.Pid, s.log.Tail(maxLogDumpSize))
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
			s.GRPCAddr, s.HTTPAddr = addrs.GRPC, addrs.HTTP
			return s
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("read forumd address file: %v", err)
		}
		select {
		case <-s.done:
			t.Fatalf("forumd exited before listening (%v); log:\n%s", s.cmd.ProcessState, s.log.Tail(maxLogDumpSize))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("forumd did not listen within %v; log:\n%s", startTimeout, s.log.Tail(maxLogDumpSize))
		}
	}
}

// Stop shuts the server down with SIGTERM and waits until it has exited.
func (s *Server) Stop() {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.t.Fatalf("forumd did not exit within %v of SIGTERM", stopTimeout)
	}
}

// Log returns the end of what the server wrote to its standard output and
// error.
func (s *Server) Log() string { return s.log.Tail(maxLogDumpSize) }

// signal sends sig to the process unless it has exited.
func (s *Server) signal(sig os.Signal) {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(sig)
	}
}
