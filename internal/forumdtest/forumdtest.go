// Package forumdtest runs forumd for the tests of other packages (client,
// cmd/forumctl, cmd/forumload, web, e2e, ...), in either of two modes
// behind one API:
//
//   - the real binary (Build, then StartProcess, LaunchProcess or Start):
//     `forumd serve` as a child process, which a test can also kill -9,
//     signal, run through a wrapper (nsenter) and watch exit;
//   - in process (StartInProcess): the same assembly, internal/app, run in
//     the test's own process, faster to start and open to the debugger and
//     the race detector.
//
// Both listen on ephemeral 127.0.0.1 ports with the data in a directory of
// the test's, and both return a *Server with the addresses, the log, Stop
// and Terminate. Options hold the settings (rate limits, reflection, ...)
// and mean the same in both modes: flags for the binary, an app.Config in
// process.
//
// One environment policy: the process environment never reaches forumd.
// The binary and its admin commands run with Env(), which lacks every
// FORUM_* variable, and the in-process mode never reads the environment,
// so a developer's FORUM_RATE_LIMITS or FORUM_DATA cannot change what a
// test sees.
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
// or, without a binary:
//
//	srv := forumdtest.StartInProcess(t, t.TempDir(), forumdtest.Options{RateLimits: "off",
//		Users: []forumdtest.User{{Username: "admin", Role: "admin", Password: "a long password"}}})
//
// It is for tests only.
package forumdtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// Bounds of the helpers, generous because tests run on a loaded 2-core
// machine; nothing here asserts anything about timing.
const (
	buildTimeout = 10 * time.Minute
	startTimeout = 60 * time.Second
	stopTimeout  = 60 * time.Second
	adminTimeout = 60 * time.Second
	// MaxLogSize is how much of the end of forumd's log Server.Log
	// returns, and a failed test shows.
	MaxLogSize = 64 << 10
)

// defaultLogLevel is the level forumd logs at unless Options.LogLevel
// says otherwise: warnings and errors, which the tests look for.
const defaultLogLevel = "warn"

// Env returns the process environment without the FORUM_* variables: the
// environment of every forumd (and of its admin commands) this package
// starts, and the one a test gives to other commands it runs around forumd,
// so that forumd's settings come from the test alone.
func Env() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FORUM_") {
			env = append(env, kv)
		}
	}
	return env
}

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

// RunWithBinaries is the body of the TestMain of a package whose tests run
// built binaries: it builds each package of bins (a path relative to the
// module root, such as "./cmd/forumd", mapped to the variable that gets the
// binary's path) into a temporary directory, runs the tests, removes the
// directory and returns the exit code for os.Exit. A build that fails fails
// the run, with the error on standard error: tests against the real binary
// never skip.
//
//	func TestMain(m *testing.M) {
//		os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin}))
//	}
func RunWithBinaries(m *testing.M, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", "forum-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for pkg, bin := range bins {
		if *bin, err = Build(dir, pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// CreateUser runs `forumd admin create-user` on dataDir (forumd must not be
// serving it) with the password on standard input and the environment of
// Env. role is member, convener or admin. Like Start, it makes dataDir
// private (mode 0700), as forumd wants it. The error carries the command's
// output (a "locked" database, say).
func CreateUser(bin, dataDir, username, displayName, role, password string) error {
	if err := makePrivate(dataDir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "admin", "create-user", "--data", dataDir,
		"--username", username, "--display-name", displayName, "--role", role)
	cmd.Env = Env()
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

// makePrivate sets dir's mode to 0700 (a t.TempDir may be more open, and
// forumd warns about that). A dir that does not exist here is left to
// forumd, which creates it: it may be in another mount namespace
// (Options.Via).
func makePrivate(dir string) error {
	if err := os.Chmod(dir, 0o700); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// User is a user Options.Users creates before forumd serves.
type User struct {
	// Username is the login name.
	Username string
	// DisplayName is the name shown; "" means Username.
	DisplayName string
	// Role is member, convener or admin; "" means member.
	Role string
	// Password is the user's password (at least 10 bytes).
	Password string
}

// Options are the settings of a forumd. The first group means the same in
// both modes; Args and Via apply to the binary only, Configure in process
// only, and setting them in the other mode fails the test.
type Options struct {
	// RateLimits is the rate-limit spec of forumd's --rate-limits (see
	// server.ParseRateLimits): "off" turns them off, for tests that create
	// many things quickly as one user; "" means forumd's defaults.
	RateLimits string
	// TrustedProxies is --trusted-proxies: reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto are believed; "" means none.
	TrustedProxies string
	// Reflection registers gRPC server reflection (--reflection).
	Reflection bool
	// SelfRegistration lets anyone register (--self-registration).
	SelfRegistration bool
	// PublicDirectory opens the member directory to anonymous callers
	// (--public-directory).
	PublicDirectory bool
	// LogLevel is the least level forumd logs (--log-level): debug, info,
	// warn or error; "" means warn.
	LogLevel string
	// Users are created before forumd serves: by `forumd admin
	// create-user` for the binary, in the store in process.
	Users []User
	// Stderr, if not nil, receives forumd's log (its standard error) as it
	// is written, as well as Server.Log.
	Stderr io.Writer

	// Args are more flags of `forumd serve`, after those the settings
	// above make: a later flag wins. Binary only.
	Args []string
	// Via is a command that runs forumd's command line, put after it, by
	// exec (such as nsenter --mount=... --): the process started,
	// signalled and waited for is still forumd itself. Binary only.
	Via []string

	// Configure, if not nil, changes the app.Config before app.New, for
	// what no setting above covers. In process only.
	Configure func(*app.Config)
}

// Server is a running forumd: a child process (StartProcess) or an App in
// this process (StartInProcess).
type Server struct {
	// GRPCAddr and HTTPAddr are the addresses it listens on, 127.0.0.1
	// with ephemeral ports.
	GRPCAddr, HTTPAddr string
	// DataDir is its data directory.
	DataDir string

	t    testing.TB
	log  *testlog.Buffer
	done chan struct{} // closed once forumd has exited (process) or Serve has returned (in process)

	cmd      *exec.Cmd // the binary's process
	app      *app.App  // in process
	serveErr error     // what Serve returned; read after done
}

// Start starts the binary bin on dataDir, as StartProcess, with rate
// limits off and extraArgs added to the serve command line (a test of rate
// limiting passes its own --rate-limits there).
func Start(t testing.TB, bin, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	return StartProcess(t, bin, dataDir, Options{RateLimits: "off", Args: extraArgs})
}

// StartProcess starts `bin serve` with its data in dataDir on ephemeral
// loopback ports, after creating opts.Users, and returns once it listens
// (it has written its address file); it fails the test if forumd exits
// first. The process runs with Env(), is killed in t.Cleanup if it is still
// running, and its log is shown if the test failed. dataDir is made
// private (mode 0700).
func StartProcess(t testing.TB, bin, dataDir string, opts Options) *Server {
	t.Helper()
	s, err := LaunchProcess(t, bin, dataDir, opts)
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, s.Log())
	}
	return s
}

// LaunchProcess is StartProcess for a start that may be refused: if forumd
// exits before it listens, it returns the Server (whose Log, ExitCode and
// ProcessState tell how) and an error saying so, instead of failing the
// test.
func LaunchProcess(t testing.TB, bin, dataDir string, opts Options) (*Server, error) {
	t.Helper()
	if opts.Configure != nil {
		t.Fatal("forumdtest: Options.Configure applies in process only")
	}
	if err := makePrivate(dataDir); err != nil {
		t.Fatal(err)
	}
	for _, u := range opts.Users {
		MustCreateUser(t, bin, dataDir, u.Username, cmp.Or(u.DisplayName, u.Username), cmp.Or(u.Role, "member"), u.Password)
	}
	addrFile := filepath.Join(t.TempDir(), "addr.json")
	s := &Server{t: t, DataDir: dataDir, log: &testlog.Buffer{}, done: make(chan struct{})}
	argv := append(slices.Clone(opts.Via), bin, "serve",
		"--grpc-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--data", dataDir,
		"--addr-file", addrFile,
		"--log-level", cmp.Or(opts.LogLevel, defaultLogLevel),
		"--reflection="+strconv.FormatBool(opts.Reflection),
		"--self-registration="+strconv.FormatBool(opts.SelfRegistration),
		"--public-directory="+strconv.FormatBool(opts.PublicDirectory),
	)
	if opts.RateLimits != "" {
		argv = append(argv, "--rate-limits", opts.RateLimits)
	}
	if opts.TrustedProxies != "" {
		argv = append(argv, "--trusted-proxies", opts.TrustedProxies)
	}
	argv = append(argv, opts.Args...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = Env()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if opts.Stderr != nil {
		s.cmd.Stderr = io.MultiWriter(s.log, opts.Stderr)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start forumd: %v", err)
	}
	go func() {
		s.serveErr = s.cmd.Wait()
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
			t.Logf("forumd (pid %d) log:\n%s", s.cmd.Process.Pid, s.Log())
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
			s.checkLoopback()
			return s, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("read forumd address file: %v", err)
		}
		select {
		case <-s.done:
			return s, fmt.Errorf("forumd exited before listening (%v)", s.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("forumd did not listen within %v; log:\n%s", startTimeout, s.Log())
		}
	}
}

// StartInProcess runs forumd in this process (internal/app) with its data
// in dataDir on ephemeral loopback ports, after creating opts.Users, and
// returns once it serves. It is shut down gracefully in t.Cleanup if the
// test has not stopped it, and its log is shown if the test failed. The
// process environment is not read.
func StartInProcess(t testing.TB, dataDir string, opts Options) *Server {
	t.Helper()
	if len(opts.Args) > 0 || len(opts.Via) > 0 {
		t.Fatal("forumdtest: Options.Args and Options.Via need the binary (StartProcess)")
	}
	cfg, err := opts.appConfig()
	if err != nil {
		t.Fatalf("forumdtest: %v", err)
	}
	if err := makePrivate(dataDir); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, DataDir: dataDir, log: &testlog.Buffer{}, done: make(chan struct{})}
	var w io.Writer = s.log
	if opts.Stderr != nil {
		w = io.MultiWriter(s.log, opts.Stderr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(opts.LogLevel, defaultLogLevel))); err != nil {
		t.Fatalf("forumdtest: Options.LogLevel: %v", err)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	cfg.DataDir, cfg.GRPCAddr, cfg.HTTPAddr = dataDir, "127.0.0.1:0", "127.0.0.1:0"
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	a, err := app.New(ctx, cfg)
	if err != nil {
		t.Fatalf("forumdtest: start forumd in process: %v; log:\n%s", err, s.Log())
	}
	s.app = a
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			if err := s.shutdown(); err != nil {
				t.Logf("forumd in process: shutdown in cleanup: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("forumd (in process) log:\n%s", s.Log())
		}
	})
	for _, u := range opts.Users {
		if err := createUserInStore(ctx, a.Store(), u); err != nil {
			t.Fatalf("forumdtest: %v", err)
		}
	}
	s.GRPCAddr, s.HTTPAddr = a.GRPCAddr(), a.HTTPAddr()
	s.checkLoopback()
	go func() {
		s.serveErr = a.Serve(context.Background())
		close(s.done)
	}()
	return s
}

// appConfig returns the app.Config of o's settings, as forumd serve makes
// it from the same flags: without a store, addresses or logger.
func (o Options) appConfig() (app.Config, error) {
	limits, err := server.ParseRateLimits(o.RateLimits, server.DefaultRateLimits())
	if err != nil {
		return app.Config{}, fmt.Errorf("Options.RateLimits: %w", err)
	}
	proxies, err := gateway.ParseTrustedProxies(o.TrustedProxies)
	if err != nil {
		return app.Config{}, fmt.Errorf("Options.TrustedProxies: %w", err)
	}
	return app.Config{
		Server: server.Config{Reflection: o.Reflection, SelfRegistration: o.SelfRegistration,
			PublicDirectory: o.PublicDirectory, RateLimits: limits},
		Gateway: gateway.Options{TrustedProxies: proxies},
	}, nil
}

// createUserInStore creates u in st, as forumd admin create-user does.
func createUserInStore(ctx context.Context, st *store.Store, u User) error {
	role, ok := forumv1.Role_value["ROLE_"+strings.ToUpper(cmp.Or(u.Role, "member"))]
	if !ok || role == 0 {
		return fmt.Errorf("user %s: unknown role %q", u.Username, u.Role)
	}
	if err := auth.CheckPasswordPolicy(u.Password); err != nil {
		return fmt.Errorf("user %s: password: %w", u.Username, err)
	}
	hash, err := auth.HashPassword(u.Password)
	if err != nil {
		return err
	}
	_, err = st.CreateUser(ctx, authz.SystemActor,
		&forumv1.User{Username: u.Username, DisplayName: cmp.Or(u.DisplayName, u.Username), Role: forumv1.Role(role)}, hash, "")
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

// checkLoopback fails the test unless forumd listens on loopback
// addresses only.
func (s *Server) checkLoopback() {
	s.t.Helper()
	if !strings.HasPrefix(s.GRPCAddr, "127.0.0.1:") || !strings.HasPrefix(s.HTTPAddr, "127.0.0.1:") {
		s.t.Fatalf("forumd listens on %q and %q, want loopback addresses", s.GRPCAddr, s.HTTPAddr)
	}
}

// App returns the App of a forumd in process, and nil for the binary.
func (s *Server) App() *app.App { return s.app }

// Stop shuts forumd down gracefully (SIGTERM, or app.Shutdown in process)
// and fails the test unless it stops cleanly: exit status 0, or no error
// from the shutdown.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.Terminate(); err != nil {
		s.t.Fatalf("%v; log:\n%s", err, s.Log())
	}
}

// Terminate shuts forumd down gracefully (SIGTERM, or app.Shutdown in
// process), waits until it has stopped, and returns nil if it stopped
// cleanly, else why not: the exit status, or the shutdown's error (as
// after a storage error). It fails the test only if forumd does not stop
// in time.
func (s *Server) Terminate() error {
	s.t.Helper()
	if s.app != nil {
		return s.shutdown()
	}
	s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.t.Fatalf("forumd did not exit within %v of SIGTERM; log:\n%s", stopTimeout, s.Log())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("forumd exited with %v after SIGTERM, want status 0", s.cmd.ProcessState)
	}
	return nil
}

// shutdown stops the App in process and returns what Shutdown and Serve
// returned.
func (s *Server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := s.app.Shutdown(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("forumd in process did not stop within %v", stopTimeout)
	}
	return errors.Join(err, s.serveErr)
}

// Kill kills forumd with SIGKILL (kill -9) and waits until it is gone.
// Binary only.
func (s *Server) Kill() {
	s.t.Helper()
	s.needProcess("Kill")
	s.signal(syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.t.Fatalf("forumd did not die within %v of SIGKILL", stopTimeout)
	}
}

// Signal sends sig to forumd unless it has exited. Binary only.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	s.needProcess("Signal")
	s.signal(sig)
}

// Done returns a channel closed once forumd has stopped: its process has
// exited, or in process its App has shut down.
func (s *Server) Done() <-chan struct{} { return s.done }

// ExitCode returns forumd's exit status once it has stopped, and -1
// before. In process it is 0 after a clean shutdown and 1 after one that
// failed, as forumd's would be.
func (s *Server) ExitCode() int {
	select {
	case <-s.done:
	default:
		return -1
	}
	if s.cmd != nil {
		return s.cmd.ProcessState.ExitCode()
	}
	if s.serveErr != nil {
		return 1
	}
	return 0
}

// ProcessState returns how forumd's process exited, or nil while it runs
// and in process.
func (s *Server) ProcessState() *os.ProcessState {
	select {
	case <-s.done:
	default:
		return nil
	}
	if s.cmd == nil {
		return nil
	}
	return s.cmd.ProcessState
}

// Log returns the end (MaxLogSize) of what forumd wrote to its standard
// output and error, or logged in process.
func (s *Server) Log() string { return s.log.Tail(MaxLogSize) }

// signal sends sig to the process unless it has exited.
func (s *Server) signal(sig os.Signal) {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(sig)
	}
}

// needProcess fails the test unless forumd is the binary.
func (s *Server) needProcess(what string) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatalf("forumdtest: %s needs the binary (StartProcess); this forumd runs in process", what)
	}
}
