package server

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Rate-limiting isolation benchmark parameters.
const (
	// isolationInterval paces client B: 40 calls a second, under its
	// Caller bucket (50/s), so B itself is never limited.
	isolationInterval = 25 * time.Millisecond
	// isolationFlooders is how many concurrent streams client A floods
	// with.
	isolationFlooders = 8
)

// BenchmarkRateLimitIsolation measures whether one client flooding writes
// hurts another. Over loopback TCP, with the default rate limits (and the
// gateway secret set, as forumd does) and the store's fsync on, client B
// (bob, from 127.0.0.3) reads a thread at a steady 40 calls a second; b.N
// is the number of B's calls per phase. B is measured alone, and while
// client A (alice, from 127.0.0.2, one connection) floods CreateReply from
// isolationFlooders concurrent streams: at 1,000 or 5,000 calls a second
// (open loop), or as fast as the server answers (flood=max, closed loop).
// A is allowed 30 creations a minute, so nearly all its calls are refused.
// The two phases alternate in ten rounds, so that changes in the load of
// the machine fall on both. It reports B's p50 and p99 latency in both
// phases, their p99 ratio (the target is at most 2), and A's offered and
// admitted call rates. Run it with a fixed count, e.g. -benchtime=600x;
// figures are in docs/PERFORMANCE.md.
func BenchmarkRateLimitIsolation(b *testing.B) {
	e := newTestEnv(b)
	th := e.mustThread(b, e.alice, &forumv1.Thread{Title: "Hosting volunteers", Body: benchBodyRL, Tags: []string{"hosting"}})
	for i := range 5 {
		e.mustReply(b, e.bob, th.GetName(), fmt.Sprintf("reply %d: %s", i, benchBodyRL))
	}
	addr := serveTCP(b, Config{Store: e.store, RateLimits: DefaultRateLimits(), GatewaySecret: "bench-secret"})
	connA := dialFrom(b, addr, "127.0.0.2")
	connB := dialFrom(b, addr, "127.0.0.3")

	threadsB := forumv1.NewThreadServiceClient(connB)
	ctxB := e.bob.ctx(b)
	getReq := &forumv1.GetThreadRequest{Name: th.GetName()}
	// measureB makes n paced calls as B and returns their latencies.
	measureB := func(n int) []time.Duration {
		lat := make([]time.Duration, 0, n)
		next := time.Now()
		for range n {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(isolationInterval)
			start := time.Now()
			if _, err := threadsB.GetThread(ctxB, getReq); err != nil {
				b.Fatalf("B's GetThread: %v", err)
			}
			lat = append(lat, time.Since(start))
		}
		return lat
	}
	measureB(40) // warm up

	// flood starts client A and returns a function that stops it and
	// returns how many calls A made and how many were admitted.
	repliesA := forumv1.NewReplyServiceClient(connA)
	ctxA := e.alice.ctx(b)
	flood := func(perSecond int) (stop func() (offered, admitted int64)) {
		var offeredN, admittedN atomic.Int64
		var floodErr atomic.Value
		done := make(chan struct{})
		var wg sync.WaitGroup
		for w := range isolationFlooders {
			wg.Go(func() {
				// Open loop at perSecond (spread over the streams), or
				// closed loop (as fast as answered) when it is 0.
				var interval time.Duration
				if perSecond > 0 {
					interval = time.Duration(isolationFlooders) * time.Second / time.Duration(perSecond)
				}
				next := time.Now().Add(time.Duration(w) * interval / isolationFlooders)
				for i := 0; ; i++ {
					if interval > 0 {
						if d := time.Until(next); d > 0 {
							time.Sleep(d)
						} else if d < -interval {
							next = time.Now() // fell behind: skip, do not burst
						}
						next = next.Add(interval)
					}
					select {
					case <-done:
						return
					default:
					}
					_, err := repliesA.CreateReply(ctxA, &forumv1.CreateReplyRequest{Parent: th.GetName(), Reply: &forumv1.Reply{Body: fmt.Sprintf("flood %d/%d", w, i)}})
					offeredN.Add(1)
					switch status.Code(err) {
					case codes.OK:
						admittedN.Add(1)
					case codes.ResourceExhausted:
					default:
						floodErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		time.Sleep(200 * time.Millisecond) // past A's bursts
		offered0, admitted0 := offeredN.Load(), admittedN.Load()
		return func() (int64, int64) {
			offered, admitted := offeredN.Load()-offered0, admittedN.Load()-admitted0
			close(done)
			wg.Wait()
			if err, _ := floodErr.Load().(error); err != nil {
				b.Fatalf("A's CreateReply: %v", err)
			}
			return offered, admitted
		}
	}

	for _, perSecond := range []int{1000, 5000, 0} {
		name := fmt.Sprintf("flood=%d/s", perSecond)
		if perSecond == 0 {
			name = "flood=max"
		}
		b.Run(name, func(b *testing.B) {
			// Alternate the two phases in rounds, so that a change in the load
			// of the machine (shared with other work) falls on both.
			const rounds = 10
			per := max(1, b.N/rounds)
			var unloaded, loaded []time.Duration
			var offered, admitted int64
			var floodTime time.Duration
			b.ResetTimer()
			for range rounds {
				unloaded = append(unloaded, measureB(per)...)
				stop := flood(perSecond)
				t0 := time.Now()
				loaded = append(loaded, measureB(per)...)
				floodTime += time.Since(t0)
				o, a := stop()
				offered += o
				admitted += a
			}
			b.StopTimer()

			p50u, p99u := percentile(unloaded, 50), percentile(unloaded, 99)
			p50l, p99l := percentile(loaded, 50), percentile(loaded, 99)
			us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
			b.ReportMetric(us(p50u), "p50-alone-µs")
			b.ReportMetric(us(p99u), "p99-alone-µs")
			b.ReportMetric(us(p50l), "p50-flood-µs")
			b.ReportMetric(us(p99l), "p99-flood-µs")
			b.ReportMetric(float64(p99l)/float64(p99u), "p99-ratio")
			b.ReportMetric(float64(offered)/floodTime.Seconds(), "A-offered/s")
			b.ReportMetric(float64(admitted)/floodTime.Seconds(), "A-admitted/s")
		})
	}
}

// benchBodyRL pads a post to about 200 bytes of ordinary Markdown.
const benchBodyRL = "Thanks for the notes from the *closing plenary*. Our volunteers " +
	"found the host-family model useful; see the checklist we shared last year. " +
	"Happy to compare **timelines** next week."

// dialFrom opens a client connection to addr from the local address
// local (any 127.0.0.0/8 address works on Linux loopback), so that the
// server sees distinct clients, and waits until it has made a call.
func dialFrom(b *testing.B, addr, local string) *grpc.ClientConn {
	b.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := healthpb.NewHealthClient(c).Check(b.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		b.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	return c
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
