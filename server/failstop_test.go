package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
	"github.com/forumhq/forum/server/store/kv/wal/faultfs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// walPathForTests is a server path that must never reach a client.
const walPathForTests = "/srv/forum/data/forum.db-wal.0"

// storageError is what the kv engine's Updates return once a failed write
// or fsync of its log stopped it: ErrFailed, the file, and the cause.
func storageError(cause error) error {
	return fmt.Errorf("%w: write log %s: %w", kv.ErrFailed, walPathForTests,
		&os.PathError{Op: "write", Path: walPathForTests, Err: cause})
}

// wantWritesStopped fails the test unless err is the UNAVAILABLE status of
// a write refused after a storage error, with message msg, reason
// WRITES_STOPPED, and no server path.
func wantWritesStopped(t *testing.T, what string, err error, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable || st.Message() != msg {
		t.Errorf("%s: %v, want UNAVAILABLE %q", what, err, msg)
		return
	}
	if strings.Contains(st.Message(), "/srv") || strings.Contains(st.Message(), "kv:") || strings.Contains(st.Message(), "wal") {
		t.Errorf("%s: message %q names internals", what, st.Message())
	}
	var reasons []string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reasons = append(reasons, info.GetDomain()+"/"+info.GetReason())
		}
	}
	if len(reasons) != 1 || reasons[0] != "forum/WRITES_STOPPED" {
		t.Errorf("%s: ErrorInfo %v, want [forum/WRITES_STOPPED]", what, reasons)
	}
}

// TestWritesStoppedStatus checks the mapping of a storage error that stopped
// the writes: UNAVAILABLE, reason WRITES_STOPPED, and a message naming the
// cause but no file, whatever wraps it.
func TestWritesStoppedStatus(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cases := []struct {
		err  error
		want string
	}{
		{storageError(syscall.ENOSPC), "writes are stopped: disk full"},
		{storageError(syscall.EDQUOT), "writes are stopped: disk full"},
		{storageError(syscall.EIO), "writes are stopped: storage I/O error"},
		{fmt.Errorf("%w: checkpoint %s: %w", kv.ErrFailed, walPathForTests, errors.New("bbolt: page 7 already freed")), "writes are stopped: storage error"},
		// As the store returns it, wrapped once more.
		{fmt.Errorf("store: create reply: %w", storageError(syscall.ENOSPC)), "writes are stopped: disk full"},
	}
	for _, tc := range cases {
		wantWritesStopped(t, tc.err.Error(), toStatus(t.Context(), log, "/forum.v1.ReplyService/CreateReply", tc.err), tc.want)
	}
	// A cause alone, without ErrFailed, is not "writes are stopped".
	if code := status.Code(toStatus(t.Context(), log, "m", fmt.Errorf("read: %w", syscall.EIO))); code != codes.Internal {
		t.Errorf("EIO without kv.ErrFailed: %v, want INTERNAL", code)
	}
}

// TestFailStop runs the server on a store whose engine fails as after a
// failed fsync (ENOSPC): writes get UNAVAILABLE "writes are stopped: disk
// full", health goes NOT_SERVING for the server and every service and
// stays so, NotServingReason says why, and reads go on, anonymous and
// authenticated.
func TestFailStop(t *testing.T) {
	fsys := &faultfs.FS{}
	eng, err := kv.OpenBolt(filepath.Join(t.TempDir(), "forum.db"), store.Buckets(), kv.BoltOptions{WALFS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenEngine(eng, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, Config{Store: st})
	watchCtx, stopWatch := context.WithCancel(t.Context())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		e.srv.WatchStore(watchCtx)
	}()
	t.Cleanup(func() {
		stopWatch()
		<-watched
	})
	health := healthpb.NewHealthClient(e.conn)
	services := []string{""}
	for name := range e.srv.GRPC().GetServiceInfo() {
		services = append(services, name)
	}
	checkHealth := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, svc := range services {
			resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != want {
				t.Errorf("health of %q: %v %v, want %v", svc, resp.GetStatus(), err, want)
			}
		}
	}

	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Before the disk filled", Body: "first post"})
	acked := e.mustReply(t, e.bob, th.Name, "acknowledged before the fault")
	checkHealth(healthpb.HealthCheckResponse_SERVING)
	if r := e.srv.NotServingReason(); r != "" {
		t.Errorf("NotServingReason while serving = %q", r)
	}
	if err := st.Err(); err != nil {
		t.Fatalf("store.Err before the fault: %v", err)
	}
	select {
	case <-st.Failed():
		t.Fatal("store.Failed closed before the fault")
	default:
	}

	// The disk fills: the next write of the log fails with ENOSPC, and
	// the engine stops writing.
	fsys.DiskFull()
	const msg = "writes are stopped: disk full"
	_, err = e.replies.CreateReply(e.bob.ctx(t), &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "after the fault"}, RequestId: "0190a5b8-7c1e-7d2f-8a3b-4c5d6e7f8091"})
	wantWritesStopped(t, "CreateReply", err, msg)
	select {
	case <-st.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("store.Failed not closed after the fault")
	}
	if err := st.Err(); !errors.Is(err, kv.ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("store.Err = %v, want kv.ErrFailed and ENOSPC", err)
	}
	fsys.Heal() // room again: still nothing is written until a restart
	_, err = e.threads.CreateThread(e.alice.ctx(t), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "After"}})
	wantWritesStopped(t, "CreateThread", err, msg)
	_, err = e.threads.UpdateThread(e.alice.ctx(t), &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Title: "Renamed"}})
	wantWritesStopped(t, "UpdateThread", err, msg)

	// Health goes NOT_SERVING (WatchStore) and stays so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %v (%v) 10s after the fault", resp.GetStatus(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	e.srv.SetServing(true)
	checkHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	if r := e.srv.NotServingReason(); r != msg {
		t.Errorf("NotServingReason = %q, want %q", r, msg)
	}

	// Reads go on.
	got, err := e.threads.GetThread(t.Context(), &forumv1.GetThreadRequest{Name: th.Name})
	if err != nil || got.GetTitle() != th.Title {
		t.Errorf("GetThread after the fault: %v, %v", got, err)
	}
	list, err := e.replies.ListReplies(e.alice.ctx(t), &forumv1.ListRepliesRequest{Parent: th.Name})
	if err != nil || len(list.GetReplies()) != 1 || list.GetReplies()[0].GetName() != acked.Name {
		t.Errorf("ListReplies after the fault: %v, %v", list, err)
	}
	threads, err := e.threads.ListThreads(e.bob.ctx(t), &forumv1.ListThreadsRequest{})
	if err != nil || len(threads.GetThreads()) != 1 {
		t.Errorf("ListThreads after the fault: %v, %v", threads, err)
	}
	if _, err := e.themes.ListThemes(t.Context(), &forumv1.ListThemesRequest{}); err != nil {
		t.Errorf("ListThemes after the fault: %v", err)
	}
}

// TestTooLargeStatus maps an Update over the engine's size bound to
// INVALID_ARGUMENT, with a message that names the limit and no internals.
func TestTooLargeStatus(t *testing.T) {
	err := fmt.Errorf("store: create reply: %w", fmt.Errorf("%w: it writes 40000000 bytes, over the limit of %d", kv.ErrTooLarge, kv.MaxUpdateSize))
	st := status.Convert(toStatus(t.Context(), slog.New(slog.DiscardHandler), "m", err))
	if st.Code() != codes.InvalidArgument || st.Message() != "the request writes more than the limit of 32 MiB" {
		t.Errorf("too large: %v %q, want INVALID_ARGUMENT naming the limit", st.Code(), st.Message())
	}
}
