// Command forumd is the forum server: one binary serving the forum.v1 API
// over gRPC and, through the gateway, as JSON over HTTP, with its data in one
// bbolt file and its write-ahead log (DIR/forum.db, DIR/forum.db-wal.0 and
// DIR/forum.db-wal.1).
//
// Usage:
//
//	forumd [serve] [--grpc-addr ADDR] [--http-addr ADDR] [--data DIR] [--log-level LEVEL]
//	       [--reflection=BOOL] [--self-registration=BOOL] [--public-directory=BOOL]
//	       [--addr-file FILE]
//	       [--trusted-proxies CIDRS] [--rate-limits SPEC] [--gc-percent N]
//	forumd admin create-user --username NAME [--display-name TEXT]
//	       [--role member|convener|admin] [--password-file FILE] [--data DIR]
//	forumd admin repair [--data DIR]
//	forumd admin reindex [--data DIR]
//
// Flags default to the environment variables FORUM_GRPC_ADDR,
// FORUM_HTTP_ADDR, FORUM_DATA, FORUM_LOG_LEVEL, FORUM_REFLECTION,
// FORUM_SELF_REGISTRATION and FORUM_PUBLIC_DIRECTORY, and those to
// 127.0.0.1:7070, 127.0.0.1:8080, ./data, info, false, false and false.
// Logs are
// JSON lines on standard error.
//
// gRPC reflection is off unless --reflection (FORUM_REFLECTION=true) turns
// it on: it lets grpcurl work without the protos, for anyone who can reach
// the gRPC address.
//
// Rate limits are on (server.DefaultRateLimits); --rate-limits
// (FORUM_RATE_LIMITS) overrides some of them ("caller=100/s:200,
// create=60/m:20") or turns them off ("off"). --trusted-proxies
// (FORUM_TRUSTED_PROXIES) lists the reverse proxies, as addresses or CIDR
// prefixes, whose X-Forwarded-For names the client to rate-limit and whose
// X-Forwarded-Proto: https lets the session cookie be Secure; by default
// none are trusted.
//
// --gc-percent (FORUM_GC_PERCENT) sets the garbage collector's target, as
// GOGC does; it defaults to server.GCPercent (400) unless GOGC is set in the
// environment, whose value then stays.
//
// serve opens DIR/forum.db (creating DIR with mode 0700, durably: the new
// directories and their parent are fsynced), listens on both
// addresses, and logs {"msg":"listening","grpc":ADDR,"http":ADDR} with the
// actual addresses (a port of 0 picks a free one); --addr-file also writes
// them as {"grpc":ADDR,"http":ADDR}. The HTTP side dials the gRPC listener
// over loopback, so interceptors apply to both. On SIGINT or SIGTERM it
// reports NOT_SERVING, stops accepting, lets in-flight requests finish (at
// most 20s) and closes the database, which commits everything in the log
// into forum.db; a second signal kills it at once.
//
// If a storage error (a full disk, a failed fsync) stops the database
// writing, forumd keeps serving reads: writes fail with UNAVAILABLE ("writes
// are stopped: disk full"; HTTP 503), gRPC health is NOT_SERVING and
// /healthz answers 503 with the reason. Nothing is acknowledged after the
// error, and the next shutdown exits with status 1 and logs why. Started
// again once there is room, forumd recovers every acknowledged write.
//
// admin create-user adds a user directly to the database; it fails while a
// forumd holds the database. The password is the first line of
// --password-file or of standard input, never a flag.
//
// serve refuses to start on a write-ahead log it cannot recover without
// losing acknowledged writes: damage followed by more of the log, a read
// error, a log of another database or of a newer forumd. It says what it
// found and where, and for damage names admin repair, which saves each
// damaged file aside (forum.db-wal.N.broken) and cuts it where its valid
// records end, so that the next start keeps what was logged before the
// damage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/server/store"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches the subcommand in args and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !isFlag(args[0]) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := parseServeArgs(args, getenv, stderr)
		if err != nil {
			return usageError(stderr, err)
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, stop, cfg, stderr); err != nil {
			fmt.Fprintf(stderr, "forumd: %v\n", err)
			return exitError
		}
		return exitOK
	case "admin":
		return runAdmin(ctx, args, getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		printUsage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "forumd: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return exitUsage
	}
}

// runAdmin dispatches `forumd admin SUBCOMMAND`.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "forumd admin: missing subcommand\n\n")
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "create-user":
		cfg, err := parseCreateUserArgs(args[1:], getenv, stderr)
		if err != nil {
			return usageError(stderr, err)
		}
		if err := adminCreateUser(ctx, cfg, stdin, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "forumd admin create-user: %v\n", err)
			return exitError
		}
		return exitOK
	case "repair":
		cfg, err := parseRepairArgs(args[1:], getenv, stderr)
		if err != nil {
			return usageError(stderr, err)
		}
		if err := adminRepair(cfg, stdout); err != nil {
			fmt.Fprintf(stderr, "forumd admin repair: %v\n", err)
			return exitError
		}
		return exitOK
	case "reindex":
		cfg, err := parseReindexArgs(args[1:], getenv, stderr)
		if err != nil {
			return usageError(stderr, err)
		}
		if err := adminReindex(ctx, cfg, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "forumd admin reindex: %v\n", err)
			return exitError
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "forumd admin: unknown subcommand %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
}

// usageError reports a flag error; -h is not an error.
func usageError(stderr io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "forumd: %v\n", err)
	return exitUsage
}

// isFlag reports whether arg looks like a flag rather than a subcommand.
func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' && arg != "-h" && arg != "--help" }

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  forumd [serve] [flags]              run the server (forumd serve -h for flags)
  forumd admin create-user [flags]    add a user (forumd admin create-user -h)
  forumd admin repair [flags]         salvage a damaged write-ahead log (forumd admin repair -h)
  forumd admin reindex [flags]        rebuild the search index (forumd admin reindex -h)
`)
}

// serve runs the server until ctx is cancelled (a signal) or a listener
// fails, then shuts down gracefully. stopSignals is called once shutdown
// begins, so that a second signal kills the process.
func serve(ctx context.Context, stopSignals func(), cfg serveConfig, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfg.AddrFile != "" {
		// A stale file from an earlier run must not be mistaken for this one's.
		if err := os.Remove(cfg.AddrFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale address file: %w", err)
		}
	}
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
	}
	return serveStore(ctx, stopSignals, cfg, nil, logger)
}

// serveStore is forumd assembled (app.New) and run (app.Serve) on the data
// directory of cfg, or on st if it is not nil, which the caller then closes
// afterwards: the gRPC server, the HTTP gateway in front of it (with the
// web UI), the sweep, and the watch on the store. It writes the address
// file once both listeners are up, serves until ctx is cancelled or a
// listener fails, then shuts down gracefully (see serve).
//
// If a storage error stops the store writing meanwhile (store.Failed), the
// writes fail with UNAVAILABLE, gRPC health goes NOT_SERVING and /healthz
// answers 503 with the reason, while reads go on; the next shutdown then
// logs why and returns an error, so forumd exits non-zero.
//
// serve and the tests (on a store whose engine they make fail) both run
// this one path.
func serveStore(ctx context.Context, stopSignals func(), cfg serveConfig, st *store.Store, logger *slog.Logger) error {
	acfg, err := cfg.appConfig(logger, stopSignals)
	if err != nil {
		return err
	}
	if st != nil {
		acfg.Store = st
	} else {
		acfg.DataDir = cfg.DataDir
	}
	a, err := app.New(ctx, acfg)
	if err != nil {
		if hint := openHint(err, cfg.DataDir); hint != "" {
			logger.Error("cannot recover the write-ahead log", "err", err, "hint", hint)
			return fmt.Errorf("%w\n%s", err, hint)
		}
		return err
	}
	if cfg.AddrFile != "" {
		if err := writeAddrFile(cfg.AddrFile, a.GRPCAddr(), a.HTTPAddr()); err != nil {
			logger.Error("write address file", slog.String("error", err.Error()))
			logger.Error("shutting down after error", slog.String("error", err.Error()))
			return errors.Join(err, a.Shutdown(context.Background()))
		}
		defer os.Remove(cfg.AddrFile)
	}
	return a.Serve(ctx)
}

// listenAddrs is the content of the --addr-file.
type listenAddrs struct {
	GRPC string `json:"grpc"`
	HTTP string `json:"http"`
}

// writeAddrFile writes the listening addresses to path atomically: readers
// see either no file or the whole of it.
func writeAddrFile(path, grpcAddr, httpAddr string) (err error) {
	data, err := json.Marshal(listenAddrs{GRPC: grpcAddr, HTTP: httpAddr})
	if err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(append(data, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("address file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		return fmt.Errorf("address file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	return nil
}
