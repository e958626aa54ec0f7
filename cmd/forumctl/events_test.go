package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// tail is a forumctl events tail running in the background.
type tail struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
}

// startTail starts forumctl with args as u, reading its standard output
// line by line; it is killed in t.Cleanup if still running.
func (u *user) startTail(args ...string) *tail {
	u.t.Helper()
	tl := &tail{t: u.t, cmd: exec.Command(forumctlBin, args...), lines: make(chan string, 1000)}
	tl.cmd.Env = u.env
	tl.cmd.Stderr = &tl.stderr
	out, err := tl.cmd.StdoutPipe()
	if err != nil {
		u.t.Fatal(err)
	}
	if err := tl.cmd.Start(); err != nil {
		u.t.Fatal(err)
	}
	go func() {
		defer close(tl.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			tl.lines <- sc.Text()
		}
	}()
	u.t.Cleanup(func() {
		if tl.cmd.ProcessState == nil {
			_ = tl.cmd.Process.Kill()
			_ = tl.cmd.Wait()
		}
	})
	return tl
}

// line returns the next line the tail prints.
func (tl *tail) line() string {
	tl.t.Helper()
	select {
	case l, ok := <-tl.lines:
		if !ok {
			tl.t.Fatalf("forumctl ended; stderr %q", tl.stderr.String())
		}
		return l
	case <-time.After(cliTimeout):
		tl.t.Fatal("forumctl printed nothing in time")
	}
	return ""
}

// interrupt sends SIGINT and returns the exit status.
func (tl *tail) interrupt() int {
	tl.t.Helper()
	if err := tl.cmd.Process.Signal(syscall.SIGINT); err != nil {
		tl.t.Fatal(err)
	}
	for range tl.lines { // drain: Wait closes the pipe
	}
	err := tl.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	} else if err != nil {
		tl.t.Fatal(err)
	}
	return 0
}

// cutProxy is a TCP proxy in front of forumd whose connections the test
// cuts, as a failing network would.
type cutProxy struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t *testing.T, upstream string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: lis.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { lis.Close(); p.cut(); wg.Wait() })
	wg.Go(func() {
		for {
			down, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(up, down); up.Close(); down.Close() })
			wg.Go(func() { _, _ = io.Copy(down, up); up.Close(); down.Close() })
		}
	})
	return p
}

// cut closes the connections open through the proxy, and reports whether
// there were any.
func (p *cutProxy) cut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	n := len(p.conns)
	p.conns = nil
	return n > 0
}

// listEvents returns the events the API lists for c from revision 1.
func listEvents(t *testing.T, ctx context.Context, c *client.Client, filter string) []*forumv1.Event {
	t.Helper()
	var out []*forumv1.Event
	for ev, err := range c.ListEvents(ctx, &forumv1.ListEventsRequest{Filter: filter}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestEventsTail: events tail -o json prints the log from --from as the
// API's JSON, one event a line, then new events as they come, through cut
// connections, each once; Ctrl-C ends it with status 0. The table shows
// one row per event.
func TestEventsTail(t *testing.T) {
	server := startForum(t)
	proxy := startCutProxy(t, server)
	amina := newUser(t)
	amina.login(server, "amina", convenerPassword)
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Tail me", "--body", "Body.")
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	before := listEvents(t, ctx, c, "")
	if len(before) < 2 {
		t.Fatalf("%d events before the tail", len(before))
	}

	// Through the proxy, with amina's token (the configuration's is sent
	// only to its own server).
	viaProxy := newUser(t, "FORUM_SERVER="+proxy.addr, "FORUM_TOKEN="+c.Token())
	tl := viaProxy.startTail("events", "tail", "--from", "1", "-o", "json")
	var got []*forumv1.Event
	next := func() *forumv1.Event {
		t.Helper()
		line := tl.line()
		ev := &forumv1.Event{}
		if err := (protojson.UnmarshalOptions{}).Unmarshal([]byte(line), ev); err != nil {
			t.Fatalf("line %q is not an Event's JSON: %v", line, err)
		}
		got = append(got, ev)
		return ev
	}
	for range before {
		next()
	}
	// New events, with the connection cut between them: each comes once.
	for i := range 3 {
		if !proxy.cut() {
			t.Errorf("cut %d: no connection to cut", i)
		}
		amina.ok("", "reply", "1", "--body", "Reply "+string(rune('A'+i)))
		ev := next()
		if ev.GetType() != forumv1.EventType_EVENT_TYPE_REPLY_CREATED || !strings.HasPrefix(ev.GetReply().GetBody(), "Reply ") {
			t.Errorf("event after cut %d: %v", i, ev)
		}
	}
	if code := tl.interrupt(); code != 0 || tl.stderr.String() != "" {
		t.Errorf("after Ctrl-C: exit %d, stderr %q", code, tl.stderr.String())
	}
	want := listEvents(t, ctx, c, "")
	if len(got) != len(want) {
		t.Fatalf("tail printed %d events, the API lists %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("event %d: printed %v\n the API lists %v", i, got[i], want[i])
		}
	}

	// The table: a header, then a row an event, filtered.
	tl = amina.startTail("events", "tail", "--from", "1", "--filter", `type = "reply.created"`)
	if h := tl.line(); !strings.HasPrefix(h, "REVISION") || !strings.Contains(h, "TYPE") || !strings.HasSuffix(h, "CHANGED") {
		t.Errorf("header %q", h)
	}
	for i := range 3 {
		row := strings.Fields(tl.line())
		if len(row) != 6 || row[3] != "reply.created" || !strings.HasPrefix(row[4], "threads/1/replies/") || row[5] != aminaName {
			t.Errorf("row %d: %q", i, row)
		}
	}
	if code := tl.interrupt(); code != 0 {
		t.Errorf("table tail: exit %d, stderr %q", code, tl.stderr.String())
	}

	// YAML: a document an event.
	tl = amina.startTail("events", "tail", "--from", "1", "--filter", `type = "thread.created"`, "-o", "yaml")
	if l := tl.line(); l != "---" {
		t.Errorf("yaml starts %q, want ---", l)
	}
	var doc strings.Builder
	for l := ""; !strings.HasPrefix(l, "type:"); {
		l = tl.line()
		doc.WriteString(l + "\n")
	}
	tl.interrupt()
	var y map[string]any
	if err := yaml.Unmarshal([]byte(doc.String()), &y); err != nil || y["type"] != "EVENT_TYPE_THREAD_CREATED" || y["revision"] == nil {
		t.Errorf("yaml document %q: %v", doc.String(), err)
	}
}

// TestEventsList: events list as a table, from a revision, filtered, and
// as the API's JSON.
func TestEventsList(t *testing.T) {
	server := startForum(t)
	amina := newUser(t)
	amina.login(server, "amina", convenerPassword)
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "List me", "--body", "Body.")
	amina.ok("", "reply", "1", "--body", "A reply.")
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	all := listEvents(t, ctx, c, "")

	out := amina.ok("", "events", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(all)+1 || !strings.HasPrefix(lines[0], "REVISION") {
		t.Fatalf("events list:\n%s", out)
	}
	if !strings.Contains(out, "thread.created") || !strings.Contains(out, "reply.created") {
		t.Errorf("events list lacks the thread and the reply:\n%s", out)
	}
	out = amina.ok("", "events", "list", "--from", "3", "--filter", `type = "reply.created"`)
	if rows := strings.Split(strings.TrimSpace(out), "\n"); len(rows) != 2 || !strings.Contains(rows[1], "threads/1/replies/1") {
		t.Errorf("events list --filter:\n%s", out)
	}

	var resp struct{ Events []json.RawMessage }
	if err := json.Unmarshal([]byte(amina.ok("", "events", "list", "-o", "json")), &resp); err != nil || len(resp.Events) != len(all) {
		t.Fatalf("events list -o json: %d events (%v), want %d", len(resp.Events), err, len(all))
	}
	for i, raw := range resp.Events {
		apiObject(t, "event", raw, &forumv1.Event{}, all[i])
	}

	// Nothing to list: said on standard error.
	r := amina.run("", "events", "list", "--from", "1000")
	if r.code != 0 || r.stdout != "" || r.stderr != "No events.\n" {
		t.Errorf("events list --from 1000: %v", r)
	}
}

// TestEventsRefusals: bad flags, a bad filter, an unknown token and a
// revision no longer kept each get a clear message and exit status.
func TestEventsRefusals(t *testing.T) {
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "amina", "Amina Convener", "convener", convenerPassword)
	srv := forumdtest.Start(t, forumdBin, data)
	amina := newUser(t)
	amina.login(srv.GRPCAddr, "amina", convenerPassword)
	bogus := newUser(t, "FORUM_SERVER="+srv.GRPCAddr, "FORUM_TOKEN=fgs_bogus")
	checkRefusals(t, []refusal{
		{"from a word", amina, exitUsage, `invalid argument "abc" for "--from" flag: not a revision`, []string{"events", "tail", "--from", "abc"}},
		{"from negative", amina, exitUsage, "not a revision", []string{"events", "list", "--from", "-1"}},
		{"an argument", amina, exitUsage, "takes no arguments", []string{"events", "tail", "now"}},
		{"unknown format", amina, exitUsage, "unknown output format", []string{"events", "tail", "-o", "xml"}},
		{"bad filter, tail", amina, exitInvalid, `unknown field "colour"`, []string{"events", "tail", "--filter", `colour = "red"`}},
		{"bad filter, list", amina, exitInvalid, `unknown field "colour"`, []string{"events", "list", "--filter", `colour = "red"`}},
		{"unknown token, tail", bogus, exitUnauth, "refused the token", []string{"events", "tail"}},
		{"unknown token, list", bogus, exitUnauth, "refused the token", []string{"events", "list"}},
		{"no server", newUser(t, "FORUM_SERVER=127.0.0.1:1"), exitUnavailable, "connection refused", []string{"events", "tail"}},
	})

	// A revision older than the oldest kept: restart forumd with a
	// retention of 1s, whose sweep at start deletes the events so far.
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Old news", "--body", "Body.")
	srv.Stop()
	time.Sleep(1100 * time.Millisecond)
	srv = forumdtest.Start(t, forumdBin, data, "--event-retention", "1s")
	amina = newUser(t, "FORUM_SERVER="+srv.GRPCAddr)
	amina.login(srv.GRPCAddr, "amina", convenerPassword)
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "New news", "--body", "Body.") // kept
	deadline := time.Now().Add(cliTimeout)
	for {
		r := amina.run("", "events", "list", "--from", "1")
		if r.code == exitInvalid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events before the restart are still listed: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, cmd := range []string{"list", "tail"} {
		msg := amina.fails(exitInvalid, "older than the oldest", "events", cmd, "--from", "1")
		if !strings.Contains(msg, "(start there with --from ") {
			t.Errorf("events %s: %q does not say where to start", cmd, msg)
		}
	}
}
