// Command forumload drives a forum server (forumd) with concurrent calls and
// reports their throughput and latency. It runs as its own process, as
// integrators' programs do, and calls through the Go client package, so what
// it measures is what a client of the real server sees: for capacity
// planning, and beside the in-process benchmarks of docs/PERFORMANCE.md.
//
// Usage:
//
//	forumload [flags] create-reply|get-thread
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
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
