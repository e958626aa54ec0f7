package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/forumhq/forum/gateway"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/server"
	"github.com/forumhq/forum/server/mail"
	"github.com/forumhq/forum/server/store"
)

// Defaults of the serve flags.
const (
	defaultGRPCAddr = "127.0.0.1:7070"
	defaultHTTPAddr = "127.0.0.1:8080"
	defaultDataDir  = "./data"
	defaultLogLevel = "info"
)

// Environment variables read as flag defaults. Flags win over them, and they
// win over the built-in defaults. An empty variable counts as unset.
const (
	envGRPCAddr   = "FORUM_GRPC_ADDR"
	envHTTPAddr   = "FORUM_HTTP_ADDR"
	envDataDir    = "FORUM_DATA"
	envLogLevel   = "FORUM_LOG_LEVEL"
	envReflection = "FORUM_REFLECTION"
	envSelfReg    = "FORUM_SELF_REGISTRATION"
	envPublicDir  = "FORUM_PUBLIC_DIRECTORY"
	// Rate limiting (server/ratelimit.go, gateway/clientip.go).
	envTrustedProxies = "FORUM_TRUSTED_PROXIES"
	envRateLimits     = "FORUM_RATE_LIMITS"
	// The garbage collector's target (server.GCPercent).
	envGCPercent = "FORUM_GC_PERCENT"
	// How long the event log keeps events.
	envEventRetention = "FORUM_EVENT_RETENTION"
	// E-mail (server/mail, server/notify).
	envSMTPAddr     = "FORUM_SMTP_ADDR"
	envSMTPFrom     = "FORUM_SMTP_FROM"
	envSMTPUser     = "FORUM_SMTP_USER"
	envSMTPPassword = "FORUM_SMTP_PASSWORD"
	envSMTPTLS      = "FORUM_SMTP_TLS"
	envPublicURL    = "FORUM_PUBLIC_URL"
)

// commonConfig holds the settings every subcommand that opens the database
// shares.
type commonConfig struct {
	// DataDir is the data directory; the database is DataDir/forum.db.
	DataDir string
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
}

// serveConfig is the resolved configuration of `forumd serve`.
type serveConfig struct {
	commonConfig
	// GRPCAddr is the gRPC listen address; port 0 picks a free port.
	GRPCAddr string
	// HTTPAddr is the HTTP/JSON listen address; port 0 picks a free port.
	HTTPAddr string
	// Reflection registers the gRPC reflection service; off by default.
	Reflection bool
	// SelfRegistration lets anyone register without an invitation.
	SelfRegistration bool
	// PublicDirectory opens the member directory and whole profiles to
	// anonymous callers (server.Config.PublicDirectory).
	PublicDirectory bool
	// AddrFile, if set, receives {"grpc":..., "http":...} once both
	// listeners are up.
	AddrFile string
	// TrustedProxies is the --trusted-proxies list as given (checked by
	// gateway.ParseTrustedProxies); "" means none.
	TrustedProxies string
	// RateLimits is the --rate-limits spec as given (checked by
	// server.ParseRateLimits), applied to server.DefaultRateLimits; ""
	// means the defaults, "off" no limits.
	RateLimits string
	// GCPercent is the garbage collector's target (debug.SetGCPercent);
	// 0 leaves the runtime's own setting, which follows $GOGC.
	GCPercent int
	// EventRetention is how long the event log keeps an event
	// (app.Config.EventRetention); always positive.
	EventRetention time.Duration
	// WebhookAllowPrivate lets webhooks target loopback, private and
	// link-local addresses (app.Config.WebhookAllowPrivate).
	WebhookAllowPrivate bool
	// SMTP is the mail server's settings; SMTP.Addr "" means no mail.
	SMTP mail.SMTPOptions
	// PublicURL is where people reach the forum, for the links of its
	// mail.
	PublicURL string
}

// rateLimits returns the rate limits c asks for.
func (c serveConfig) rateLimits() (server.RateLimits, error) {
	return server.ParseRateLimits(c.RateLimits, server.DefaultRateLimits())
}

// trustedProxies returns the trusted proxies c lists.
func (c serveConfig) trustedProxies() ([]netip.Prefix, error) {
	return gateway.ParseTrustedProxies(c.TrustedProxies)
}

// appConfig returns the app.Config of c, without its store (DataDir or
// Store, which the caller sets): the addresses, the server's and the
// gateway's settings, the logger, and stopSignals to call as shutdown
// begins.
func (c serveConfig) appConfig(logger *slog.Logger, stopSignals func()) (app.Config, error) {
	limits, err := c.rateLimits()
	if err != nil {
		return app.Config{}, err
	}
	proxies, err := c.trustedProxies()
	if err != nil {
		return app.Config{}, err
	}
	var sender mail.Sender
	if c.SMTP.Addr != "" {
		smtp, err := mail.NewSMTP(c.SMTP)
		if err != nil {
			return app.Config{}, err
		}
		sender = smtp
	}
	return app.Config{
		Mail:      sender,
		PublicURL: c.PublicURL,
		GRPCAddr:  c.GRPCAddr,
		HTTPAddr:  c.HTTPAddr,
		Server: server.Config{Reflection: c.Reflection, SelfRegistration: c.SelfRegistration,
			PublicDirectory: c.PublicDirectory, RateLimits: limits},
		Gateway:             gateway.Options{TrustedProxies: proxies},
		Logger:              logger,
		EventRetention:      c.EventRetention,
		WebhookAllowPrivate: c.WebhookAllowPrivate,
		OnShutdown:          stopSignals,
	}, nil
}

// commonFlags registers --data and --log-level on fs, with defaults taken
// from the environment, and returns a function that resolves them after
// fs.Parse.
func commonFlags(fs *flag.FlagSet, getenv func(string) string) func() (commonConfig, error) {
	data := fs.String("data", envOr(getenv, envDataDir, defaultDataDir),
		"data `directory` (created 0700); the database is <dir>/forum.db [$"+envDataDir+"]")
	level := fs.String("log-level", envOr(getenv, envLogLevel, defaultLogLevel),
		"minimum log `level`: debug, info, warn or error [$"+envLogLevel+"]")
	return func() (commonConfig, error) {
		var c commonConfig
		if *data == "" {
			return c, errors.New("--data must not be empty")
		}
		c.DataDir = *data
		if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
			return c, fmt.Errorf("--log-level %q: %w", *level, err)
		}
		return c, nil
	}
}

// parseServeArgs resolves the configuration of `forumd serve` from args (the
// arguments after "serve"), the environment (getenv) and the defaults.
// Usage and flag errors are written to output.
func parseServeArgs(args []string, getenv func(string) string, output io.Writer) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("forumd serve", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: forumd [serve] [flags]\n\nRuns the forum server: gRPC and HTTP/JSON.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	common := commonFlags(fs, getenv)
	grpcAddr := fs.String("grpc-addr", envOr(getenv, envGRPCAddr, defaultGRPCAddr),
		"gRPC listen `address` (port 0: any free port) [$"+envGRPCAddr+"]")
	httpAddr := fs.String("http-addr", envOr(getenv, envHTTPAddr, defaultHTTPAddr),
		"HTTP/JSON listen `address` (port 0: any free port) [$"+envHTTPAddr+"]")
	// Reflection is off by default: it is an introspection aid, and
	// anyone who can reach the gRPC address may call it.
	reflDefault, err := envBool(getenv, envReflection, false)
	if err != nil {
		return cfg, err
	}
	webhookPrivate := fs.Bool("webhook-allow-private", false,
		"let webhooks target loopback, private and link-local addresses (tests, deployments inside one network)")
	reflection := fs.Bool("reflection", reflDefault,
		"register gRPC server reflection, so grpcurl works without the protos; anyone who can reach --grpc-addr may use it [$"+envReflection+"]")
	selfRegDefault, err := envBool(getenv, envSelfReg, false)
	if err != nil {
		return cfg, err
	}
	selfReg := fs.Bool("self-registration", selfRegDefault,
		"let anyone register; when off, registering needs an invitation code [$"+envSelfReg+"]")
	publicDirDefault, err := envBool(getenv, envPublicDir, false)
	if err != nil {
		return cfg, err
	}
	publicDir := fs.Bool("public-directory", publicDirDefault,
		"show the member directory (ListUsers) and whole profiles (organisation, country, languages, bio) to anonymous callers; when off, they see names only [$"+envPublicDir+"]")
	trustedProxies := fs.String("trusted-proxies", getenv(envTrustedProxies),
		"comma-separated `addresses or CIDR prefixes` of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed [$"+envTrustedProxies+"]")
	rateLimits := fs.String("rate-limits", getenv(envRateLimits),
		"rate limit `overrides`, e.g. caller=100/s:200,create=60/m:20, or off; defaults: "+server.DefaultRateLimits().String()+" [$"+envRateLimits+"]")
	gcDefault := server.GCPercent
	if v := getenv(envGCPercent); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("$%s: %q is not a number", envGCPercent, v)
		}
		gcDefault = n
	} else if getenv("GOGC") != "" {
		gcDefault = 0 // Go's own variable, already applied by the runtime
	}
	gcPercent := fs.Int("gc-percent", gcDefault,
		"garbage collector target `percent` (as Go's GOGC; default "+strconv.Itoa(server.GCPercent)+", or 0 to keep $GOGC) [$"+envGCPercent+"]")
	eventRetention := fs.String("event-retention", envOr(getenv, envEventRetention, formatDays(store.DefaultEventRetention)),
		"how long the event log keeps events, as a `duration` such as 90d, 720h or 30m; older ones are deleted, and asking for them is OUT_OF_RANGE [$"+envEventRetention+"]")
	smtpAddr := fs.String("smtp-addr", getenv(envSMTPAddr),
		"the SMTP server that sends the forum's mail, `host:port`; unset, no mail is sent (notifications still work) [$"+envSMTPAddr+"]")
	smtpFrom := fs.String("smtp-from", getenv(envSMTPFrom),
		"the mail's From `address`, such as \"Forum <forum@example.org>\" [$"+envSMTPFrom+"]")
	smtpUser := fs.String("smtp-user", getenv(envSMTPUser),
		"the SMTP AUTH `user`; unset, no AUTH (the password comes from $"+envSMTPPassword+" only, kept out of the process list) [$"+envSMTPUser+"]")
	smtpTLS := fs.String("smtp-tls", envOr(getenv, envSMTPTLS, "opportunistic"),
		"STARTTLS `policy`: opportunistic (when the server offers it), mandatory, or none [$"+envSMTPTLS+"]")
	publicURL := fs.String("public-url", getenv(envPublicURL),
		"the forum's public `URL`, such as https://forum.example.org, for the links of its mail; needed with --smtp-addr [$"+envPublicURL+"]")
	addrFile := fs.String("addr-file", "",
		"once listening, write {\"grpc\":ADDR,\"http\":ADDR} to this `file` (atomically)")

	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c, err := common()
	if err != nil {
		return cfg, err
	}
	if *grpcAddr == "" || *httpAddr == "" {
		return cfg, errors.New("--grpc-addr and --http-addr must not be empty")
	}
	cfg = serveConfig{
		commonConfig:        c,
		GRPCAddr:            *grpcAddr,
		HTTPAddr:            *httpAddr,
		Reflection:          *reflection,
		WebhookAllowPrivate: *webhookPrivate,
		SelfRegistration:    *selfReg,
		PublicDirectory:     *publicDir,
		AddrFile:            *addrFile,
		TrustedProxies:      *trustedProxies,
		RateLimits:          *rateLimits,
		GCPercent:           *gcPercent,
	}
	if *smtpAddr != "" {
		cfg.SMTP = mail.SMTPOptions{Addr: *smtpAddr, From: *smtpFrom, Username: *smtpUser, Password: getenv(envSMTPPassword)}
		switch *smtpTLS {
		case "opportunistic":
			cfg.SMTP.TLS = mail.TLSOpportunistic
		case "mandatory":
			cfg.SMTP.TLS = mail.TLSMandatory
		case "none":
			cfg.SMTP.TLS = mail.TLSNone
		default:
			return serveConfig{}, fmt.Errorf("--smtp-tls %q: want opportunistic, mandatory or none", *smtpTLS)
		}
		if _, err := mail.NewSMTP(cfg.SMTP); err != nil {
			return serveConfig{}, fmt.Errorf("--smtp-addr, --smtp-from: %w", err)
		}
		if *publicURL == "" {
			return serveConfig{}, errors.New("--smtp-addr needs --public-url: the forum's address, for the links of its mail")
		}
		cfg.PublicURL = *publicURL
	}
	if cfg.GCPercent < 0 {
		return serveConfig{}, fmt.Errorf("--gc-percent %d: must be positive, or 0 to keep $GOGC", cfg.GCPercent)
	}
	if cfg.EventRetention, err = parseRetention(*eventRetention); err != nil {
		return serveConfig{}, fmt.Errorf("--event-retention: %w", err)
	}
	if _, err := cfg.trustedProxies(); err != nil {
		return serveConfig{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if _, err := cfg.rateLimits(); err != nil {
		return serveConfig{}, fmt.Errorf("--rate-limits: %w", err)
	}
	return cfg, nil
}

// parseRetention parses an event retention: a Go duration ("720h", "30m")
// or a whole number of days ("90d"), which must be positive.
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q is not a duration: want a number of days such as 90d, or a Go duration such as 720h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration: want a number of days such as 90d, or a Go duration such as 720h", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive (events are kept at least that long)", s)
	}
	return d, nil
}

// formatDays returns d as parseRetention reads it: a number of days if d
// is whole days, else a Go duration.
func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// envOr returns the environment variable key, or def when it is unset or
// empty.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// envBool returns the boolean environment variable key, or def when it is
// unset or empty.
func envBool(getenv func(string) string, key string, def bool) (bool, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("$%s=%q: %w", key, v, err)
	}
	return b, nil
}
