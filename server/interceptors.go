package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// caller is who makes a call, as the auth interceptor found it.
type caller struct {
	actor     authz.Actor
	tokenHash []byte               // nil for anonymous calls
	scopes    []forumv1.TokenScope // an API token's scopes; nil for a login session
	suspended bool                 // the token is valid but its account suspended
}

type callerKey struct{}

// callerFrom returns the caller the auth interceptor stored in ctx.
func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// actorFrom returns the store actor of the call.
func actorFrom(ctx context.Context) authz.Actor { return callerFrom(ctx).actor }

// caller.suspended is set for a valid token of a suspended account: such a
// caller acts as anonymous, and only on public methods (authorize).

// The interceptors, one concern each. Each concern is one function of the
// call's context (and method), used by a unary interceptor and a stream
// interceptor alike, so that the streams of the event log get exactly what
// unary calls get.

// unaryInterceptors is the server's unary chain, outermost first: logging,
// panic recovery, status mapping, the request decoding check, the deadline
// clamp, authentication, the access table, and then the rate limits that
// need the caller (ratelimit.go), when any is on. New chains them with
// chainUnary.
func (s *Server) unaryInterceptors() []grpc.UnaryServerInterceptor {
	return append([]grpc.UnaryServerInterceptor{
		s.logUnary, s.recoverUnary, s.statusUnary, checkDecodingUnary, s.deadlineUnary, s.authenticateUnary, s.authorizeUnary,
	}, s.limiter.interceptors()...)
}

// streamInterceptors is the server's stream chain, outermost first, in the
// unary chain's order: logging, the bound on open streams (openStreams),
// panic recovery, status mapping, the decoding check of each message
// received, authentication and the access table. Streams get no deadline
// from the server: a Watch, or a feed's tail, lasts as long as its client
// wants, and the bound on open streams is what limits them.
func (s *Server) streamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{
		s.logStream, s.streams.intercept, s.recoverStream, s.statusStream, s.checkStreamDecoding, s.authenticateStream, s.authorizeStream,
	}
}

// logUnary logs each call when it ends (logCall).
func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	s.logCall(ctx, info.FullMethod, err, start)
	return resp, err
}

// logStream logs each stream when it ends, as logUnary logs calls.
func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	s.logCall(ss.Context(), info.FullMethod, err, start)
	return err
}

// logCall logs a call to method that started at start and ended with err:
// at debug level, or at error level when err is a server fault.
func (s *Server) logCall(ctx context.Context, method string, err error, start time.Time) {
	code := status.Code(err)
	level := slog.LevelDebug
	if code == codes.Internal || code == codes.Unknown || code == codes.DataLoss {
		level = slog.LevelError
	}
	if s.log.Enabled(ctx, level) { // skip building the attributes when not logged
		s.log.LogAttrs(ctx, level, "rpc", slog.String("method", method), slog.String("code", code.String()), slog.Duration("duration", time.Since(start)))
	}
}

// recoverUnary turns a panic in a call into INTERNAL, logged (recovered).
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(ctx, info.FullMethod, p)
		}
	}()
	return handler(ctx, req)
}

// recoverStream turns a panic in a stream's handler into INTERNAL, logged,
// as recoverUnary does for calls.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	return handler(srv, ss)
}

// recovered logs the panic p of a call to method and returns the error the
// client gets.
func (s *Server) recovered(ctx context.Context, method string, p any) error {
	s.log.ErrorContext(ctx, "panic", "method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// statusUnary maps the error of a call to its gRPC status (toStatus).
func (s *Server) statusUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, toStatus(ctx, s.log, info.FullMethod, err)
}

// statusStream maps the error of a stream to its gRPC status (toStatus).
func (s *Server) statusStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return toStatus(ss.Context(), s.log, info.FullMethod, handler(srv, ss))
}

// checkDecodingUnary refuses a request whose message did not decode
// (decodeError) with INVALID_ARGUMENT, instead of handing the method an
// empty message.
func checkDecodingUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := decodeError(req); err != nil {
		return nil, undecodable(err)
	}
	return handler(ctx, req)
}

// undecodable is the error of a request whose message did not decode
// (decodeError), on unary calls and streams alike.
func undecodable(err error) error {
	return errs.InvalidField("", "the request is not valid protobuf: %v", err)
}

// checkStreamDecoding gives the handler a stream whose RecvMsg fails with
// INVALID_ARGUMENT when the message received did not decode (decodeError),
// as checkDecodingUnary does for calls.
func (s *Server) checkStreamDecoding(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &decodeCheckedStream{ServerStream: ss, s: s, method: info.FullMethod})
}

// decodeCheckedStream is a server stream whose RecvMsg reports a message
// that did not decode; see checkStreamDecoding.
type decodeCheckedStream struct {
	grpc.ServerStream
	s      *Server
	method string
}

// RecvMsg implements grpc.ServerStream.
func (ss *decodeCheckedStream) RecvMsg(m any) error {
	if err := ss.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := decodeError(m); err != nil {
		return toStatus(ss.Context(), ss.s.log, ss.method, undecodable(err))
	}
	return nil
}

// deadlineUnary gives a call without a deadline, or with one further than
// the server's longest (Config.MaxTimeout), the server's.
func (s *Server) deadlineUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.maxTimeout {
		var cancel context.CancelFunc
		ctx, cancel = withDeadline(ctx, time.Now().Add(s.maxTimeout))
		defer cancel()
	}
	return handler(ctx, req)
}

// authenticateUnary puts the caller in the context of a call
// (authenticate).
func (s *Server) authenticateUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// authenticateStream puts the caller in the context of a stream
// (authenticate).
func (s *Server) authenticateStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if ctx == ss.Context() {
		return handler(srv, ss)
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// contextStream is a server stream with a context of its own.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context implements grpc.ServerStream.
func (ss *contextStream) Context() context.Context { return ss.ctx }

// authorizeUnary refuses a call its caller may not make (authorize).
func (s *Server) authorizeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// authorizeStream refuses a stream its caller may not open (authorize).
func (s *Server) authorizeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// authenticate resolves the bearer token of a call to a forum method, if
// it has one, and returns a context carrying the caller (callerFrom). A
// token that is present but unknown or expired is refused even on public
// methods, so a client learns at once that its token is bad. gRPC's own
// services (health, reflection) are not authenticated.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	if !strings.HasPrefix(method, "/forum.") {
		return ctx, nil
	}
	token, err := bearerToken(ctx)
	if err != nil || token == "" {
		return ctx, err // anonymous: callerFrom returns the zero caller
	}
	c := caller{tokenHash: auth.HashToken(token)}
	cred, err := s.store.Authenticate(ctx, c.tokenHash)
	if err != nil {
		return nil, err
	}
	if cred.Suspended {
		c.suspended = true
	} else {
		c.actor = authz.Actor{User: cred.User, Role: cred.Role}
		c.scopes = cred.Scopes
		if cred.APIToken != "" && c.scopes == nil {
			c.scopes = []forumv1.TokenScope{}
		}
		if c.scopes != nil {
			c.actor.Role = min(c.actor.Role, authz.ScopeRole(c.scopes))
		}
	}
	return context.WithValue(ctx, callerKey{}, c), nil
}

// authorize refuses a call to a forum method its caller may not make:
// authz.Call, with the level of the access table (need). gRPC's own
// services (health, reflection) are not in the table and not refused.
func (s *Server) authorize(ctx context.Context, method string) error {
	need, ok := s.need(method)
	if !ok && !strings.HasPrefix(method, "/forum.") {
		return nil // gRPC's own services: health.
	}
	c := callerFrom(ctx)
	return authz.Call(method, need, ok, authz.Caller{Actor: c.actor, Scopes: c.scopes, Suspended: c.suspended})
}

// bearerToken returns the token of the `authorization: Bearer <token>`
// metadata, or "" if there is none.
func bearerToken(ctx context.Context) (string, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("%w: more than one authorization header", errs.Unauthenticated)
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", fmt.Errorf("%w: the authorization header must be \"Bearer <token>\"", errs.Unauthenticated)
	}
	return token, nil
}
