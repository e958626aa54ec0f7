package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server"
)

// fakeEvents is an EventServiceServer whose StreamEvents the test sets; it
// records each request and its metadata.
type fakeEvents struct {
	forumv1.UnimplementedEventServiceServer

	stream func(*forumv1.StreamEventsRequest, grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error
	mu     sync.Mutex
	reqs   []*forumv1.StreamEventsRequest
	mds    []metadata.MD
}

func (f *fakeEvents) StreamEvents(req *forumv1.StreamEventsRequest, ss grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mds = append(f.mds, md)
	f.mu.Unlock()
	return f.stream(req, ss)
}

// requests returns the requests the fake received.
func (f *fakeEvents) requests() []*forumv1.StreamEventsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*forumv1.StreamEventsRequest(nil), f.reqs...)
}

// sends returns a StreamEvents body that sends msgs, then returns err.
func sends(err error, msgs ...*forumv1.StreamEventsResponse) func(*forumv1.StreamEventsRequest, grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
	return func(_ *forumv1.StreamEventsRequest, ss grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
		for _, m := range msgs {
			if err := ss.Send(m); err != nil {
				return err
			}
		}
		return err
	}
}

// batch is the StreamEvents message that carries evs, with the revision
// of the last.
func batch(evs ...*forumv1.Event) *forumv1.StreamEventsResponse {
	return &forumv1.StreamEventsResponse{Events: evs, Revision: evs[len(evs)-1].GetRevision()}
}

// each is the StreamEvents messages that carry evs one to a message.
func each(evs ...*forumv1.Event) []*forumv1.StreamEventsResponse {
	var msgs []*forumv1.StreamEventsResponse
	for _, ev := range evs {
		msgs = append(msgs, batch(ev))
	}
	return msgs
}

// heartbeat is a StreamEvents heartbeat at rev: a message without events.
func heartbeat(rev uint64) *forumv1.StreamEventsResponse {
	return &forumv1.StreamEventsResponse{Revision: rev}
}

// newEventEnv is the gateway in front of a gRPC server on bufconn serving
// fake as its EventService.
func newEventEnv(t *testing.T, fake *fakeEvents, opts gateway.Options) http.Handler {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	forumv1.RegisterEventServiceServer(srv, fake)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	t.Cleanup(func() {
		srv.Stop()
		wg.Wait()
	})
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h, err := gateway.New(t.Context(), conn, opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	return h
}

// sseGet sends GET url to h with Accept: text/event-stream and the
// headers (name/value pairs), and returns the recorded response.
func sseGet(h http.Handler, url string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// eventJSON is ev as the gateway's JSON.
func eventJSON(t *testing.T, ev *forumv1.Event) string {
	t.Helper()
	data, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sseEvent is one event of an SSE stream, as EventSource parses it.
type sseEvent struct {
	id, event, data string
}

// parseSSE splits an SSE body into its events and comments, as the HTML
// standard's parser does (fields of one event up to a blank line; data
// lines joined with newlines), checking that nothing else is in it.
func parseSSE(t *testing.T, body string) (events []sseEvent, comments []string, retry string) {
	t.Helper()
	var cur sseEvent
	var data []string
	for line := range strings.Lines(body) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if len(data) > 0 {
				cur.data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			comments = append(comments, strings.TrimPrefix(line, ": "))
		default:
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				cur.id = value
			case "event":
				cur.event = value
			case "data":
				data = append(data, value)
			case "retry":
				retry = value
			default:
				t.Errorf("unexpected SSE line %q", line)
			}
		}
	}
	if !strings.HasSuffix(body, "\n\n") {
		t.Errorf("SSE body does not end with a blank line: %q", body)
	}
	return events, comments, retry
}

// TestSSEFormat: each event is id, short type and the Event's JSON, a
// heartbeat (a message without events) a comment, after a retry line; not
// compressed, however large. A message of several events is as many SSE
// events, in order.
func TestSSEFormat(t *testing.T) {
	var sent []*forumv1.Event
	var want []sseEvent
	types := map[forumv1.EventType]string{
		forumv1.EventType_EVENT_TYPE_THREAD_CREATED:       "thread.created",
		forumv1.EventType_EVENT_TYPE_REPLY_UPDATED:        "reply.updated",
		forumv1.EventType_EVENT_TYPE_API_TOKEN_CREATED:    "api_token.created",
		forumv1.EventType_EVENT_TYPE_ORGANIZATION_DELETED: "organization.deleted",
	}
	for i := range len(forumv1.EventType_name) - 1 {
		typ := forumv1.EventType(i + 1)
		ev := &forumv1.Event{
			Name: fmt.Sprintf("events/%d", 10+i), Revision: uint64(10 + i), Type: typ, Actor: "users/1",
			Resource: "threads/7", Thread: "threads/7", Theme: "themes/knowledge-exchange",
			ResourceState: &forumv1.Event_ThreadResource{ThreadResource: &forumv1.Thread{Name: "threads/7", Title: "Line one\nline two", Body: strings.Repeat("long body ", 300)}},
		}
		sent = append(sent, ev)
		name := strings.ToLower(strings.TrimPrefix(typ.String(), "EVENT_TYPE_"))
		if i := strings.LastIndex(name, "_"); i >= 0 {
			name = name[:i] + "." + name[i+1:]
		}
		if w, ok := types[typ]; ok && w != name {
			t.Fatalf("test's own short name %q, want %q", name, w)
		}
		want = append(want, sseEvent{fmt.Sprint(10 + i), name, eventJSON(t, ev)})
	}
	// Events 10 and 11 one to a message, a heartbeat, 12 to 14 in one
	// message, then the others one to a message.
	msgs := each(sent[:2]...)
	msgs = append(msgs, heartbeat(11), batch(sent[2:5]...))
	msgs = append(msgs, each(sent[5:]...)...)
	fake := &fakeEvents{stream: sends(nil, msgs...)}
	h := newEventEnv(t, fake, gateway.Options{})
	rec := sseGet(h, "/v1/events:stream?start_revision=10", "Accept-Encoding", "gzip")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body.String())
	}
	for name, want := range map[string]string{"Content-Type": "text/event-stream", "Content-Encoding": "", "Cache-Control": "no-store", "Content-Length": ""} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	body := rec.Body.String()
	if !strings.HasPrefix(body, "retry: 3000\n\nid: 10\nevent: thread.created\ndata: {") {
		t.Errorf("body starts %q", body[:min(len(body), 80)])
	}
	if !strings.Contains(body, "\n\n: heartbeat 11\n\nid: 12\n") {
		t.Errorf("heartbeat not written as a comment between events 11 and 12")
	}
	// The message of three events: three SSE events, one after the other.
	for _, rev := range []int{12, 13, 14} {
		if !strings.Contains(body, fmt.Sprintf("\n\nid: %d\nevent: %s\ndata: %s\n\nid: %d\n", rev, want[rev-10].event, want[rev-10].data, rev+1)) {
			t.Errorf("event %d, of the message of events 12 to 14, not followed by event %d", rev, rev+1)
		}
	}
	events, comments, retry := parseSSE(t, body)
	if retry != "3000" {
		t.Errorf("retry %q, want 3000", retry)
	}
	if len(comments) != 1 || comments[0] != "heartbeat 11" {
		t.Errorf("comments %q, want [heartbeat 11]", comments)
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i := range want {
		if events[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, events[i], want[i])
		}
		var ev forumv1.Event
		if err := protojson.Unmarshal([]byte(events[i].data), &ev); err != nil || !proto.Equal(&ev, sent[i]) {
			t.Errorf("event %d: data does not decode to the event sent: %v", i, err)
		}
	}
	if got := fake.requests(); len(got) != 1 || got[0].GetStartRevision() != 10 {
		t.Errorf("requests %v, want start_revision 10", got)
	}
}

// TestSSEResume: start_revision and filter reach the server; Last-Event-ID
// resumes after it, over start_revision.
func TestSSEResume(t *testing.T) {
	fake := &fakeEvents{stream: sends(nil)}
	h := newEventEnv(t, fake, gateway.Options{})
	cases := []struct {
		query  string
		lastID *string
		start  uint64
		filter string
	}{
		{"", nil, 0, ""},
		{"?start_revision=7&filter=" + "type+%3D+%22reply.created%22", nil, 7, `type = "reply.created"`},
		{"?startRevision=8", nil, 8, ""},
		{"?start_revision=7", new("41"), 42, ""},
		{"?start_revision=7", new(" 41 "), 42, ""},
		{"?start_revision=7", new("0"), 1, ""},
		{"?start_revision=7", new(""), 7, ""}, // an empty Last-Event-ID is none
	}
	for _, tc := range cases {
		var headers []string
		if tc.lastID != nil {
			headers = []string{"Last-Event-ID", *tc.lastID}
		}
		rec := sseGet(h, "/v1/events:stream"+tc.query, headers...)
		if rec.Code != http.StatusOK || rec.Body.String() != "retry: 3000\n\n" {
			t.Errorf("%s %q: status %d, body %q", tc.query, headers, rec.Code, rec.Body.String())
			continue
		}
		reqs := fake.requests()
		got := reqs[len(reqs)-1]
		if got.GetStartRevision() != tc.start || got.GetFilter() != tc.filter {
			t.Errorf("%s %q: request %v, want start_revision %d filter %q", tc.query, headers, got, tc.start, tc.filter)
		}
	}
}

// TestSSEBadInput: a bad start_revision or Last-Event-ID is 400
// INVALID_ARGUMENT naming it, and the server is not called.
func TestSSEBadInput(t *testing.T) {
	fake := &fakeEvents{stream: sends(nil)}
	h := newEventEnv(t, fake, gateway.Options{})
	cases := []struct {
		name, query string
		headers     []string
		field       string
		sse         bool
	}{
		{"start_revision word", "?start_revision=abc", nil, "start_revision", true},
		{"start_revision negative", "?start_revision=-1", nil, "start_revision", true},
		{"start_revision overflow", "?start_revision=18446744073709551616", nil, "start_revision", true},
		{"startRevision word", "?startRevision=1.5", nil, "startRevision", true},
		{"start_revision without SSE", "?start_revision=abc", nil, "start_revision", false},
		{"Last-Event-ID word", "", []string{"Last-Event-ID", "abc"}, "Last-Event-ID", true},
		{"Last-Event-ID negative", "?start_revision=3", []string{"Last-Event-ID", "-4"}, "Last-Event-ID", true},
		{"Last-Event-ID last revision", "", []string{"Last-Event-ID", "18446744073709551615"}, "Last-Event-ID", true},
		{"Last-Event-ID twice", "", []string{"Last-Event-ID", "4", "Last-Event-ID", "5"}, "Last-Event-ID", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if tc.sse {
				rec = sseGet(h, "/v1/events:stream"+tc.query, tc.headers...)
			} else {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events:stream"+tc.query, nil))
			}
			wantError(t, rec, http.StatusBadRequest, codes.InvalidArgument, "")
			st := parseStatus(t, rec.Body.Bytes())
			if v := violations(st); len(v) != 1 || v[0] != tc.field {
				t.Errorf("violations %q, want one of %s", v, tc.field)
			}
			t.Log(st.Message())
		})
	}
	if n := len(fake.requests()); n != 0 {
		t.Errorf("the server was called %d times", n)
	}
}

// TestSSEErrorBeforeStart: a stream the server refuses is an ordinary
// error answer, masked as every other.
func TestSSEErrorBeforeStart(t *testing.T) {
	outOfRange := status.New(codes.OutOfRange, "revision 3 is no longer kept; the oldest is 40")
	outOfRange, _ = outOfRange.WithDetails(&errdetails.ErrorInfo{Reason: "OUT_OF_RANGE", Domain: "forum", Metadata: map[string]string{"oldest_revision": "40"}})
	errsByFilter := map[string]error{
		"bad":    status.Error(codes.InvalidArgument, `filter: unknown field "colour"`),
		"old":    outOfRange.Err(),
		"unauth": status.Error(codes.Unauthenticated, "unknown token"),
		"leak":   status.Error(codes.Internal, "bolt: /srv/forum/forum.db"),
	}
	fake := &fakeEvents{stream: func(req *forumv1.StreamEventsRequest, _ grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
		return errsByFilter[req.GetFilter()]
	}}
	h := newEventEnv(t, fake, gateway.Options{})
	cases := []struct {
		filter     string
		httpStatus int
		code       codes.Code
		msg        string
	}{
		{"bad", http.StatusBadRequest, codes.InvalidArgument, `filter: unknown field "colour"`},
		{"old", http.StatusBadRequest, codes.OutOfRange, "revision 3 is no longer kept; the oldest is 40"},
		{"unauth", http.StatusUnauthorized, codes.Unauthenticated, "unknown token"},
		{"leak", http.StatusInternalServerError, codes.Internal, "internal error"},
	}
	for _, tc := range cases {
		for _, sse := range []bool{true, false} {
			var rec *httptest.ResponseRecorder
			if sse {
				rec = sseGet(h, "/v1/events:stream?filter="+tc.filter)
			} else {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events:stream?filter="+tc.filter, nil))
				var body struct{ Error rpcStatus }
				err := json.Unmarshal(rec.Body.Bytes(), &body)
				if err != nil || rec.Code != tc.httpStatus || codes.Code(body.Error.Code) != tc.code || body.Error.Message != tc.msg {
					t.Errorf("%s without SSE: status %d, body %s (%v)", tc.filter, rec.Code, rec.Body.String(), err)
				}
				continue
			}
			wantError(t, rec, tc.httpStatus, tc.code, tc.msg)
			if tc.filter == "old" && !strings.Contains(rec.Body.String(), `"oldest_revision":"40"`) {
				t.Errorf("OUT_OF_RANGE without the oldest revision: %s", rec.Body.String())
			}
			if tc.code == codes.Unauthenticated && rec.Header().Get("WWW-Authenticate") != `Bearer realm="forum"` {
				t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
}

// TestSSEErrorAfterStart: an error once events have gone is an error event,
// masked as every other, and ends the response.
func TestSSEErrorAfterStart(t *testing.T) {
	slow := status.New(codes.ResourceExhausted, "the reader fell behind; resume from the last revision received")
	slow, _ = slow.WithDetails(&errdetails.ErrorInfo{Reason: "SLOW_READER", Domain: "forum"})
	ev := &forumv1.Event{Name: "events/5", Revision: 5, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED}
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{slow.Err(), codes.ResourceExhausted, slow.Message()},
		{status.Error(codes.Internal, "bolt: /srv/forum/forum.db"), codes.Internal, "internal error"},
		{status.Error(codes.Unavailable, "transport: dial tcp 10.0.0.7:7070"), codes.Unavailable, "service unavailable"},
	}
	for _, tc := range cases {
		h := newEventEnv(t, &fakeEvents{stream: sends(tc.err, batch(ev))}, gateway.Options{})
		rec := sseGet(h, "/v1/events:stream")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body.String())
		}
		events, _, _ := parseSSE(t, rec.Body.String())
		if len(events) != 2 || events[0].id != "5" || events[1].event != "error" || events[1].id != "" {
			t.Fatalf("events %+v, want event 5 then an error", events)
		}
		var st struct {
			Code    codes.Code `json:"code"`
			Message string     `json:"message"`
		}
		if err := json.Unmarshal([]byte(events[1].data), &st); err != nil || st.Code != tc.code || st.Message != tc.msg {
			t.Errorf("error event %s (%v), want code %v message %q", events[1].data, err, tc.code, tc.msg)
		}
	}
}

// TestEventStreamNDJSON: without Accept: text/event-stream the route is
// grpc-gateway's streaming, one {"result": StreamEventsResponse} per line:
// per message, whether it carries one event, several or none (a
// heartbeat).
func TestEventStreamNDJSON(t *testing.T) {
	evs := []*forumv1.Event{
		{Name: "events/1", Revision: 1, Type: forumv1.EventType_EVENT_TYPE_THEME_CREATED},
		{Name: "events/2", Revision: 2, Type: forumv1.EventType_EVENT_TYPE_THREAD_CREATED},
		{Name: "events/3", Revision: 3, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED},
		{Name: "events/4", Revision: 4, Type: forumv1.EventType_EVENT_TYPE_REPLY_UPDATED},
	}
	msgs := []*forumv1.StreamEventsResponse{batch(evs[0]), batch(evs[1:]...), heartbeat(4)}
	h := newEventEnv(t, &fakeEvents{stream: sends(nil, msgs...)}, gateway.Options{})
	for _, accept := range []string{"", "application/json", "*/*", "text/event-stream;q=0"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/events:stream?start_revision=1", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("Accept %q: status %d, Content-Type %q", accept, rec.Code, rec.Header().Get("Content-Type"))
		}
		lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
		if len(lines) != len(msgs) {
			t.Fatalf("Accept %q: body %q, want %d lines", accept, rec.Body.String(), len(msgs))
		}
		for i, line := range lines {
			var got struct{ Result json.RawMessage }
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			var m forumv1.StreamEventsResponse
			if err := protojson.Unmarshal(got.Result, &m); err != nil || !proto.Equal(&m, msgs[i]) {
				t.Errorf("line %d %s, want %v (%v)", i, line, msgs[i], err)
			}
		}
	}
}

// TestSSESessionCookie: the session cookie reaches the server as the
// bearer token, as for every route; the client address too.
func TestSSESessionCookie(t *testing.T) {
	fake := &fakeEvents{stream: sends(nil)}
	h := newEventEnv(t, fake, gateway.Options{GatewaySecret: "s3cret"})
	rec := sseGet(h, "http://localhost/v1/events:stream", "Cookie", gateway.SessionCookie+"=fgs_abc; theme=dark")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body.String())
	}
	fake.mu.Lock()
	md := fake.mds[0]
	fake.mu.Unlock()
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer fgs_abc" {
		t.Errorf("authorization %q, want [Bearer fgs_abc]", got)
	}
	if got := md.Get("x-forum-client-ip"); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("x-forum-client-ip %q", got)
	}
	if got := md.Get("grpcgateway-cookie"); len(got) != 0 {
		t.Errorf("cookie forwarded: %q", got)
	}
	// A cookie and an Authorization header together are refused, here too.
	rec = sseGet(h, "http://localhost/v1/events:stream", "Cookie", gateway.SessionCookie+"=fgs_abc", "Authorization", "Bearer x")
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
}

// readSSE reads r up to the end of the next event or comment block.
func readSSE(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			t.Fatalf("read after %q: %v", b.String(), err)
		}
		if line == "\n" {
			return b.String()
		}
	}
}

// TestSSELive: over a real HTTP server whose read and write timeouts and
// gateway deadline are far shorter than the stream, with gzip accepted,
// each event arrives as soon as it is sent, and the stream outlives them;
// the server's call ends when the client goes.
func TestSSELive(t *testing.T) {
	const short = 300 * time.Millisecond
	send := make(chan *forumv1.StreamEventsResponse)
	ended := make(chan error, 1)
	deadline := make(chan bool, 1)
	fake := &fakeEvents{stream: func(_ *forumv1.StreamEventsRequest, ss grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
		_, has := ss.Context().Deadline()
		deadline <- has
		if err := ss.SendHeader(nil); err != nil {
			return err
		}
		for {
			select {
			case m := <-send:
				if err := ss.Send(m); err != nil {
					ended <- err
					return err
				}
			case <-ss.Context().Done():
				ended <- ss.Context().Err()
				return ss.Context().Err()
			}
		}
	}}
	h := newEventEnv(t, fake, gateway.Options{MaxTimeout: short})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = short
	srv.Config.WriteTimeout = short
	srv.Start()
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events:stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	if <-deadline {
		t.Error("the stream's call has a deadline")
	}
	r := bufio.NewReader(resp.Body)
	// The header and retry line come before any event.
	if got := readSSE(t, r); got != "retry: 3000\n\n" {
		t.Fatalf("first block %q", got)
	}
	start := time.Now()
	newEvent := func(rev uint64) *forumv1.Event {
		return &forumv1.Event{Name: fmt.Sprintf("events/%d", rev), Revision: rev, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED}
	}
	var pos uint64 // the last revision sent
	for i := range 8 {
		time.Sleep(short / 2) // 1.2 s in all: four times every timeout
		var m *forumv1.StreamEventsResponse
		switch {
		case i%2 == 1:
			m = heartbeat(pos)
		case i == 4:
			// Three events in one message: three SSE events, each as
			// soon as the message comes (nothing waits for more).
			m = batch(newEvent(pos+1), newEvent(pos+2), newEvent(pos+3))
		default:
			m = batch(newEvent(pos + 1))
		}
		pos = m.Revision
		select {
		case send <- m:
		case err := <-ended:
			t.Fatalf("the server's stream ended early: %v", err)
		}
		if len(m.Events) == 0 {
			if got, want := readSSE(t, r), fmt.Sprintf(": heartbeat %d\n\n", m.Revision); got != want {
				t.Fatalf("block %d: %q, want %q", i, got, want)
			}
			continue
		}
		for j, ev := range m.Events {
			if got, want := readSSE(t, r), fmt.Sprintf("id: %d\nevent: reply.created\ndata: %s\n\n", ev.Revision, eventJSON(t, ev)); got != want {
				t.Fatalf("block %d, event %d of its message: %q, want %q", i, j, got, want)
			}
		}
	}
	if d := time.Since(start); d < 3*short {
		t.Fatalf("the stream lasted %v, not longer than the timeouts", d)
	}
	cancel()
	select {
	case err := <-ended:
		if status.Code(err) != codes.Canceled && err != context.Canceled {
			t.Errorf("server's stream ended with %v, want cancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server's stream did not end when the client went")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
}

// liveStream opens GET url on srv as an SSE request with the headers
// (name/value pairs), checks the stream started, and returns a reader of
// it after the retry line; it is closed in t.Cleanup.
func liveStream(t *testing.T, srv *httptest.Server, url string, headers ...string) *bufio.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d, Content-Type %q, body %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	r := bufio.NewReader(resp.Body)
	if got := readSSE(t, r); got != "retry: 3000\n\n" {
		t.Fatalf("first block %q", got)
	}
	return r
}

// nextEvent reads blocks from r, skipping heartbeats, until an event, and
// returns it with its data decoded.
func nextEvent(t *testing.T, r *bufio.Reader) (sseEvent, *forumv1.Event) {
	t.Helper()
	for {
		block := readSSE(t, r)
		if strings.HasPrefix(block, ": heartbeat ") {
			continue
		}
		events, _, _ := parseSSE(t, block)
		if len(events) != 1 {
			t.Fatalf("block %q is not one event", block)
		}
		ev := &forumv1.Event{}
		if err := protojson.Unmarshal([]byte(events[0].data), ev); err != nil {
			t.Fatalf("data %q: %v", events[0].data, err)
		}
		if events[0].id != fmt.Sprint(ev.GetRevision()) {
			t.Errorf("id %q, revision %d", events[0].id, ev.GetRevision())
		}
		return events[0], ev
	}
}

// TestSSEForum: the event stream of the real forum server, as a browser
// reads it: authenticated by the session cookie, events as they are
// committed, heartbeats while idle, Last-Event-ID resuming after a
// reconnection, and each refusal an error answer.
func TestSSEForum(t *testing.T) {
	e := newLiveEnv(t, server.Config{EventHeartbeat: 300 * time.Millisecond}, gateway.Options{})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	_, token := e.login(t, srv.URL, "alice")
	cookie := gateway.SessionCookie + "=" + token
	post := func(url, body string) map[string]any {
		t.Helper()
		rec := e.do(http.MethodPost, srv.URL+url, body, "Cookie", cookie)
		if rec.Code != http.StatusOK {
			t.Fatalf("POST %s: status %d, body %s", url, rec.Code, rec.Body.String())
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	// The stream from now on, as alice (a browser sends her cookie).
	r := liveStream(t, srv, "/v1/events:stream", "Cookie", cookie, "Sec-Fetch-Site", "same-origin", "Accept-Encoding", "gzip")
	thread := post("/v1/threads", `{"theme":"themes/knowledge-exchange","title":"Live","body":"Body"}`)
	sse, ev := nextEvent(t, r)
	if sse.event != "thread.created" || ev.GetResource() != thread["name"] || ev.GetThreadResource().GetTitle() != "Live" || ev.GetActor() != e.alice {
		t.Fatalf("event %+v: %v", sse, ev)
	}
	// Idle: heartbeats, as comments naming the position.
	if got := readSSE(t, r); got != fmt.Sprintf(": heartbeat %d\n\n", ev.GetRevision()) {
		t.Errorf("idle stream: %q, want a heartbeat at %d", got, ev.GetRevision())
	}

	// The connection drops; meanwhile a reply is posted; EventSource
	// reconnects with the last id it saw.
	lastID := sse.id
	reply := post("/v1/"+thread["name"].(string)+"/replies", `{"body":"While away"}`)
	r = liveStream(t, srv, "/v1/events:stream?start_revision=999", "Cookie", cookie, "Last-Event-ID", lastID)
	sse, ev = nextEvent(t, r)
	if sse.event != "reply.created" || ev.GetResource() != reply["name"] || fmt.Sprint(ev.GetRevision()-1) != lastID {
		t.Fatalf("after reconnection: %+v: %v", sse, ev)
	}

	// Filtered, from a revision: only what the filter keeps.
	r = liveStream(t, srv, "/v1/events:stream?start_revision=1&filter="+url.QueryEscape(`type = "reply.created"`), "Cookie", cookie)
	if sse, ev = nextEvent(t, r); sse.event != "reply.created" || ev.GetResource() != reply["name"] {
		t.Fatalf("filtered: %+v: %v", sse, ev)
	}

	// Refusals: ordinary error answers.
	get := func(url string, headers ...string) *httptest.ResponseRecorder {
		return e.do(http.MethodGet, srv.URL+url, "", append([]string{"Accept", "text/event-stream"}, headers...)...)
	}
	rec := get("/v1/events:stream?filter="+url.QueryEscape(`colour = "red"`), "Cookie", cookie)
	st := wantError(t, rec, http.StatusBadRequest, codes.InvalidArgument, "")
	if !strings.Contains(st.Message, `unknown field "colour"`) {
		t.Errorf("bad filter: %q", st.Message)
	}
	rec = get("/v1/events:stream?start_revision=soon", "Cookie", cookie)
	wantError(t, rec, http.StatusBadRequest, codes.InvalidArgument, `start_revision "soon" is not a revision: give a whole number from 0 (0: only the events committed from now on)`)
	rec = get("/v1/events:stream", "Cookie", cookie, "Last-Event-ID", "soon")
	wantError(t, rec, http.StatusBadRequest, codes.InvalidArgument, `Last-Event-ID "soon" is not a revision: it must be the id of an event this stream sent, a whole number`)
	rec = get("/v1/events:stream", "Cookie", gateway.SessionCookie+"=fgs_unknown")
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")
	wantSetCookie(t, rec, "__Host-forum_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
	rec = get("/v1/events:stream", "Authorization", "Bearer fgs_unknown")
	wantError(t, rec, http.StatusUnauthorized, codes.Unauthenticated, "")

	// ListEvents: the JSON pages beside the stream.
	rec = e.do(http.MethodGet, srv.URL+"/v1/events?start_revision=1&filter="+url.QueryEscape(`type = "reply.created"`), "", "Cookie", cookie)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), reply["name"].(string)) {
		t.Errorf("GET /v1/events: status %d, body %s", rec.Code, rec.Body.String())
	}
}
