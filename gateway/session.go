package gateway

// Browser sessions. Login and Register over JSON set a cookie holding the
// session token; later requests that carry the cookie are sent to gRPC as
// `authorization: Bearer <token>`; Logout clears it.
//
// A browser gets the token only in that HttpOnly cookie: when the login
// request carries Sec-Fetch-Site (which browsers add to every request and
// which script cannot set or remove), the token field of the answer is
// emptied, so that no script on the page, injected script included, ever
// reads the session token. Other clients (curl, integrators' programs) get
// it in the body as well, to send as a bearer token.
//
// The cookie is __Host-forum_session: HttpOnly, SameSite=Lax, Path=/, no
// Domain, and Secure, which the __Host- prefix requires. Browsers keep
// Secure cookies from https:// origins and from http://localhost,
// *.localhost and loopback addresses, so that cookie is used when the
// request came over TLS (directly, or through a trusted proxy saying
// X-Forwarded-Proto: https) or to a loopback host. On plain HTTP to any
// other host a Secure cookie would be dropped, so the cookie is then
// forum_session without Secure, and a warning is logged once: serve the
// gateway over TLS.
//
// Cross-site requests: SameSite=Lax keeps the cookie off cross-site
// subrequests and POSTs, and http.CrossOriginProtection (middleware.go)
// refuses unsafe cross-origin requests before this code runs, cookie or
// not.

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Names of the session cookie.
const (
	// SessionCookie is the session cookie's name over HTTPS and on
	// loopback hosts.
	SessionCookie = "__Host-forum_session"
	// InsecureSessionCookie is the session cookie's name on plain HTTP to
	// any other host, where browsers would drop a Secure cookie (and a
	// __Host- cookie must be Secure).
	InsecureSessionCookie = "forum_session"
)

// Messages of the 401 answers to ambiguous credentials.
const (
	msgCookieAndAuthorization = "send either a session cookie or an Authorization header, not both"
	msgTwoCookies             = "more than one session cookie"
	msgMalformedAuthorization = "malformed Authorization header: only printable ASCII is allowed"
)

// sessionKey is the context key of a request's *sessionInfo.
type sessionKey struct{}

// sessionInfo is what the sessions middleware found in a request.
type sessionInfo struct {
	secure  bool   // a secure context: the cookie is SessionCookie, Secure
	token   string // the session cookie's value; "" if none
	browser bool   // the request came from a browser (Sec-Fetch-Site)
}

// cookieName is the name of the session cookie in this context.
func (s *sessionInfo) cookieName() string {
	if s.secure {
		return SessionCookie
	}
	return InsecureSessionCookie
}

// sessionFrom returns the sessionInfo the sessions middleware stored in
// ctx, or nil.
func sessionFrom(ctx context.Context) *sessionInfo {
	s, _ := ctx.Value(sessionKey{}).(*sessionInfo)
	return s
}

// sessions reads the session cookie of the request's context (see
// sessionInfo) for sessionMetadata, and answers 401 UNAUTHENTICATED to a
// request that carries both the cookie and an Authorization header, or
// the cookie twice: which credential was meant is unclear, and silently
// picking one could act as the wrong user. It also answers 401 to an
// Authorization header that gRPC metadata cannot carry (a byte outside
// printable ASCII), which grpc-gateway would silently drop, running the
// call as an anonymous one.
func (g *gateway) sessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, v := range r.Header.Values("Authorization") {
			if !printableASCII(v) {
				w.Header().Set("WWW-Authenticate", bearerChallenge)
				writeStatus(w, http.StatusUnauthorized, codes.Unauthenticated, msgMalformedAuthorization)
				return
			}
		}
		info := &sessionInfo{secure: g.secureContext(r), browser: r.Header.Get("Sec-Fetch-Site") != ""}
		name := info.cookieName()
		var n int
		for _, c := range r.Cookies() {
			if c.Name == name && c.Value != "" {
				n++
				info.token = c.Value
			}
		}
		if n > 0 {
			msg := ""
			switch {
			case len(r.Header.Values("Authorization")) > 0:
				msg = msgCookieAndAuthorization
			case n > 1:
				msg = msgTwoCookies
			}
			if msg != "" {
				w.Header().Set("WWW-Authenticate", bearerChallenge)
				writeStatus(w, http.StatusUnauthorized, codes.Unauthenticated, msg)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, info)))
	})
}

// printableASCII reports whether s is a valid gRPC metadata text value:
// bytes 0x20 to 0x7E only.
func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// secureContext reports whether a browser would keep a Secure cookie from
// r's origin: r came over TLS, a trusted proxy says it did
// (X-Forwarded-Proto: https, the proxy's own value being the last), or
// the host is a loopback name or address.
func (g *gateway) secureContext(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if fromTrustedProxy(r, g.trustedProxies) {
		if v := r.Header.Values("X-Forwarded-Proto"); len(v) > 0 && lastListItem(v[len(v)-1]) == "https" {
			return true
		}
	}
	return isLoopbackHost(r.Host)
}

// lastListItem returns the last item of a comma-separated header value,
// trimmed and lower-cased.
func lastListItem(v string) string {
	return strings.ToLower(strings.TrimSpace(v[strings.LastIndexByte(v, ',')+1:]))
}

// sessionMetadata is a runtime.WithMetadata annotator: it sends the
// session cookie's token as `authorization: Bearer <token>`. Login and
// Register get no token, so a stale cookie cannot stop a new login (the
// server refuses unknown tokens even on public methods); the response
// replaces the cookie.
func (g *gateway) sessionMetadata(ctx context.Context, _ *http.Request) metadata.MD {
	info := sessionFrom(ctx)
	if info == nil || info.token == "" || isLoginMethod(ctx) {
		return nil
	}
	return metadata.Pairs("authorization", "Bearer "+info.token)
}

// isLoginMethod reports whether the call of ctx is Login or Register.
func isLoginMethod(ctx context.Context) bool {
	m, _ := runtime.RPCMethod(ctx)
	return m == forumv1.AuthService_Login_FullMethodName || m == forumv1.AuthService_Register_FullMethodName
}

// headerMatcher is the mux's incoming header matcher: grpc-gateway's
// default (permanent HTTP headers become grpcgateway-* metadata), except
// that Cookie is not forwarded: the gateway has taken the session token
// out of it, and the server has no use for the rest.
func headerMatcher(key string) (string, bool) {
	if http.CanonicalHeaderKey(key) == "Cookie" {
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// setSessionCookie is a runtime.WithForwardResponseOption: a successful
// Login or Register (both answer LoginResponse) sets the session cookie,
// expiring with the session, and to a browser answers without the token
// (see the top of this file); a successful Logout clears the cookie. It runs
// before the answer is encoded.
func (g *gateway) setSessionCookie(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	info := sessionFrom(ctx)
	if info == nil {
		return nil
	}
	switch m := m.(type) {
	case *forumv1.LoginResponse:
		c := sessionCookie(info, m.GetToken())
		if exp := m.GetExpireTime(); exp != nil {
			secs := math.Round(time.Until(exp.AsTime()).Seconds())
			if secs < 1 {
				return nil // already expired: nothing worth keeping
			}
			c.MaxAge = int(min(secs, math.MaxInt32))
		}
		if !info.secure {
			g.insecureCookieOnce.Do(func() {
				g.logger.LogAttrs(ctx, slog.LevelWarn, "session cookie sent without Secure over plain HTTP; serve the gateway over TLS (or behind a TLS proxy listed in the trusted proxies)",
					slog.String("cookie", InsecureSessionCookie))
			})
		}
		http.SetCookie(w, c)
		if info.browser {
			m.Token = ""
		}
	case *forumv1.LogoutResponse:
		http.SetCookie(w, clearedSessionCookie(info))
	}
	return nil
}

// sessionCookie returns the session cookie holding token, without an
// expiry.
func sessionCookie(info *sessionInfo, token string) *http.Cookie {
	return &http.Cookie{
		Name:     info.cookieName(),
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   info.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// clearedSessionCookie returns the Set-Cookie that deletes the session
// cookie (Max-Age=0). A __Host- cookie is only accepted, even to delete
// it, with Secure and Path=/, so it keeps every attribute.
func clearedSessionCookie(info *sessionInfo) *http.Cookie {
	c := sessionCookie(info, "")
	c.MaxAge = -1 // Max-Age=0
	return c
}

// handleAPIError is the mux's error handler. Before rendering the error
// with handleError it sets Retry-After on rate-limit refusals, and clears
// the session cookie when the token it carried was refused (revoked,
// expired, or its password changed), so the browser stops sending it.
func (g *gateway) handleAPIError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	setRetryAfter(w, err)
	if info := sessionFrom(r.Context()); info != nil && info.token != "" && status.Code(err) == codes.Unauthenticated && !isLoginMethod(ctx) {
		http.SetCookie(w, clearedSessionCookie(info))
	}
	g.handleError(ctx, mux, m, w, r, err)
}
