package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/notify"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/webhook"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkEventLogCost measures what the event log costs CreateReply: the
// same build, 64 clients over 8 connections, with the log (log=on, as
// forumd runs) and without it (log=off, store.Options.BenchmarkWithoutEventLog).
// With log=on,index the search indexer runs beside the writes, as in
// forumd (it reports how many revisions it is behind at the end). With
// log=on,webhook a webhook worker runs beside the writes, as in
// forumd, with one webhook of alice's for every reply.created, delivered to
// a receiver on 127.0.0.1 that answers 204 at once: what delivery costs the
// writes (it reports the deliveries made a second). With log=on,notify the
// notifier runs beside the writes, as in forumd (it reports its lag at the
// end and the transactions it wrote a second). Run each sub-benchmark
// on its own, alternating them, and compare them round by round
// (docs/PERFORMANCE.md).
func BenchmarkEventLogCost(b *testing.B) {
	for _, v := range []struct {
		name                   string
		off                    bool
		webhook, index, notify bool
	}{{"log=on", false, false, false, false}, {"log=off", true, false, false, false}, {"log=on,webhook", false, true, false, false},
		{"log=on,index", false, false, true, false}, {"log=on,notify", false, false, false, true}} {
		b.Run(v.name, func(b *testing.B) {
			e := newBenchEnvWith(b, store.Options{BenchmarkWithoutEventLog: v.off})
			var threads []string
			for i := range 4 {
				threads = append(threads, e.mustThread(b, e.alice, &forumv1.Thread{Title: fmt.Sprintf("Bench thread %d", i), Body: benchBody}).GetName())
			}
			var delivered atomic.Int64
			if v.webhook {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					delivered.Add(1)
					w.WriteHeader(http.StatusNoContent)
				}))
				b.Cleanup(srv.Close)
				alice := authz.Actor{User: e.alice.name, Role: forumv1.Role_ROLE_MEMBER}
				if _, err := e.store.CreateWebhook(b.Context(), alice, resname.MustParseUser(e.alice.name), &forumv1.Webhook{TargetUrl: srv.URL, EventTypes: []string{"reply.created"}}, "whsec_bench"); err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan struct{})
				go func() {
					defer close(done)
					webhook.New(e.store, webhook.Options{AllowPrivate: true}).Run(ctx)
				}()
				b.Cleanup(func() { cancel(); <-done })
			}
			if v.index {
				// The search indexer, as forumd runs it beside the writes.
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan struct{})
				e.indexer.Share = search.DefaultShare
				go func() {
					defer close(done)
					e.indexer.Run(ctx)
				}()
				b.Cleanup(func() { cancel(); <-done })
			}
			var notifier *notify.Notifier
			if v.notify {
				// The notifications' reader, as forumd runs it: every reply
				// tells its thread's author (alice's and bob's replies
				// alternate in alice's threads).
				notifier = notify.New(e.store, nil)
				ctx, cancel := context.WithCancel(b.Context())
				done := make(chan struct{})
				go func() {
					defer close(done)
					notifier.Run(ctx)
				}()
				b.Cleanup(func() { cancel(); <-done })
			}
			start := time.Now()
			defer func() {
				if v.notify {
					b.ReportMetric(float64(notifier.Lag()), "notify-lag-revisions")
					b.ReportMetric(float64(notifier.Writes())/time.Since(start).Seconds(), "notify-txns/s")
				}
				if v.index {
					b.ReportMetric(float64(e.indexer.Lag()), "index-lag-revisions")
				}
				if v.webhook {
					rate := float64(delivered.Load()) / time.Since(start).Seconds()
					for deadline := time.Now().Add(10 * time.Second); delivered.Load() == 0; time.Sleep(10 * time.Millisecond) {
						if time.Now().After(deadline) {
							b.Fatal("the webhook got no delivery in 10 s")
						}
					}
					b.ReportMetric(rate, "deliveries/s")
				}
			}()
			conns := dialBench(b, e.addr, sharedConns.conns)
			st0 := e.store.Stats()
			defer func() { reportCommits(b, st0, e.store.Stats()) }()
			runClients(b, sharedConns.clients, func(c int) func() error {
				rc := forumv1.NewReplyServiceClient(conns[c%len(conns)])
				u := e.alice
				if c%2 == 1 {
					u = e.bob
				}
				ctx := u.ctx(b)
				thread := threads[c%len(threads)]
				n := 0
				return func() error {
					n++
					body := fmt.Sprintf("#%d from client %d. %s", n, c, benchBody)
					_, err := rc.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: body}, RequestId: client.NewRequestID()})
					return err
				}
			})
			if head, err := e.store.EventHead(b.Context()); err != nil || (head == 0) != v.off {
				b.Fatalf("event head %d (%v) with the log off=%v", head, err, v.off)
			}
		})
	}
}

// BenchmarkStreamEventsFanOut: subs subscribers stream the log over gRPC
// (10 connections, loopback TCP) while one writer creates replies at rate
// a second; b.N is the number of replies written. It reports, over every
// delivery, the delay from the write's commit (when CreateReply returned
// to the writer: p50, p99 and the maximum, "-ms") to the event's arrival
// at a subscriber, as the target counts it, and the p99 from the
// event's time ("p99-from-event-ms": taken in the writing transaction,
// before the commit and its fsync, so it includes both); the writer's own
// commit time (its p99, "commit-p99-ms"); the deliveries a second; and
// how many subscribers were cut off for falling more than
// store.SubscriptionBuffer events behind. An event that arrives before
// CreateReply has returned to the writer counts as no delay. The
// subscribers run in the same process, so their receiving shares the two
// cores with the server.
//
// With users=false the subscribers are anonymous: one actor, whose view of
// each event the feed decides once for all of them. With users=true each
// is a member of its own, with an API token: a thousand actors, each view
// decided apart (only the encoding of an event is shared).
func BenchmarkStreamEventsFanOut(b *testing.B) {
	for _, v := range []struct {
		subs, rate int
		users      bool
	}{{100, 1000, false}, {1000, 100, false}, {1000, 1000, false}, {1000, 1000, true}} {
		b.Run(fmt.Sprintf("subs=%d,rate=%d,users=%v", v.subs, v.rate, v.users), func(b *testing.B) { benchFanOut(b, v.subs, v.rate, v.users) })
	}
}

func benchFanOut(b *testing.B, subscribers, rate int, users bool) {
	const connections = 10
	st, err := store.Open(filepath.Join(b.TempDir(), "forum.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	addr := serveTCP(b, Config{Store: st, MaxStreamsPerAddress: 2 * subscribers})
	writer, err := st.CreateUser(b.Context(), authz.SystemActor, &forumv1.User{Username: "writer", DisplayName: "W", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		b.Fatal(err)
	}
	actor := authz.Actor{User: writer.Name, Role: forumv1.Role_ROLE_MEMBER}
	th, err := st.CreateThread(b.Context(), actor, &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Fan-out", Body: benchBody}, "")
	if err != nil {
		b.Fatal(err)
	}
	thread := resname.MustParseThread(th.Name)
	conns := dialBench(b, addr, connections)
	tokens := make([]string, subscribers) // "" for anonymous
	for i := range tokens {
		if !users {
			break
		}
		u, err := st.CreateUser(b.Context(), authz.SystemActor, &forumv1.User{Username: fmt.Sprintf("sub%d", i), DisplayName: "S", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
		if err != nil {
			b.Fatal(err)
		}
		secret, hash := auth.NewToken(auth.APITokenPrefix)
		owner := authz.Actor{User: u.Name, Role: forumv1.Role_ROLE_MEMBER}
		if _, _, err := st.CreateAPIToken(b.Context(), owner, resname.MustParseUser(u.Name), &forumv1.ApiToken{DisplayName: "bench", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, hash, ""); err != nil {
			b.Fatal(err)
		}
		tokens[i] = secret
	}

	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	type result struct {
		times [][2]int64 // each event's time and its arrival, unix ns
		err   error
	}
	results := make(chan result, subscribers)
	var ready sync.WaitGroup
	ready.Add(subscribers)
	for i := range subscribers {
		go func() {
			var r result
			defer func() { results <- r }()
			desc := &forumv1.EventService_ServiceDesc.Streams[0]
			ctx := ctx
			if tokens[i] != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tokens[i])
			}
			stream, err := conns[i%connections].NewStream(ctx, desc, forumv1.EventService_StreamEvents_FullMethodName, grpc.ForceCodecV2(rawEventCodec{}))
			if err == nil {
				err = stream.SendMsg(&forumv1.StreamEventsRequest{Filter: `type = "reply.created"`})
			}
			if err == nil {
				err = stream.CloseSend()
			}
			if err == nil {
				_, err = stream.Header()
			}
			ready.Done()
			if err != nil {
				r.err = err
				return
			}
			r.times = make([][2]int64, 0, b.N)
			for len(r.times) < b.N {
				var m rawEvents
				if err := stream.RecvMsg(&m); err != nil {
					r.err = err
					return
				}
				now := time.Now().UnixNano()
				for _, t := range m.times {
					r.times = append(r.times, [2]int64{t.UnixNano(), now})
				}
			}
		}()
	}
	ready.Wait()
	b.ResetTimer()
	period, start := time.Second/time.Duration(rate), time.Now()
	// The writes go at the rate whatever their commits take (an open
	// loop: a write waits for no earlier one), as many writers' would.
	var (
		mu      sync.Mutex
		acked   = make(map[int64]int64, b.N) // event time → when CreateReply returned, unix ns
		commits []time.Duration
		writes  sync.WaitGroup
		failed  error
	)
	for n := range b.N {
		// Write n is due at start + n periods: one that falls behind
		// (the writer not scheduled in time) is not dropped, as a
		// Ticker's tick would be, but written at once.
		time.Sleep(time.Until(start.Add(time.Duration(n) * period)))
		writes.Go(func() {
			r, err := st.CreateReply(ctx, actor, thread, &forumv1.Reply{Body: fmt.Sprintf("reply %d", n)}, "")
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			acked[r.CreateTime.AsTime().UnixNano()] = now.UnixNano() // the event's time
			commits = append(commits, now.Sub(r.CreateTime.AsTime()))
		})
	}
	writes.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	var fromCommit, fromEvent []time.Duration
	cut := 0
	for range subscribers {
		r := <-results
		if status.Code(r.err) == codes.ResourceExhausted {
			cut++
		} else if r.err != nil {
			b.Fatalf("a subscriber: %v (after %d events)", r.err, len(r.times))
		}
		for _, t := range r.times {
			ack, ok := acked[t[0]]
			if !ok {
				b.Fatalf("an event of time %d that the writer did not write", t[0])
			}
			fromCommit = append(fromCommit, time.Duration(max(0, t[1]-ack)))
			fromEvent = append(fromEvent, time.Duration(t[1]-t[0]))
		}
	}
	b.StopTimer()
	if len(fromCommit) == 0 {
		b.Fatal("no event was delivered")
	}
	at := func(ds []time.Duration, q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000
	}
	slices.Sort(fromCommit)
	slices.Sort(fromEvent)
	slices.Sort(commits)
	b.ReportMetric(at(fromCommit, 0.5), "p50-ms")
	b.ReportMetric(at(fromCommit, 0.99), "p99-ms")
	b.ReportMetric(at(fromCommit, 1), "max-ms")
	b.ReportMetric(at(fromEvent, 0.99), "p99-from-event-ms")
	b.ReportMetric(at(commits, 0.99), "commit-p99-ms")
	b.ReportMetric(float64(len(fromCommit))/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(cut), "cut")
}

// rawEvents is what the fan-out benchmark's subscribers read of a
// StreamEventsResponse: the time of each of its events, picked out of the
// wire format without decoding the rest (none in a heartbeat). Real
// subscribers run on other machines, so the benchmark keeps their decoding
// off the two cores it measures.
type rawEvents struct {
	times []time.Time
}

// rawEventCodec encodes requests as protobuf and decodes
// StreamEventsResponses into rawEvents.
type rawEventCodec struct{}

func (rawEventCodec) Name() string { return "proto" }

func (rawEventCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

var (
	rawEventsField = (&forumv1.StreamEventsResponse{}).ProtoReflect().Descriptor().Fields().ByName("events").Number()
	rawTimeField   = (&forumv1.Event{}).ProtoReflect().Descriptor().Fields().ByName("event_time").Number()
)

func (rawEventCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m := v.(*rawEvents)
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return rawFields(buf.ReadOnlyData(), func(num protowire.Number, typ protowire.Type, val []byte) error {
		if num != rawEventsField || typ != protowire.BytesType {
			return nil
		}
		return rawFields(val, func(num protowire.Number, typ protowire.Type, val []byte) error {
			if num != rawTimeField || typ != protowire.BytesType {
				return nil
			}
			// google.protobuf.Timestamp: seconds = 1, nanos = 2.
			var sec, nsec uint64
			for b := val; len(b) > 0; {
				num, _, n := protowire.ConsumeTag(b)
				if n < 0 {
					return protowire.ParseError(n)
				}
				x, k := protowire.ConsumeVarint(b[n:])
				if k < 0 {
					return protowire.ParseError(k)
				}
				switch num {
				case 1:
					sec = x
				case 2:
					nsec = x
				}
				b = b[n+k:]
			}
			m.times = append(m.times, time.Unix(int64(sec), int64(nsec)))
			return nil
		})
	})
}

// rawFields calls fn with each field of the encoded message b: its number,
// type and, for a length-delimited field, its contents.
func rawFields(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		var val []byte
		if typ == protowire.BytesType {
			val, _ = protowire.ConsumeBytes(b)
		}
		if err := fn(num, typ, val); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}
