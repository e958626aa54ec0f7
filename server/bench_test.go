package server

// Benchmarks of the forum over real gRPC on a loopback TCP listener
// (127.0.0.1:0, not bufconn, so the kernel's TCP stack is in the path as in a
// deployment), with the store's fsync on. Client goroutines and the server
// share the machine's cores. At 64 clients the benchmarks run in two shapes
// (see shape): every client on its own connection, and 64 clients sharing 8
// connections. Each benchmark reports ops/s (completed calls
// per second of wall time), the number of concurrent clients and the CPU
// used (see reportRates); with parallel clients ns/op is wall time divided
// by calls, i.e. 1/throughput.
//
// Every benchmark runs with the garbage collector target forumd uses
// (GCPercent) unless GOGC is set in the environment (see forumdGC).
//
// BenchmarkEcho is a bare gRPC server with only the standard health service,
// measured the same way, so that GetThread's rate can be compared with the
// cost of gRPC itself. Figures and the command that produced them are in
// docs/PERFORMANCE.md.

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// benchBody pads a reply body to about 200 bytes of ordinary Markdown.
const benchBody = "Thanks for the notes from the *closing plenary*. Our volunteers " +
	"found the host-family model useful; see the checklist we shared last year. " +
	"Happy to compare **timelines** next week."

// benchEnv is a testEnv whose server also listens on loopback TCP.
type benchEnv struct {
	*testEnv
	addr string // the TCP listener, 127.0.0.1:port
}

// newBenchEnv builds a testEnv (real store, fsync on, four users with
// sessions) and serves a second gRPC server over the same store on
// 127.0.0.1:0. It logs like forumd does by default (info level), to a
// discarded writer.
func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	return newBenchEnvWith(b, store.Options{})
}

// newBenchEnvWith is newBenchEnv with the store opened with opts.
func newBenchEnvWith(b *testing.B, opts store.Options) *benchEnv {
	b.Helper()
	st, err := store.Open(filepath.Join(b.TempDir(), "forum.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	e := newTestEnvWith(b, Config{Store: st})
	return &benchEnv{testEnv: e, addr: serveTCP(b, Config{Store: e.store})}
}

// serveTCP builds a server of cfg, logging like forumd does by default
// (info level) to a discarded writer unless cfg has a logger, and serves
// it on 127.0.0.1:0 until the benchmark's cleanup, which runs before the
// cleanups registered earlier (the store's close); it returns the address.
func serveTCP(b *testing.B, cfg Config) string {
	b.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.GRPC().Serve(lis)
	b.Cleanup(srv.GRPC().Stop)
	return lis.Addr().String()
}

// shape is how the simulated clients of a benchmark reach the server:
// clients concurrent callers over conns connections. With conns equal to
// clients every caller has its own connection, the most costly way to carry
// calls (each call is its own TCP write and read on both sides). Fewer
// connections than callers is how the forum is reached in practice: the JSON
// gateway carries every browser over one connection, and an integrator's
// process shares one ClientConn among its goroutines; HTTP/2 then carries
// several calls per write.
type shape struct{ clients, conns int }

func (s shape) String() string {
	if s.conns == s.clients {
		return fmt.Sprintf("clients=%d", s.clients)
	}
	return fmt.Sprintf("clients=%d,conns=%d", s.clients, s.conns)
}

// The shapes the benchmarks measure at 64 clients.
var (
	ownConns    = shape{64, 64}
	sharedConns = shape{64, 8}
)

// dialBench opens n client connections to addr, one per simulated client,
// and waits until each has completed a call. They are closed in b.Cleanup.
func dialBench(b *testing.B, addr string, n int) []*grpc.ClientConn {
	b.Helper()
	conns := make([]*grpc.ClientConn, n)
	for i := range conns {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if _, err := healthpb.NewHealthClient(c).Check(b.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			b.Fatalf("warm-up call to %s: %v", addr, err)
		}
		conns[i] = c
	}
	return conns
}

// runClients measures op with the given number of concurrent clients. op is
// called once per client with the client's index and returns the call that
// client repeats. clients=1 runs in the benchmark goroutine; more run through
// b.RunParallel with SetParallelism(clients/GOMAXPROCS), e.g. 32 x 2 = 64.
// See reportRates for the metrics.
func runClients(b *testing.B, clients int, op func(client int) func() error) {
	b.Helper()
	b.ReportAllocs()
	forumdGC(b)
	if clients == 1 {
		call := op(0)
		cpu0 := cpuTime()
		b.ResetTimer()
		for range b.N {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportRates(b, 1, cpuTime()-cpu0)
		return
	}
	procs := runtime.GOMAXPROCS(0)
	par := max(1, (clients+procs-1)/procs)
	b.SetParallelism(par)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		call := op(int(next.Add(1) - 1))
		for pb.Next() {
			if err := call(); err != nil {
				once.Do(func() { firstErr = err })
				return
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	reportRates(b, par*procs, cpu)
}

// forumdGC runs the rest of the benchmark with the garbage collector
// target forumd runs with (GCPercent), unless GOGC is set in the
// environment: GOGC=100 measures with Go's default.
func forumdGC(b *testing.B) {
	if os.Getenv("GOGC") != "" {
		return
	}
	old := debug.SetGCPercent(GCPercent)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// reportRates reports ops/s, the number of clients, cpu% (the process's CPU
// time over the elapsed time and GOMAXPROCS) and cpu-µs/op (the process's
// CPU time per call, clients and server together). cpu-µs/op hardly depends
// on what else runs on the machine, so 1e6 x GOMAXPROCS / cpu-µs/op is the
// rate a CPU-bound benchmark would reach with the cores to itself.
func reportRates(b *testing.B, clients int, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(clients), "clients")
	b.ReportMetric(100*cpu.Seconds()/b.Elapsed().Seconds()/float64(runtime.GOMAXPROCS(0)), "cpu%")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// reportCommits reports how group commit went between two readings of the
// engine's counters: replies per log fsync (update functions run per sync),
// the mean time of a log write and fsync, and the checkpoints: how many per
// second, their mean time and their page writes.
func reportCommits(b *testing.B, before, after kv.Stats) {
	if syncs := after.Syncs - before.Syncs; syncs > 0 {
		b.ReportMetric(float64(after.Runs-before.Runs)/float64(syncs), "runs/sync")
		b.ReportMetric(float64((after.SyncTime-before.SyncTime).Microseconds())/float64(syncs), "µs/sync")
	}
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(commits)/b.Elapsed().Seconds(), "ckpt/s")
		b.ReportMetric(float64((after.CommitTime-before.CommitTime).Microseconds())/float64(commits), "µs/ckpt")
		b.ReportMetric(float64(after.PageWrites-before.PageWrites)/float64(commits), "writes/ckpt")
	}
}

// cpuTime returns the user and system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCreateReply adds ~200-byte replies to four threads, as alice and
// bob, with 1 and 64 concurrent clients. Each reply is durable (fsync, group
// committed) before the call returns. Each call carries a request_id as the
// forum's own clients send it (a time-ordered UUIDv7, client.NewRequestID);
// at 64 clients over shared connections two variants show what the
// server's record of request ids costs: none sent (ids=none) and random
// UUIDv4s (ids=v4), as other clients may send.
//
// The threads open with a first post of ~2.3 KB of Markdown. post=60KiB
// replies to threads whose first post is ~60 KiB instead: a reply must cost
// the same whatever the length of the thread's first post.
func BenchmarkCreateReply(b *testing.B) {
	e := newBenchEnv(b)
	newThreads := func(body string) []string {
		var names []string
		for i := range 4 {
			names = append(names, e.mustThread(b, e.alice, &forumv1.Thread{Title: fmt.Sprintf("Bench thread %d", i), Body: body}).GetName())
		}
		return names
	}
	threads := newThreads(strings.Repeat(benchBody+"\n\n", 12))
	longThreads := newThreads(strings.Repeat(benchBody+"\n\n", 320))
	for _, v := range []struct {
		sh      shape
		name    string
		newID   func() string
		threads []string
	}{
		{shape{1, 1}, "", client.NewRequestID, threads},
		{ownConns, "", client.NewRequestID, threads},
		{sharedConns, "", client.NewRequestID, threads},
		{sharedConns, ",ids=none", func() string { return "" }, threads},
		{sharedConns, ",ids=v4", randomUUID, threads},
		{sharedConns, ",post=60KiB", client.NewRequestID, longThreads},
	} {
		b.Run(v.sh.String()+v.name, func(b *testing.B) {
			conns := dialBench(b, e.addr, v.sh.conns)
			st0 := e.store.Stats()
			defer func() { reportCommits(b, st0, e.store.Stats()) }()
			runClients(b, v.sh.clients, func(c int) func() error {
				client := forumv1.NewReplyServiceClient(conns[c%len(conns)])
				u := e.alice
				if c%2 == 1 {
					u = e.bob
				}
				ctx := u.ctx(b)
				thread := v.threads[c%len(v.threads)]
				n := 0
				return func() error {
					n++
					body := fmt.Sprintf("#%d from client %d. %s", n, c, benchBody)
					_, err := client.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: body}, RequestId: v.newID()})
					return err
				}
			})
		})
	}
}

// randomUUID returns a random UUID (version 4).
func randomUUID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// readThread creates the thread the GetThread benchmarks read: a
// ~200-byte body, a tag, five replies and one follow-up.
func (e *benchEnv) readThread(b *testing.B) *forumv1.Thread {
	b.Helper()
	th := e.mustThread(b, e.alice, &forumv1.Thread{Title: "Hosting volunteers", Body: benchBody, Tags: []string{"hosting"}})
	for i := range 5 {
		e.mustReply(b, e.bob, th.GetName(), fmt.Sprintf("reply %d: %s", i, benchBody))
	}
	e.mustThread(b, e.convener, &forumv1.Thread{Title: "Follow-up", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.GetName()})
	return th
}

// BenchmarkGetThread gets a thread with replies and a follow-up, with 64
// concurrent clients: anonymously (the common read), and with a bearer
// token, which adds a session lookup.
func BenchmarkGetThread(b *testing.B) {
	e := newBenchEnv(b)
	th := e.readThread(b)
	anonymous := func(b *testing.B) context.Context { return b.Context() }
	for _, v := range []struct {
		name string
		sh   shape
		ctx  func(b *testing.B) context.Context
	}{
		{ownConns.String(), ownConns, anonymous},
		{ownConns.String() + ",token", ownConns, func(b *testing.B) context.Context { return e.alice.ctx(b) }},
		{sharedConns.String(), sharedConns, anonymous},
	} {
		b.Run(v.name, func(b *testing.B) {
			conns := dialBench(b, e.addr, v.sh.conns)
			runClients(b, v.sh.clients, func(c int) func() error {
				client := forumv1.NewThreadServiceClient(conns[c%len(conns)])
				ctx := v.ctx(b)
				req := &forumv1.GetThreadRequest{Name: th.GetName()}
				return func() error {
					_, err := client.GetThread(ctx, req)
					return err
				}
			})
		})
	}
}

// BenchmarkListReplies pages through a thread of 1,000 replies with
// page_size 50, with 64 concurrent clients; each client starts over after
// the last page.
func BenchmarkListReplies(b *testing.B) {
	e := newBenchEnv(b)
	th := e.mustThread(b, e.alice, &forumv1.Thread{Title: "A long thread"})
	const replies, writers = 1000, 32
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			ctx := e.bob.ctx(b)
			for i := w; i < replies; i += writers {
				if _, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.GetName(), Reply: &forumv1.Reply{Body: fmt.Sprintf("reply %d: %s", i, benchBody)}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Run("clients=64", func(b *testing.B) {
		conns := dialBench(b, e.addr, 64)
		runClients(b, 64, func(c int) func() error {
			client := forumv1.NewReplyServiceClient(conns[c%len(conns)])
			ctx := b.Context()
			token := ""
			return func() error {
				resp, err := client.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: th.GetName(), PageSize: 50, PageToken: token})
				if err != nil {
					return err
				}
				if len(resp.GetReplies()) == 0 {
					return fmt.Errorf("empty page (token %q)", token)
				}
				token = resp.GetNextPageToken()
				return nil
			}
		})
	})
}

// BenchmarkEcho is the baseline: the standard health Check RPC on a bare
// gRPC server with nothing else registered, over loopback TCP, with 64
// concurrent clients. "default" is grpc.NewServer() with no options; "tuned"
// adds the transport options the forum's server sets (serverTransportOptions),
// so that the gain they bring the forum can be told from the forum's own cost.
func BenchmarkEcho(b *testing.B) {
	for _, v := range []struct {
		name string
		sh   shape
		opts []grpc.ServerOption
	}{
		{ownConns.String(), ownConns, nil},
		{ownConns.String() + ",tuned", ownConns, serverTransportOptions()},
		{sharedConns.String(), sharedConns, nil},
		{sharedConns.String() + ",tuned", sharedConns, serverTransportOptions()},
	} {
		srv := grpc.NewServer(v.opts...)
		hs := health.NewServer()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(srv, hs)
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(lis)
		b.Cleanup(srv.Stop)
		b.Run(v.name, func(b *testing.B) {
			conns := dialBench(b, lis.Addr().String(), v.sh.conns)
			runClients(b, v.sh.clients, func(c int) func() error {
				client := healthpb.NewHealthClient(conns[c%len(conns)])
				ctx := b.Context()
				req := &healthpb.HealthCheckRequest{}
				return func() error {
					_, err := client.Check(ctx, req)
					return err
				}
			})
		})
	}
}

// staticThreads serves GetThread from a fixed message, with nothing else.
type staticThreads struct {
	forumv1.UnimplementedThreadServiceServer
	thread *forumv1.Thread
}

func (s staticThreads) GetThread(context.Context, *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
	return s.thread, nil
}

// BenchmarkStaticThread is a second baseline, between the echo and
// GetThread: a bare gRPC server (like the echo's) whose GetThread returns,
// without any work, the very thread BenchmarkGetThread gets. Its rate is
// what gRPC itself allows for a message of that size, so GetThread's
// distance from it is the forum's own cost (interceptors, the store read).
func BenchmarkStaticThread(b *testing.B) {
	e := newBenchEnv(b)
	th := e.readThread(b)
	full, err := e.threads.GetThread(b.Context(), &forumv1.GetThreadRequest{Name: th.GetName()})
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	forumv1.RegisterThreadServiceServer(srv, staticThreads{thread: full})
	healthpb.RegisterHealthServer(srv, health.NewServer()) // for dialBench's warm-up
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(lis)
	b.Cleanup(srv.Stop)
	for _, sh := range []shape{ownConns, sharedConns} {
		b.Run(sh.String(), func(b *testing.B) {
			conns := dialBench(b, lis.Addr().String(), sh.conns)
			runClients(b, sh.clients, func(c int) func() error {
				client := forumv1.NewThreadServiceClient(conns[c%len(conns)])
				ctx := b.Context()
				req := &forumv1.GetThreadRequest{Name: th.GetName()}
				return func() error {
					_, err := client.GetThread(ctx, req)
					return err
				}
			})
			b.ReportMetric(float64(proto.Size(full)), "msg-bytes")
		})
	}
}
