package client_test

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// rawCodec passes messages through as bytes, so the proxy needs no
// knowledge of the services.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*(v.(*[]byte)))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// dropProxy is a gRPC proxy in front of forumd that can lose responses: it
// forwards each call to forumd and, while drops[method] is positive, throws
// forumd's successful response away and answers UNAVAILABLE instead — as if
// the connection broke after the server did the work. The UNAVAILABLE is a
// trailers-only response, which is what lets a gRPC retry policy retry it.
type dropProxy struct {
	addr     string
	upstream *grpc.ClientConn

	mu      sync.Mutex
	drops   map[string]int      // method → responses still to drop
	calls   map[string]int      // method → attempts forwarded
	dropped map[string][][]byte // method → the responses dropped
}

// startProxy starts a dropProxy in front of the gRPC server at upstream; it
// is stopped in t.Cleanup.
func startProxy(t *testing.T, upstream string) *dropProxy {
	t.Helper()
	conn, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDisableRetry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &dropProxy{upstream: conn, drops: map[string]int{}, calls: map[string]int{}, dropped: map[string][][]byte{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}), grpc.UnknownServiceHandler(p.handle))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	p.addr = lis.Addr().String()
	return p
}

// drop makes the proxy lose the next n successful responses of method.
func (p *dropProxy) drop(method string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops[method] = n
}

// attempts returns how many calls of method reached the proxy.
func (p *dropProxy) attempts(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// droppedResponses returns the responses of method the proxy lost.
func (p *dropProxy) droppedResponses(method string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped[method]
}

func (p *dropProxy) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	var req []byte
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	ctx := ss.Context()
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for _, v := range md.Get("authorization") {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
		}
	}
	var resp []byte
	err := p.upstream.Invoke(ctx, method, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
	p.mu.Lock()
	p.calls[method]++
	lose := err == nil && p.drops[method] > 0
	if lose {
		p.drops[method]--
		p.dropped[method] = append(p.dropped[method], resp)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if lose {
		return status.Error(codes.Unavailable, "test proxy: response lost after the server processed the call")
	}
	return ss.SendMsg(&resp)
}

// countThreads returns how many threads are titled title.
func countThreads(t *testing.T, c *client.Client, title string) int {
	t.Helper()
	n := 0
	for th, err := range c.Threads(callCtx(t), &forumv1.ListThreadsRequest{PageSize: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		if th.GetTitle() == title {
			n++
		}
	}
	return n
}

// TestCreateRetriedAfterUnavailable checks that a create whose response is
// lost is retried by the service-config retry policy and still creates one
// resource, and that calls that are not safe to repeat are not retried.
func TestCreateRetriedAfterUnavailable(t *testing.T) {
	f := start(t)
	p := startProxy(t, f.srv.GRPCAddr)
	viaProxy := login(t, p.addr, "convener", convenerPassword)
	const theme = "themes/joint-programmes"

	t.Run("CreateThread", func(t *testing.T) {
		const method = "/forum.v1.ThreadService/CreateThread"
		p.drop(method, 2)
		th, err := viaProxy.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: "Retried thread"})
		if err != nil {
			t.Fatalf("CreateThread through a proxy losing 2 responses: %v", err)
		}
		if got := p.attempts(method); got != 3 {
			t.Errorf("the proxy saw %d attempts, want 3 (2 lost, then one answered)", got)
		}
		for i, raw := range p.droppedResponses(method) {
			var lost forumv1.Thread
			if err := proto.Unmarshal(raw, &lost); err != nil {
				t.Fatal(err)
			}
			if lost.GetName() != th.GetName() {
				t.Errorf("attempt %d created %s, the call returned %s: the retry created another thread", i+1, lost.GetName(), th.GetName())
			}
		}
		if n := countThreads(t, f.anonymous, "Retried thread"); n != 1 {
			t.Errorf("%d threads titled %q, want 1", n, "Retried thread")
		}
	})

	t.Run("raw stub CreateReply without request_id", func(t *testing.T) {
		thread := mustThread(t, f.member, theme, "Thread for retried reply").GetName()
		const method = "/forum.v1.ReplyService/CreateReply"
		p.drop(method, 1)
		req := &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: "Retried reply"}}
		r, err := viaProxy.ReplyService().CreateReply(callCtx(t), req)
		if err != nil {
			t.Fatalf("CreateReply through a proxy losing 1 response: %v", err)
		}
		if got := p.attempts(method); got != 2 {
			t.Errorf("the proxy saw %d attempts, want 2", got)
		}
		if req.GetRequestId() != "" {
			t.Errorf("the client changed the caller's request: request_id %q", req.GetRequestId())
		}
		n := 0
		for reply, err := range f.anonymous.Replies(callCtx(t), &forumv1.ListRepliesRequest{Parent: thread}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if reply.GetName() != r.GetName() {
				t.Errorf("extra reply %s besides %s", reply.GetName(), r.GetName())
			}
		}
		if n != 1 {
			t.Errorf("thread has %d replies, want 1", n)
		}
	})

	t.Run("gives up after 4 attempts", func(t *testing.T) {
		const method = "/forum.v1.ThreadService/CreateThread"
		before := p.attempts(method)
		p.drop(method, 10)
		defer p.drop(method, 0)
		_, err := viaProxy.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: "Never answered"})
		if !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if got := p.attempts(method) - before; got != 4 {
			t.Errorf("the proxy saw %d attempts, want maxAttempts = 4", got)
		}
		if n := countThreads(t, f.anonymous, "Never answered"); n != 1 {
			t.Errorf("%d threads titled %q, want 1: all 4 attempts carried one request_id", n, "Never answered")
		}
	})

	t.Run("retries come from the gRPC policy", func(t *testing.T) {
		// With gRPC's retries disabled, nothing else in the client retries.
		noRetry := login(t, p.addr, "convener", convenerPassword, client.WithDialOptions(grpc.WithDisableRetry()))
		const method = "/forum.v1.ThreadService/CreateThread"
		before := p.attempts(method)
		p.drop(method, 1)
		_, err := noRetry.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: "Not retried"})
		if !errors.Is(err, client.ErrUnavailable) || status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if got := p.attempts(method) - before; got != 1 {
			t.Errorf("the proxy saw %d attempts, want 1", got)
		}
	})

	t.Run("UpdateThread is not retried", func(t *testing.T) {
		th := mustThread(t, viaProxy, theme, "Update me")
		const method = "/forum.v1.ThreadService/UpdateThread"
		p.drop(method, 1)
		_, err := viaProxy.ThreadService().UpdateThread(callCtx(t), &forumv1.UpdateThreadRequest{
			Thread: &forumv1.Thread{Name: th.GetName(), Title: "Updated", Etag: th.GetEtag()},
		})
		if !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if got := p.attempts(method); got != 1 {
			t.Errorf("the proxy saw %d attempts of UpdateThread, want 1", got)
		}
	})

	t.Run("concurrent creates", func(t *testing.T) {
		const method = "/forum.v1.ThreadService/CreateThread"
		p.drop(method, 3)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if _, err := viaProxy.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: fmt.Sprintf("Concurrent %d", i)}); err != nil {
					t.Errorf("create %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		for i := range 6 {
			if n := countThreads(t, f.anonymous, fmt.Sprintf("Concurrent %d", i)); n != 1 {
				t.Errorf("%d threads titled %q, want 1", n, fmt.Sprintf("Concurrent %d", i))
			}
		}
	})
}
