package server

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkEventLogCost measures what the event log costs CreateReply: the
// same build, 64 clients over 8 connections, with the log (log=on, as
// forumd runs) and without it (log=off, store.Options.BenchmarkWithoutEventLog).
// Run it with -count so that the two alternate, and compare them round by
// round (docs/PERFORMANCE.md).
func BenchmarkEventLogCost(b *testing.B) {
	for _, v := range []struct {
		name string
		off  bool
	}{{"log=on", false}, {"log=off", true}} {
		b.Run(v.name, func(b *testing.B) {
			e := newBenchEnvWith(b, store.Options{BenchmarkWithoutEventLog: v.off})
			var threads []string
			for i := range 4 {
				threads = append(threads, e.mustThread(b, e.alice, &forumv1.Thread{Title: fmt.Sprintf("Bench thread %d", i), Body: benchBody}).GetName())
			}
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
// a second; b.N is the number of replies written. It reports the delay from
// each event's time (taken in the writing transaction, before its commit
// and fsync, so the figure includes both) to its arrival at each
// subscriber (p50, p99, the maximum, over every delivery), the deliveries
// a second, and how many subscribers were cut off for falling more than
// store.SubscriptionBuffer events behind. The subscribers run in the same
// process, so their receiving shares the two cores with the server.
func BenchmarkStreamEventsFanOut(b *testing.B) {
	for _, v := range []struct{ subs, rate int }{{100, 1000}, {1000, 100}, {1000, 1000}} {
		b.Run(fmt.Sprintf("subs=%d,rate=%d", v.subs, v.rate), func(b *testing.B) { benchFanOut(b, v.subs, v.rate) })
	}
}

func benchFanOut(b *testing.B, subscribers, rate int) {
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

	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	type result struct {
		delays []time.Duration
		err    error
	}
	results := make(chan result, subscribers)
	var ready sync.WaitGroup
	ready.Add(subscribers)
	for i := range subscribers {
		go func() {
			var r result
			defer func() { results <- r }()
			desc := &forumv1.EventService_ServiceDesc.Streams[0]
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
			for len(r.delays) < b.N {
				var ev rawEvent
				if err := stream.RecvMsg(&ev); err != nil {
					r.err = err
					return
				}
				if !ev.heartbeat {
					r.delays = append(r.delays, time.Since(ev.time))
				}
			}
		}()
	}
	ready.Wait()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := range b.N {
		<-tick.C
		if _, err := st.CreateReply(ctx, actor, thread, &forumv1.Reply{Body: fmt.Sprintf("reply %d", n)}, ""); err != nil {
			b.Fatal(err)
		}
	}
	var all []time.Duration
	cut := 0
	for range subscribers {
		r := <-results
		if status.Code(r.err) == codes.ResourceExhausted {
			cut++
		} else if r.err != nil {
			b.Fatalf("a subscriber: %v (after %d events)", r.err, len(r.delays))
		}
		all = append(all, r.delays...)
	}
	b.StopTimer()
	if len(all) == 0 {
		b.Fatal("no event was delivered")
	}
	slices.Sort(all)
	at := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(cut), "cut")
}

// rawEvent is what the fan-out benchmark's subscribers read of an Event:
// its time and whether it is a heartbeat, picked out of the wire format
// without decoding the rest. Real subscribers run on other machines, so
// the benchmark keeps their decoding off the two cores it measures.
type rawEvent struct {
	time      time.Time
	heartbeat bool
}

// rawEventCodec encodes requests as protobuf and decodes Events into
// rawEvent.
type rawEventCodec struct{}

func (rawEventCodec) Name() string { return "proto" }

func (rawEventCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

func (rawEventCodec) Unmarshal(data mem.BufferSlice, v any) error {
	ev := v.(*rawEvent)
	b := data.Materialize()
	heartbeat := (&forumv1.Event{}).ProtoReflect().Descriptor().Fields().ByName("heartbeat").Number()
	eventTime := (&forumv1.Event{}).ProtoReflect().Descriptor().Fields().ByName("event_time").Number()
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
		switch {
		case num == heartbeat && typ == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(b)
			ev.heartbeat = x != 0
		case num == eventTime && typ == protowire.BytesType:
			inner, _ := protowire.ConsumeBytes(b)
			var ts timestamppb.Timestamp
			if err := proto.Unmarshal(inner, &ts); err != nil {
				return err
			}
			ev.time = ts.AsTime()
		}
		b = b[m:]
	}
	return nil
}
