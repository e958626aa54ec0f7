// Package server implements the forum.v1 gRPC services. Each method
// validates its request, checks what the caller's role allows, makes one
// store call and returns; errors are mapped to status codes in one table
// (errors.go), and authentication, deadlines, logging and panic recovery are
// interceptors (interceptors.go).
package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/render"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Config configures New.
type Config struct {
	// Store is the data store. Required.
	Store *store.Store
	// Search is the search index, kept from the store's event log by a
	// search.Indexer that the caller runs; nil leaves Search
	// FAILED_PRECONDITION.
	Search *search.Index
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// Reflection registers the gRPC reflection service, so grpcurl works
	// without the protos. It is an introspection aid, off unless asked for
	// (forumd: --reflection); anyone who can reach the server may use it.
	Reflection bool
	// SessionIdle ends a login session unused for this long; 0 means 7
	// days.
	SessionIdle time.Duration
	// SessionMaxAge ends a login session this long after login, used or
	// not; 0 means 30 days.
	SessionMaxAge time.Duration
	// SelfRegistration lets anyone register; when false, Register needs an
	// invitation code.
	SelfRegistration bool
	// PublicDirectory opens the member directory to anonymous callers:
	// ListUsers, and the whole of every profile on GetUser. When false
	// (the default), ListUsers needs a login (any API token scope), and an
	// anonymous GetUser sees a user's name, username and display name only.
	PublicDirectory bool
	// MaxTimeout is the longest a call may run; calls without a deadline, or
	// with a longer one, get it. 0 means 30 seconds.
	MaxTimeout time.Duration
	// MaxRecvMsgSize bounds a request message; 0 means 1 MiB.
	MaxRecvMsgSize int
	// MaxStreamsPerAddress bounds the streams (event streams, health
	// watches) one client address has open at once; 0 means 256, room for
	// the browser tabs of an office behind one address.
	MaxStreamsPerAddress int
	// MaxStreams bounds the streams open on the server; 0 means 4096.
	MaxStreams int
	// LoginConcurrency bounds the password hashes computed at once (each
	// takes 19 MiB and tens of milliseconds); 0 means 2.
	LoginConcurrency int
	// EventHeartbeat is how long an idle StreamEvents waits before sending
	// a heartbeat, so that proxies keep the connection open; 0 means
	// DefaultEventHeartbeat.
	EventHeartbeat time.Duration

	// Rate limits (ratelimit.go).

	// RateLimits are the token buckets calls are charged to. The zero
	// value limits nothing (tests, benchmarks, embedding); forumd serves
	// with DefaultRateLimits.
	RateLimits RateLimits
	// GatewaySecret, when set, lets the HTTP gateway name the client
	// address of the calls it forwards: a call carrying this secret in the
	// x-forum-gateway-secret metadata is rate-limited by the address in its
	// x-forum-client-ip metadata instead of its peer address (the
	// gateway's own, over loopback). Without the secret that metadata is
	// ignored, so a direct gRPC client cannot choose its address. forumd
	// sets a random secret per process and gives it to both. Knowing the
	// gateway's calls also lets the server hold a direct client's
	// connection briefly before refusing its calls over the address limit
	// (ratelimit.go), which it never does to the gateway's.
	GatewaySecret string
	// WebhookAllowPrivate lets webhooks target loopback, private and
	// link-local addresses (forumd --webhook-allow-private): for tests and
	// deployments inside one network. Without it such target URLs are
	// refused (INVALID_ARGUMENT naming target_url).
	WebhookAllowPrivate bool
}

// Server is the forum's gRPC server.
type Server struct {
	store            *store.Store
	search           *search.Index
	log              *slog.Logger
	render           *render.Renderer
	sessionIdle      time.Duration
	sessionMaxAge    time.Duration
	selfRegistration bool
	publicDirectory  bool
	streams          openStreams
	maxTimeout       time.Duration
	loginSlots       chan struct{}
	eventHeartbeat   time.Duration
	webhookPrivate   bool
	limiter          *rateLimiter // rate limits (ratelimit.go)
	grpc             *grpc.Server
	health           *health.Server

	servingMu sync.Mutex  // serializes health changes (SetServing, WatchStore)
	serving   atomic.Bool // what SetServing last asked for

	ending    chan struct{} // closed by EndStreams
	endStream sync.Once
}

// New builds the gRPC server with every forum.v1 service, the health
// service and, if configured, reflection.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	s := &Server{
		store:            cfg.Store,
		search:           cfg.Search,
		log:              cfg.Logger,
		render:           render.New(),
		sessionIdle:      cfg.SessionIdle,
		sessionMaxAge:    cfg.SessionMaxAge,
		selfRegistration: cfg.SelfRegistration,
		publicDirectory:  cfg.PublicDirectory,
		maxTimeout:       cfg.MaxTimeout,
		eventHeartbeat:   cfg.EventHeartbeat,
		webhookPrivate:   cfg.WebhookAllowPrivate,
		health:           health.NewServer(),
		ending:           make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.sessionIdle == 0 {
		s.sessionIdle = 7 * 24 * time.Hour
	}
	if s.sessionMaxAge == 0 {
		s.sessionMaxAge = 30 * 24 * time.Hour
	}
	if s.maxTimeout == 0 {
		s.maxTimeout = 30 * time.Second
	}
	if s.eventHeartbeat <= 0 {
		s.eventHeartbeat = DefaultEventHeartbeat
	}
	if cfg.MaxRecvMsgSize == 0 {
		cfg.MaxRecvMsgSize = 1 << 20
	}
	if cfg.LoginConcurrency == 0 {
		cfg.LoginConcurrency = 2
	}
	s.loginSlots = make(chan struct{}, cfg.LoginConcurrency)
	s.streams.perAddress, s.streams.max = cfg.MaxStreamsPerAddress, cfg.MaxStreams
	if s.streams.perAddress <= 0 {
		s.streams.perAddress = defaultMaxStreamsPerAddress
	}
	if s.streams.max <= 0 {
		s.streams.max = defaultMaxStreams
	}
	s.limiter = newRateLimiter(cfg.RateLimits, cfg.GatewaySecret, s.log, time.Now)
	s.grpc = grpc.NewServer(append(serverTransportOptions(),
		grpc.ForceServerCodecV2(requestCodec{}),
		// Rate limits (ratelimit.go): per address when a call's headers
		// arrive, per caller and method after authentication; neither hook
		// is installed when the limits are off.
		s.limiter.tapOption(),
		grpc.UnaryInterceptor(chainUnary(s.unaryInterceptors()...)),
		grpc.ChainStreamInterceptor(s.streamInterceptors()...),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(16<<20),
	)...)
	forumv1.RegisterThemeServiceServer(s.grpc, &themeService{s: s})
	forumv1.RegisterThreadServiceServer(s.grpc, &threadService{s: s})
	forumv1.RegisterReplyServiceServer(s.grpc, &replyService{s: s})
	forumv1.RegisterAuthServiceServer(s.grpc, &authService{s: s})
	forumv1.RegisterUserServiceServer(s.grpc, &userService{s: s})
	forumv1.RegisterOrganizationServiceServer(s.grpc, &organizationService{s: s})
	forumv1.RegisterConveningServiceServer(s.grpc, &conveningService{s: s})
	forumv1.RegisterActionItemServiceServer(s.grpc, &actionItemService{s: s})
	forumv1.RegisterRevisionServiceServer(s.grpc, &revisionService{s: s})
	forumv1.RegisterApiTokenServiceServer(s.grpc, &apiTokenService{s: s})
	forumv1.RegisterInvitationServiceServer(s.grpc, &invitationService{s: s})
	forumv1.RegisterGroupServiceServer(s.grpc, &groupService{s: s})
	forumv1.RegisterEventServiceServer(s.grpc, &eventService{s: s})
	forumv1.RegisterSearchServiceServer(s.grpc, &searchService{s: s})
	forumv1.RegisterWebhookServiceServer(s.grpc, &webhookService{s: s})
	forumv1.RegisterNotificationServiceServer(s.grpc, &notificationService{s: s})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if cfg.Reflection {
		reflection.Register(s.grpc)
	}
	s.SetServing(true)
	return s, nil
}

// GCPercent is the garbage collector target forumd runs with (as GOGC=400)
// unless told otherwise. The server's live heap is small (the data is in
// bbolt's memory map, not on the heap) while every call allocates ~35 KB
// (gRPC, protobuf, Markdown), so with Go's default of 100 a collection
// starts every few tens of milliseconds under load. At 400 the heap may
// grow to five times the live heap between collections instead of twice:
// tens of MB more, for 6-20 % more CreateReply calls per second on two
// cores (docs/PERFORMANCE.md). GOMEMLIMIT still applies if set.
const GCPercent = 400

// streamWorkersPerCore is how many call-serving goroutines the server keeps
// per core: idle ones cost only their stacks.
const streamWorkersPerCore = 64

// serverTransportOptions are the gRPC server options that tune how calls
// are carried rather than what they do.
//
// NumStreamWorkers serves calls from a pool of goroutines instead of
// starting a goroutine for each call (gRPC still starts one when every
// worker is busy, so calls that wait on a commit never hold others up). A
// new goroutine starts with a small stack that the call then grows, copying
// it, several times: with one worker per core most calls at 64 concurrent
// clients still got a new goroutine, and growing stacks was ~8 % of
// GetThread's CPU. With streamWorkersPerCore per core, a call almost always
// finds a worker whose stack has grown already (docs/PERFORMANCE.md). The
// option is marked experimental in grpc-go.
func serverTransportOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.NumStreamWorkers(uint32(streamWorkersPerCore * runtime.GOMAXPROCS(0))),
	}
}

// GRPC returns the gRPC server, ready to Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// SetServing sets the health status reported for the server ("") and each
// forum service. Once a storage error has stopped the store writing
// (store.Err), the status stays NOT_SERVING whatever serving says.
func (s *Server) SetServing(serving bool) {
	s.servingMu.Lock()
	defer s.servingMu.Unlock()
	s.serving.Store(serving)
	s.setHealth(serving && s.store.Err() == nil)
}

// setHealth sets the status of every service, then of the server (""),
// so that whoever sees the server's status change finds every service's
// changed already. The caller holds servingMu.
func (s *Server) setHealth(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, st)
	}
	s.health.SetServingStatus("", st)
}

// EndStreams ends the streams that would otherwise last as long as their
// clients want (StreamEvents), with UNAVAILABLE and the revision to resume
// from, and makes new ones end at once: a graceful stop waits for every
// open call, and a client following the event log never stops on its own.
// forumd calls it when it starts shutting down, after SetServing(false).
func (s *Server) EndStreams() { s.endStream.Do(func() { close(s.ending) }) }

// WatchStore waits until the store stops writing after a storage error
// (store.Failed) or ctx is done. In the first case it logs the error and
// sets the health status of the server and every service to NOT_SERVING,
// for good: writes now fail with UNAVAILABLE (errors.go) while reads go
// on, and only a restart, once the disk is fixed, brings the writes back.
// forumd runs it for as long as it serves.
func (s *Server) WatchStore(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-s.store.Failed():
	}
	err := s.store.Err()
	s.servingMu.Lock()
	s.setHealth(false)
	s.servingMu.Unlock()
	s.log.Error("writes are stopped after a storage error; reads go on, health is NOT_SERVING. Fix the disk (make room), then restart forumd: it recovers every acknowledged write",
		slog.String("cause", writesStoppedMessage(err)), slog.Any("error", err))
}

// NotServingReason returns "" while the health status is SERVING, and
// otherwise why not, in words safe to show to clients: the cause when a
// storage error stopped the writes ("writes are stopped: disk full"), else
// "not serving" (SetServing(false), as when forumd shuts down). GET
// /healthz shows it.
func (s *Server) NotServingReason() string {
	if err := s.store.Err(); err != nil {
		return writesStoppedMessage(err)
	}
	if !s.serving.Load() {
		return "not serving"
	}
	return ""
}
