package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// sentinels are all the package's sentinel errors, so each case can check
// that its error matches its own and no other.
var sentinels = map[string]error{
	"ErrNotFound":           client.ErrNotFound,
	"ErrAlreadyExists":      client.ErrAlreadyExists,
	"ErrInvalidArgument":    client.ErrInvalidArgument,
	"ErrFailedPrecondition": client.ErrFailedPrecondition,
	"ErrConflict":           client.ErrConflict,
	"ErrPermissionDenied":   client.ErrPermissionDenied,
	"ErrUnauthenticated":    client.ErrUnauthenticated,
	"ErrRateLimited":        client.ErrRateLimited,
	"ErrTooLarge":           client.ErrTooLarge,
	"ErrUnavailable":        client.ErrUnavailable,
	"ErrOutOfRange":         client.ErrOutOfRange,
}

// checkKind checks that err matches want (one of sentinels) and no other
// sentinel, that it is a *client.Error, and that status.Code still sees
// code.
func checkKind(t *testing.T, err error, want string, code codes.Code) *client.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", want)
	}
	for name, s := range sentinels {
		if got := errors.Is(err, s); got != (name == want) {
			t.Errorf("errors.Is(%v, %s) = %v", err, name, got)
		}
	}
	if got := status.Code(err); got != code {
		t.Errorf("status.Code(%v) = %v, want %v", err, got, code)
	}
	if st, ok := status.FromError(err); !ok || st.Code() != code {
		t.Errorf("status.FromError(%v) = %v, %v", err, st, ok)
	}
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not a *client.Error", err)
	}
	return e
}

// TestErrorKinds provokes each kind of error from a real forumd and checks
// that errors.Is recognises it.
func TestErrorKinds(t *testing.T) {
	f := start(t)
	const theme = "themes/knowledge-exchange"
	thread := mustThread(t, f.member, theme, "Errors")

	t.Run("not found", func(t *testing.T) {
		_, err := f.anonymous.ThreadService().GetThread(callCtx(t), &forumv1.GetThreadRequest{Name: "threads/999999"})
		e := checkKind(t, err, "ErrNotFound", codes.NotFound)
		if e.Reason() != "NOT_FOUND" {
			t.Errorf("reason %q, want NOT_FOUND", e.Reason())
		}
	})

	t.Run("already exists", func(t *testing.T) {
		_, err := f.convener.CreateTheme(callCtx(t), "knowledge-exchange", &forumv1.Theme{DisplayName: "Again"})
		checkKind(t, err, "ErrAlreadyExists", codes.AlreadyExists)
	})

	t.Run("invalid argument", func(t *testing.T) {
		_, err := f.member.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: ""})
		e := checkKind(t, err, "ErrInvalidArgument", codes.InvalidArgument)
		v := client.FieldViolations(err)
		if len(v) != 1 || v[0].Field != "thread.title" || v[0].Description == "" {
			t.Errorf("FieldViolations = %+v, want one on thread.title", v)
		}
		if len(e.FieldViolations()) != len(v) {
			t.Errorf("(*Error).FieldViolations and FieldViolations differ")
		}
	})

	t.Run("failed precondition", func(t *testing.T) {
		locked := mustThread(t, f.member, theme, "To lock")
		if _, err := f.convener.SetThreadLocked(callCtx(t), locked.GetName(), true); err != nil {
			t.Fatalf("lock: %v", err)
		}
		_, err := f.member.CreateReply(callCtx(t), locked.GetName(), &forumv1.Reply{Body: "Too late"})
		checkKind(t, err, "ErrFailedPrecondition", codes.FailedPrecondition)
	})

	t.Run("conflict on a stale etag", func(t *testing.T) {
		th := mustThread(t, f.member, theme, "Etag")
		if _, err := f.member.ThreadService().UpdateThread(callCtx(t), &forumv1.UpdateThreadRequest{
			Thread: &forumv1.Thread{Name: th.GetName(), Title: "Etag, changed", Etag: th.GetEtag()},
		}); err != nil {
			t.Fatalf("first update: %v", err)
		}
		_, err := f.member.ThreadService().UpdateThread(callCtx(t), &forumv1.UpdateThreadRequest{
			Thread: &forumv1.Thread{Name: th.GetName(), Title: "Etag, stale", Etag: th.GetEtag()},
		})
		e := checkKind(t, err, "ErrConflict", codes.Aborted)
		if e.Reason() != "ETAG_MISMATCH" {
			t.Errorf("reason %q, want ETAG_MISMATCH", e.Reason())
		}
		_, err = f.member.ThreadService().DeleteThread(callCtx(t), &forumv1.DeleteThreadRequest{Name: th.GetName(), Etag: th.GetEtag()})
		checkKind(t, err, "ErrConflict", codes.Aborted)
	})

	t.Run("permission denied", func(t *testing.T) {
		_, err := f.member.CreateTheme(callCtx(t), "members-only", &forumv1.Theme{DisplayName: "Members"})
		checkKind(t, err, "ErrPermissionDenied", codes.PermissionDenied)
		_, err = f.member.CreateFollowUp(callCtx(t), thread.GetName(), &forumv1.Thread{Title: "Not mine to open"})
		checkKind(t, err, "ErrPermissionDenied", codes.PermissionDenied)
	})

	t.Run("unauthenticated", func(t *testing.T) {
		_, err := f.anonymous.CreateReply(callCtx(t), thread.GetName(), &forumv1.Reply{Body: "Who am I?"})
		checkKind(t, err, "ErrUnauthenticated", codes.Unauthenticated)
		bad := newClient(t, f.srv.GRPCAddr, client.WithToken("not-a-token"))
		_, err = bad.ThreadService().GetThread(callCtx(t), &forumv1.GetThreadRequest{Name: thread.GetName()})
		checkKind(t, err, "ErrUnauthenticated", codes.Unauthenticated)
		_, err = f.admin.Login(callCtx(t), "admin", "wrong password")
		checkKind(t, err, "ErrUnauthenticated", codes.Unauthenticated)
	})

	t.Run("unavailable", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close() // nothing listens there now
		c := newClient(t, addr)
		_, err = c.ThreadService().GetThread(callCtx(t), &forumv1.GetThreadRequest{Name: "threads/1"})
		checkKind(t, err, "ErrUnavailable", codes.Unavailable)
	})

	t.Run("deadline", func(t *testing.T) {
		c := newClient(t, f.srv.GRPCAddr)
		ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		_, err := c.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: thread.GetName()})
		if !errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("err = %v, want one matching context.DeadlineExceeded", err)
		}
	})

	t.Run("wrapped errors keep their kind", func(t *testing.T) {
		_, err := f.anonymous.ThreadService().GetThread(callCtx(t), &forumv1.GetThreadRequest{Name: "threads/999998"})
		wrapped := errors.Join(errors.New("export"), err)
		if !errors.Is(wrapped, client.ErrNotFound) || status.Code(wrapped) != codes.NotFound {
			t.Errorf("wrapped %v lost its kind", wrapped)
		}
		if !strings.HasPrefix(err.Error(), "NotFound: ") {
			t.Errorf("Error() = %q, want it to start with the code", err)
		}
	})
}

// supportsRateLimits reports whether forumd has the --rate-limits flag.
func supportsRateLimits(t *testing.T) bool {
	out, _ := exec.Command(forumdBin, "serve", "-h").CombinedOutput()
	return strings.Contains(string(out), "rate-limits")
}

// TestRateLimitedByForumd trips forumd's create limit and checks
// ErrRateLimited and RetryDelay.
func TestRateLimitedByForumd(t *testing.T) {
	if !supportsRateLimits(t) {
		t.Skip("this forumd has no --rate-limits flag")
	}
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "member", "Mo Member", "member", memberPassword)
	srv := forumdtest.Start(t, forumdBin, data, "--rate-limits", "create=1/h:1")
	c := login(t, srv.GRPCAddr, "member", memberPassword)
	mustThread(t, c, "themes/knowledge-exchange", "First")
	_, err := c.CreateThread(callCtx(t), &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Second"})
	e := checkKind(t, err, "ErrRateLimited", codes.ResourceExhausted)
	if d, ok := client.RetryDelay(err); !ok || d <= 0 || d > time.Hour {
		t.Errorf("RetryDelay = %v, %v; want up to an hour", d, ok)
	}
	t.Logf("%v (reason %s)", err, e.Reason())
}

// fakeThreads is an in-process ThreadService for what forumd cannot show:
// an exact RetryInfo delay, and what the client sent.
type fakeThreads struct {
	forumv1.UnimplementedThreadServiceServer
	seen chan metadataAndDeadline
}

type metadataAndDeadline struct {
	md          metadata.MD
	hasDeadline bool
	req         *forumv1.CreateThreadRequest
}

func (f *fakeThreads) GetThread(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
	_, ok := ctx.Deadline()
	md, _ := metadata.FromIncomingContext(ctx)
	f.seen <- metadataAndDeadline{md: md, hasDeadline: ok}
	st := status.New(codes.ResourceExhausted, "too many requests")
	st, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "RESOURCE_EXHAUSTED", Domain: "forum"},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)},
	)
	if err != nil {
		return nil, err
	}
	return nil, st.Err()
}

// ListThreads answers with a thread larger than the client accepts.
func (f *fakeThreads) ListThreads(ctx context.Context, req *forumv1.ListThreadsRequest) (*forumv1.ListThreadsResponse, error) {
	return &forumv1.ListThreadsResponse{Threads: []*forumv1.Thread{{Name: "threads/1", Body: strings.Repeat("x", 17<<20)}}}, nil
}

func (f *fakeThreads) CreateThread(ctx context.Context, req *forumv1.CreateThreadRequest) (*forumv1.Thread, error) {
	f.seen <- metadataAndDeadline{req: req}
	return &forumv1.Thread{Name: "threads/1"}, nil
}

// startFake serves fakeThreads on a loopback port.
func startFake(t *testing.T) (*fakeThreads, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeThreads{seen: make(chan metadataAndDeadline, 10)}
	srv := grpc.NewServer()
	forumv1.RegisterThreadServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return fake, lis.Addr().String()
}

// TestTooLargeIsNotRateLimited: gRPC's own RESOURCE_EXHAUSTED for a
// message over its size limit is ErrTooLarge, not ErrRateLimited (waiting
// would not help), while a server limit's, with its details, is
// ErrRateLimited.
func TestTooLargeIsNotRateLimited(t *testing.T) {
	_, addr := startFake(t)
	c, err := client.New(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.ThreadService().ListThreads(callCtx(t), &forumv1.ListThreadsRequest{})
	checkKind(t, err, "ErrTooLarge", codes.ResourceExhausted)
	if _, ok := client.RetryDelay(err); ok {
		t.Errorf("RetryDelay of a size error: ok")
	}
}

// TestRateLimitedAndCallOptions checks ErrRateLimited with an exact
// RetryDelay, the default deadline, the user agent, the token and the
// request id, against an in-process fake.
func TestRateLimitedAndCallOptions(t *testing.T) {
	fake, addr := startFake(t)
	c, err := client.New(t.Context(), addr, client.WithToken("tok"), client.WithUserAgent("report-bot/1.2"), client.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	_, err = c.ThreadService().GetThread(t.Context(), &forumv1.GetThreadRequest{Name: "threads/1"})
	e := checkKind(t, err, "ErrRateLimited", codes.ResourceExhausted)
	if d, ok := client.RetryDelay(err); !ok || d != 3*time.Second {
		t.Errorf("RetryDelay = %v, %v; want 3s, true", d, ok)
	}
	if e.Reason() != "RESOURCE_EXHAUSTED" || e.Message() != "too many requests" {
		t.Errorf("reason %q message %q", e.Reason(), e.Message())
	}
	if _, ok := client.RetryDelay(errors.New("plain")); ok {
		t.Error("RetryDelay of a plain error reports a delay")
	}
	if client.FieldViolations(errors.New("plain")) != nil {
		t.Error("FieldViolations of a plain error is not nil")
	}

	got := <-fake.seen
	if !got.hasDeadline {
		t.Error("WithTimeout: the call had no deadline")
	}
	if ua := strings.Join(got.md.Get("user-agent"), " "); !strings.HasPrefix(ua, "report-bot/1.2 forum-go-client") {
		t.Errorf("user agent %q", ua)
	}
	if auth := got.md.Get("authorization"); len(auth) != 1 || auth[0] != "Bearer tok" {
		t.Errorf("authorization %q, want [Bearer tok]", auth)
	}

	// A token set on the context by the caller wins over the client's.
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer other")
	_, _ = c.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: "threads/1"})
	if auth := (<-fake.seen).md.Get("authorization"); len(auth) != 1 || auth[0] != "Bearer other" {
		t.Errorf("authorization %q, want [Bearer other]", auth)
	}

	// Creates carry a UUIDv7 request id; one set by the caller is kept.
	if _, err := c.CreateThread(t.Context(), &forumv1.Thread{Title: "x"}); err != nil {
		t.Fatal(err)
	}
	id := (<-fake.seen).req.GetRequestId()
	if len(id) != 36 || id[14] != '7' || strings.Count(id, "-") != 4 {
		t.Errorf("request id %q is not a UUIDv7", id)
	}
	if _, err := c.ThreadService().CreateThread(t.Context(), &forumv1.CreateThreadRequest{RequestId: "mine"}); err != nil {
		t.Fatal(err)
	}
	if id := (<-fake.seen).req.GetRequestId(); id != "mine" {
		t.Errorf("request id %q, want the caller's", id)
	}
}

// TestNewOptions checks option conflicts.
func TestNewOptions(t *testing.T) {
	if _, err := client.New(t.Context(), "127.0.0.1:1", client.WithInsecure(), client.WithTLSConfig(nil)); err == nil {
		t.Error("WithInsecure + WithTLSConfig(nil): no error")
	}
	if _, err := client.New(t.Context(), "forum.example:443", client.WithInsecure(), client.WithTLSConfig(&tls.Config{})); err == nil {
		t.Error("WithInsecure + WithTLSConfig: no error")
	}
	if _, err := client.New(t.Context(), ""); err == nil {
		t.Error("empty target: no error")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := client.New(ctx, "127.0.0.1:1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
