package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

var forumdBin string

func TestMain(m *testing.M) {
	// forumload open runs its opens in children: this binary, re-run.
	if len(os.Args) > 2 && os.Args[1] == "open" && os.Args[2] == "--child" {
		os.Exit(runCommand(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin}))
}

const memberPassword = "member password 123"

// TestLoad runs both operations briefly against a real forumd and checks
// the report against the server: every reply forumload counted exists.
func TestLoad(t *testing.T) {
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "moses", "Mo Member", "member", memberPassword)
	addr := forumdtest.Start(t, forumdBin, data).GRPCAddr
	c, err := client.New(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(t.Context(), "moses", memberPassword); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"FORUM_SERVER": addr, "FORUM_TOKEN": c.Token()}[k]
	}
	runJSON := func(args ...string) report {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(t.Context(), append([]string{"-o", "json", "--duration", "500ms", "--warmup", "100ms", "--clients", "6", "--conns", "2"}, args...), &out, &errOut, env); code != 0 {
			t.Fatalf("forumload %v: exit %d, stderr %s, stdout %s", args, code, errOut.String(), out.String())
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("report %s: %v", out.String(), err)
		}
		return r
	}

	r := runJSON("create-reply")
	if r.Calls == 0 || r.Failed != 0 || r.PerSecond <= 0 || r.Clients != 6 || r.Conns != 2 || r.LatencyMs["p50"] <= 0 || r.LatencyMs["max"] < r.LatencyMs["p99"] {
		t.Fatalf("create-reply report %+v", r)
	}
	th, err := c.ThreadService().GetThread(t.Context(), &forumv1.GetThreadRequest{Name: r.Thread})
	if err != nil {
		t.Fatal(err)
	}
	// The first call, the warm-up and the measured calls all created a reply.
	if th.GetReplyCount() < int64(r.Calls)+1 {
		t.Errorf("thread %s has %d replies; forumload counted %d measured calls", r.Thread, th.GetReplyCount(), r.Calls)
	}

	g := runJSON("--thread", r.Thread, "get-thread")
	if g.Calls == 0 || g.Failed != 0 || g.Thread != r.Thread {
		t.Fatalf("get-thread report %+v", g)
	}

	// Text report.
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"--duration", "200ms", "--warmup", "0s", "--clients", "2", "--thread", r.Thread, "get-thread"}, &out, &errOut, env); code != 0 ||
		!strings.Contains(out.String(), "calls:") || !strings.Contains(out.String(), "p99") {
		t.Errorf("text report: exit %d, %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestLoadRefusals: bad command lines exit 2 before any call; a thread
// that does not exist is one clear error, exit 1.
func TestLoadRefusals(t *testing.T) {
	env := func(k string) string { return map[string]string{"FORUM_TOKEN": "fgs_x"}[k] }
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "give one operation"},
		{[]string{"delete-everything"}, 2, "unknown operation"},
		{[]string{"--clients", "0", "get-thread"}, 2, "--clients"},
		{[]string{"--conns", "0", "get-thread"}, 2, "--conns"},
		{[]string{"--duration", "0s", "get-thread"}, 2, "--duration"},
		{[]string{"--body-bytes", "70000", "create-reply"}, 2, "--body-bytes"},
		{[]string{"-o", "xml", "get-thread"}, 2, "-o"},
		{[]string{"--thread", "12", "get-thread"}, 2, "threads/N"},
		{[]string{"--bogus", "get-thread"}, 2, "bogus"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, &out, &errOut, env); code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("forumload %v: exit %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
	var out, errOut bytes.Buffer
	noToken := func(string) string { return "" }
	if code := run(context.Background(), []string{"create-reply"}, &out, &errOut, noToken); code != 2 || !strings.Contains(errOut.String(), "token") {
		t.Errorf("create-reply without a token: exit %d, %q", code, errOut.String())
	}

	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "moses", "Mo Member", "member", memberPassword)
	addr := forumdtest.Start(t, forumdBin, data).GRPCAddr
	out.Reset()
	errOut.Reset()
	if code := run(t.Context(), []string{"--server", addr, "--thread", "threads/999", "--duration", "100ms", "get-thread"}, &out, &errOut, noToken); code != 1 || !strings.Contains(errOut.String(), "threads/999") {
		t.Errorf("a missing thread: exit %d, %q", code, errOut.String())
	}
}

// TestStartup populates a small database, opens it both ways and measures
// one round of starts of the real forumd on it.
func TestStartup(t *testing.T) {
	data := t.TempDir()
	var out, errOut bytes.Buffer
	if code := runCommand(t.Context(), []string{"populate", "--data", data, "--replies", "50", "--per-thread", "20", "--body-bytes", "300", "--workers", "4", "--request-ids"}, &out, &errOut, os.Getenv); code != 0 ||
		!strings.Contains(out.String(), "done: 50 replies") {
		t.Fatalf("populate: exit %d, %q, stderr %q", code, out.String(), errOut.String())
	}
	// Again: the database is added to, the member reused.
	out.Reset()
	if code := runCommand(t.Context(), []string{"populate", "--data", data, "--replies", "10"}, &out, &errOut, os.Getenv); code != 0 {
		t.Fatalf("populate again: exit %d, %q, stderr %q", code, out.String(), errOut.String())
	}

	for _, args := range [][]string{{"--sync-freelist"}, {"--sync-freelist=false"}, {"--store"}} {
		out.Reset()
		errOut.Reset()
		a := append([]string{"open", "--data", data, "--rounds", "2", "--drop-caches=false", "-o", "json"}, args...)
		if code := runCommand(t.Context(), a, &out, &errOut, os.Getenv); code != 0 {
			t.Fatalf("%v: exit %d, %q, stderr %q", a, code, out.String(), errOut.String())
		}
		var rs []openResult
		if err := json.Unmarshal(out.Bytes(), &rs); err != nil || len(rs) != 2 || rs[1].OpenMs <= 0 || rs[1].Memory.RssFile <= 0 {
			t.Fatalf("%v: %v, %s", a, err, out.String())
		}
	}

	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	out.Reset()
	errOut.Reset()
	a := []string{"startup", "--forumd", forumdBin, "--data", data, "--rounds", "1", "--drop-caches=false", "--settle", "100ms",
		"--load-duration", "300ms", "--load-rate", "100", "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "-o", "json"}
	if code := runCommand(t.Context(), a, &out, &errOut, os.Getenv); code != 0 {
		t.Fatalf("startup: exit %d, %q, stderr %q", code, out.String(), errOut.String())
	}
	var rep startupReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Starts) != 2 {
		t.Fatalf("startup report: %v, %s", err, out.String())
	}
	for i, s := range rep.Starts {
		if s.HealthyMs <= 0 || s.ListeningMs <= 0 || s.AtHealthy.RssAnon <= 0 || s.AtHealthy.RssFile <= 0 || s.Settled.VmRSS <= 0 || s.LoadReplies == 0 || s.LoadFailed != 0 {
			t.Errorf("start %d: %+v", i, s)
		}
	}
	if rep.Starts[0].After != afterClean || rep.Starts[0].Stop != "SIGKILL" || rep.Starts[1].After != afterKill || rep.Starts[1].StopMs <= 0 {
		t.Errorf("starts %+v", rep.Starts)
	}

	// Bad command lines.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"populate"}, "--data"},
		{[]string{"populate", "--data", data, "--body-bytes", "0"}, "--body-bytes"},
		{[]string{"startup"}, "--data"},
		{[]string{"startup", "--data", data, "--env", "NOEQUALS"}, "KEY=VALUE"},
		{[]string{"open"}, "--data"},
		{[]string{"open", "--data", data, "--store", "--sync-freelist=false"}, "--store"},
	} {
		errOut.Reset()
		if code := runCommand(t.Context(), tt.args, &out, &errOut, os.Getenv); code != 2 || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("forumload %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
