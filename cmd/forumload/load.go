package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// config is a parsed command line.
type config struct {
	server, token, thread, theme string
	op                           string
	clients, conns, bodyBytes    int
	duration, warmup             time.Duration
	insecure                     bool
	format                       string
}

// Operations forumload can run.
const (
	opCreateReply = "create-reply"
	opGetThread   = "get-thread"
)

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parseArgs parses args; getenv supplies FORUM_SERVER and FORUM_TOKEN.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("forumload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: forumload [flags] create-reply|get-thread")
		fmt.Fprintln(stderr, "       forumload populate|startup|open [flags] (each with -h)")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.server, "server", "", "the forum server's gRPC address (env FORUM_SERVER; default 127.0.0.1:7070)")
	fs.StringVar(&c.token, "token", "", "a bearer token; a member's to create (env FORUM_TOKEN)")
	fs.StringVar(&c.thread, "thread", "", "the thread to reply to or read, threads/N (default: a new thread in --theme)")
	fs.StringVar(&c.theme, "theme", "themes/knowledge-exchange", "the theme of the new thread")
	fs.IntVar(&c.clients, "clients", 64, "concurrent callers")
	fs.IntVar(&c.conns, "conns", 8, "connections the callers share (at most --clients)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "how long to run before measuring")
	fs.IntVar(&c.bodyBytes, "body-bytes", 200, "the size of each reply's Markdown (create-reply)")
	fs.BoolVar(&c.insecure, "insecure", false, "plaintext even to a server that is not on loopback")
	fs.StringVar(&c.format, "o", "text", "report format: text or json")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if c.server == "" {
		c.server = getenv("FORUM_SERVER")
	}
	if c.server == "" {
		c.server = "127.0.0.1:7070"
	}
	if c.token == "" {
		c.token = getenv("FORUM_TOKEN")
	}
	switch {
	case fs.NArg() != 1:
		return c, usagef("give one operation: create-reply or get-thread")
	case fs.Arg(0) != opCreateReply && fs.Arg(0) != opGetThread:
		return c, usagef("unknown operation %q: use create-reply or get-thread", fs.Arg(0))
	case c.clients < 1 || c.clients > 10000:
		return c, usagef("--clients %d: use 1 to 10000", c.clients)
	case c.conns < 1:
		return c, usagef("--conns %d: use at least 1", c.conns)
	case c.duration <= 0:
		return c, usagef("--duration %v: must be positive", c.duration)
	case c.warmup < 0:
		return c, usagef("--warmup %v: must not be negative", c.warmup)
	case c.bodyBytes < 1 || c.bodyBytes > 64<<10:
		return c, usagef("--body-bytes %d: use 1 to 65536 (a post's limit)", c.bodyBytes)
	case c.format != "text" && c.format != "json":
		return c, usagef("-o %q: use text or json", c.format)
	case c.thread != "" && !strings.HasPrefix(c.thread, "threads/"):
		return c, usagef("--thread %q: give a thread name, threads/N", c.thread)
	}
	c.op = fs.Arg(0)
	c.conns = min(c.conns, c.clients)
	if c.token == "" && (c.op == opCreateReply || c.thread == "") {
		return c, usagef("%s needs a member's token (--token or FORUM_TOKEN) to create", c.op)
	}
	return c, nil
}

// run runs forumload and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c, err := parseArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "forumload:", err)
		return 2
	}
	rep, err := load(ctx, c)
	if err != nil {
		fmt.Fprintln(stderr, "forumload:", err)
		return 1
	}
	if err := rep.write(stdout, c.format); err != nil {
		fmt.Fprintln(stderr, "forumload:", err)
		return 1
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// report is what a run measured.
type report struct {
	Operation    string             `json:"operation"`
	Thread       string             `json:"thread"`
	Clients      int                `json:"clients"`
	Conns        int                `json:"conns"`
	Seconds      float64            `json:"seconds"`
	Calls        int                `json:"calls"`  // completed in the measured time
	Failed       int                `json:"failed"` // of Calls
	Failures     map[string]int     `json:"failures,omitempty"`
	PerSecond    float64            `json:"calls_per_second"`
	LatencyMs    map[string]float64 `json:"latency_ms"` // p50, p90, p99, max
	FirstFailure string             `json:"first_failure,omitempty"`
}

// write writes r as text or JSON.
func (r *report) write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: %d clients over %d connections, %.1f s measured\n", r.Operation, r.Thread, r.Clients, r.Conns, r.Seconds)
	fmt.Fprintf(&b, "calls:    %d (%.0f/s), %d failed\n", r.Calls, r.PerSecond, r.Failed)
	for _, code := range slices.Sorted(maps.Keys(r.Failures)) {
		fmt.Fprintf(&b, "  %-20s %d\n", code, r.Failures[code])
	}
	if r.FirstFailure != "" {
		fmt.Fprintf(&b, "first failure: %s\n", r.FirstFailure)
	}
	fmt.Fprintf(&b, "latency:  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.LatencyMs["p50"], r.LatencyMs["p90"], r.LatencyMs["p99"], r.LatencyMs["max"])
	_, err := io.WriteString(w, b.String())
	return err
}

// load connects, prepares the thread and runs the calls.
func load(ctx context.Context, c config) (*report, error) {
	opts := []client.Option{client.WithToken(c.token), client.WithUserAgent("forumload")}
	if c.insecure {
		opts = append(opts, client.WithInsecure())
	}
	clients := make([]*client.Client, c.conns)
	for i := range clients {
		cl, err := client.New(ctx, c.server, opts...)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		clients[i] = cl
	}
	thread := c.thread
	if thread == "" {
		th, err := clients[0].CreateThread(ctx, &forumv1.Thread{Theme: c.theme, Title: "forumload " + time.Now().UTC().Format(time.RFC3339),
			Body: "Calls made by forumload, the forum's load generator."})
		if err != nil {
			return nil, fmt.Errorf("create the thread: %w", err)
		}
		thread = th.GetName()
	}
	body := replyBody(c.bodyBytes)
	call := func(cl *client.Client) error {
		var err error
		switch c.op {
		case opCreateReply:
			_, err = cl.CreateReply(ctx, thread, &forumv1.Reply{Body: body})
		default:
			_, err = cl.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: thread})
		}
		return err
	}
	// One call first, so that a wrong thread or token is one clear error.
	if err := call(clients[0]); err != nil {
		return nil, fmt.Errorf("first %s on %s: %w", c.op, thread, err)
	}

	start := time.Now()
	measureFrom, end := start.Add(c.warmup), start.Add(c.warmup+c.duration)
	type result struct {
		latencies []time.Duration
		failures  map[string]int
		first     string
	}
	results := make([]result, c.clients)
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Go(func() {
			r := &results[i]
			r.failures = map[string]int{}
			cl := clients[i%len(clients)]
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				err := call(cl)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted: not the server's failure
					}
					r.failures[status.Code(err).String()]++
					if r.first == "" {
						r.first = err.Error()
					}
					continue
				}
				r.latencies = append(r.latencies, time.Since(t0))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	// Calls that began before end may finish after it: the measured time
	// runs until the last one did.
	elapsed := time.Since(measureFrom)
	rep := &report{Operation: c.op, Thread: thread, Clients: c.clients, Conns: len(clients), Seconds: elapsed.Seconds(), Failures: map[string]int{}}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		for code, n := range r.failures {
			rep.Failures[code] += n
			rep.Failed += n
		}
		if rep.FirstFailure == "" {
			rep.FirstFailure = r.first
		}
	}
	rep.Calls = len(all) + rep.Failed
	rep.PerSecond = float64(len(all)) / elapsed.Seconds()
	slices.Sort(all)
	rep.LatencyMs = map[string]float64{"p50": ms(percentile(all, 50)), "p90": ms(percentile(all, 90)), "p99": ms(percentile(all, 99)), "max": ms(percentile(all, 100))}
	if rep.Failed == 0 {
		rep.Failures = nil
	}
	return rep, nil
}

// percentile returns the p-th percentile of sorted (nearest rank), or 0.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// replyBody returns ordinary Markdown of about n bytes.
func replyBody(n int) string {
	const para = "Thanks for the notes from the *closing plenary*. Our volunteers found the host-family model useful; see the checklist we shared last year. Happy to compare **timelines** next week. "
	b := strings.Repeat(para, n/len(para)+1)
	return strings.TrimSpace(b[:n])
}
