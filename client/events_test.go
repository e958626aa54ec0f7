package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// cutProxy is a TCP proxy in front of forumd whose connections the test
// cuts at will, as a network or a restart would.
type cutProxy struct {
	addr     string
	upstream string

	mu    sync.Mutex
	conns []net.Conn
	cuts  int
}

// startCutProxy starts a cutProxy in front of upstream; it stops in
// t.Cleanup.
func startCutProxy(t *testing.T, upstream string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: lis.Addr().String(), upstream: upstream}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		lis.Close()
		p.cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			down, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(up, down); up.Close(); down.Close() })
			wg.Go(func() { _, _ = io.Copy(down, up); up.Close(); down.Close() })
		}
	})
	return p
}

// cut closes every connection open through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	if len(p.conns) > 0 {
		p.cuts++
	}
	p.conns = nil
}

// TestEventsResumeAfterCuts: while writers run, a streaming reader whose
// connection is cut at random moments resumes by itself, and sees every
// event once, in order: the same events as ListEvents then lists.
func TestEventsResumeAfterCuts(t *testing.T) {
	f := start(t)
	proxy := startCutProxy(t, f.srv.GRPCAddr)
	reader := newClient(t, proxy.addr, client.WithToken(f.admin.Token()))
	const filter = `theme = "themes/knowledge-exchange"`

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()

	// The stream starts at revision 1: the log as it is, then the rest.
	var (
		mu   sync.Mutex
		got  []uint64
		last error
	)
	seen := make(chan struct{}, 1)
	var reading sync.WaitGroup
	reading.Go(func() {
		for ev, err := range reader.Events(readCtx, 1, filter) {
			mu.Lock()
			if err != nil {
				last = err
			} else {
				got = append(got, ev.GetRevision())
			}
			mu.Unlock()
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})

	const threads, repliesEach = 6, 8
	var writers sync.WaitGroup
	for i := range threads {
		writers.Go(func() {
			th, err := f.member.CreateThread(ctx, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: fmt.Sprintf("Cut %d", i), Body: "b"})
			if err != nil {
				t.Errorf("create thread: %v", err)
				return
			}
			for j := range repliesEach {
				if _, err := f.convener.CreateReply(ctx, th.GetName(), &forumv1.Reply{Body: fmt.Sprintf("reply %d.%d", i, j)}); err != nil {
					t.Errorf("reply: %v", err)
				}
				time.Sleep(time.Duration(rand.N(40)) * time.Millisecond)
			}
		})
	}
	writing := make(chan struct{})
	go func() { writers.Wait(); close(writing) }()
	// Cut until the writers are done, and at least 5 times.
	for written := false; ; {
		select {
		case <-time.After(time.Duration(20+rand.N(60)) * time.Millisecond):
			proxy.cut()
		case <-writing:
			written, writing = true, nil
		}
		proxy.mu.Lock()
		cuts := proxy.cuts
		proxy.mu.Unlock()
		if written && cuts >= 5 {
			break
		}
	}

	var want []uint64
	for ev, err := range f.admin.ListEvents(callCtx(t), &forumv1.ListEventsRequest{Filter: filter, PageSize: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ev.GetRevision())
	}
	if len(want) < threads*(1+repliesEach) {
		t.Fatalf("ListEvents: %d events, want at least %d", len(want), threads*(1+repliesEach))
	}
	// Wait for the reader to reach the last one.
	for caughtUp := false; !caughtUp; {
		select {
		case <-seen:
		case <-ctx.Done():
			t.Fatal("the reader did not catch up")
		}
		mu.Lock()
		caughtUp = last != nil || len(got) > 0 && got[len(got)-1] >= want[len(want)-1]
		mu.Unlock()
	}
	stopReading()
	reading.Wait()
	if last != nil && !errors.Is(last, context.Canceled) {
		t.Fatalf("Events: %v after %d events", last, len(got))
	}
	if !slices.Equal(got, want) {
		t.Errorf("streamed revisions %v\n  listed revisions %v", got, want)
	}
	proxy.mu.Lock()
	cuts := proxy.cuts
	proxy.mu.Unlock()
	if cuts < 5 {
		t.Errorf("only %d cuts: the test did not test resumption", cuts)
	}
	t.Logf("%d events through %d cuts", len(got), cuts)
}

// TestEventsLive: Events and ListEvents against forumd: the log from a
// revision, then new events as they come; filters; the errors that end
// the iteration.
func TestEventsLive(t *testing.T) {
	f := start(t)
	th := mustThread(t, f.member, "themes/knowledge-exchange", "Events live")
	mustReply(t, f.convener, th.GetName(), "first")
	// The member's notification of the reply is made beside the write:
	// wait for it, so that both listings below read the same log.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, err := f.member.UnreadNotifications(callCtx(t)); err != nil {
			t.Fatal(err)
		} else if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification of the reply in 10 s")
		}
	}

	var all []*forumv1.Event
	for ev, err := range f.admin.ListEvents(callCtx(t), nil) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ev)
	}
	if len(all) < 2 {
		t.Fatalf("ListEvents: %d events", len(all))
	}
	for i, ev := range all {
		if ev.GetRevision() != uint64(i+1) || ev.GetType() == forumv1.EventType_EVENT_TYPE_UNSPECIFIED {
			t.Fatalf("event %d: %v", i, ev)
		}
	}
	var paged []*forumv1.Event
	for ev, err := range f.admin.ListEvents(callCtx(t), &forumv1.ListEventsRequest{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ev)
	}
	if len(paged) != len(all) {
		t.Errorf("ListEvents page_size 1: %d events, want %d", len(paged), len(all))
	}

	// From the last listed revision: that event, then new ones, filtered
	// (the member's own notifications come on the stream too, made beside
	// the writes: left out).
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	last := all[len(all)-1]
	for i := len(all) - 1; last.GetType() == forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED; i-- {
		last = all[i-1]
	}
	next, stop := iterPull(f.member.Events(ctx, last.GetRevision(), `type != "notification.created"`))
	defer stop()
	if ev, err := next(); err != nil || ev.GetRevision() != last.GetRevision() {
		t.Fatalf("first event %v, %v; want revision %d", ev, err, last.GetRevision())
	}
	r := mustReply(t, f.convener, th.GetName(), "second")
	ev, err := next()
	if err != nil || ev.GetType() != forumv1.EventType_EVENT_TYPE_REPLY_CREATED || ev.GetReply().GetName() != r.GetName() || ev.GetRevision() <= last.GetRevision() {
		t.Fatalf("new event %v, %v; want the reply %s", ev, err, r.GetName())
	}
	if got := client.EventTypeName(ev.GetType()); got != "reply.created" {
		t.Errorf("EventTypeName = %q", got)
	}
	cancel()
	if _, err := next(); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}

	// Start 0: only what comes from now on. The stream opens while a
	// writer adds threads; the first event is one of them.
	ctx2, cancel2 := context.WithCancel(callCtx(t))
	defer cancel2()
	next2, stop2 := iterPull(f.member.Events(ctx2, 0, `type = "thread.created"`))
	defer stop2()
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ctx2.Err() == nil; i++ {
			if _, err := f.member.CreateThread(ctx2, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: fmt.Sprintf("From now %d", i), Body: "b"}); err != nil && ctx2.Err() == nil {
				t.Errorf("create thread: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	ev, err = next2()
	cancel2()
	writer.Wait()
	if err != nil || ev.GetType() != forumv1.EventType_EVENT_TYPE_THREAD_CREATED || ev.GetRevision() <= last.GetRevision()+1 {
		t.Fatalf("start 0: first event %v, %v; want a new thread.created", ev, err)
	}

	// Errors end the iteration at once.
	for name, tc := range map[string]struct {
		c      *client.Client
		filter string
		want   error
	}{
		"bad filter":    {f.member, `colour = "red"`, client.ErrInvalidArgument},
		"unknown token": {newClient(t, f.srv.GRPCAddr, client.WithToken("fgs_unknown")), "", client.ErrUnauthenticated},
	} {
		for _, stream := range []bool{true, false} {
			var err error
			n := 0
			if stream {
				for _, e := range tc.c.Events(callCtx(t), 1, tc.filter) {
					err = e
					n++
				}
			} else {
				for _, e := range tc.c.ListEvents(callCtx(t), &forumv1.ListEventsRequest{Filter: tc.filter}) {
					err = e
					n++
				}
			}
			if n != 1 || !errors.Is(err, tc.want) {
				t.Errorf("%s (stream %v): %d yields, last error %v; want one, %v", name, stream, n, err, tc.want)
			}
			t.Logf("%s: %v", name, err)
		}
	}
}

// iterPull is iter.Pull2 with its results as one value and an error.
func iterPull(seq func(func(*forumv1.Event, error) bool)) (func() (*forumv1.Event, error), func()) {
	events := make(chan struct {
		ev  *forumv1.Event
		err error
	})
	quit := make(chan struct{})
	go func() {
		defer close(events)
		for ev, err := range seq {
			select {
			case events <- struct {
				ev  *forumv1.Event
				err error
			}{ev, err}:
			case <-quit:
				return
			}
		}
	}()
	next := func() (*forumv1.Event, error) {
		select {
		case r, ok := <-events:
			if !ok {
				return nil, io.EOF
			}
			return r.ev, r.err
		case <-time.After(callTimeout):
			return nil, errors.New("no event in time")
		}
	}
	var once sync.Once
	return next, func() { once.Do(func() { close(quit) }) }
}

// fakeEvents is an EventService whose StreamEvents follows a script: one
// step per call, each sending events then ending with an error.
type fakeEvents struct {
	forumv1.UnimplementedEventServiceServer

	mu    sync.Mutex
	steps []fakeStep
	reqs  []*forumv1.StreamEventsRequest
	auth  []string
}

// fakeStep is what one StreamEvents call does: send msgs, then end with
// err.
type fakeStep struct {
	msgs []*forumv1.StreamEventsResponse
	err  error
}

func (f *fakeEvents) StreamEvents(req *forumv1.StreamEventsRequest, ss grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.auth = append(f.auth, md.Get("authorization")...)
	var step fakeStep
	if len(f.steps) > 0 {
		step, f.steps = f.steps[0], f.steps[1:]
	} else {
		step.err = status.Error(codes.Unimplemented, "script over")
	}
	f.mu.Unlock()
	for _, m := range step.msgs {
		if err := ss.Send(m); err != nil {
			return err
		}
	}
	return step.err
}

// startFakeEvents serves fake on loopback and returns a Client of it.
func startFakeEvents(t *testing.T, fake *fakeEvents) *client.Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	forumv1.RegisterEventServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return newClient(t, lis.Addr().String(), client.WithToken("fgs_token"))
}

// withInfo returns a status with an ErrorInfo of the forum's domain.
func withInfo(code codes.Code, msg, reason string, md map[string]string, more ...*durationpb.Duration) error {
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "forum", Metadata: md})
	if err != nil {
		panic(err)
	}
	if len(more) > 0 {
		if st, err = st.WithDetails(&errdetails.RetryInfo{RetryDelay: more[0]}); err != nil {
			panic(err)
		}
	}
	return st.Err()
}

// event is the event of revision rev.
func event(rev uint64) *forumv1.Event {
	return &forumv1.Event{Name: fmt.Sprintf("events/%d", rev), Revision: rev, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED}
}

// ev is the message that carries the event of revision rev alone.
func ev(rev uint64) *forumv1.StreamEventsResponse { return batch(rev) }

// batch is the message that carries the events of revisions revs, with
// the revision of the last.
func batch(revs ...uint64) *forumv1.StreamEventsResponse {
	m := &forumv1.StreamEventsResponse{Revision: revs[len(revs)-1]}
	for _, rev := range revs {
		m.Events = append(m.Events, event(rev))
	}
	return m
}

// heartbeat is a heartbeat at rev: a message without events.
func heartbeat(rev uint64) *forumv1.StreamEventsResponse {
	return &forumv1.StreamEventsResponse{Revision: rev}
}

// messages is msgs as a slice, for the steps of a script.
func messages(msgs ...*forumv1.StreamEventsResponse) []*forumv1.StreamEventsResponse { return msgs }

// TestEventsScript: which errors Events resumes after and from where, and
// which end it, against a scripted server.
func TestEventsScript(t *testing.T) {
	slow := withInfo(codes.ResourceExhausted, "the stream fell more than 1024 events behind the log", "RESOURCE_EXHAUSTED", nil)
	cases := []struct {
		name      string
		start     uint64
		steps     []fakeStep
		want      []uint64 // revisions yielded
		wantErr   error
		wantStart []uint64 // start_revision of each call
	}{
		{
			name:  "resumes after UNAVAILABLE, a slow reader, the server ending, skipping heartbeats and repeats",
			start: 3,
			steps: []fakeStep{
				{messages(ev(3), ev(4)), status.Error(codes.Unavailable, "connection reset")},
				{messages(ev(5), ev(6), heartbeat(9)), slow},
				{messages(ev(9), ev(10)), nil},
				{messages(ev(10), ev(11)), withInfo(codes.InvalidArgument, "bad", "INVALID_ARGUMENT", nil)},
			},
			want:      []uint64{3, 4, 5, 6, 10, 11},
			wantErr:   client.ErrInvalidArgument,
			wantStart: []uint64{3, 5, 10, 11},
		},
		{
			name:  "start 0 resumes after the last heartbeat",
			start: 0,
			steps: []fakeStep{
				{messages(heartbeat(41)), status.Error(codes.Unavailable, "gone")},
				{messages(ev(42)), withInfo(codes.PermissionDenied, "no", "PERMISSION_DENIED", nil)},
			},
			want:      []uint64{42},
			wantErr:   client.ErrPermissionDenied,
			wantStart: []uint64{0, 42},
		},
		{
			name:  "a message of several events yields each once, in order, and resumes after the last",
			start: 1,
			steps: []fakeStep{
				{messages(batch(1, 2, 3), batch(4, 5)), status.Error(codes.Unavailable, "connection reset")},
				{messages(batch(6, 7, 8)), withInfo(codes.InvalidArgument, "bad", "INVALID_ARGUMENT", nil)},
			},
			want:      []uint64{1, 2, 3, 4, 5, 6, 7, 8},
			wantErr:   client.ErrInvalidArgument,
			wantStart: []uint64{1, 6},
		},
		{
			name:  "a resumed stream that sends again events yielded in a batch skips them",
			start: 3,
			steps: []fakeStep{
				{messages(batch(3, 4, 5)), status.Error(codes.Unavailable, "connection reset")},
				// 4 and 5 again, in a batch with new ones.
				{messages(batch(4, 5, 6, 7)), slow},
				// 7 again, in a batch, then 8; then 6 alone.
				{messages(batch(7, 8), ev(6), batch(8, 9)), nil},
				{messages(batch(10)), withInfo(codes.NotFound, "end", "NOT_FOUND", nil)},
			},
			want:      []uint64{3, 4, 5, 6, 7, 8, 9, 10},
			wantErr:   client.ErrNotFound,
			wantStart: []uint64{3, 6, 8, 10},
		},
		{
			name:  "start 0 resumes after a batch",
			start: 0,
			steps: []fakeStep{
				{messages(batch(41, 42, 43)), status.Error(codes.Unavailable, "gone")},
				{messages(batch(43, 44)), withInfo(codes.PermissionDenied, "no", "PERMISSION_DENIED", nil)},
			},
			want:      []uint64{41, 42, 43, 44},
			wantErr:   client.ErrPermissionDenied,
			wantStart: []uint64{0, 44},
		},
		{
			name:  "OUT_OF_RANGE ends it with the oldest revision",
			start: 2,
			steps: []fakeStep{
				{nil, withInfo(codes.OutOfRange, "revision 2 is older than the oldest the event log keeps, 40", "OUT_OF_RANGE", map[string]string{"oldest_revision": "40"})},
			},
			wantErr:   client.ErrOutOfRange,
			wantStart: []uint64{2},
		},
		{
			name:  "too many streams ends it",
			start: 1,
			steps: []fakeStep{
				{messages(ev(1)), withInfo(codes.ResourceExhausted, "too many open streams", "TOO_MANY_STREAMS", nil)},
			},
			want:      []uint64{1},
			wantErr:   client.ErrRateLimited,
			wantStart: []uint64{1},
		},
		{
			name:  "a rate limit is waited out",
			start: 1,
			steps: []fakeStep{
				{nil, withInfo(codes.ResourceExhausted, "slow down", "RATE_LIMITED", nil, durationpb.New(300*time.Millisecond))},
				{messages(ev(1)), withInfo(codes.NotFound, "end", "NOT_FOUND", nil)},
			},
			want:      []uint64{1},
			wantErr:   client.ErrNotFound,
			wantStart: []uint64{1, 1},
		},
		{
			name:  "gives up after 4 attempts that deliver nothing",
			start: 1,
			steps: []fakeStep{
				{nil, status.Error(codes.Unavailable, "1")},
				{nil, status.Error(codes.Unavailable, "2")},
				{nil, status.Error(codes.Unavailable, "3")},
				{nil, status.Error(codes.Unavailable, "4")},
				{messages(ev(1)), nil},
			},
			wantErr:   client.ErrUnavailable,
			wantStart: []uint64{1, 1, 1, 1},
		},
		{
			name:  "but not once a stream delivered something",
			start: 1,
			steps: []fakeStep{
				{messages(heartbeat(0)), status.Error(codes.Unavailable, "0")},
				{nil, status.Error(codes.Unavailable, "1")},
				{nil, status.Error(codes.Unavailable, "2")},
				{nil, status.Error(codes.Unavailable, "3")},
				{nil, status.Error(codes.Unavailable, "4")},
				{nil, status.Error(codes.Unavailable, "5")},
				{messages(ev(1)), withInfo(codes.NotFound, "end", "NOT_FOUND", nil)},
			},
			want:      []uint64{1},
			wantErr:   client.ErrNotFound,
			wantStart: []uint64{1, 1, 1, 1, 1, 1, 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeEvents{steps: tc.steps}
			c := startFakeEvents(t, fake)
			var got []uint64
			var last error
			began := time.Now()
			for ev, err := range c.Events(callCtx(t), tc.start, "") {
				if err != nil {
					last = err
					if ev != nil {
						t.Errorf("error yielded with an event")
					}
					continue
				}
				if ev == nil || ev.GetType() == forumv1.EventType_EVENT_TYPE_UNSPECIFIED {
					t.Errorf("heartbeat yielded: %v", ev) // a message without events, as an empty event
				}
				got = append(got, ev.GetRevision())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("revisions %v, want %v", got, tc.want)
			}
			if !errors.Is(last, tc.wantErr) {
				t.Errorf("error %v, want %v", last, tc.wantErr)
			}
			fake.mu.Lock()
			var starts []uint64
			for _, r := range fake.reqs {
				starts = append(starts, r.GetStartRevision())
			}
			auth := fake.auth
			fake.mu.Unlock()
			if !slices.Equal(starts, tc.wantStart) {
				t.Errorf("start revisions %v, want %v", starts, tc.wantStart)
			}
			for _, a := range auth {
				if a != "Bearer fgs_token" {
					t.Errorf("authorization %q", a)
				}
			}
			if len(auth) != len(starts) {
				t.Errorf("%d calls carried the token, of %d", len(auth), len(starts))
			}
			if errors.Is(tc.wantErr, client.ErrOutOfRange) {
				if oldest, ok := client.OldestRevision(last); !ok || oldest != 40 {
					t.Errorf("OldestRevision = %d, %v; want 40", oldest, ok)
				}
			}
			if tc.name == "a rate limit is waited out" && time.Since(began) < 300*time.Millisecond {
				t.Errorf("resumed after %v, before the server's delay", time.Since(began))
			}
		})
	}
}

// TestEventsBreak: breaking out of the loop ends the stream on the
// server, whether the events come one to a message or in one message.
func TestEventsBreak(t *testing.T) {
	for name, msgs := range map[string][]*forumv1.StreamEventsResponse{
		"one to a message": messages(ev(1), ev(2), ev(3)),
		"in one message":   messages(batch(1, 2, 3)),
	} {
		t.Run(name, func(t *testing.T) {
			fake := &fakeEvents{steps: []fakeStep{{msgs, nil}}}
			c := startFakeEvents(t, fake)
			n := 0
			for ev, err := range c.Events(callCtx(t), 1, "") {
				n++
				if err != nil || ev.GetRevision() != 1 {
					t.Fatalf("%v, %v", ev, err)
				}
				break
			}
			if n != 1 {
				t.Errorf("%d yields, want 1", n)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.reqs) != 1 {
				t.Errorf("%d calls, want 1", len(fake.reqs))
			}
		})
	}
}
