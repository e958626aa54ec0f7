package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/forumdtest"
)

// The binaries TestMain builds.
var forumdBin, forumctlBin string

func TestMain(m *testing.M) {
	// A failed build fails, never skips: these tests are forumctl's check
	// against the real server.
	os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin, "./cmd/forumctl": &forumctlBin}))
}

// cliTimeout bounds one forumctl run.
const cliTimeout = 60 * time.Second

// Passwords of the seeded users.
const (
	convenerPassword = "convener password 123"
	memberPassword   = "member password 123"
)

// startForum seeds a convener (Amina Convener) and a member (moses, Mo Member) and
// starts forumd; it returns the gRPC address.
func startForum(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "amina", "Amina Convener", "convener", convenerPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "moses", "Mo Member", "member", memberPassword)
	return forumdtest.Start(t, forumdBin, data).GRPCAddr
}

// user is one person running forumctl, with a home and configuration
// directory of their own, so the real user's configuration is never
// touched.
type user struct {
	t      *testing.T
	home   string
	config string // XDG_CONFIG_HOME
	env    []string
}

// newUser returns a user with empty home and configuration directories and
// extra environment variables env ("K=V").
func newUser(t *testing.T, env ...string) *user {
	home := t.TempDir()
	u := &user{t: t, home: home, config: filepath.Join(home, "config")}
	u.env = append([]string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + u.config,
		"TZ=UTC",
		"PATH=" + os.Getenv("PATH"),
	}, env...)
	return u
}

// result is what one forumctl run did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs forumctl with args and stdin.
func (u *user) run(stdin string, args ...string) result {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, forumctlBin, args...)
	cmd.Env = u.env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		u.t.Fatalf("run forumctl %v: %v", args, err)
	}
	return r
}

// ok runs forumctl and fails the test unless it exits 0 with nothing on
// standard error; it returns standard output.
func (u *user) ok(stdin string, args ...string) string {
	u.t.Helper()
	r := u.run(stdin, args...)
	if r.code != 0 || r.stderr != "" {
		u.t.Fatalf("forumctl %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs forumctl and checks that it exits with code and one line on
// standard error, starting "forumctl: " and containing want; it returns
// that line.
func (u *user) fails(code int, want string, args ...string) string {
	u.t.Helper()
	return u.failsIn("", code, want, args...)
}

// failsIn is fails with stdin as standard input.
func (u *user) failsIn(stdin string, code int, want string, args ...string) string {
	u.t.Helper()
	r := u.run(stdin, args...)
	if r.code != code {
		u.t.Errorf("forumctl %s: exit %d, want %d\n%v", strings.Join(args, " "), r.code, code, r)
	}
	if !strings.HasPrefix(r.stderr, "forumctl: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		u.t.Errorf("forumctl %s: stderr %q is not one line starting \"forumctl: \"", strings.Join(args, " "), r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		u.t.Errorf("forumctl %s: stderr %q does not say %q", strings.Join(args, " "), r.stderr, want)
	}
	if r.stdout != "" {
		u.t.Errorf("forumctl %s: stdout %q, want nothing", strings.Join(args, " "), r.stdout)
	}
	return strings.TrimSpace(r.stderr)
}

// login logs u in to server as username.
func (u *user) login(server, username, password string) {
	u.t.Helper()
	out := u.ok(password+"\n", "login", "--server", server, "--username", username)
	if !strings.Contains(out, "Logged in to "+server+" as "+username) {
		u.t.Fatalf("login output %q", out)
	}
}
