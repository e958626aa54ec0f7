//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
	"github.com/forumhq/forum/internal/testlog"
)

// Sizes and bounds of TestDiskFull.
const (
	// diskFullTmpfs is the size of the file system forumd's data lives on:
	// room for the log's two files (zero-filled 4 MiB ahead of the writes),
	// bbolt's file and the replies written before the filler takes the rest.
	diskFullTmpfs = 24 << 20
	// diskFullBefore replies are written and acknowledged before the disk
	// is filled.
	diskFullBefore = 40
	// diskFullWriters write concurrently once it is; the last of them over
	// JSON, the others over gRPC.
	diskFullWriters = 4
	// diskFullMaxWrites bounds the writes sent after the disk is filled:
	// the writes must stop long before (a few hundred replies fill the
	// space bbolt has left).
	diskFullMaxWrites = 20000
	// diskFullBody is the size of each reply's body.
	diskFullBody    = 4 << 10
	diskFullTimeout = 5 * time.Minute
	// fillerMax bounds the filler file (more than the whole tmpfs).
	fillerMax = 64 << 20
	// diskFullMsg is what a refused write and /healthz say.
	diskFullMsg = "writes are stopped: disk full"
)

// mountNS is a private mount namespace with a small tmpfs mounted at mnt,
// kept alive by a sleeping process (pid) across forumd's restarts. The test
// process itself stays outside: it reaches the tmpfs through
// /proc/PID/root (path), and starts forumd inside with nsenter (enter).
type mountNS struct {
	pid  int
	mnt  string
	done chan struct{}
}

// newMountNS mounts a tmpfs of the given size in a new private mount
// namespace. Where that is not possible (not root, no unshare, no
// permission to mount) the test is skipped, except in CI (CI set), where
// it fails: CI runs as root and must run this test.
func newMountNS(t *testing.T, size uint64) *mountNS {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; in CI (CI set) the full-disk test must run: it needs root and util-linux's unshare and nsenter", msg)
		}
		t.Skipf("%s; the full-disk test needs root and util-linux's unshare and nsenter (CI runs it)", msg)
	}
	if os.Geteuid() != 0 {
		unavailable("not root (uid %d): cannot mount a tmpfs in a private mount namespace", os.Geteuid())
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		unavailable("%v", err)
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		unavailable("%v", err)
	}
	mnt := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	// The mount is private to the new namespace: nothing outside sees it,
	// and it goes away with the namespace's last process.
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size="$2",mode=0700 forum-diskfull "$1" && echo mounted && exec sleep 3600`, "sh", mnt, strconv.FormatUint(size>>10, 10)+"k")
	cmd.Env = forumdtest.Env()
	var stderr testlog.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		unavailable("start unshare: %v", err)
	}
	ns := &mountNS{pid: cmd.Process.Pid, mnt: mnt, done: make(chan struct{})}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(ns.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ns.done
	})
	select {
	case l := <-line:
		if l != "mounted" {
			<-ns.done
			unavailable("cannot mount a tmpfs in a private mount namespace (unshare exited %v): %s", cmd.ProcessState, strings.TrimSpace(stderr.Tail(maxLogDumpSize)))
		}
	case <-time.After(startTimeout):
		t.Fatalf("unshare did not mount the tmpfs within %v: %s", startTimeout, stderr.Tail(maxLogDumpSize))
	}
	// The namespace has the tmpfs at mnt, of the size asked for.
	var st syscall.Statfs_t
	if err := syscall.Statfs(ns.path(mnt), &st); err != nil {
		t.Fatalf("statfs of the tmpfs through /proc: %v", err)
	}
	const tmpfsMagic = 0x01021994
	if st.Type != tmpfsMagic || st.Blocks*uint64(st.Bsize) != size {
		t.Fatalf("the namespace's %s is not the %d-byte tmpfs (type %#x, %d bytes)", mnt, size, st.Type, st.Blocks*uint64(st.Bsize))
	}
	return ns
}

// path returns where the test process finds p of the namespace.
func (ns *mountNS) path(p string) string {
	return "/proc/" + strconv.Itoa(ns.pid) + "/root" + p
}

// enter is the command prefix that runs a program in the namespace: nsenter
// execs it, so the process started is the program itself.
func (ns *mountNS) enter() []string {
	return []string{"nsenter", "--mount=/proc/" + strconv.Itoa(ns.pid) + "/ns/mnt", "--"}
}

// free returns the bytes the tmpfs has left.
func (ns *mountNS) free(t *testing.T) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(ns.path(ns.mnt), &st); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	return st.Bavail * uint64(st.Bsize)
}

// fill writes zeros to the file path until the file system is full and
// returns how much it wrote.
func (ns *mountNS) fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(ns.path(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	var n int64
	for n < fillerMax {
		m, err := f.Write(chunk)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		}
		if err != nil {
			t.Fatalf("write the filler: %v", err)
		}
	}
	t.Fatalf("the filler reached %d bytes without filling the tmpfs", n)
	return n
}

// diskFullWrite is one reply the test sent, and its answer.
type diskFullWrite struct {
	body  string
	json  bool
	name  string // once acknowledged
	err   error  // gRPC: the status error; JSON: a jsonRefusal or a transport error
	acked bool
}

// TestDiskFull runs forumd on a small tmpfs (in a private mount namespace),
// fills the disk under concurrent writers and checks fail-stop end to end:
// every refused write is UNAVAILABLE (gRPC) or 503 (JSON) "writes are
// stopped: disk full" with reason WRITES_STOPPED and no path; /healthz
// answers 503 with that reason and gRPC health is NOT_SERVING for the server
// and every service; reads go on; SIGTERM then makes forumd exit non-zero
// and say why. Once room is made and forumd started again on the same
// files, every acknowledged reply is there, and writes work again.
func TestDiskFull(t *testing.T) {
	ns := newMountNS(t, diskFullTmpfs)
	ctx, cancel := context.WithTimeout(t.Context(), diskFullTimeout)
	defer cancel()
	data := ns.mnt + "/data"
	filler := ns.mnt + "/filler"

	p := startForumdVia(t, ns.enter(), data, noRateLimits, "--self-registration=true")
	c := p.dial(t)
	h := p.jsonAPI(t)
	cctx, ccancel := callCtx(ctx, "")
	login, err := c.auth.Register(cctx, &forumv1.RegisterRequest{Username: "amina", DisplayName: "Amina", Password: "a long enough password"})
	ccancel()
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	token := login.GetToken()
	cctx, ccancel = callCtx(ctx, token)
	th, err := c.threads.CreateThread(cctx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Filling the disk"}})
	ccancel()
	if err != nil {
		t.Fatalf("CreateThread: %v", err)
	}

	var (
		mu     sync.Mutex
		acked  = map[string]string{} // reply name -> body
		writes []*diskFullWrite
	)
	body := func(w, i int) string {
		prefix := fmt.Sprintf("writer %d reply %d ", w, i)
		return prefix + strings.Repeat("x", diskFullBody-len(prefix))
	}
	// write sends one reply, over gRPC or JSON, and records the answer.
	write := func(wr *diskFullWrite) {
		if !wr.json {
			cctx, ccancel := callCtx(ctx, token)
			defer ccancel()
			r, err := c.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: wr.body}})
			if err == nil {
				wr.acked, wr.name = true, r.GetName()
			} else {
				wr.err = err
			}
		} else {
			req, _ := json.Marshal(map[string]string{"body": wr.body})
			hctx, hcancel := context.WithTimeout(ctx, httpTimeout)
			defer hcancel()
			code, resp, err := h.do(hctx, http.MethodPost, "/v1/"+th.Name+"/replies", token, req)
			switch {
			case err != nil:
				wr.err = err
			case code == http.StatusOK:
				var r struct{ Name string }
				if err := json.Unmarshal(resp, &r); err != nil || r.Name == "" {
					wr.err = fmt.Errorf("200 with %s (%v)", resp, err)
				} else {
					wr.acked, wr.name = true, r.Name
				}
			default:
				wr.err = jsonRefusal{code: code, body: string(resp)}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, wr)
		if wr.acked {
			acked[wr.name] = wr.body
		}
	}

	for i := range diskFullBefore {
		wr := &diskFullWrite{body: body(0, i), json: i%2 == 1}
		write(wr)
		if !wr.acked {
			t.Fatalf("reply %d before the disk is full: %v", i, wr.err)
		}
	}

	// Fill the disk, then write until every writer has been refused.
	free := ns.free(t)
	n := ns.fill(t, filler)
	t.Logf("tmpfs of %d bytes: %d were free; the filler took %d, %d left", diskFullTmpfs, free, n, ns.free(t))
	writes = writes[:0]
	var sent sync.WaitGroup
	var budget = make(chan struct{}, diskFullMaxWrites)
	for range diskFullMaxWrites {
		budget <- struct{}{}
	}
	close(budget)
	for w := range diskFullWriters {
		sent.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if _, ok := <-budget; !ok {
					return
				}
				wr := &diskFullWrite{body: body(w+1, i), json: w == diskFullWriters-1}
				write(wr)
				if !wr.acked {
					return // refused: this writer is done
				}
			}
		})
	}
	sent.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the writes did not stop within %v", diskFullTimeout)
	}
	var refused, ackedAfter int
	for _, wr := range writes {
		if wr.acked {
			ackedAfter++
			continue
		}
		refused++
		checkRefusal(t, wr.json, wr.err, data)
	}
	t.Logf("after the filler: %d replies acknowledged, %d refused", ackedAfter, refused)
	if refused == 0 {
		t.Fatalf("%d writes after the disk was filled and none refused", len(writes))
	}

	// One more write through each door, refused alike.
	for _, overJSON := range []bool{false, true} {
		wr := &diskFullWrite{body: body(9, len(writes)), json: overJSON}
		write(wr)
		if wr.acked {
			t.Errorf("a write (JSON %v) after the writes stopped was acknowledged: %s", overJSON, wr.name)
			continue
		}
		checkRefusal(t, overJSON, wr.err, data)
	}

	// Health: /healthz 503 with the reason; gRPC NOT_SERVING for the
	// server and every service.
	hctx, hcancel := context.WithTimeout(ctx, httpTimeout)
	code, resp, err := h.do(hctx, http.MethodGet, "/healthz", "", nil)
	hcancel()
	if err != nil || code != http.StatusServiceUnavailable || string(resp) != `{"status":"NOT_SERVING","reason":"`+diskFullMsg+`"}`+"\n" {
		t.Errorf("/healthz after the disk filled: %d %s %v", code, resp, err)
	}
	health := healthpb.NewHealthClient(c.conn)
	services := []string{"", forumv1.ThemeService_ServiceDesc.ServiceName, forumv1.ThreadService_ServiceDesc.ServiceName,
		forumv1.ReplyService_ServiceDesc.ServiceName, forumv1.AuthService_ServiceDesc.ServiceName,
		forumv1.UserService_ServiceDesc.ServiceName, forumv1.OrganizationService_ServiceDesc.ServiceName,
		forumv1.ApiTokenService_ServiceDesc.ServiceName, forumv1.InvitationService_ServiceDesc.ServiceName,
		forumv1.GroupService_ServiceDesc.ServiceName}
	for _, svc := range services {
		cctx, ccancel := callCtx(ctx, "")
		r, err := health.Check(cctx, &healthpb.HealthCheckRequest{Service: svc})
		ccancel()
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("gRPC health of %q after the disk filled: %v %v, want NOT_SERVING", svc, r.GetStatus(), err)
		}
	}

	// Reads go on: everything acknowledged is readable, over both doors,
	// anonymous and with the token.
	checkReplies(ctx, t, c, th.Name, token, acked, "after the disk filled")
	cctx, ccancel = callCtx(ctx, token)
	got, err := c.threads.GetThread(cctx, &forumv1.GetThreadRequest{Name: th.Name})
	ccancel()
	if err != nil || got.GetTitle() != th.GetTitle() {
		t.Errorf("GetThread after the disk filled: %v %v", got, err)
	}
	h.must(t, http.MethodGet, "/v1/"+th.Name, "", nil, http.StatusOK)
	if body := h.must(t, http.MethodGet, "/v1/threads?pageSize=10", token, nil, http.StatusOK); !strings.Contains(string(body), th.Name) {
		t.Errorf("ListThreads after the disk filled lacks %s: %.500s", th.Name, body)
	}

	// SIGTERM: forumd exits non-zero and says why.
	if err := p.Terminate(); err == nil {
		t.Errorf("forumd exited with status 0 after the disk filled, want a non-zero status")
	} else if code := p.ExitCode(); code == 0 || code == -1 {
		t.Errorf("forumd exited with %v after the disk filled, want a non-zero status", p.ProcessState())
	}
	if log := p.Log(); !strings.Contains(log, "stopped with an error") || !strings.Contains(log, diskFullMsg) {
		t.Errorf("forumd's log does not say why it exits with an error:\n%s", log)
	}

	// Make room and start forumd again on the same files.
	if err := os.Remove(ns.path(filler)); err != nil {
		t.Fatalf("remove the filler: %v", err)
	}
	p = startForumdVia(t, ns.enter(), data, noRateLimits, "--self-registration=true")
	c = p.dial(t)
	h = p.jsonAPI(t)
	checkReplies(ctx, t, c, th.Name, token, acked, "after the restart")
	h.must(t, http.MethodGet, "/healthz", "", nil, http.StatusOK)
	wr := &diskFullWrite{body: body(10, 0)}
	write(wr)
	if !wr.acked {
		t.Errorf("a write after the restart: %v", wr.err)
	}
	p.Stop()
	t.Logf("%d acknowledged replies all there after the restart", len(acked))
}

// jsonRefusal is a JSON write answered with an error status.
type jsonRefusal struct {
	code int
	body string
}

func (r jsonRefusal) Error() string { return fmt.Sprintf("HTTP %d: %s", r.code, r.body) }

// checkRefusal fails the test unless err, the refusal of a write after the
// disk filled, is UNAVAILABLE (gRPC) or 503 (JSON) with diskFullMsg and the
// reason WRITES_STOPPED, and names nothing of the data directory.
func checkRefusal(t *testing.T, overJSON bool, err error, dataDir string) {
	t.Helper()
	if strings.Contains(err.Error(), dataDir) || strings.Contains(err.Error(), "wal") || strings.Contains(err.Error(), "kv:") {
		t.Errorf("a refused write names internals: %v", err)
	}
	if !overJSON {
		st, ok := status.FromError(err)
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if !ok || st.Code() != codes.Unavailable || st.Message() != diskFullMsg || reason != "WRITES_STOPPED" {
			t.Errorf("gRPC write refused with %v (reason %q), want UNAVAILABLE %q with WRITES_STOPPED", err, reason, diskFullMsg)
		}
		return
	}
	var r jsonRefusal
	if !errors.As(err, &r) {
		t.Errorf("JSON write failed with %v, want a 503 answer", err)
		return
	}
	var st struct {
		Code    codes.Code
		Message string
		Details []struct{ Reason, Domain string }
	}
	if jerr := json.Unmarshal([]byte(r.body), &st); jerr != nil || r.code != http.StatusServiceUnavailable || st.Code != codes.Unavailable ||
		st.Message != diskFullMsg || len(st.Details) != 1 || st.Details[0].Reason != "WRITES_STOPPED" {
		t.Errorf("JSON write refused with %v, want 503 code 14 %q with WRITES_STOPPED", err, diskFullMsg)
	}
}

// checkReplies lists the replies of thread with token and fails the test
// unless every reply of want (name -> body) is there with its body.
func checkReplies(ctx context.Context, t *testing.T, c *api, thread, token string, want map[string]string, when string) {
	t.Helper()
	got := map[string]string{}
	for pageToken, pages := "", 0; ; pages++ {
		if pages > len(want)/100+10 {
			t.Fatalf("ListReplies %s: more pages than replies", when)
		}
		cctx, ccancel := callCtx(ctx, token)
		resp, err := c.replies.ListReplies(cctx, &forumv1.ListRepliesRequest{Parent: thread, PageSize: 100, PageToken: pageToken})
		ccancel()
		if err != nil {
			t.Fatalf("ListReplies %s: %v", when, err)
		}
		for _, r := range resp.GetReplies() {
			got[r.GetName()] = r.GetBody()
		}
		if pageToken = resp.GetNextPageToken(); pageToken == "" {
			break
		}
	}
	missing := 0
	for name, body := range want {
		if got[name] != body {
			missing++
			if missing <= 5 {
				t.Errorf("%s: acknowledged reply %s is missing or changed (%d bytes, want %d)", when, name, len(got[name]), len(body))
			}
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged replies missing", when, missing, len(want))
	}
}
