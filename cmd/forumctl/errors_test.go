package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/internal/forumdtest"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// TestFailures checks that each kind of failure gives a one-line message on
// standard error and its own exit code.
func TestFailures(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	amina.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Locked soon")
	amina.ok("", "threads", "lock", "1")

	badToken := newUser(t, "FORUM_SERVER="+server, "FORUM_TOKEN=not-a-real-token")
	anonymous := newUser(t, "FORUM_SERVER="+server)
	unreachable := closedAddr(t)

	// The three the issue names: each distinct and non-zero.
	codes := map[int]string{}
	for _, c := range []struct {
		name string
		u    *user
		code int
		want string
		args []string
	}{
		{"bad token", badToken, exitUnauth, server + " refused the token", []string{"threads", "list"}},
		{"missing thread", amina, exitNotFound, "threads/999", []string{"threads", "show", "999"}},
		{"unreachable server", amina, exitUnavailable, "cannot reach the forum server at " + unreachable + ": connection refused",
			[]string{"themes", "list", "--server", unreachable}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.u.t = t
			t.Log(c.u.fails(c.code, c.want, c.args...))
		})
		if prev, dup := codes[c.code]; dup || c.code == 0 {
			t.Errorf("%s and %s share exit code %d", c.name, prev, c.code)
		}
		codes[c.code] = c.name
	}

	anonymous.failsIn("wrong password\n", exitUnauth, "login refused by "+server, "login", "--username", "amina")

	// The other kinds.
	for _, c := range []struct {
		name string
		u    *user
		code int
		want string
		args []string
	}{
		{"not logged in", anonymous, exitUnauth, "not logged in to " + server, []string{"reply", "1", "--body", "hi"}},
		{"not logged in, known before any call", newUser(t), exitUnauth, "not logged in to 127.0.0.1:7070", []string{"whoami"}},
		{"no password", anonymous, exitUsage, "no password", []string{"login", "--username", "amina"}},
		{"permission denied", mo, exitPermission, "lock", []string{"threads", "lock", "1"}},
		{"follow-up by a member", mo, exitPermission, "follow-up", []string{"threads", "follow-up", "1", "--title", "Mine"}},
		{"missing reply", mo, exitNotFound, "threads/1/replies/999", []string{"reply", "delete", "1/999"}},
		{"locked thread", mo, exitConflict, "locked", []string{"reply", "1", "--body", "Too late"}},
		{"invalid argument", mo, exitInvalid, "thread.title", []string{"threads", "create", "--theme", "knowledge-exchange", "--title", ""}},
		{"unknown theme", mo, exitInvalid, "thread.theme", []string{"threads", "create", "--theme", "no-such-theme", "--title", "x"}},
		{"unknown command", mo, exitUsage, `unknown command "thred"`, []string{"thred", "list"}},
		{"unknown subcommand", mo, exitUsage, `unknown command "bogus" for "forumctl threads"`, []string{"threads", "bogus"}},
		{"unknown flag", mo, exitUsage, "unknown flag: --colour", []string{"threads", "list", "--colour"}},
		{"missing argument", mo, exitUsage, "THREAD", []string{"threads", "show"}},
		{"extra argument", mo, exitUsage, "THREAD", []string{"threads", "show", "1", "2"}},
		{"bad thread", mo, exitUsage, "not a thread", []string{"threads", "show", "one"}},
		{"thread with a leading zero", mo, exitUsage, "not a thread", []string{"threads", "show", "012"}},
		{"reply with a leading zero", mo, exitUsage, "not a reply", []string{"reply", "edit", "1/03", "--body", "x"}},
		{"missing required flag", mo, exitUsage, `"title" not set`, []string{"threads", "create", "--theme", "knowledge-exchange"}},
		{"bad output format", mo, exitUsage, "unknown output format", []string{"themes", "list", "-o", "xml"}},
		{"bad kind", mo, exitUsage, "--kind", []string{"threads", "list", "--kind", "rant"}},
		{"bad export format", mo, exitUsage, "--format", []string{"export", "1", "--format", "pdf"}},
		{"body twice", mo, exitUsage, "not both", []string{"reply", "1", "--body", "a", "--body-file", "b"}},
		{"no body", mo, exitUsage, "--body", []string{"reply", "1"}},
		{"password flag", mo, exitUsage, "unknown flag: --password", []string{"login", "--username", "moses", "--password", "x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.u.t = t
			t.Log(c.u.fails(c.code, c.want, c.args...))
		})
	}
}

// TestRateLimited checks the exit code of a call forumd refuses for its
// rate limit.
func TestRateLimited(t *testing.T) {
	if out, _ := exec.Command(forumdBin, "serve", "-h").CombinedOutput(); !strings.Contains(string(out), "rate-limits") {
		t.Skip("this forumd has no --rate-limits flag")
	}
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "amina", "Amina Convener", "convener", convenerPassword)
	server := forumdtest.Start(t, forumdBin, data, "--rate-limits", "create=1/h:1").GRPCAddr
	u := newUser(t)
	u.login(server, "amina", convenerPassword)
	u.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "First")
	t.Log(u.fails(exitRateLimited, "rate limit", "threads", "create", "--theme", "knowledge-exchange", "--title", "Second"))
}

// TestConfigPrecedence checks that flags beat the environment, which beats
// the configuration file, and that the stored token goes only to its
// server.
func TestConfigPrecedence(t *testing.T) {
	server := startForum(t)
	u := newUser(t)
	u.login(server, "amina", convenerPassword)

	// Another server named by flag or variable gets no stored token: it is
	// unreachable here, but the message says which server was tried.
	other := closedAddr(t)
	u.fails(exitUnavailable, "at "+other, "themes", "list", "--server", other)
	envUser := *u
	envUser.env = append(append([]string(nil), u.env...), "FORUM_SERVER="+other)
	envUser.fails(exitUnavailable, "at "+other, "themes", "list")
	// The flag beats the variable.
	if out := envUser.ok("", "whoami", "--server", server); !strings.Contains(out, "amina") {
		t.Errorf("whoami --server beats FORUM_SERVER: %q", out)
	}
	// The stored token is not sent to another server named by the
	// variable: whoami fails before any call.
	envUser.fails(exitUnauth, "not logged in to "+other, "whoami")
	// A token from the variable or flag beats the stored one.
	tokenEnv := *u
	tokenEnv.env = append(append([]string(nil), u.env...), "FORUM_TOKEN=bogus")
	tokenEnv.fails(exitUnauth, "refused the token", "whoami")
	u.fails(exitUnauth, "refused the token", "whoami", "--token", "bogus")

	// A broken configuration file is reported, in one line.
	cfg := filepath.Join(u.config, "forumctl", "config.json")
	if err := os.WriteFile(cfg, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	u.fails(exitError, "not valid JSON", "whoami")
}

// TestHelpAndCompletion checks that every command has help with an
// example, and that shell completion works.
func TestHelpAndCompletion(t *testing.T) {
	a := &app{getenv: os.Getenv}
	root := a.rootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var paths [][]string
	var visit func(prefix []string, c *cobra.Command)
	visit = func(prefix []string, c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.Example == "" {
			t.Errorf("%q has no example", c.CommandPath())
		}
		p := append(append([]string(nil), prefix...), c.Name())
		paths = append(paths, p)
		for _, sub := range c.Commands() {
			visit(p, sub)
		}
	}
	visit(nil, root)

	u := newUser(t)
	for _, p := range paths {
		args := append(append([]string(nil), p[1:]...), "--help")
		out := u.ok("", args...)
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "Usage:") {
			t.Errorf("forumctl %s shows no usage or example:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := u.ok("", "--help"); !strings.Contains(out, "Exit status:") || !strings.Contains(out, "7  server unreachable") {
		t.Errorf("forumctl --help does not list the exit codes:\n%s", out)
	}
	if out := u.ok("", "completion", "bash"); !strings.Contains(out, "forumctl") {
		t.Errorf("completion bash: %.200s", out)
	}
	if r := u.run("", "__complete", "threads", "list", "--state", ""); r.code != 0 || !strings.Contains(r.stdout, "resolved") {
		t.Errorf("completion of --state: %v", r)
	}
	if r := u.run("", "__complete", "thr"); r.code != 0 || !strings.Contains(r.stdout, "threads") {
		t.Errorf("completion of commands: %v", r)
	}
}
