// Package gateway is the HTTP/JSON door of forumd: a grpc-gateway v2 mux that
// transcodes the forum.v1 REST mapping (proto/forum/v1/forum_http.yaml) into
// gRPC calls over a client connection to forumd's own gRPC listener, so the
// server's interceptors (auth, rate limits, logging, recovery) apply to both
// doors alike.
//
// In front of the mux sit the protections the gRPC side cannot give an HTTP
// client: a request body limit enforced before any JSON is decoded, a clamp
// on client-sent deadlines, CSRF protection for browsers, security headers,
// and an error handler that renders every error as google.rpc.Status JSON
// without leaking internal detail. Beside the API it serves the OpenAPI v2
// document at /openapi.json and a health probe at /healthz.
//
// # JSON conventions
//
// Requests and responses use proto3 JSON (protojson) with lowerCamelCase
// field names, as the OpenAPI document describes them. Fields holding their
// default value (empty strings, zero, false, empty lists, unset messages) are
// omitted from responses, which is the canonical proto3 JSON mapping; clients
// must treat a missing field as its default. The OpenAPI document marks no
// response field as required, so this matches it. Enums are rendered as their
// names and 64-bit integers as JSON strings, as protojson does.
//
// Unknown fields in a request body are rejected with 400 INVALID_ARGUMENT
// rather than silently dropped: a misspelt field ("tittle") or a field that
// does not exist in this API version would otherwise look like success while
// the intended change was never made. Integrators see the mistake at once.
//
// # One reading of a request
//
// The gateway reads a request only as a proxy in front of it would, and
// refuses what it could read otherwise (input.go), with 400
// INVALID_ARGUMENT naming the parameter or header: a request body must be
// one JSON value, followed by nothing but whitespace; a method override
// header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) is
// refused, whatever the method and content type, and a form-encoded POST
// never falls back to a GET route; path parameters and query parameter
// names and values must be valid UTF-8 once percent-decoded, as the gRPC
// door requires of every string. The server's gRPC response metadata is not
// sent as Grpc-Metadata-* headers or Grpc-Trailer-* trailers.
//
// # Errors
//
// Every error is a google.rpc.Status JSON object ({"code":5,"message":"..."})
// with the HTTP status grpc-gateway maps from the gRPC code (NotFound -> 404,
// InvalidArgument and FailedPrecondition -> 400, Unauthenticated -> 401,
// PermissionDenied -> 403, AlreadyExists and Aborted -> 409,
// ResourceExhausted -> 429, Unimplemented -> 501, Unavailable -> 503,
// DeadlineExceeded -> 504). Internal, Unknown and DataLoss errors become 500
// with the message "internal error", and Unavailable becomes 503 with
// "service unavailable": those messages can carry file paths, addresses or
// driver errors, so the original is logged and never sent. The server's own
// Unavailable errors (with the forum's ErrorInfo) keep their message and
// details: 503 "writes are stopped: disk full" with reason WRITES_STOPPED
// after a storage error stopped the writes. A route that does
// not exist is 404 NOT_FOUND; a route that exists with another method is 405
// (code UNIMPLEMENTED in the body). A body over the limit is 413 with code
// RESOURCE_EXHAUSTED. A rejected cross-origin browser request is 403. A
// call refused by a rate limit is 429 with a Retry-After header (whole
// seconds, from the status's RetryInfo).
//
// # The event stream
//
// GET /v1/events:stream (EventStreamPath) answers a request that accepts
// text/event-stream, as a browser's EventSource does, with Server-Sent
// Events: `id:` the revision, `event:` the short type, `data:` the Event's
// JSON, heartbeats as comments, and the Last-Event-ID header resuming after
// the revision it names. Other requests get grpc-gateway's streaming, one
// JSON object per line. Neither is compressed or cut by MaxTimeout. See
// sse.go.
//
// # Browser sessions and client addresses
//
// Login and Register also set the session token as an HttpOnly,
// SameSite=Lax cookie (__Host-forum_session, Secure; forum_session on plain
// HTTP to a non-loopback host), which later requests may send instead of
// an Authorization header (not with one: that is 401); Logout clears it.
// See session.go. Every call carries the HTTP client's address to the
// server's rate limiter, taken from X-Forwarded-For only behind
// Options.TrustedProxies; see clientip.go.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/gen/openapiv2"
)

// DefaultMaxBodyBytes is the request body limit used when
// Options.MaxBodyBytes is zero: 1 MiB.
const DefaultMaxBodyBytes int64 = 1 << 20

// DefaultMaxTimeout is the longest deadline a request gets when
// Options.MaxTimeout is zero.
const DefaultMaxTimeout = 30 * time.Second

// healthCheckTimeout bounds one /healthz probe of the gRPC health service.
const healthCheckTimeout = 5 * time.Second

// Paths of the routes the gateway serves beside the API.
const (
	// OpenAPIPath serves the merged OpenAPI v2 document of the API.
	OpenAPIPath = "/openapi.json"
	// HealthPath answers 200 {"status":"SERVING"} or 503
	// {"status":"NOT_SERVING"}, with a "reason" when the health function
	// gives one (NotServingError).
	HealthPath = "/healthz"
	// UnsubscribePath is the target of an e-mail's one-click unsubscribe
	// (RFC 8058): a POST with ?token= turns that mail off. A GET of it is
	// the web UI's page, which asks first.
	UnsubscribePath = "/unsubscribe"
)

// Options configures New. The zero value is usable.
type Options struct {
	// Logger receives the detail of errors that are masked for clients, and
	// recovered panics. Nil means slog.Default().
	Logger *slog.Logger

	// MaxBodyBytes is the largest request body accepted, in bytes. A request
	// whose Content-Length exceeds it is answered 413 before anything reads
	// the body; a body without Content-Length (chunked) is cut off at the
	// limit and also answered 413. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// MaxTimeout is the longest deadline a request may have. A client's
	// Grpc-Timeout header is honoured when it is shorter; requests without
	// one get MaxTimeout. Zero means DefaultMaxTimeout.
	MaxTimeout time.Duration

	// Health reports whether the server is serving, for GET /healthz: nil
	// error means 200, any error 503. The error's text is logged, not sent,
	// unless it is (or wraps) a *NotServingError, whose Reason the JSON
	// carries. Nil means asking the standard gRPC health service
	// (grpc.health.v1.Health/Check, service "") over the connection given
	// to New.
	Health func(ctx context.Context) error

	// HealthDetails, if set, gives GET /healthz?details=1 more to say
	// about the parts of the server (the outbox: "mail"), each a JSON
	// value; /healthz without it stays the cheap probe it is.
	HealthDetails func(ctx context.Context) map[string]any

	// TrustedOrigins lists origins ("https://app.example.org") whose browser
	// requests may call mutating methods cross-origin. Other cross-origin
	// browser requests with an unsafe method (POST, PATCH, DELETE, ...) are
	// rejected with 403, as detected by http.CrossOriginProtection from the
	// Sec-Fetch-Site and Origin headers. Requests from non-browser clients,
	// which send neither header, are unaffected.
	TrustedOrigins []string

	// TrustedProxies lists the reverse proxies (addresses and CIDR
	// prefixes; see ParseTrustedProxies) in front of the gateway. For a
	// request from one of them, the client's address is taken from
	// X-Forwarded-For (walked from the right past trusted proxies), and
	// X-Forwarded-Proto: https counts as TLS for the session cookie. For
	// any other request both headers are ignored. Empty: none.
	TrustedProxies []netip.Prefix

	// GatewaySecret is sent, with the client's address, in the metadata of
	// every call, so that the server's rate limiter keys the call by the
	// HTTP client rather than by the gateway's loopback connection. It
	// must equal the server's Config.GatewaySecret. Empty: no address is
	// sent, and the server sees every gateway call as the gateway's.
	GatewaySecret string

	// UI, if set, answers every request whose path the API does not own
	// (all but /v1/..., /openapi.json and /healthz): forumd sets it to the
	// web UI, web.Handler(). Nil: those paths are 404 NOT_FOUND.
	UI http.Handler
}

// gateway holds the resolved options shared by the middlewares and the
// grpc-gateway callbacks of one handler returned by New.
type gateway struct {
	logger      *slog.Logger
	maxBody     int64
	tooLargeMsg string
	maxTimeout  time.Duration
	health      func(ctx context.Context) error
	details     func(ctx context.Context) map[string]any
	csrf        *http.CrossOriginProtection

	// Client address and sessions (clientip.go, session.go).
	trustedProxies     []netip.Prefix
	secret             string
	insecureCookieOnce sync.Once
}

// New returns the HTTP handler of the forum API: the forum.v1 services
// transcoded to JSON over conn, plus /openapi.json and /healthz, behind the
// body limit, deadline clamp, CSRF check and security headers described in
// the package documentation. conn is normally a client connection to the
// same process's gRPC listener. ctx is handed to the generated registration
// functions; the handler does not stop when it is cancelled.
func New(ctx context.Context, conn *grpc.ClientConn, opts Options) (http.Handler, error) {
	if conn == nil {
		return nil, errors.New("gateway: nil gRPC client connection")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("gateway: negative MaxBodyBytes %d", opts.MaxBodyBytes)
	}
	if opts.MaxTimeout < 0 {
		return nil, fmt.Errorf("gateway: negative MaxTimeout %s", opts.MaxTimeout)
	}
	g := &gateway{
		logger:     opts.Logger,
		maxBody:    opts.MaxBodyBytes,
		maxTimeout: opts.MaxTimeout,
		health:     opts.Health,
		details:    opts.HealthDetails,
		csrf:       http.NewCrossOriginProtection(),

		trustedProxies: opts.TrustedProxies,
		secret:         opts.GatewaySecret,
	}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	if g.maxTimeout == 0 {
		g.maxTimeout = DefaultMaxTimeout
	}
	g.tooLargeMsg = "request body exceeds " + formatBytes(g.maxBody)
	if g.health == nil {
		g.health = grpcHealth(grpc_health_v1.NewHealthClient(conn))
	}
	for _, origin := range opts.TrustedOrigins {
		if err := g.csrf.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("gateway: trusted origin %q: %w", origin, err)
		}
	}

	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &strictJSONPb{runtime.JSONPb{ // input.go: nothing after the body's JSON value
				MarshalOptions: protojson.MarshalOptions{
					EmitUnpopulated: false,
					UseProtoNames:   false,
					UseEnumNumbers:  false,
				},
				UnmarshalOptions: protojson.UnmarshalOptions{
					DiscardUnknown: false,
				},
			}},
		}),
		runtime.WithErrorHandler(g.handleAPIError), // Retry-After, stale cookies (session.go), then handleError
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithMetadata(g.clientMetadata),
		runtime.WithMetadata(g.sessionMetadata),
		runtime.WithForwardResponseOption(g.setSessionCookie),
		runtime.WithRoutingErrorHandler(g.handleRoutingError),
		runtime.WithWriteContentLength(),
		// Hostile input (input.go): a request runs as the method on its
		// request line, and never as another; invalid UTF-8 in parameters
		// is refused; response metadata is not turned into headers.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		runtime.WithMiddlewares(checkParams),
		runtime.WithOutgoingHeaderMatcher(noResponseMetadata),
		runtime.WithOutgoingTrailerMatcher(noResponseMetadata),
	)

	registers := []struct {
		service  string
		register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"ThemeService", forumv1.RegisterThemeServiceHandler},
		{"ThreadService", forumv1.RegisterThreadServiceHandler},
		{"ReplyService", forumv1.RegisterReplyServiceHandler},
		{"AuthService", forumv1.RegisterAuthServiceHandler},
		{"UserService", forumv1.RegisterUserServiceHandler},
		{"OrganizationService", forumv1.RegisterOrganizationServiceHandler},
		{"ConveningService", forumv1.RegisterConveningServiceHandler},
		{"ActionItemService", forumv1.RegisterActionItemServiceHandler},
		{"RevisionService", forumv1.RegisterRevisionServiceHandler},
		{"ApiTokenService", forumv1.RegisterApiTokenServiceHandler},
		{"InvitationService", forumv1.RegisterInvitationServiceHandler},
		{"GroupService", forumv1.RegisterGroupServiceHandler},
		{"EventService", forumv1.RegisterEventServiceHandler},
		{"SearchService", forumv1.RegisterSearchServiceHandler},
		{"WebhookService", forumv1.RegisterWebhookServiceHandler},
		{"NotificationService", forumv1.RegisterNotificationServiceHandler},
	}
	for _, r := range registers {
		if err := r.register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("gateway: register %s: %w", r.service, err)
		}
	}
	// StreamEvents as Server-Sent Events (sse.go), over the generated route.
	if err := mux.HandlePath(http.MethodGet, EventStreamPath, g.streamEvents(mux, forumv1.NewEventServiceClient(conn))); err != nil {
		return nil, fmt.Errorf("gateway: route GET %s: %w", EventStreamPath, err)
	}
	if err := mux.HandlePath(http.MethodPost, UnsubscribePath, g.oneClickUnsubscribe(forumv1.NewNotificationServiceClient(conn))); err != nil {
		return nil, fmt.Errorf("gateway: route POST %s: %w", UnsubscribePath, err)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		if err := mux.HandlePath(method, OpenAPIPath, serveOpenAPI); err != nil {
			return nil, fmt.Errorf("gateway: route %s %s: %w", method, OpenAPIPath, err)
		}
		if err := mux.HandlePath(method, HealthPath, g.serveHealth); err != nil {
			return nil, fmt.Errorf("gateway: route %s %s: %w", method, HealthPath, err)
		}
	}

	// Outermost first: headers are set on every response, including the
	// ones the inner layers write themselves.
	var h http.Handler = mux
	h = g.sessions(h)
	h = g.clampDeadline(h)
	h = g.limitBody(h)
	h = refuseMethodOverride(h)
	h = g.checkCrossOrigin(h)
	h = compressJSON(h)
	h = g.recoverPanics(h)
	if ui, api := opts.UI, h; ui != nil { // web UI: every path the API does not own
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := r.URL.Path; p == "/v1" || strings.HasPrefix(p, "/v1/") || p == OpenAPIPath || p == HealthPath || p == UnsubscribePath && r.Method == http.MethodPost {
				api.ServeHTTP(w, r)
				return
			}
			ui.ServeHTTP(w, r)
		})
	}
	h = securityHeaders(h)
	return h, nil
}

// NotServingError is an error a health function (Options.Health) returns
// to have GET /healthz say why the server is not serving:
// {"status":"NOT_SERVING","reason":Reason}. The reason is shown to anyone
// who asks, so it must name no files, addresses or internal errors
// ("writes are stopped: disk full").
type NotServingError struct {
	Reason string
}

// Error implements error.
func (e *NotServingError) Error() string { return "not serving: " + e.Reason }

// GRPCHealth returns the health function Options.Health defaults to: it
// asks the standard gRPC health service over conn for the status of the
// server as a whole (service ""), and fails unless it is SERVING. A health
// function of one's own may end with it.
func GRPCHealth(conn *grpc.ClientConn) func(context.Context) error {
	return grpcHealth(grpc_health_v1.NewHealthClient(conn))
}

// grpcHealth returns a health function that asks the gRPC health service for
// the overall status of the server (service "").
func grpcHealth(client grpc_health_v1.HealthClient) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, healthCheckTimeout)
		defer cancel()
		resp, err := client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: ""})
		if err != nil {
			return fmt.Errorf("health check: %w", err)
		}
		if st := resp.GetStatus(); st != grpc_health_v1.HealthCheckResponse_SERVING {
			return fmt.Errorf("health check: status %s", st)
		}
		return nil
	}
}

// healthBody is the JSON of a GET /healthz answer.
type healthBody struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// serveHealth answers GET /healthz: 200 {"status":"SERVING"} when the health
// function reports no error, otherwise 503 {"status":"NOT_SERVING"}, with
// "reason" if the error is a *NotServingError. Other errors are logged, not
// sent.
func (g *gateway) serveHealth(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := g.health(r.Context()); err != nil {
		g.logger.LogAttrs(r.Context(), slog.LevelWarn, "health probe failed", slog.String("error", err.Error()))
		body := healthBody{Status: "NOT_SERVING"}
		if ns, ok := errors.AsType[*NotServingError](err); ok {
			body.Reason = ns.Reason
		}
		data, _ := json.Marshal(body) // cannot fail: two strings
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(append(data, '\n'))
		return
	}
	if g.details != nil && r.URL.Query().Get("details") != "" {
		body := map[string]any{"status": "SERVING"}
		for k, v := range g.details(r.Context()) {
			body[k] = v
		}
		data, err := json.Marshal(body)
		if err == nil {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(append(data, '\n'))
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"status":"SERVING"}` + "\n"))
}

// oneClickUnsubscribe answers POST /unsubscribe?token=... (RFC 8058: the
// mail client posts List-Unsubscribe=One-Click): NotificationService.
// Unsubscribe with the token of the query, or of the form. 200 with a line
// of text when done; the API's status otherwise.
func (g *gateway) oneClickUnsubscribe(c forumv1.NotificationServiceClient) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		token := r.URL.Query().Get("token")
		if token == "" {
			_ = r.ParseForm() // the body is bounded by limitBody
			token = r.PostForm.Get("token")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, err := c.Unsubscribe(r.Context(), &forumv1.UnsubscribeRequest{Token: token})
		if err != nil {
			st := status.Convert(err)
			w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
			_, _ = fmt.Fprintln(w, st.Message())
			return
		}
		_, _ = fmt.Fprintln(w, "Unsubscribed.")
	}
}

// serveOpenAPI answers GET /openapi.json with the embedded OpenAPI v2
// document.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(openapiv2.JSON)))
	_, _ = w.Write(openapiv2.JSON)
}

// formatBytes renders a byte count for messages: "1 MiB", "64 KiB" or
// "1000 bytes".
func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
