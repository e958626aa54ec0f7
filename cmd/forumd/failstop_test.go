package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/internal/testlog"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
	"github.com/forumhq/forum/server/store/kv/wal/faultfs"
)

// TestServeStoreFailStop runs forumd's assembly (serveStore) on a store
// whose engine then fails as after a full disk, and checks both doors:
// writes get UNAVAILABLE / 503 "writes are stopped: disk full" without the
// data directory's path, gRPC health is NOT_SERVING for the server and
// every service, /healthz answers 503 with the reason, reads go on, and
// the shutdown returns an error (forumd exits 1) and logs why.
func TestServeStoreFailStop(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultfs.FS{}
	eng, err := kv.OpenBolt(filepath.Join(dir, "forum.db"), store.Buckets(), kv.BoltOptions{WALFS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenEngine(eng, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, err := auth.HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: "amina", DisplayName: "Amina", Role: forumv1.Role_ROLE_MEMBER}, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash := auth.NewToken(auth.SessionPrefix)
	if _, err := st.CreateSession(t.Context(), resname.MustParseUser(u.Name), tokenHash, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}

	addrFile := filepath.Join(t.TempDir(), "addr.json")
	cfg := serveConfig{
		commonConfig: commonConfig{DataDir: dir, LogLevel: slog.LevelInfo},
		GRPCAddr:     "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AddrFile: addrFile, RateLimits: "off",
	}
	var logs testlog.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serveStore(ctx, func() {}, cfg, st, slog.New(slog.NewJSONHandler(&logs, nil))) }()
	var addrs listenAddrs
	for deadline := time.Now().Add(10 * time.Second); ; {
		b, err := os.ReadFile(addrFile)
		if err == nil && json.Unmarshal(b, &addrs) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address file after 10s; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authed := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	threads, replies, health := forumv1.NewThreadServiceClient(conn), forumv1.NewReplyServiceClient(conn), healthpb.NewHealthClient(conn)
	httpDo := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addrs.HTTP+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	th, err := threads.CreateThread(authed, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Before"}})
	if err != nil {
		t.Fatalf("CreateThread: %v", err)
	}
	if code, body := httpDo(http.MethodPost, "/v1/"+th.Name+"/replies", `{"body":"acknowledged"}`); code != http.StatusOK {
		t.Fatalf("JSON CreateReply: %d %s", code, body)
	}
	if code, body := httpDo(http.MethodGet, "/healthz", ""); code != http.StatusOK || body != `{"status":"SERVING"}`+"\n" {
		t.Errorf("/healthz before the fault: %d %s", code, body)
	}

	fsys.DiskFull() // the next write of the log fails with ENOSPC
	const msg = "writes are stopped: disk full"

	_, err = replies.CreateReply(authed, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "refused"}})
	s := status.Convert(err)
	if info, ok := firstDetail(s).(*errdetails.ErrorInfo); s.Code() != codes.Unavailable || s.Message() != msg || !ok || info.GetReason() != "WRITES_STOPPED" {
		t.Errorf("gRPC CreateReply after the fault: %v %v, want UNAVAILABLE %q with WRITES_STOPPED", err, s.Details(), msg)
	}
	code, body := httpDo(http.MethodPost, "/v1/"+th.Name+"/replies", `{"body":"refused"}`)
	var rpc struct {
		Code    codes.Code
		Message string
	}
	if err := json.Unmarshal([]byte(body), &rpc); err != nil || code != http.StatusServiceUnavailable ||
		rpc.Code != codes.Unavailable || rpc.Message != msg || !strings.Contains(body, `"reason":"WRITES_STOPPED"`) {
		t.Errorf("JSON CreateReply after the fault: %d %s, want 503 %q", code, body, msg)
	}
	if strings.Contains(body, dir) || strings.Contains(body, "wal") {
		t.Errorf("JSON error names the data directory: %s", body)
	}
	if code, body := httpDo(http.MethodGet, "/healthz", ""); code != http.StatusServiceUnavailable ||
		body != `{"status":"NOT_SERVING","reason":"writes are stopped: disk full"}`+"\n" {
		t.Errorf("/healthz after the fault: %d %s", code, body)
	}
	// gRPC health follows (WatchStore), for the server and every service.
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC health still %v (%v) 10s after the fault", resp.GetStatus(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, svc := range []string{
		forumv1.ThemeService_ServiceDesc.ServiceName, forumv1.ThreadService_ServiceDesc.ServiceName,
		forumv1.ReplyService_ServiceDesc.ServiceName, forumv1.AuthService_ServiceDesc.ServiceName,
		forumv1.UserService_ServiceDesc.ServiceName, forumv1.OrganizationService_ServiceDesc.ServiceName,
		forumv1.ApiTokenService_ServiceDesc.ServiceName, forumv1.InvitationService_ServiceDesc.ServiceName,
		forumv1.GroupService_ServiceDesc.ServiceName,
	} {
		if resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("gRPC health of %s: %v %v, want NOT_SERVING", svc, resp.GetStatus(), err)
		}
	}

	// Reads go on, over both doors.
	if got, err := threads.GetThread(authed, &forumv1.GetThreadRequest{Name: th.Name}); err != nil || got.GetTitle() != "Before" {
		t.Errorf("gRPC GetThread after the fault: %v %v", got, err)
	}
	if list, err := replies.ListReplies(t.Context(), &forumv1.ListRepliesRequest{Parent: th.Name}); err != nil || len(list.GetReplies()) != 1 ||
		list.GetReplies()[0].GetBody() != "acknowledged" {
		t.Errorf("gRPC ListReplies after the fault: %v %v", list, err)
	}
	if code, body := httpDo(http.MethodGet, "/v1/threads", ""); code != http.StatusOK || !strings.Contains(body, th.Name) {
		t.Errorf("JSON ListThreads after the fault: %d %s", code, body)
	}

	// The shutdown reports the fault.
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, kv.ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("serveStore returned %v, want the storage error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serveStore did not return 30s after the cancel")
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"stopped with an error: a storage error had stopped the writes`) ||
		!strings.Contains(l, `"cause":"writes are stopped: disk full"`) {
		t.Errorf("no log of why forumd stops with an error:\n%s", l)
	}
}

// firstDetail returns the first detail of s, or nil.
func firstDetail(s *status.Status) any {
	if d := s.Details(); len(d) > 0 {
		return d[0]
	}
	return nil
}
