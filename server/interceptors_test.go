package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeStream is a server stream with a given context, for calling stream
// interceptors directly: no forum method streams yet, so the stream side of
// the chain is checked here, on its own.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context { return f.ctx }

// incoming returns a server-side context carrying the bearer token.
func incoming(t *testing.T, token string) context.Context {
	if token == "" {
		return t.Context()
	}
	return metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+token))
}

// runStream runs a stream to method through the stream chain's
// authentication, access and status mapping, and returns the caller its
// handler saw (if it ran) and the stream's error.
func runStream(t *testing.T, s *Server, method, token string) (seen *caller, err error) {
	info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
	handler := func(_ any, ss grpc.ServerStream) error {
		c := callerFrom(ss.Context())
		seen = &c
		return fmt.Errorf("%w: nothing here", errs.NotFound)
	}
	chain := []grpc.StreamServerInterceptor{s.statusStream, s.authenticateStream, s.authorizeStream}
	var call grpc.StreamHandler = handler
	for i := len(chain) - 1; i >= 0; i-- {
		next, ic := call, chain[i]
		call = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, next) }
	}
	return seen, call(nil, &fakeStream{ctx: incoming(t, token)})
}

// TestStreamChain checks that a stream is authenticated, checked against
// the access table and has its error mapped, as a unary call is.
func TestStreamChain(t *testing.T) {
	e := newTestEnv(t)
	const member = forumv1.ThreadService_CreateThread_FullMethodName // access: member
	const moderator = forumv1.ThemeService_CreateTheme_FullMethodName
	for _, tc := range []struct {
		name, method, token string
		want                codes.Code
		user                string // who the handler sees, when it runs
	}{
		{"anonymous", member, "", codes.Unauthenticated, ""},
		{"bad token", member, "fgs_not-a-token", codes.Unauthenticated, ""},
		{"member", member, e.alice.token, codes.NotFound, e.alice.name},
		{"member on a moderator method", moderator, e.alice.token, codes.PermissionDenied, ""},
		{"convener", moderator, e.convener.token, codes.NotFound, e.convener.name},
		{"no access rule", "/forum.v1.ThreadService/Nonexistent", e.admin.token, codes.PermissionDenied, ""},
		{"gRPC's own", "/grpc.health.v1.Health/Watch", "", codes.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen, err := runStream(t, e.srv, tc.method, tc.token)
			if status.Code(err) != tc.want {
				t.Fatalf("stream: %v; want %v", err, tc.want)
			}
			if tc.want == codes.NotFound { // the handler ran
				if seen == nil || seen.actor.User != tc.user {
					t.Errorf("the handler saw caller %+v, want user %q", seen, tc.user)
				}
			} else if seen != nil {
				t.Errorf("the handler ran for a refused stream (caller %+v)", seen)
			}
		})
	}
}

// TestUnaryChainConcerns checks each unary interceptor on its own: status
// mapping, the decoding check and the deadline clamp.
func TestUnaryChainConcerns(t *testing.T) {
	e := newTestEnv(t)
	info := &grpc.UnaryServerInfo{FullMethod: forumv1.ThreadService_GetThread_FullMethodName}
	// Status mapping: a kind becomes its code; an unknown error INTERNAL.
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{fmt.Errorf("%w: x", errs.NotFound), codes.NotFound},
		{errs.InvalidField("name", "bad"), codes.InvalidArgument},
		{errors.New("disk on fire"), codes.Internal},
		{nil, codes.OK},
	} {
		_, err := e.srv.statusUnary(t.Context(), nil, info, func(context.Context, any) (any, error) { return nil, tc.err })
		if status.Code(err) != tc.want {
			t.Errorf("statusUnary(%v) = %v, want %v", tc.err, err, tc.want)
		}
	}
	// The deadline: a call without one gets the server's.
	_, err := e.srv.deadlineUnary(t.Context(), nil, info, func(ctx context.Context, _ any) (any, error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		return nil, nil
	})
	if err != nil {
		t.Error(err)
	}
	// Recovery: a panic is INTERNAL.
	_, err = e.srv.recoverUnary(t.Context(), nil, info, func(context.Context, any) (any, error) { panic("boom") })
	if status.Code(err) != codes.Internal {
		t.Errorf("recoverUnary after a panic: %v", err)
	}
}
