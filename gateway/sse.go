package gateway

// Server-Sent Events. GET /v1/events:stream is StreamEvents over HTTP. A
// request that accepts text/event-stream (what a browser's EventSource
// sends) gets the events as an SSE stream
// (https://html.spec.whatwg.org/multipage/server-sent-events.html):
//
//	retry: 3000
//
//	id: 42
//	event: reply.created
//	data: {"name":"events/42","revision":"42",...}
//
//	: heartbeat 42
//
// Each event is written as it comes, and each message of the gRPC stream
// (one or more events) flushed: `id:` is its revision, `event:` its short
// type ("thread.created", "api_token.created") and `data:` the Event as
// the gateway's JSON, the protojson of the REST answers. A heartbeat (a
// StreamEventsResponse without events) is the comment `: heartbeat
// <revision>`, which keeps proxies from closing an idle connection and
// which EventSource ignores. The `retry: 3000` line that opens the stream
// tells EventSource to reconnect 3 s after the connection drops; it then
// sends the last id it saw as the Last-Event-ID header, and the stream
// resumes at that revision + 1 (the header wins over start_revision).
//
// The query parameters are StreamEventsRequest's: start_revision and
// filter. An error before the stream starts (a bad parameter or
// Last-Event-ID, a bad filter, an unknown token, OUT_OF_RANGE) is an
// ordinary error answer: google.rpc.Status JSON with the HTTP status of its
// code. Once the stream has started, an error becomes an `event: error`
// whose data is the google.rpc.Status JSON, and the response ends; the
// server ending the stream (shutting down) ends it without one. Either way
// EventSource reconnects by itself, unless the page closes it on the error
// event.
//
// The session cookie authenticates the stream as it does every call (an
// EventSource sends cookies, not an Authorization header). The stream is
// not compressed (compressJSON leaves text/event-stream alone), nor cut by
// the request deadline (clampDeadline) or by the HTTP server's read and
// write timeouts: each write instead gets Options.MaxTimeout to complete,
// so a client that stops reading is dropped.
//
// A request that does not accept text/event-stream gets grpc-gateway's
// own streaming: one {"result": StreamEventsResponse} JSON object per line,
// {"result":{"events":[…],"revision":"42"}}.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// EventStreamPath is the route of StreamEvents: Server-Sent Events for a
// request that accepts text/event-stream, newline-delimited JSON otherwise.
const EventStreamPath = "/v1/events:stream"

// sseRetry is the reconnection delay the stream asks of EventSource.
const sseRetry = 3 * time.Second

// Names of the SSE request header and content type.
const (
	lastEventIDHeader = "Last-Event-ID"
	eventStreamType   = "text/event-stream"
)

// noQueryFilter is the query parameter filter of a route without path
// parameters: every query parameter may set a field.
var noQueryFilter = utilities.NewDoubleArray(nil)

// isEventStream reports whether r asks for the event stream, which
// clampDeadline leaves without a deadline.
func isEventStream(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == EventStreamPath
}

// streamEvents returns the handler of GET /v1/events:stream, registered
// over the generated one (a mux tries the handlers registered last first).
// It transcodes the request as the generated handler does, through the
// mux's annotators (the client address, the session cookie as a bearer
// token), then answers with Server-Sent Events or, without Accept:
// text/event-stream, with grpc-gateway's streaming.
func (g *gateway) streamEvents(mux *runtime.ServeMux, events forumv1.EventServiceClient) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel() // ends the call when the client goes or the stream ends
		rc := http.NewResponseController(w)
		// No read deadline: one passing would cancel the request. (The
		// HTTP/1 server clears it once the request is read; this holds for
		// every transport.) Writes get deadlines of their own.
		_ = rc.SetReadDeadline(time.Time{})
		w = &deadlineWriter{ResponseWriter: w, rc: rc, timeout: g.maxTimeout}
		_, outbound := runtime.MarshalerForRequest(mux, r)
		fail := func(ctx context.Context, err error) { runtime.HTTPError(ctx, mux, outbound, w, r, err) }
		ctx, err := runtime.AnnotateContext(ctx, mux, r, forumv1.EventService_StreamEvents_FullMethodName, runtime.WithHTTPPathPattern(EventStreamPath))
		if err != nil {
			fail(r.Context(), err)
			return
		}
		sse := acceptsEventStream(r.Header)
		req, st := streamRequest(r, sse)
		if st != nil {
			fail(ctx, st.Err())
			return
		}
		stream, err := events.StreamEvents(ctx, req)
		if err != nil {
			fail(ctx, err)
			return
		}
		// The server's headers come once it has accepted the stream (or
		// with its first event); a refusal comes without them, as the
		// status of the first Recv.
		header, err := stream.Header()
		if err != nil {
			fail(ctx, err)
			return
		}
		if !sse {
			recv := func() (proto.Message, error) {
				ev, err := stream.Recv()
				if err != nil && !errors.Is(err, io.EOF) {
					err = g.publicError(r, err)
				}
				return ev, err
			}
			ctx = runtime.NewServerMetadataContext(ctx, runtime.ServerMetadata{HeaderMD: header})
			runtime.ForwardResponseStream(ctx, mux, outbound, w, r, recv, mux.GetForwardResponseOptions()...)
			return
		}
		s := &sseWriter{w: w, rc: http.NewResponseController(w), m: outbound}
		if header != nil {
			s.start()
		}
		for {
			ev, err := stream.Recv()
			switch {
			case errors.Is(err, io.EOF):
				if !s.started {
					s.start()
				}
				return
			case err != nil && !s.started:
				fail(ctx, err)
				return
			case err != nil:
				if r.Context().Err() == nil { // nobody to tell when the client left
					s.error(g.publicError(r, err))
				}
				return
			}
			if !s.started {
				s.start()
			}
			if s.message(ev) != nil {
				return // the client is gone, or stopped reading
			}
		}
	}
}

// streamRequest returns the StreamEventsRequest of r's query parameters,
// resumed from the Last-Event-ID header for an SSE request, or the
// INVALID_ARGUMENT status that names the parameter or header at fault.
func streamRequest(r *http.Request, sse bool) (*forumv1.StreamEventsRequest, *status.Status) {
	if err := r.ParseForm(); err != nil {
		return nil, status.New(codes.InvalidArgument, err.Error())
	}
	for _, name := range []string{"start_revision", "startRevision"} {
		for _, v := range r.Form[name] {
			if _, err := strconv.ParseUint(v, 10, 64); err != nil {
				return nil, badRequest(name, fmt.Sprintf("%s %q is not a revision: give a whole number from 0 (0: only the events committed from now on)", name, v))
			}
		}
	}
	req := &forumv1.StreamEventsRequest{}
	if err := runtime.PopulateQueryParameters(req, r.Form, noQueryFilter); err != nil {
		return nil, status.New(codes.InvalidArgument, err.Error())
	}
	if !sse {
		return req, nil
	}
	ids := r.Header.Values(lastEventIDHeader)
	if len(ids) > 1 {
		return nil, badRequest(lastEventIDHeader, "more than one Last-Event-ID header")
	}
	if len(ids) == 1 && strings.TrimSpace(ids[0]) != "" {
		v := strings.TrimSpace(ids[0])
		rev, err := strconv.ParseUint(v, 10, 64)
		if err != nil || rev == ^uint64(0) {
			return nil, badRequest(lastEventIDHeader, fmt.Sprintf("Last-Event-ID %q is not a revision: it must be the id of an event this stream sent, a whole number", v))
		}
		req.StartRevision = rev + 1
	}
	return req, nil
}

// acceptsEventStream reports whether h's Accept header lists
// text/event-stream (with a non-zero quality).
func acceptsEventStream(h http.Header) bool {
	for _, v := range h.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != eventStreamType {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// eventTypeName returns the short form of an event type, as SSE `event:`
// lines and filters write it: the enum value's name without EVENT_TYPE_,
// in lower case, with its last underscore a dot. EVENT_TYPE_THREAD_CREATED
// is "thread.created", EVENT_TYPE_API_TOKEN_CREATED "api_token.created".
// A value this build does not know is "unknown".
func eventTypeName(t forumv1.EventType) string {
	name, ok := strings.CutPrefix(t.String(), "EVENT_TYPE_")
	if !ok {
		return "unknown"
	}
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		name = name[:i] + "." + name[i+1:]
	}
	return name
}

// sseWriter writes one SSE response.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	m       runtime.Marshaler // the gateway's JSON
	started bool
}

// start writes the response's header and the retry line, and flushes them,
// so that EventSource reports the stream open.
func (s *sseWriter) start() {
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", eventStreamType)
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	h.Del("Content-Length")
	s.w.WriteHeader(http.StatusOK)
	_ = s.write(fmt.Appendf(nil, "retry: %d\n\n", sseRetry.Milliseconds()))
}

// message writes m: a heartbeat as a comment, each event with its id,
// type and JSON; then it flushes them.
func (s *sseWriter) message(m *forumv1.StreamEventsResponse) error {
	if len(m.GetEvents()) == 0 {
		return s.write(fmt.Appendf(nil, ": heartbeat %d\n\n", m.GetRevision()))
	}
	var out []byte
	for _, ev := range m.GetEvents() {
		data, err := s.m.Marshal(ev)
		if err != nil { // cannot happen: the server sent it, so it marshals
			s.error(status.Error(codes.Internal, msgInternal))
			return err // ends the response
		}
		out = dataLines(fmt.Appendf(out, "id: %d\nevent: %s\n", ev.GetRevision(), eventTypeName(ev.GetType())), data)
	}
	return s.write(out)
}

// error writes err, a status, as an `event: error` holding its
// google.rpc.Status JSON.
func (s *sseWriter) error(err error) {
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		err = hse.Err
	}
	data, merr := s.m.Marshal(status.Convert(err).Proto())
	if merr != nil {
		data = []byte(`{"code":13,"message":"internal error"}`)
	}
	_ = s.write(dataLines([]byte("event: error\n"), data))
}

// write writes p and flushes it.
func (s *sseWriter) write(p []byte) error {
	if _, err := s.w.Write(p); err != nil {
		return err
	}
	return s.rc.Flush()
}

// dataLines appends data to buf as `data:` lines, one for each of its
// lines (compact JSON has one), and the blank line that ends the event.
func dataLines(buf, data []byte) []byte {
	for line := range strings.Lines(string(data)) {
		buf = append(buf, "data: "...)
		buf = append(buf, strings.TrimRight(line, "\r\n")...)
		buf = append(buf, '\n')
	}
	return append(buf, '\n')
}

// deadlineWriter gives each write to a stream its own deadline, instead of
// the HTTP server's WriteTimeout for the whole response (which would cut
// every stream after it): a write that takes longer than timeout fails, so
// a client that stops reading is dropped.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// Write sets the write deadline, then writes.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout)) // not supported by every writer: then none
	return d.ResponseWriter.Write(p)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
