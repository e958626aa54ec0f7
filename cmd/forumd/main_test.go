package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/store"
)

// mapEnv returns a getenv over m.
func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseServeArgs(t *testing.T) {
	defaults := serveConfig{
		commonConfig:   commonConfig{DataDir: "./data", LogLevel: slog.LevelInfo},
		GRPCAddr:       "127.0.0.1:7070",
		HTTPAddr:       "127.0.0.1:8080",
		Reflection:     false, // an introspection aid, off unless asked for
		GCPercent:      server.GCPercent,
		EventRetention: store.DefaultEventRetention,
	}
	env := map[string]string{
		"FORUM_GRPC_ADDR":  "127.0.0.1:9090",
		"FORUM_HTTP_ADDR":  "127.0.0.1:9091",
		"FORUM_DATA":       "/var/lib/forum",
		"FORUM_LOG_LEVEL":  "debug",
		"FORUM_REFLECTION": "true",
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want func(*serveConfig)
	}{
		{"defaults", nil, nil, func(*serveConfig) {}},
		{"env over defaults", nil, env, func(c *serveConfig) {
			c.GRPCAddr, c.HTTPAddr, c.DataDir = "127.0.0.1:9090", "127.0.0.1:9091", "/var/lib/forum"
			c.LogLevel, c.Reflection = slog.LevelDebug, true
		}},
		{"flags over env", []string{
			"--grpc-addr", "127.0.0.1:0", "--http-addr=127.0.0.1:0", "--data", "d",
			"--log-level", "WARN", "--reflection=false", "--addr-file", "a.json",
		}, env, func(c *serveConfig) {
			c.GRPCAddr, c.HTTPAddr, c.DataDir = "127.0.0.1:0", "127.0.0.1:0", "d"
			c.LogLevel, c.Reflection, c.AddrFile = slog.LevelWarn, false, "a.json"
		}},
		{"some flags, some env", []string{"--data", "d2"}, map[string]string{"FORUM_HTTP_ADDR": ":8888"}, func(c *serveConfig) {
			c.DataDir, c.HTTPAddr = "d2", ":8888"
		}},
		{"empty env is unset", nil, map[string]string{"FORUM_DATA": "", "FORUM_LOG_LEVEL": ""}, func(*serveConfig) {}},
		{"reflection on by flag", []string{"--reflection"}, nil, func(c *serveConfig) { c.Reflection = true }},
		{"reflection on by env", nil, map[string]string{"FORUM_REFLECTION": "1"}, func(c *serveConfig) { c.Reflection = true }},
		{"public directory by flag", []string{"--public-directory"}, nil, func(c *serveConfig) { c.PublicDirectory = true }},
		{"public directory by env, flag over it", []string{"--public-directory=false"}, map[string]string{"FORUM_PUBLIC_DIRECTORY": "true"}, func(*serveConfig) {}},
		{"public directory by env", nil, map[string]string{"FORUM_PUBLIC_DIRECTORY": "true"}, func(c *serveConfig) { c.PublicDirectory = true }},
		{"GOGC keeps the runtime's setting", nil, map[string]string{"GOGC": "150"}, func(c *serveConfig) { c.GCPercent = 0 }},
		{"gc percent from env over GOGC", nil, map[string]string{"GOGC": "150", "FORUM_GC_PERCENT": "200"}, func(c *serveConfig) { c.GCPercent = 200 }},
		{"gc percent flag over env", []string{"--gc-percent", "300"}, map[string]string{"FORUM_GC_PERCENT": "200"}, func(c *serveConfig) { c.GCPercent = 300 }},
		{"event retention in days", []string{"--event-retention", "30d"}, nil, func(c *serveConfig) { c.EventRetention = 30 * 24 * time.Hour }},
		{"event retention as a Go duration", []string{"--event-retention=90m"}, nil, func(c *serveConfig) { c.EventRetention = 90 * time.Minute }},
		{"event retention by env", nil, map[string]string{"FORUM_EVENT_RETENTION": "720h"}, func(c *serveConfig) { c.EventRetention = 30 * 24 * time.Hour }},
		{"event retention flag over env", []string{"--event-retention", "7d"}, map[string]string{"FORUM_EVENT_RETENTION": "1d"}, func(c *serveConfig) { c.EventRetention = 7 * 24 * time.Hour }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServeArgs(tc.args, mapEnv(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("parseServeArgs: %v", err)
			}
			want := defaults
			tc.want(&want)
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseServeArgsErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"bad log level flag", []string{"--log-level", "loud"}, nil},
		{"bad log level env", nil, map[string]string{"FORUM_LOG_LEVEL": "loud"}},
		{"bad reflection env", nil, map[string]string{"FORUM_REFLECTION": "maybe"}},
		{"unknown flag", []string{"--port", "1"}, nil},
		{"stray argument", []string{"extra"}, nil},
		{"empty data", []string{"--data="}, nil},
		{"empty addr", []string{"--grpc-addr="}, nil},
		{"negative gc percent", []string{"--gc-percent=-1"}, nil},
		{"bad gc percent env", nil, map[string]string{"FORUM_GC_PERCENT": "lots"}},
		{"zero event retention", []string{"--event-retention", "0"}, nil},
		{"zero days of event retention", []string{"--event-retention", "0d"}, nil},
		{"negative event retention", []string{"--event-retention=-1h"}, nil},
		{"negative days of event retention", []string{"--event-retention=-3d"}, nil},
		{"event retention without a unit", []string{"--event-retention", "90"}, nil},
		{"bad event retention env", nil, map[string]string{"FORUM_EVENT_RETENTION": "forever"}},
		{"zero event retention env", nil, map[string]string{"FORUM_EVENT_RETENTION": "0s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseServeArgs(tc.args, mapEnv(tc.env), io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
	var out bytes.Buffer
	if _, err := parseServeArgs([]string{"-h"}, mapEnv(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "FORUM_GRPC_ADDR") {
		t.Errorf("usage does not mention the environment:\n%s", out.String())
	}
}

func TestParseCreateUserArgs(t *testing.T) {
	got, err := parseCreateUserArgs([]string{"--username", "amina", "--display-name", "Amina K.", "--role", "convener", "--password-file", "pw"},
		mapEnv(map[string]string{"FORUM_DATA": "/srv/forum"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := createUserConfig{
		commonConfig: commonConfig{DataDir: "/srv/forum", LogLevel: slog.LevelInfo},
		Username:     "amina", DisplayName: "Amina K.", Role: forumv1.Role_ROLE_CONVENER, PasswordFile: "pw",
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	got, err = parseCreateUserArgs([]string{"--username", "bo", "--username", "bob", "--data", "x"}, mapEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "bob" || got.Role != forumv1.Role_ROLE_MEMBER || got.DataDir != "x" {
		t.Errorf("defaults: %+v", got)
	}

	for _, args := range [][]string{
		{},                       // no username
		{"--username", "ab"},     // too short
		{"--username", "Admin"},  // capital
		{"--username", "1admin"}, // digit first
		{"--username", "аdmin"},  // Cyrillic а
		{"--username", "admin", "--role", "god"},
		{"--username", "admin", "--display-name", "   "},
		{"--username", "admin", "--display-name", "a\x00b"},
		{"--username", "admin", "--display-name", strings.Repeat("é", 101)},
		{"--username", "admin", "--password", "secret"}, // there is no password flag
	} {
		if _, err := parseCreateUserArgs(args, mapEnv(nil), io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]forumv1.Role{
		"member": forumv1.Role_ROLE_MEMBER, "CONVENER": forumv1.Role_ROLE_CONVENER,
		"Admin": forumv1.Role_ROLE_ADMIN, "ROLE_ADMIN": forumv1.Role_ROLE_ADMIN,
	} {
		if got, err := parseRole(in); err != nil || got != want {
			t.Errorf("parseRole(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "unspecified", "ROLE_UNSPECIFIED", "root"} {
		if _, err := parseRole(in); err == nil {
			t.Errorf("parseRole(%q): no error", in)
		}
	}
}

func TestReadPassword(t *testing.T) {
	ok := []struct{ in, want string }{
		{"correct horse battery\n", "correct horse battery"},
		{"no newline at end", "no newline at end"},
		{"crlf line\r\nsecond line\n", "crlf line"},
		{"first\nsecond\n", "first"},
		{"  spaces kept  \n", "  spaces kept  "},
	}
	for _, tc := range ok {
		got, err := readPassword("", strings.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("stdin %q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "\n", "\r\n", "\nsecond\n"} {
		if got, err := readPassword("", strings.NewReader(in)); err == nil {
			t.Errorf("stdin %q: got %q, want an error", in, got)
		}
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from the file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readPassword(file, strings.NewReader("from stdin\n"))
	if err != nil || got != "from the file" {
		t.Errorf("file: got %q, %v", got, err)
	}
	if _, err := readPassword(filepath.Join(dir, "missing"), strings.NewReader("x\n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}

	// A huge line is cut at maxPasswordInput, so the policy rejects it as too
	// long instead of the command reading without bound.
	got, err = readPassword("", strings.NewReader(strings.Repeat("x", 1<<20)))
	if err != nil || len(got) != maxPasswordInput {
		t.Errorf("huge input: len %d, %v", len(got), err)
	}
}

func TestWriteAddrFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "addr.json")
	if err := writeAddrFile(path, "127.0.0.1:1234", "127.0.0.1:5678"); err != nil {
		t.Fatal(err)
	}
	if err := writeAddrFile(path, "127.0.0.1:1111", "127.0.0.1:2222"); err != nil { // overwrite
		t.Fatal(err)
	}
	var got listenAddrs
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got != (listenAddrs{GRPC: "127.0.0.1:1111", HTTP: "127.0.0.1:2222"}) {
		t.Errorf("got %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"frobnicate"}, mapEnv(nil), strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run(t.Context(), []string{"admin"}, mapEnv(nil), strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Errorf("admin without subcommand: exit %d", code)
	}
	if code := run(t.Context(), []string{"serve", "--log-level", "loud"}, mapEnv(nil), strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Errorf("bad flag: exit %d", code)
	}
}

// TestServeAndAdmin runs the server on ephemeral ports in-process, checks
// the address file and /healthz, checks that create-user is refused while
// the database is held, stops the server, and then creates a user.
func TestServeAndAdmin(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addrFile := filepath.Join(dir, "addr.json")
	getenv := mapEnv(map[string]string{"FORUM_DATA": data})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var serveLog testlog.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--addr-file", addrFile},
			getenv, strings.NewReader(""), io.Discard, &serveLog)
	}()

	var addrs listenAddrs
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && json.Unmarshal(b, &addrs) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address file after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, mode %v", err, fi.Mode().Perm())
	}

	resp, err := http.Get("http://" + addrs.HTTP + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "SERVING") {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + addrs.HTTP + "/v1/themes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "themes/") {
		t.Errorf("/v1/themes: %d %s", resp.StatusCode, body)
	}

	// A second server on the same port fails clearly.
	var errOut bytes.Buffer
	code := run(t.Context(), []string{"serve", "--data", filepath.Join(dir, "other"), "--grpc-addr", addrs.GRPC, "--http-addr", "127.0.0.1:0"},
		getenv, strings.NewReader(""), io.Discard, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), "listen for gRPC on "+addrs.GRPC) {
		t.Errorf("port taken: exit %d, stderr %s", code, errOut.String())
	}

	// The database is held by the running server.
	errOut.Reset()
	createArgs := []string{"admin", "create-user", "--username", "amina", "--display-name", "Amina", "--role", "admin"}
	code = run(t.Context(), createArgs, getenv, strings.NewReader("a long enough password\n"), io.Discard, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), "locked") {
		t.Errorf("create-user while serving: exit %d, stderr %s", code, errOut.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exit %d; log:\n%s", code, serveLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(addrFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("address file left after shutdown: %v", err)
	}
	if !strings.Contains(serveLog.String(), `"msg":"listening"`) {
		t.Errorf("no listening line in log:\n%s", serveLog.String())
	}

	var out bytes.Buffer
	errOut.Reset()
	if code := run(t.Context(), createArgs, getenv, strings.NewReader("a long enough password\n"), &out, &errOut); code != exitOK {
		t.Fatalf("create-user: exit %d, stderr %s", code, errOut.String())
	}
	var u struct{ Name, Username, Role string }
	if err := json.Unmarshal(out.Bytes(), &u); err != nil {
		t.Fatalf("create-user output %q: %v", out.String(), err)
	}
	if u.Username != "amina" || u.Role != "ROLE_ADMIN" || !strings.HasPrefix(u.Name, "users/") {
		t.Errorf("created %+v", u)
	}
	// The username is now taken.
	errOut.Reset()
	if code := run(t.Context(), createArgs, getenv, strings.NewReader("a long enough password\n"), io.Discard, &errOut); code != exitError {
		t.Errorf("duplicate create-user: exit %d", code)
	}
	// A too-short password is refused before the database is touched.
	errOut.Reset()
	short := []string{"admin", "create-user", "--username", "bob"}
	if code := run(t.Context(), short, getenv, strings.NewReader("short\n"), io.Discard, &errOut); code != exitError || !strings.Contains(errOut.String(), "password") {
		t.Errorf("short password: exit %d, stderr %s", code, errOut.String())
	}
}
