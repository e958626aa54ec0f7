// Package app assembles forumd, the one place that does: the store, the
// gRPC server (package server), the HTTP/JSON gateway in front of it with
// the web UI (packages gateway and web), the loopback connection from the
// gateway to the server's own gRPC listener, the sweep of expired sessions,
// old request ids and events past the retention, and the watch that turns
// health NOT_SERVING when a storage error stops the writes.
//
// cmd/forumd builds a Config from its flags and environment and runs
// New, Serve and (through Serve) Shutdown; tests run the same assembly in
// their own process (internal/forumdtest, the gateway's tests).
//
// The life of an App:
//
//	a, err := app.New(ctx, app.Config{DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
//	...                  // both listeners are open: a.GRPCAddr(), a.HTTPAddr()
//	err = a.Serve(ctx)   // until ctx is done, a listener fails or Shutdown is called
//
// Serve shuts the App down itself when ctx is done or a listener fails;
// Shutdown, from another goroutine, does so at any time, and also releases
// an App that never served.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/forumhq/forum/gateway"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/mail"
	"github.com/forumhq/forum/server/notify"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/webhook"
	"github.com/forumhq/forum/web"
)

// DatabaseFile is the name of the database file in a data directory; its
// write-ahead log is DatabaseFile+"-wal.0" and DatabaseFile+"-wal.1" beside
// it.
const DatabaseFile = "forum.db"

// SearchDirName is the name of the search index's directory in a data
// directory.
const SearchDirName = "search"

// DefaultSweepInterval is how often an App deletes expired sessions and
// forgotten request ids (store.Sweep) unless Config.SweepInterval says
// otherwise.
const DefaultSweepInterval = 15 * time.Minute

// DefaultShutdownTimeout bounds a graceful shutdown unless
// Config.ShutdownTimeout says otherwise: in-flight calls have this long to
// finish before their connections are cut.
const DefaultShutdownTimeout = 20 * time.Second

// Timeouts of the HTTP server.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	// writeTimeoutMargin is added to the longest request deadline, so that
	// the error response still goes out.
	writeTimeoutMargin = 10 * time.Second
	idleTimeout        = 2 * time.Minute
	maxHeaderBytes     = 64 << 10
	// gatewayMaxRecvMsgSize matches the gRPC server's send limit, so the
	// gateway can relay any response the server sends.
	gatewayMaxRecvMsgSize = 16 << 20
)

// ErrClosed is returned by Serve once Shutdown has begun.
var ErrClosed = errors.New("app: shut down")

// Config is what New assembles an App from. Exactly one of DataDir and
// Store is set, and for each door exactly one of the listener and the
// address.
type Config struct {
	// DataDir is the data directory. New creates it if it is missing (mode
	// 0700, durably: see OpenStore), warns in the log if other users may
	// read it, and opens DataDir/forum.db, which Shutdown closes.
	DataDir string
	// StoreOptions are the options New opens DataDir's store with; a nil
	// Logger becomes Config.Logger. Unused with Store.
	StoreOptions store.Options
	// Store is an open store to serve instead of DataDir's. The caller
	// keeps it: it closes the store after Shutdown has returned.
	Store *store.Store

	// GRPCListener is the listener the gRPC server serves on; nil means
	// New listens on GRPCAddr (TCP; port 0 picks a free port). The App
	// owns the listener: Shutdown closes it, as New does if it fails.
	GRPCListener net.Listener
	// GRPCAddr is the gRPC listen address, when GRPCListener is nil.
	GRPCAddr string
	// HTTPListener is the listener the HTTP/JSON gateway serves on; nil
	// means New listens on HTTPAddr. Owned as GRPCListener is.
	HTTPListener net.Listener
	// HTTPAddr is the HTTP/JSON listen address, when HTTPListener is nil.
	HTTPAddr string

	// Server holds the gRPC server's settings (reflection, registration,
	// the public directory, rate limits, sessions, bounds). New sets its
	// Store, Logger and GatewaySecret, which must be left zero.
	Server server.Config
	// Gateway holds the HTTP gateway's settings (trusted proxies and
	// origins, bounds). New sets its Logger, GatewaySecret and Health,
	// which must be left zero; a nil UI becomes the web UI, web.Handler().
	Gateway gateway.Options

	// Logger receives the logs of every part; nil means slog.Default().
	Logger *slog.Logger
	// SweepInterval is how often the store is swept (store.Sweep) while
	// serving, the first time as Serve begins: 0 means
	// DefaultSweepInterval, a negative value no sweep.
	SweepInterval time.Duration
	// EventRetention is how long the event log keeps an event: each sweep
	// deletes the older ones (store.SweepEvents). 0 means
	// store.DefaultEventRetention (90 days); it may not be negative.
	EventRetention time.Duration
	// ShutdownTimeout bounds a graceful shutdown; 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// WebhookAllowPrivate lets webhooks target loopback, private and
	// link-local addresses, at creation and at delivery (forumd
	// --webhook-allow-private); it sets Server.WebhookAllowPrivate.
	WebhookAllowPrivate bool
	// Webhooks are the delivery worker's options (retry delays, poll
	// interval) for tests; its AllowPrivate and Logger are set by New.
	// Webhook delivery runs while the App serves.
	Webhooks webhook.Options
	// Mail sends the forum's mail (an SMTP server: mail.NewSMTP); nil
	// means none is configured: notifications are made but not mailed,
	// and /healthz?details=1 says so.
	Mail mail.Sender
	// PublicURL is the forum's public address, for the links of its mail;
	// required with Mail.
	PublicURL string
	// MailOptions tune the mailer for tests (Backoff, Poll, Now).
	MailOptions func(*notify.Mailer)
	// SearchDir is the directory of the search index; "" means
	// DataDir/search (SearchDirName), and, with Store, no search (Search
	// answers FAILED_PRECONDITION). The index is kept from the event log
	// while the App serves (search.Indexer), and rebuilt from the store
	// when it is new.
	SearchDir string
	// OnShutdown, if set, is called once as shutdown begins, before the
	// health status changes: forumd stops catching signals there, so that
	// a second signal kills it.
	OnShutdown func()
}

// App is forumd assembled: a gRPC server and an HTTP server in front of it,
// both listening, on one store. Its methods are safe for concurrent use.
type App struct {
	cfg        Config
	log        *slog.Logger
	st         *store.Store
	ownStore   bool
	srv        *server.Server
	grpcLis    net.Listener
	httpLis    net.Listener
	conn       *grpc.ClientConn
	handler    http.Handler
	httpSrv    *http.Server
	sweepEvery time.Duration
	retention  time.Duration // of the event log
	stopAfter  time.Duration

	mu        sync.Mutex
	served    bool          // Serve has been called
	stopping  chan struct{} // closed as Shutdown begins
	done      chan struct{} // closed once Shutdown has finished
	stopErr   error         // what Shutdown returned; read after done
	serving   sync.WaitGroup
	stopSweep context.CancelFunc // nil until Serve starts the sweep
	hooks     *webhook.Worker
	stopHooks context.CancelFunc // nil until Serve starts webhook delivery
	hooksDone chan struct{}
	index     *search.Index // nil without search
	indexer   *search.Indexer
	stopIndex context.CancelFunc // nil until Serve starts the indexer
	indexDone chan struct{}
	notifier  *notify.Notifier
	mailer    *notify.Mailer // nil without Config.Mail
	stopMail  context.CancelFunc
	mailDone  chan struct{}
	stopNote  context.CancelFunc // nil until Serve starts the notifier
	noteDone  chan struct{}
	sweepDone chan struct{}
	stopWatch context.CancelFunc // nil until Serve starts the watch
	watchDone chan struct{}
}

// New assembles an App from cfg: it opens the store (with DataDir), builds
// the gRPC server, listens on both addresses, dials the gRPC listener over
// loopback for the gateway, and builds the HTTP server with the gateway and
// the web UI. Once it returns both listeners are open, and it has logged
// {"msg":"listening","grpc":ADDR,"http":ADDR,...}, but nothing is served
// until Serve. ctx bounds only the assembly.
//
// The gateway names each HTTP client's address to the gRPC server, for the
// rate limits, proven by a secret New draws at random and gives to both.
//
// Errors name the step that failed: "create data directory: ...", "open
// database: ..." (wrapping the store's error, so that errors.Is finds the
// engine's), "listen for gRPC on ADDR: ...", and so on. Whatever New opened
// before the failure is closed again, the listeners of cfg included.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	if err := cfg.check(); err != nil {
		closeListeners(cfg.GRPCListener, cfg.HTTPListener)
		return nil, err
	}
	a := &App{
		cfg:        cfg,
		log:        cfg.Logger,
		st:         cfg.Store,
		grpcLis:    cfg.GRPCListener,
		httpLis:    cfg.HTTPListener,
		sweepEvery: cfg.SweepInterval,
		retention:  cfg.EventRetention,
		stopAfter:  cfg.ShutdownTimeout,
		stopping:   make(chan struct{}),
		done:       make(chan struct{}),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.sweepEvery == 0 {
		a.sweepEvery = DefaultSweepInterval
	}
	if a.retention == 0 {
		a.retention = store.DefaultEventRetention
	}
	if a.stopAfter == 0 {
		a.stopAfter = DefaultShutdownTimeout
	}
	defer func() {
		if err != nil {
			a.release()
		}
	}()

	if a.st == nil {
		if err := createDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
			a.log.Warn("data directory is accessible to other users", slog.String("dir", cfg.DataDir), slog.String("mode", fi.Mode().Perm().String()))
		}
		opts := cfg.StoreOptions
		if opts.Logger == nil {
			opts.Logger = a.log
		}
		if a.st, err = openStore(cfg.DataDir, opts); err != nil {
			return nil, err
		}
		a.ownStore = true
	}

	// Rate limits: the gateway names each HTTP client's address to the
	// server, proven by a secret only this App knows.
	gatewaySecret := rand.Text()
	a.log.Info("rate limits", slog.String("limits", cfg.Server.RateLimits.String()),
		slog.String("trusted_proxies", joinPrefixes(cfg.Gateway.TrustedProxies)))

	scfg := cfg.Server
	scfg.Store, scfg.Logger, scfg.GatewaySecret = a.st, a.log, gatewaySecret
	scfg.WebhookAllowPrivate = scfg.WebhookAllowPrivate || cfg.WebhookAllowPrivate
	wopt := cfg.Webhooks
	wopt.AllowPrivate, wopt.Logger = scfg.WebhookAllowPrivate, a.log
	a.hooks = webhook.New(a.st, wopt)
	a.notifier = notify.New(a.st, a.log)
	if cfg.Mail != nil {
		if a.mailer, err = notify.NewMailer(a.st, cfg.Mail, cfg.PublicURL, a.log); err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		if cfg.MailOptions != nil {
			cfg.MailOptions(a.mailer)
		}
		a.notifier.Mail = true
	} else {
		a.log.Info("mail: no SMTP server configured (--smtp-addr): notifications are not mailed")
	}
	if dir := cfg.SearchDir; dir != "" || cfg.DataDir != "" {
		if dir == "" {
			dir = filepath.Join(cfg.DataDir, SearchDirName)
		}
		if a.index, err = search.Open(dir); err != nil {
			return nil, fmt.Errorf("open search index: %w", err)
		}
		a.indexer = search.NewIndexer(a.st, a.index, a.log)
		a.indexer.Share = search.DefaultShare
		scfg.Search = a.index
	}
	if a.srv, err = server.New(scfg); err != nil {
		return nil, fmt.Errorf("build gRPC server: %w", err)
	}

	var lc net.ListenConfig
	if a.grpcLis == nil {
		if a.grpcLis, err = lc.Listen(ctx, "tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
		}
	}
	if a.httpLis == nil {
		if a.httpLis, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
		}
	}

	a.conn, err = grpc.NewClient(loopbackTarget(a.grpcLis.Addr()),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(gatewayMaxRecvMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial own gRPC listener: %w", err)
	}

	gopts := cfg.Gateway
	gopts.Logger, gopts.GatewaySecret = a.log, gatewaySecret
	gopts.Health = healthCheck(a.srv, gateway.GRPCHealth(a.conn))
	gopts.HealthDetails = a.healthDetails
	if gopts.UI == nil {
		gopts.UI = web.Handler() // the web UI at / (package web)
	}
	if a.handler, err = gateway.New(ctx, a.conn, gopts); err != nil {
		return nil, fmt.Errorf("build HTTP gateway: %w", err)
	}
	maxTimeout := gopts.MaxTimeout
	if maxTimeout == 0 {
		maxTimeout = gateway.DefaultMaxTimeout
	}
	a.httpSrv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      maxTimeout + writeTimeoutMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}

	a.log.Info("listening", slog.String("grpc", a.GRPCAddr()), slog.String("http", a.HTTPAddr()), slog.String("data", cfg.DataDir),
		slog.Int("gc_percent", gcPercentNow()))
	return a, nil
}

// check reports what is wrong with c, naming the field.
func (c *Config) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("app: "+format, args...)) }
	switch {
	case c.DataDir == "" && c.Store == nil:
		bad("Config.DataDir or Config.Store is required")
	case c.DataDir != "" && c.Store != nil:
		bad("Config.DataDir and Config.Store are both set")
	}
	switch {
	case c.GRPCListener == nil && c.GRPCAddr == "":
		bad("Config.GRPCListener or Config.GRPCAddr is required")
	case c.GRPCListener != nil && c.GRPCAddr != "":
		bad("Config.GRPCListener and Config.GRPCAddr are both set")
	}
	switch {
	case c.HTTPListener == nil && c.HTTPAddr == "":
		bad("Config.HTTPListener or Config.HTTPAddr is required")
	case c.HTTPListener != nil && c.HTTPAddr != "":
		bad("Config.HTTPListener and Config.HTTPAddr are both set")
	}
	if c.Server.Store != nil || c.Server.Logger != nil || c.Server.GatewaySecret != "" {
		bad("Config.Server.Store, Logger and GatewaySecret are set by New; leave them zero")
	}
	if c.Gateway.Logger != nil || c.Gateway.GatewaySecret != "" || c.Gateway.Health != nil {
		bad("Config.Gateway.Logger, GatewaySecret and Health are set by New; leave them zero")
	}
	if c.ShutdownTimeout < 0 {
		bad("negative Config.ShutdownTimeout %v", c.ShutdownTimeout)
	}
	if c.EventRetention < 0 {
		bad("negative Config.EventRetention %v", c.EventRetention)
	}
	return errors.Join(errs...)
}

// release closes what a failed New had opened.
func (a *App) release() {
	if a.conn != nil {
		_ = a.conn.Close()
	}
	if a.srv != nil {
		a.srv.GRPC().Stop()
	}
	closeListeners(a.grpcLis, a.httpLis)
	if a.index != nil {
		_ = a.index.Close()
	}
	if a.ownStore {
		_ = a.st.Close()
	}
}

// goUntilStopped runs run in a goroutine with a context that ctx's values
// but not its end reach, and returns what stops it and a channel closed
// once it has returned.
func goUntilStopped(ctx context.Context, run func(context.Context)) (context.CancelFunc, chan struct{}) {
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	return stop, done
}

// closeListeners closes the listeners that are not nil.
func closeListeners(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			_ = l.Close()
		}
	}
}

// GRPCAddr returns the address the gRPC server listens on, with the port
// chosen if port 0 was asked for.
func (a *App) GRPCAddr() string { return a.grpcLis.Addr().String() }

// HTTPAddr returns the address the HTTP/JSON gateway listens on, with the
// port chosen if port 0 was asked for.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// Store returns the store the App serves.
func (a *App) Store() *store.Store { return a.st }

// Server returns the gRPC server (its health status, its *grpc.Server).
func (a *App) Server() *server.Server { return a.srv }

// Handler returns what the HTTP listener serves: the gateway, with the web
// UI. Tests may call it directly (httptest), choosing the request's
// RemoteAddr; its calls still go to the gRPC server over loopback, so
// Serve must be running.
func (a *App) Handler() http.Handler { return a.handler }

// Serve serves gRPC and HTTP on the App's listeners, sweeps the store
// every Config.SweepInterval and watches it for a storage error that stops
// the writes (health then goes NOT_SERVING, while reads go on). It does so
// until ctx is done, a listener fails, or Shutdown is called.
//
// When ctx is done or a listener fails, Serve logs why and shuts the App
// down itself (Shutdown, bounded by Config.ShutdownTimeout), then returns
// the listener's error, if any, joined with Shutdown's. When Shutdown is
// called, Serve returns nil once it has finished. Serve may be called once;
// after Shutdown it returns ErrClosed.
func (a *App) Serve(ctx context.Context) error {
	a.mu.Lock()
	select {
	case <-a.stopping:
		a.mu.Unlock()
		return ErrClosed
	default:
	}
	if a.served {
		a.mu.Unlock()
		return errors.New("app: Serve called twice")
	}
	a.served = true
	errc := make(chan error, 2) // gRPC, HTTP
	fail := func(err error) {
		select {
		case <-a.stopping: // the error of stopping
		default:
			errc <- err
		}
	}
	grpcSrv, httpSrv := a.srv.GRPC(), a.httpSrv
	a.serving.Go(func() {
		if err := grpcSrv.Serve(a.grpcLis); err != nil {
			fail(fmt.Errorf("serve gRPC: %w", err))
		}
	})
	a.serving.Go(func() {
		if err := httpSrv.Serve(a.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("serve HTTP: %w", err))
		}
	})

	// Expired sessions, old request ids and events past the retention are
	// deleted in the background; the sweep stops as shutdown begins,
	// before the store closes.
	if a.sweepEvery > 0 {
		var sweepCtx context.Context
		sweepCtx, a.stopSweep = context.WithCancel(context.WithoutCancel(ctx))
		a.sweepDone = make(chan struct{})
		go func() {
			defer close(a.sweepDone)
			sweepLoop(sweepCtx, a.st, a.sweepEvery, a.retention, a.log)
		}()
	}
	// Webhook delivery reads the log beside the commit path; it stops as
	// shutdown begins (its cursors are durable), before the store closes.
	a.stopHooks, a.hooksDone = goUntilStopped(ctx, a.hooks.Run)
	// The search index is kept from the log beside the commit path too
	// (its cursor is in the index); it stops as shutdown begins.
	if a.indexer != nil {
		a.stopIndex, a.indexDone = goUntilStopped(ctx, a.indexer.Run)
	}
	// Notifications are derived from the log beside the commit path (their
	// cursor is in the store, written with them); stopped as shutdown
	// begins.
	a.stopNote, a.noteDone = goUntilStopped(ctx, a.notifier.Run)
	if a.mailer != nil {
		a.stopMail, a.mailDone = goUntilStopped(ctx, a.mailer.Run)
	}
	// A storage error stopping the writes turns health NOT_SERVING.
	var watchCtx context.Context
	watchCtx, a.stopWatch = context.WithCancel(context.Background())
	a.watchDone = make(chan struct{})
	go func() {
		defer close(a.watchDone)
		a.srv.WatchStore(watchCtx)
	}()
	a.mu.Unlock()

	var serveErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", slog.String("cause", context.Cause(ctx).Error()))
	case serveErr = <-errc:
		a.log.Error("shutting down after error", slog.String("error", serveErr.Error()))
	case <-a.stopping:
		<-a.done
		return nil
	}
	return errors.Join(serveErr, a.Shutdown(context.Background()))
}

// Shutdown stops the App gracefully, in forumd's order: Config.OnShutdown
// is called; health goes NOT_SERVING (gRPC health and /healthz); the sweep
// is told to stop; the HTTP server stops accepting and waits for its
// requests; the gateway's connection closes; the gRPC server drains its
// calls; the sweep and the watch on the store end; and the store is closed,
// if New opened it, which commits everything in the write-ahead log into
// forum.db. The drain ends when ctx is done or Config.ShutdownTimeout has
// passed, whichever comes first, and the remaining connections are then
// cut.
//
// If a storage error had stopped the writes, Shutdown logs why and returns
// an error wrapping the store's (forumd exits with status 1): nothing was
// acknowledged since, but whoever runs the App must hear of it. A failure
// to close the store is returned too. Otherwise it logs "stopped" and
// returns nil.
//
// Shutdown may be called more than once, and also on an App that never
// served: later calls wait for the first (or for ctx) and return what it
// returned.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	select {
	case <-a.stopping:
		a.mu.Unlock()
		select {
		case <-a.done:
			return a.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
	}
	close(a.stopping)
	a.mu.Unlock()
	a.stopErr = a.shutdown(ctx)
	close(a.done)
	return a.stopErr
}

// shutdown is the body of the first Shutdown; Serve has started all it
// will start, since a.stopping is closed.
func (a *App) shutdown(ctx context.Context) error {
	if a.cfg.OnShutdown != nil {
		a.cfg.OnShutdown()
	}
	a.srv.SetServing(false)
	a.srv.EndStreams() // event streams never end on their own
	if a.stopSweep != nil {
		a.stopSweep()
	}
	if a.stopHooks != nil {
		a.stopHooks()
	}
	if a.stopIndex != nil {
		a.stopIndex()
	}
	if a.stopNote != nil {
		a.stopNote()
	}
	if a.stopMail != nil {
		a.stopMail()
	}
	ctx, cancel := context.WithTimeout(ctx, a.stopAfter)
	defer cancel()

	if err := a.httpSrv.Shutdown(ctx); err != nil {
		a.log.Warn("HTTP shutdown incomplete; closing connections", slog.String("error", err.Error()))
		_ = a.httpSrv.Close()
	}
	_ = a.conn.Close()

	grpcSrv := a.srv.GRPC()
	stopped := make(chan struct{})
	go func() {
		grpcSrv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		a.log.Warn("gRPC graceful stop timed out; cancelling remaining calls")
		grpcSrv.Stop()
		<-stopped
	}
	closeListeners(a.grpcLis, a.httpLis) // a no-op unless Serve never ran
	a.serving.Wait()
	if a.stopSweep != nil {
		<-a.sweepDone
	}
	if a.stopHooks != nil {
		<-a.hooksDone
	}
	if a.stopIndex != nil {
		<-a.indexDone
	}
	if a.stopNote != nil {
		<-a.noteDone
	}
	if a.stopMail != nil {
		<-a.mailDone
	}
	if a.index != nil {
		if cerr := a.index.Close(); cerr != nil {
			a.log.Error("closing the search index", slog.String("error", cerr.Error()))
		}
	}
	if a.stopWatch != nil {
		a.stopWatch()
		<-a.watchDone
	}

	var err error
	if serr := a.st.Err(); serr != nil {
		// Nothing was acknowledged since (the store refuses every write),
		// but whoever runs forumd must hear of it.
		a.log.Error("stopped with an error: a storage error had stopped the writes; fix the disk (make room), then start forumd again: it recovers every acknowledged write",
			slog.String("cause", a.srv.NotServingReason()), slog.String("error", serr.Error()))
		err = fmt.Errorf("writes were stopped by a storage error: %w", serr)
	} else {
		a.log.Info("stopped")
	}
	if a.ownStore {
		if cerr := a.st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close database: %w", cerr))
		}
	}
	return err
}

// OpenStore opens the store of the data directory dataDir
// (dataDir/forum.db), creating dataDir first if it is missing, with mode
// 0700 and durably: each directory it creates, and the parent of the
// topmost, is fsynced, so that a crash right after cannot lose the
// directory and the files fsynced in it. New opens Config.DataDir this
// way; forumd admin create-user too.
func OpenStore(dataDir string, opts store.Options) (*store.Store, error) {
	if err := createDataDir(dataDir); err != nil {
		return nil, err
	}
	return openStore(dataDir, opts)
}

// createDataDir creates the data directory dir if it is missing (see
// OpenStore).
func createDataDir(dir string) error {
	if err := mkdirAllDurable(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return nil
}

// openStore opens the store of the existing data directory dir.
func openStore(dir string, opts store.Options) (*store.Store, error) {
	st, err := store.Open(filepath.Join(dir, DatabaseFile), opts)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// healthCheck is the health function of GET /healthz: while the server
// reports NOT_SERVING it fails with the reason for the JSON ("writes are
// stopped: disk full", or "not serving" while shutting down), and otherwise
// asks the gRPC health service over the gateway's connection (grpcHealth),
// so the probe also proves that the gateway reaches the server.
func healthCheck(srv *server.Server, grpcHealth func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if reason := srv.NotServingReason(); reason != "" {
			return &gateway.NotServingError{Reason: reason}
		}
		return grpcHealth(ctx)
	}
}

// healthDetails is what GET /healthz?details=1 adds: the outbox
// ("mail"), and the readers of the log's lag in revisions.
func (a *App) healthDetails(context.Context) map[string]any {
	out := map[string]any{}
	if a.mailer == nil {
		out["mail"] = map[string]any{"enabled": false, "reason": "no SMTP server configured (--smtp-addr): notifications are not mailed"}
	} else {
		st := a.mailer.Status()
		m := map[string]any{"enabled": true, "waiting": st.Waiting, "sent": st.Sent}
		if st.LastError != "" {
			m["last_error"] = st.LastError
		}
		out["mail"] = m
	}
	lag := map[string]any{"notifications": a.notifier.Lag()}
	if a.indexer != nil {
		lag["search"] = a.indexer.Lag()
	}
	out["lag"] = lag
	return out
}

// loopbackTarget is the gRPC target for dialling the listener at addr from
// this process: an unspecified host (0.0.0.0, ::) becomes the loopback
// address of the same family.
func loopbackTarget(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		ip = net.IPv4(127, 0, 0, 1)
	case ip.IsUnspecified():
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// joinPrefixes returns the trusted proxies as a comma-separated list, ""
// for none.
func joinPrefixes[T fmt.Stringer](ps []T) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// gcPercentNow returns the garbage collector's current target (-1: off).
func gcPercentNow() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int(s[0].Value.Uint64())
}
