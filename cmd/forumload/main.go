// Command forumload drives a forum server (forumd) with concurrent calls and
// reports their throughput and latency. It runs as its own process, as
// integrators' programs do, and calls through the Go client package, so what
// it measures is what a client of the real server sees: for capacity
// planning, and beside the in-process benchmarks of docs/PERFORMANCE.md.
//
// Usage:
//
//	forumload [flags] create-reply|get-thread
//	forumload populate --data DIR [--replies N] [flags]
//	forumload startup --forumd BIN --data DIR [--rounds N] [flags]
//	forumload open --data DIR [--sync-freelist=false] [--store] [flags]
//
// create-reply adds ~--body-bytes of Markdown to a thread per call (each a
// durable write with its own request_id); get-thread reads the thread. The
// thread is --thread, or a new one in --theme. --clients callers share
// --conns connections; calls in the first --warmup are not counted. The
// token (--token or FORUM_TOKEN) must be a member's to create.
//
// The report gives calls, failures by gRPC code, calls per second and
// latency percentiles, as text or with -o json. The exit status is 0 if
// every call succeeded, 1 if any failed or the run could not start, 2 for a
// bad command line.
//
// The other three measure what a database's size costs at start-up
// (docs/PERFORMANCE.md, "Startup and memory at size"); each has -h.
// populate fills the data directory of a stopped forumd with N replies of
// ~1 KB in this process, through the store package with fsync off, and
// closes it cleanly. startup runs a forumd binary on that directory, several
// rounds: it times each start until GET /healthz answers 200, after a clean
// stop and after a SIGKILL under a light write load, and reads the process's
// VmRSS, RssAnon and RssFile once healthy, dropping the page cache before
// each start when it can. open times opening the file alone (kv.OpenBolt,
// with bbolt's freelist synced or not, or store.Open) in a fresh child
// process per round, with the same memory figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runCommand(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// runCommand runs the subcommand in args[0] (populate, startup, open), or
// else the load of run, and returns the exit status.
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "populate":
			return runPopulate(ctx, args[1:], stdout, stderr)
		case "startup":
			return runStartup(ctx, args[1:], stdout, stderr)
		case "open":
			return runOpen(ctx, args[1:], stdout, stderr)
		}
	}
	return run(ctx, args, stdout, stderr, getenv)
}

// usageExit turns the error of a subcommand's flag parsing into its exit
// status: done is false if there was none; -h is 0, anything else a usage
// error (2), reported as "forumload NAME: ...".
func usageExit(name string, err error, stderr io.Writer) (code int, done bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	default:
		fmt.Fprintf(stderr, "forumload %s: %v\n", name, err)
		return 2, true
	}
}
