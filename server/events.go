package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// eventService reads the event log (proto/forum/v1/event_service.proto).
// Anyone may call it (the access table); which events a caller sees is
// decided per event by the store, as each is read or delivered, with the
// rules of reading the resource now (the event-visibility rule).
type eventService struct {
	forumv1.UnsafeEventServiceServer
	s *Server
}

// DefaultEventHeartbeat is how long an idle StreamEvents waits before it
// sends a heartbeat, unless Config.EventHeartbeat says otherwise: well
// below the minute after which proxies commonly close an idle connection.
const DefaultEventHeartbeat = 15 * time.Second

// Page sizes of ListEvents.
const (
	defaultEventPageSize = 100
	maxEventPageSize     = 1000
)

// maxEventReads bounds the reads of the log (store.ReadEvents, each of
// which reads a bounded number of events, seen or not) that one ListEvents
// makes to fill its page. A reader who may see few of the events is thus
// answered in bounded time, with a short page and a token to read on, even
// before it reaches the head.
const maxEventReads = 16

// replayPageSize is how many events StreamEvents reads at once while it
// replays the log before tailing it.
const replayPageSize = maxStreamBatch

// eventPageSize validates the page_size of ListEvents and applies its
// default and maximum.
func eventPageSize(v *errs.Violations, n int32) int {
	switch {
	case n < 0:
		v.Add("page_size", "must not be negative (0 means %d, the most is %d)", defaultEventPageSize, maxEventPageSize)
		return 0
	case n == 0:
		return defaultEventPageSize
	case n > maxEventPageSize:
		return maxEventPageSize
	}
	return int(n)
}

// parseEventFilter parses the filter of an event request, recording a
// violation of field "filter" (with the offset of the problem) if it does
// not parse.
func parseEventFilter(v *errs.Violations, s string) *filter.Events {
	f, err := filter.ParseEvents(s)
	if err != nil {
		v.Add("filter", "%v", err)
	}
	return f
}

// eventMatch returns the store's match function for f: nil for the empty
// filter, which keeps every event.
func eventMatch(f *filter.Events) func(*forumv1.Event) bool {
	if f.Empty() {
		return nil
	}
	return f.Match
}

// Page tokens of ListEvents. A token is base64url of a version byte, the
// revision to read from next (uvarint) and the first 8 bytes of the
// SHA-256 of the canonical form of the filter it was made for, so a token
// used with another filter is refused. It is not secret and needs no MAC:
// a forged token reads from a revision the caller could have asked for
// with start_revision, and every event is still checked against the reader.
const (
	eventTokenVersion = 1
	eventTokenHash    = 8
)

// eventFilterHash returns the hash a page token carries for filter f.
func eventFilterHash(f *filter.Events) []byte {
	h := sha256.Sum256([]byte("forum.v1.EventService/ListEvents\x00" + f.String()))
	return h[:eventTokenHash]
}

// encodeEventToken returns the page token that resumes ListEvents with
// filter f at revision next.
func encodeEventToken(next uint64, f *filter.Events) string {
	b := []byte{eventTokenVersion}
	b = binary.AppendUvarint(b, next)
	b = append(b, eventFilterHash(f)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeEventToken returns the revision page token tok resumes at, or
// records a violation of page_token: one that is not a token of ListEvents,
// or one made for another filter than f.
func decodeEventToken(v *errs.Violations, tok string, f *filter.Events) uint64 {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(tok) > 64 || len(raw) < 1+1+eventTokenHash || raw[0] != eventTokenVersion {
		v.Add("page_token", "is not a page token of ListEvents; pass the next_page_token of a previous call, or start again from start_revision")
		return 0
	}
	next, n := binary.Uvarint(raw[1:])
	if n <= 0 || 1+n+eventTokenHash != len(raw) || next == 0 {
		v.Add("page_token", "is not a page token of ListEvents; pass the next_page_token of a previous call, or start again from start_revision")
		return 0
	}
	if string(raw[1+n:]) != string(eventFilterHash(f)) {
		v.Add("page_token", "was made for another filter; pass the filter of the call that returned it, or start again from start_revision")
		return 0
	}
	return next
}

// ListEvents returns a page of the events the caller may see, from
// start_revision or a page token. It reads until the page is full or it
// reaches the head, within maxEventReads reads of the log and
// store.MaxPageBytes of events; the next_page_token resumes at the
// revision after the last one read, so it is set on every page, the last
// one for now included.
func (e *eventService) ListEvents(ctx context.Context, req *forumv1.ListEventsRequest) (*forumv1.ListEventsResponse, error) {
	var v errs.Violations
	size := eventPageSize(&v, req.GetPageSize())
	f, ferr := filter.ParseEvents(req.GetFilter())
	if ferr != nil {
		v.Add("filter", "%v", ferr)
	}
	from := req.GetStartRevision()
	if req.GetPageToken() != "" && ferr == nil { // a token is checked against a filter that parses
		from = decodeEventToken(&v, req.GetPageToken(), f)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	events, next, head, err := e.readPage(ctx, actorFrom(ctx), from, size, eventMatch(f))
	if err != nil {
		return nil, err
	}
	return &forumv1.ListEventsResponse{Events: events, NextPageToken: encodeEventToken(next, f), HeadRevision: head}, nil
}

// readPage reads at most size events that actor may see and match keeps,
// from revision from (0: the oldest kept), and returns them with the
// revision to read from next and the head of the log.
func (e *eventService) readPage(ctx context.Context, actor authz.Actor, from uint64, size int, match func(*forumv1.Event) bool) (events []*forumv1.Event, next, head uint64, err error) {
	q := store.EventQuery{From: from, Limit: size, Match: match}
	bytes := 0
	for reads := 1; ; reads++ {
		page, err := e.s.store.ReadEvents(ctx, actor, q)
		if err != nil {
			return nil, 0, 0, err
		}
		head, next = page.Head, page.Next
		for _, ev := range page.Events {
			n := proto.Size(ev)
			if len(events) > 0 && bytes+n > store.MaxPageBytes {
				return events, ev.Revision, head, nil // the next page starts with ev
			}
			events = append(events, ev)
			bytes += n
		}
		if len(events) >= size || page.Next > page.Head || reads == maxEventReads {
			return events, next, head, nil
		}
		q.From, q.Limit = page.Next, size-len(events)
	}
}

// StreamEvents sends the events the caller may see and the filter keeps:
// from start_revision, the log as it is (ReadEvents, up to the revision
// before the subscription's start), then each new event as the store's
// feed delivers it (Subscribe), so that nothing falls between the two and
// nothing comes twice; with start_revision 0, only the new ones. A
// start_revision older than the oldest kept is OUT_OF_RANGE before
// anything is sent (the oldest in the error's metadata); one past the
// head waits for it.
//
// Each message carries what is there to send when it goes (sendEvents):
// a page of the replay, or every event the feed has queued for the stream
// since the last message. A reader that keeps up gets events one or a few
// at a time; one that falls behind gets them many to a message, which
// costs the server far less per event than a message each, so it catches
// up. The events go out as the feed encoded them, once for every
// subscriber (store.SharedEvent).
//
// While no message goes out for Server.eventHeartbeat, a heartbeat does,
// the replay included: a message without events whose revision is the
// stream's position: every event up to it that the caller may see and the
// filter keeps has been sent, so a client may resume from the revision
// after it (the Go client does). It is not the head of the log when the
// last events were ones the caller does not see: the store's Subscription
// does not say how far the feed has read for it. While the stream keeps up
// with a reader who sees every event, it is the head.
//
// A reader that falls more than store.SubscriptionBuffer events behind is
// cut off with RESOURCE_EXHAUSTED (the store's error, which says to resume
// from the revision after the last one received).
func (e *eventService) StreamEvents(req *forumv1.StreamEventsRequest, stream grpc.ServerStreamingServer[forumv1.StreamEventsResponse]) error {
	ctx := stream.Context()
	var v errs.Violations
	f := parseEventFilter(&v, req.GetFilter())
	if err := v.Err(); err != nil {
		return err
	}
	actor, match := actorFrom(ctx), eventMatch(f)
	sub, err := e.s.store.Subscribe(ctx, actor, match)
	if err != nil {
		return err
	}
	defer sub.Close()

	// Replay what was committed before the subscription started. A
	// replay that finds little to send over a long log still sends a
	// heartbeat every eventHeartbeat, at the revision it has read up to.
	start := req.GetStartRevision()
	lastSent := time.Now()
	var batch []*store.SharedEvent
	for next := start; start != 0 && next < sub.Start; {
		select {
		case <-e.s.ending:
			return fmt.Errorf("%w: forumd is shutting down; resume from revision %d", store.ErrClosed, next)
		default:
		}
		page, err := e.s.store.ReadEvents(ctx, actor, store.EventQuery{From: next, To: sub.Start - 1, Limit: replayPageSize, Match: match})
		if err != nil {
			return err // OUT_OF_RANGE comes from the first read, before anything is sent
		}
		if next == start {
			if err := stream.SendHeader(nil); err != nil {
				return err
			}
		}
		if len(page.Events) > 0 {
			batch = batch[:0]
			for _, ev := range page.Events {
				batch = append(batch, &store.SharedEvent{Event: ev})
			}
			if err := sendEvents(stream, batch); err != nil {
				return err
			}
			lastSent = time.Now()
		}
		if page.Next <= next {
			return fmt.Errorf("server: the event log did not advance past revision %d (head %d)", next, page.Head)
		}
		next = page.Next
		if time.Since(lastSent) >= e.s.eventHeartbeat && next < sub.Start {
			if err := stream.Send(&forumv1.StreamEventsResponse{Revision: next - 1}); err != nil {
				return err
			}
			lastSent = time.Now()
		}
	}
	if start == 0 || start >= sub.Start {
		// Nothing to replay: the headers go now, so that a client (and
		// the gateway, which waits for them) knows the stream is open.
		if err := stream.SendHeader(nil); err != nil {
			return err
		}
	}

	// Then tail the log.
	pos := sub.Start - 1 // the stream's position (heartbeats)
	hb := time.NewTimer(max(0, e.s.eventHeartbeat-time.Since(lastSent)))
	defer hb.Stop()
	gather := time.NewTimer(0)
	<-gather.C
	defer gather.Stop()
	var lastBatch time.Time // when the last events went
	for {
		select {
		case <-sub.Ready():
			if wait := streamBatchInterval - time.Since(lastBatch); wait > 0 {
				// Events come faster than one message per interval:
				// let them gather, so that a busy stream sends them
				// many to a message.
				gather.Reset(wait)
				select {
				case <-gather.C:
				case <-ctx.Done():
					return ctx.Err()
				case <-e.s.ending:
					return fmt.Errorf("%w: forumd is shutting down; resume from revision %d", store.ErrClosed, pos+1)
				}
			}
			evs, ok := sub.Take(store.SubscriptionBuffer)
			if !ok {
				if err := sub.Err(); err != nil {
					return err
				}
				return ctx.Err()
			}
			if len(evs) == 0 {
				continue
			}
			pos = evs[len(evs)-1].Event.Revision
			for len(evs) > 0 && evs[0].Event.Revision < start {
				evs = evs[1:] // before a start_revision past the head
			}
			if len(evs) == 0 {
				continue
			}
			if err := sendEvents(stream, evs); err != nil {
				return err
			}
			lastBatch = time.Now()
		case <-hb.C:
			if err := stream.Send(&forumv1.StreamEventsResponse{Revision: pos}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-e.s.ending:
			return fmt.Errorf("%w: forumd is shutting down; resume from revision %d", store.ErrClosed, pos+1)
		}
		hb.Reset(e.s.eventHeartbeat)
	}
}

// streamBatchInterval is how often, at most, the live tail of a
// StreamEvents sends a message while events keep coming: an event that
// follows the last message by less waits out the rest of the interval
// with those that come meanwhile, and they go together. An event after a
// quiet spell goes at once. At a thousand events a second to a thousand
// streams this turns a million messages a second, which these two cores
// cannot send, into a hundred thousand of ten events each, for at most
// this much delay.
const streamBatchInterval = 25 * time.Millisecond

// Bounds of one StreamEvents message: events go into a message until it
// holds maxStreamBatch of them or maxStreamBytes (an event larger than
// that goes alone), well under the 4 MiB that gRPC clients accept by
// default.
const (
	maxStreamBatch = 256
	maxStreamBytes = 1 << 20
)

// encodedMessage is a message already in its wire form: requestCodec sends
// its buffers as they are.
type encodedMessage mem.BufferSlice

// sendEvents sends evs, in revision order, as StreamEventsResponse
// messages (as few as the bounds allow), each with the revision of its
// last event. Each event goes as its shared encoding (SharedEvent.Wire),
// copied behind a field header into one buffer from streamBuffers, which
// gRPC returns to the pool once it has written the message: nothing is
// marshalled per stream, and in the steady state nothing is allocated
// for the bytes either.
func sendEvents(stream grpc.ServerStream, evs []*store.SharedEvent) error {
	pool := streamBuffers
	for len(evs) > 0 {
		n, size := 0, 0
		for n < len(evs) && n < maxStreamBatch {
			w := len(evs[n].Wire())
			if n > 0 && size+w > maxStreamBytes {
				break
			}
			size += protowire.SizeTag(streamEventsField) + protowire.SizeBytes(w)
			n++
		}
		last := evs[n-1].Event.Revision
		size += protowire.SizeTag(streamRevisionField) + protowire.SizeVarint(last)
		buf := pool.Get(size)
		b := (*buf)[:0]
		for _, ev := range evs[:n] {
			b = protowire.AppendTag(b, streamEventsField, protowire.BytesType)
			b = protowire.AppendBytes(b, ev.Wire())
		}
		b = protowire.AppendTag(b, streamRevisionField, protowire.VarintType)
		*buf = protowire.AppendVarint(b, last)
		if err := stream.SendMsg(encodedMessage{mem.NewBuffer(buf, pool)}); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// The field numbers of StreamEventsResponse that sendEvents writes.
var (
	streamEventsField   = fieldNumber(&forumv1.StreamEventsResponse{}, "events")
	streamRevisionField = fieldNumber(&forumv1.StreamEventsResponse{}, "revision")
)

// fieldNumber returns the number of m's field name; it panics if there is
// none (at start-up: a renamed field).
func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	fd := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if fd == nil {
		panic(fmt.Sprintf("server: %s has no field %s", m.ProtoReflect().Descriptor().FullName(), name))
	}
	return fd.Number()
}
