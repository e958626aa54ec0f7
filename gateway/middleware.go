package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
)

// securityHeaders sets the headers every response carries: nosniff always,
// and no-store on the API, whose responses may be private to the caller.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in the gateway into a logged 500 with a
// generic message, instead of net/http's dropped connection.
func (g *gateway) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			g.logger.LogAttrs(r.Context(), slog.LevelError, "panic in HTTP handler",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
			)
			writeStatus(w, http.StatusInternalServerError, codes.Internal, msgInternal)
		}()
		next.ServeHTTP(w, r)
	})
}

// checkCrossOrigin rejects unsafe cross-origin browser requests (CSRF) with
// 403 PERMISSION_DENIED; see Options.TrustedOrigins.
func (g *gateway) checkCrossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.csrf.Check(r); err != nil {
			writeStatus(w, http.StatusForbidden, codes.PermissionDenied, "cross-origin request rejected")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody enforces Options.MaxBodyBytes before anything decodes the body:
// a declared Content-Length over the limit is answered 413 at once, and the
// body is wrapped with http.MaxBytesReader so an undeclared (chunked) body
// fails at the limit. The wrapper records that it tripped, so the error
// handler answers 413 whatever error the JSON decoder made of it.
func (g *gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.maxBody {
			writeStatus(w, http.StatusRequestEntityTooLarge, codes.ResourceExhausted, g.tooLargeMsg)
			return
		}
		body := r.Body
		if body == nil {
			body = http.NoBody
		}
		lb := &limitedBody{ReadCloser: http.MaxBytesReader(w, body, g.maxBody)}
		r = r.WithContext(context.WithValue(r.Context(), limitedBodyKey{}, lb))
		r.Body = lb
		next.ServeHTTP(w, r)
	})
}

// limitedBodyKey is the context key under which limitBody stores the
// request's *limitedBody.
type limitedBodyKey struct{}

// limitedBody is a request body that remembers whether it hit the limit.
type limitedBody struct {
	io.ReadCloser
	tripped atomic.Bool
}

// Read reads from the limited body, noting an *http.MaxBytesError.
func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			b.tripped.Store(true)
		}
	}
	return n, err
}

// bodyTooLarge reports whether the request body of ctx hit the limit.
func bodyTooLarge(ctx context.Context) bool {
	lb, ok := ctx.Value(limitedBodyKey{}).(*limitedBody)
	return ok && lb.tripped.Load()
}

// clampDeadline gives every request a deadline of at most Options.MaxTimeout.
// grpc-gateway derives the call's context from the request's, adding the
// client's Grpc-Timeout, so a shorter client timeout still wins and a longer
// one (or none) is cut to MaxTimeout. The event stream (sse.go) is left
// without one: it lasts as long as its client wants, bounded only by the
// client's own Grpc-Timeout.
func (g *gateway) clampDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), g.maxTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
