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
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// caller is who makes a call, as the auth interceptor found it.
type caller struct {
	actor     store.Actor
	tokenHash []byte               // nil for anonymous calls
	scopes    []forumv1.TokenScope // an API token's scopes; nil for a login session
}

type callerKey struct{}

// callerFrom returns the caller the auth interceptor stored in ctx.
func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// actorFrom returns the store actor of the call.
func actorFrom(ctx context.Context) store.Actor { return callerFrom(ctx).actor }

// unaryInterceptor is the server's interceptor chain, outermost first:
// panic recovery, logging, error mapping, request decoding check, deadline
// clamp, authentication and the access table.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.recovered(ctx, info.FullMethod, p)
		}
		s.logCall(ctx, info.FullMethod, err, start)
	}()
	resp, err = s.checkedCall(ctx, req, info, handler)
	return resp, toStatus(ctx, s.log, info.FullMethod, err)
}

func (s *Server) checkedCall(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := decodeError(req); err != nil {
		return nil, undecodable(err)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > s.maxTimeout {
		var cancel context.CancelFunc
		ctx, cancel = withDeadline(ctx, time.Now().Add(s.maxTimeout))
		defer cancel()
	}
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// undecodable is the error of a request whose message did not decode
// (decodeError), on unary calls and streams alike.
func undecodable(err error) error {
	return errs.InvalidField("", "the request is not valid protobuf: %v", err)
}

// recovered logs the panic p of a call to method and returns the error the
// client gets.
func (s *Server) recovered(ctx context.Context, method string, p any) error {
	s.log.ErrorContext(ctx, "panic", "method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
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

// streamInterceptors are the server's stream interceptors, outermost first,
// one concern each: logging (logStream), the bound on open streams
// (openStreams), panic recovery (recoverStream) and the request decoding
// check (checkStreamDecoding). The streaming methods
// are gRPC's own, health Watch and reflection, which anyone may call; no
// forum method streams, so streams are neither authenticated nor given the
// server's deadline (a Watch lasts as long as its client wants).
func (s *Server) streamInterceptors() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{s.logStream, s.streams.intercept, s.recoverStream, s.checkStreamDecoding}
}

// logStream logs each stream when it ends, as unaryInterceptor logs calls.
func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := handler(srv, ss)
	s.logCall(ss.Context(), info.FullMethod, err, start)
	return err
}

// recoverStream turns a panic in a stream's handler into INTERNAL, logged,
// as unaryInterceptor does for calls.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	return handler(srv, ss)
}

// checkStreamDecoding gives the handler a stream whose RecvMsg fails with
// INVALID_ARGUMENT when the message received did not decode (decodeError),
// instead of handing the handler an empty message.
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

// authenticate resolves the bearer token, if any, and checks the access
// table. A token that is present but unknown or expired is refused even on
// public methods, so a client learns at once that its token is bad.
func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	need, ok := s.need(method)
	if !ok {
		if strings.HasPrefix(method, "/forum.") {
			return nil, fmt.Errorf("%w: %s has no access rule", errs.PermissionDenied, method)
		}
		return ctx, nil // gRPC's own services: health.
	}
	var c caller
	token, err := bearerToken(ctx)
	if err != nil {
		return nil, err
	}
	if token != "" {
		c.tokenHash = auth.HashToken(token)
		cred, err := s.store.Authenticate(ctx, c.tokenHash)
		if err != nil {
			return nil, err
		}
		if cred.Suspended {
			if need != public {
				return nil, fmt.Errorf("%w: this account is suspended", errs.PermissionDenied)
			}
		} else {
			c.actor = store.Actor{User: cred.User, Role: cred.Role}
			c.scopes = cred.Scopes
			if cred.APIToken != "" && c.scopes == nil {
				c.scopes = []forumv1.TokenScope{}
			}
			if c.scopes != nil {
				c.actor.Role = min(c.actor.Role, scopeRole(c.scopes))
			}
		}
	}
	if !need.allows(c.actor.Role, c.scopes) {
		switch {
		case c.actor.User == "":
			return nil, fmt.Errorf("%w: this call needs a bearer token (AuthService.Login)", errs.Unauthenticated)
		case c.scopes != nil && need == session:
			return nil, fmt.Errorf("%w: %s needs a login session, not an API token", errs.PermissionDenied, method)
		case c.scopes != nil:
			return nil, fmt.Errorf("%w: the API token's scopes do not allow %s", errs.PermissionDenied, method)
		}
		return nil, fmt.Errorf("%w: your role may not call %s", errs.PermissionDenied, method)
	}
	if c.actor.User == "" && c.tokenHash == nil {
		return ctx, nil // anonymous: callerFrom returns the zero caller
	}
	return context.WithValue(ctx, callerKey{}, c), nil
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

// requireRole returns PermissionDenied unless the caller is a moderator;
// what names the action refused.
func requireModerator(a store.Actor, what string) error {
	if a.Role == forumv1.Role_ROLE_CONVENER || a.Role == forumv1.Role_ROLE_ADMIN {
		return nil
	}
	return fmt.Errorf("%w: only conveners and admins %s", errs.PermissionDenied, what)
}
