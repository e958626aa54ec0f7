package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Messages sent instead of ones that may carry internal detail.
const (
	msgInternal    = "internal error"
	msgUnavailable = "service unavailable"
)

// bearerChallenge is the WWW-Authenticate value sent with 401 responses
// (RFC 6750 §3). grpc-gateway would otherwise send the status message there,
// which is not a valid challenge.
const bearerChallenge = `Bearer realm="forum"`

// handleError is the mux's error handler: it turns err into the error a
// client may see (publicError) and renders it with grpc-gateway's default
// handler as google.rpc.Status JSON.
func (g *gateway) handleError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, &challengeWriter{ResponseWriter: w}, r, g.publicError(r, err))
}

// handleRoutingError is the mux's routing error handler. Unlike grpc-gateway's
// default, which answers a wrong method with 501, it answers 405.
func (g *gateway) handleRoutingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var err error
	switch httpStatus {
	case http.StatusNotFound:
		err = status.Error(codes.NotFound, http.StatusText(httpStatus))
	case http.StatusMethodNotAllowed:
		err = &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        status.Error(codes.Unimplemented, http.StatusText(httpStatus)),
		}
	case http.StatusBadRequest:
		err = status.Error(codes.InvalidArgument, http.StatusText(httpStatus))
	default:
		err = status.Errorf(codes.Internal, "unexpected routing error %d", httpStatus)
	}
	g.handleError(ctx, mux, m, w, r, err)
}

// publicError maps err to what the client is told:
//   - a request whose body tripped the size limit gets 413 RESOURCE_EXHAUSTED,
//     whatever error the decoder reported;
//   - Internal, Unknown and DataLoss keep their code but get a generic
//     message and lose their details; Unavailable likewise (its messages
//     from the client connection name addresses and dial errors), unless
//     the server made it: a status with an ErrorInfo of the forum's domain
//     (writes stopped by a full disk, shutting down) carries a message the
//     server wrote for clients, which gRPC clients get as it is;
//   - ResourceExhausted that the server did not make (gRPC's own "message
//     larger than max") becomes 500 INTERNAL, never a 429 that would tell
//     the client to wait and retry;
//   - a gateway-side 4xx error that is not a gRPC status (a malformed path
//     escape) becomes INVALID_ARGUMENT with its own message;
//   - a message that is not valid UTF-8 (a decoder's error quoting the
//     client's bytes) has each run of invalid bytes replaced by U+FFFD: a
//     google.rpc.Status holding invalid UTF-8 cannot be marshalled, and
//     grpc-gateway would answer 500 instead.
//
// Masked errors are logged with their original text.
func (g *gateway) publicError(r *http.Request, err error) error {
	if bodyTooLarge(r.Context()) {
		return &runtime.HTTPStatusError{
			HTTPStatus: http.StatusRequestEntityTooLarge,
			Err:        status.Error(codes.ResourceExhausted, g.tooLargeMsg),
		}
	}

	httpStatus := 0
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		httpStatus, err = hse.HTTPStatus, hse.Err
	}
	st, isStatus := status.FromError(err)
	if !isStatus && httpStatus >= 400 && httpStatus < 500 {
		st = status.New(codes.InvalidArgument, err.Error())
	}

	switch code := st.Code(); code {
	case codes.OK, codes.Internal, codes.Unknown, codes.DataLoss:
		if code == codes.OK { // an error without a code: never answer 200
			code = codes.Internal
		}
		g.logMasked(r, st)
		st = status.New(code, msgInternal)
	case codes.Unavailable:
		if !fromServer(st) {
			g.logMasked(r, st)
			st = status.New(code, msgUnavailable)
		}
	case codes.ResourceExhausted:
		// The server's limits carry its ErrorInfo (429, Retry-After);
		// one without is gRPC's own "message larger than max" on the
		// loopback connection: a server fault, not a limit the client
		// could wait out.
		if !fromServer(st) {
			g.logMasked(r, st)
			st = status.New(codes.Internal, msgInternal)
		}
	}

	if msg := st.Message(); !utf8.ValidString(msg) {
		p := st.Proto()
		p.Message = strings.ToValidUTF8(msg, "\uFFFD")
		st = status.FromProto(p)
	}

	if httpStatus != 0 {
		return &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()}
	}
	return st.Err()
}

// errorDomain is the ErrorInfo domain of the errors the forum server
// returns (server/errors.go).
const errorDomain = "forum"

// fromServer reports whether st was made by the forum server rather than by
// the gateway's client connection: it has an ErrorInfo of the forum's
// domain, which the server adds to every error it maps.
func fromServer(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return true
		}
	}
	return false
}

// logMasked logs an error whose message is withheld from the client.
func (g *gateway) logMasked(r *http.Request, st *status.Status) {
	g.logger.LogAttrs(r.Context(), slog.LevelWarn, "gateway request failed",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("code", st.Code().String()),
		slog.String("error", st.Message()),
	)
}

// challengeWriter replaces the WWW-Authenticate header grpc-gateway sets on
// UNAUTHENTICATED errors (the status message) with a valid Bearer challenge.
type challengeWriter struct {
	http.ResponseWriter
}

// WriteHeader fixes the challenge, then writes the status line.
func (c *challengeWriter) WriteHeader(code int) {
	if h := c.Header(); h.Get("WWW-Authenticate") != "" {
		h.Set("WWW-Authenticate", bearerChallenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// writeStatus writes a google.rpc.Status JSON error from the middlewares,
// which run outside grpc-gateway.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	writeRPCStatus(w, httpStatus, status.New(code, msg))
}
