package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// userAgent is what the Client adds to the gRPC user agent of every call.
const userAgent = "forum-go-client"

// maxRecvMsgSize is the largest response the Client accepts: the server's
// own send limit, so that any page the server sends can be read (a page of
// 100 threads with 64 KiB bodies and their HTML is larger than gRPC's
// default of 4 MiB).
const maxRecvMsgSize = 16 << 20

// An Option configures New.
type Option func(*options)

type options struct {
	token     string
	insecure  bool
	tls       *tls.Config
	userAgent string
	timeout   time.Duration
	dialOpts  []grpc.DialOption
}

// WithToken makes the Client send token, a login or API token, as
// `authorization: Bearer <token>` on every call except Login and Register.
// Login, Logout and SetToken change it later.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithInsecure makes the Client dial in plaintext, whatever the target. The
// bearer token then travels unencrypted: use it only for loopback targets
// (where it is the default anyway) or networks you trust.
func WithInsecure() Option {
	return func(o *options) { o.insecure = true }
}

// WithTLSConfig makes the Client dial with TLS configured by cfg, whatever
// the target (also a loopback one); nil means TLS with the system's root
// certificates. Without it, non-loopback targets use TLS with the system's
// roots and loopback ones plaintext.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(o *options) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = cfg
	}
}

// WithUserAgent puts ua first in the user agent of every call, before the
// client's own "forum-go-client" and gRPC's.
func WithUserAgent(ua string) Option {
	return func(o *options) { o.userAgent = ua }
}

// WithTimeout gives every call whose context has no deadline a deadline d
// from its start. The deadline covers all the attempts of a retried call.
// Zero (the default) adds none; the server then applies its own limit.
// Streams (StreamEvents, and Events) are not bounded by it: they last as
// long as their context.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithDialOptions adds gRPC dial options. They are applied after the
// Client's own, so they can override them (grpc.WithDisableRetry, for
// example, turns the retry policy off).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// Client is a connection to a forum server. It is safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	themes  forumv1.ThemeServiceClient
	threads forumv1.ThreadServiceClient
	replies forumv1.ReplyServiceClient
	users   forumv1.UserServiceClient
	orgs    forumv1.OrganizationServiceClient
	convs   forumv1.ConveningServiceClient
	items   forumv1.ActionItemServiceClient
	revs    forumv1.RevisionServiceClient
	groups  forumv1.GroupServiceClient
	invites forumv1.InvitationServiceClient
	tokens  forumv1.ApiTokenServiceClient
	auth    forumv1.AuthServiceClient
	events  forumv1.EventServiceClient
	hooks   forumv1.WebhookServiceClient
	search  forumv1.SearchServiceClient
	notes   forumv1.NotificationServiceClient
	timeout time.Duration
	token   atomic.Pointer[string]
}

// New returns a Client of the forum server at target, a gRPC target such as
// "127.0.0.1:7070" or "dns:///forum.example.org:443". It does not connect:
// the first call does, so New fails only on bad options or a context that is
// already done. See the package documentation for how the transport is
// chosen.
func New(ctx context.Context, target string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if target == "" {
		return nil, errors.New("client: empty target")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.insecure && o.tls != nil {
		return nil, errors.New("client: WithInsecure and WithTLSConfig exclude each other")
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("client: negative timeout %v", o.timeout)
	}
	var creds credentials.TransportCredentials
	switch {
	case o.tls != nil:
		creds = credentials.NewTLS(o.tls)
	case o.insecure || isLoopback(target):
		creds = insecure.NewCredentials()
	default:
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	ua := userAgent
	if o.userAgent != "" {
		ua = o.userAgent + " " + userAgent
	}
	c := &Client{timeout: o.timeout}
	c.SetToken(o.token)
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent(ua),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		grpc.WithChainUnaryInterceptor(c.intercept),
		grpc.WithChainStreamInterceptor(c.interceptStream),
	}
	conn, err := grpc.NewClient(target, append(dialOpts, o.dialOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c.conn = conn
	c.themes = forumv1.NewThemeServiceClient(conn)
	c.threads = forumv1.NewThreadServiceClient(conn)
	c.replies = forumv1.NewReplyServiceClient(conn)
	c.users = forumv1.NewUserServiceClient(conn)
	c.orgs = forumv1.NewOrganizationServiceClient(conn)
	c.convs = forumv1.NewConveningServiceClient(conn)
	c.items = forumv1.NewActionItemServiceClient(conn)
	c.revs = forumv1.NewRevisionServiceClient(conn)
	c.groups = forumv1.NewGroupServiceClient(conn)
	c.invites = forumv1.NewInvitationServiceClient(conn)
	c.tokens = forumv1.NewApiTokenServiceClient(conn)
	c.auth = forumv1.NewAuthServiceClient(conn)
	c.events = forumv1.NewEventServiceClient(conn)
	c.hooks = forumv1.NewWebhookServiceClient(conn)
	c.search = forumv1.NewSearchServiceClient(conn)
	c.notes = forumv1.NewNotificationServiceClient(conn)
	return c, nil
}

// Close closes the connection. Calls in flight fail with a CANCELLED
// status.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the Client's gRPC connection. Stubs built on it, such as
// forumv1.NewXServiceClient(c.Conn()) for a service the Client has no
// accessor for, share the Client's token, timeout, retry policy and error
// wrapping; other services (grpc.health.v1) share the timeout, the retry
// policy (forum.v1 methods only) and the error wrapping.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// ThemeService returns the generated ThemeService stub.
func (c *Client) ThemeService() forumv1.ThemeServiceClient { return c.themes }

// ThreadService returns the generated ThreadService stub.
func (c *Client) ThreadService() forumv1.ThreadServiceClient { return c.threads }

// ReplyService returns the generated ReplyService stub.
func (c *Client) ReplyService() forumv1.ReplyServiceClient { return c.replies }

// UserService returns the generated UserService stub.
func (c *Client) UserService() forumv1.UserServiceClient { return c.users }

// OrganizationService returns the generated OrganizationService stub.
func (c *Client) OrganizationService() forumv1.OrganizationServiceClient { return c.orgs }

// RevisionService returns the raw RevisionService stub.
func (c *Client) RevisionService() forumv1.RevisionServiceClient { return c.revs }

// ActionItemService returns the raw ActionItemService stub.
func (c *Client) ActionItemService() forumv1.ActionItemServiceClient { return c.items }

// ConveningService returns the raw ConveningService stub.
func (c *Client) ConveningService() forumv1.ConveningServiceClient { return c.convs }

// GroupService returns the generated GroupService stub.
func (c *Client) GroupService() forumv1.GroupServiceClient { return c.groups }

// InvitationService returns the generated InvitationService stub.
func (c *Client) InvitationService() forumv1.InvitationServiceClient { return c.invites }

// ApiTokenService returns the generated ApiTokenService stub. An API token
// it creates is used like a login token: WithToken or SetToken.
func (c *Client) ApiTokenService() forumv1.ApiTokenServiceClient { return c.tokens }

// AuthService returns the generated AuthService stub. Prefer the Client's
// Login and Logout, which also keep the Client's token.
func (c *Client) AuthService() forumv1.AuthServiceClient { return c.auth }

// EventService returns the generated EventService stub. Prefer Events,
// which resumes a dropped stream by itself, and ListEvents.
func (c *Client) EventService() forumv1.EventServiceClient { return c.events }

// WebhookService returns the generated WebhookService stub. The Client's
// methods of the same names (CreateWebhook, Webhooks, PingWebhook, …) wrap
// it.
func (c *Client) WebhookService() forumv1.WebhookServiceClient { return c.hooks }

// SearchService returns the generated SearchService stub, whose Search
// returns one page of hits and its total_size. Prefer Search, which
// follows the pages.
func (c *Client) SearchService() forumv1.SearchServiceClient { return c.search }

// NotificationService returns the generated client of forum.v1.NotificationService.
func (c *Client) NotificationService() forumv1.NotificationServiceClient { return c.notes }

// Token returns the bearer token the Client sends, or "".
func (c *Client) Token() string { return *c.token.Load() }

// SetToken changes the bearer token the Client sends from now on; "" sends
// none.
func (c *Client) SetToken(token string) { c.token.Store(&token) }

// Login exchanges a username and password for a bearer token, which the
// Client sends from then on. The response holds the token (to keep, for
// example in a configuration file), its expiry and the user.
func (c *Client) Login(ctx context.Context, username, password string) (*forumv1.LoginResponse, error) {
	resp, err := c.auth.Login(ctx, &forumv1.LoginRequest{Username: username, Password: password})
	if err != nil {
		return nil, err
	}
	c.SetToken(resp.GetToken())
	return resp, nil
}

// Logout revokes the Client's token on the server and stops sending it. A
// token the server no longer knows (ErrUnauthenticated) is dropped too,
// and that error returned.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.auth.Logout(ctx, &forumv1.LogoutRequest{})
	if err == nil || errors.Is(err, ErrUnauthenticated) {
		c.SetToken("")
	}
	return err
}

// noToken are the methods the Client sends no token with.
var noToken = map[string]bool{
	forumv1.AuthService_Login_FullMethodName:    true,
	forumv1.AuthService_Register_FullMethodName: true,
}

// intercept is the Client's unary interceptor: see the package
// documentation.
func (c *Client) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c.timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
	}
	if strings.HasPrefix(method, "/forum.v1.") {
		req = withRequestID(req)
		ctx = c.withToken(ctx, method)
	}
	return wrapError(invoker(ctx, method, req, reply, cc, opts...))
}

// withToken returns ctx with the Client's token as the authorization
// metadata of a call of method, unless the call has its own or is one of
// noToken: logging in and registering must work whatever token the Client
// holds, and the server refuses a stale token even on public methods.
func (c *Client) withToken(ctx context.Context, method string) context.Context {
	if token := c.Token(); token != "" && !noToken[method] {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("authorization")) == 0 {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
	}
	return ctx
}

// interceptStream is the Client's stream interceptor: the token as for
// unary calls, and errors wrapped (from opening the stream, and from each
// message sent and received); no default deadline, since a stream lasts as
// long as its reader wants.
func (c *Client) interceptStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if strings.HasPrefix(method, "/forum.v1.") {
		ctx = c.withToken(ctx, method)
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, wrapError(err)
	}
	return wrappedStream{cs}, nil
}

// wrappedStream is a client stream whose errors are wrapped (wrapError);
// io.EOF, the end of a stream, stays as it is.
type wrappedStream struct {
	grpc.ClientStream
}

func (s wrappedStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	return md, wrapError(err)
}

func (s wrappedStream) SendMsg(m any) error { return wrapError(s.ClientStream.SendMsg(m)) }

func (s wrappedStream) RecvMsg(m any) error { return wrapError(s.ClientStream.RecvMsg(m)) }

// isLoopback reports whether target names this machine: a unix socket, an
// IP address in 127.0.0.0/8 or ::1, or "localhost", with or without a port
// and a dns or passthrough scheme. New dials such targets in plaintext
// unless WithTLSConfig is given.
func isLoopback(target string) bool {
	if strings.HasPrefix(target, "unix:") || strings.HasPrefix(target, "unix-abstract:") {
		return true
	}
	host := target
	if scheme, rest, ok := strings.Cut(host, "://"); ok {
		if scheme != "dns" && scheme != "passthrough" {
			return false
		}
		// dns://[authority]/host:port
		_, host, _ = strings.Cut(rest, "/")
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
