package client

import (
	"context"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Events returns the events of the log from revision start on, in revision
// order, as the server commits them: those already in the log first, then
// each new one as it comes, for as long as ctx lasts. start 0 means only
// the events committed from now on. filter is StreamEventsRequest's (an
// AIP-160 filter over type, theme, thread and actor, such as
// `type = "reply.created" AND theme = "themes/knowledge-exchange"`), ""
// for every event. Only the events the Client's user may read reach it.
//
// The stream resumes by itself when it drops: when the server is
// restarting or the connection is cut (UNAVAILABLE), when the server ends
// it, and when the server cut off a reader that fell behind, or asks it to
// slow down (RESOURCE_EXHAUSTED). It opens a new stream from the revision
// after the last event yielded (or after the last heartbeat, which says
// how far the stream has gone), so no event is missed or yielded twice. It
// waits before each new attempt as the Client's retry policy does:
// exponential backoff from 100ms up to 2s, with jitter, or longer if the
// server asks. It goes on for as long as ctx lasts once a stream has
// delivered anything; before that, after the policy's 4 attempts, it
// yields the last error.
//
// Heartbeats are not yielded. Iteration ends, after yielding its error
// with a nil event, when ctx is done (ctx.Err()), at ErrOutOfRange (start,
// or the revision to resume from, is older than the oldest the log keeps:
// OldestRevision says which it is), and at any other error, such as
// ErrInvalidArgument for a bad filter or ErrUnauthenticated for an unknown
// token. Breaking out of the loop closes the stream.
func (c *Client) Events(ctx context.Context, start uint64, filter string) iter.Seq2[*forumv1.Event, error] {
	return func(yield func(*forumv1.Event, error) bool) {
		next := start   // the revision to resume from; 0: from now
		attempt := 0    // the attempts that failed since the last progress
		opened := false // some stream delivered something
		for {
			progressed, stop, err := c.streamEvents(ctx, &next, filter, yield)
			if stop {
				return
			}
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
			if progressed {
				attempt, opened = 0, true
			}
			delay, ok := resumeDelay(err, attempt)
			if !ok || (!opened && attempt+1 >= retryMaxAttempts) {
				yield(nil, err)
				return
			}
			attempt++
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(nil, ctx.Err())
				return
			case <-t.C:
			}
		}
	}
}

// streamEvents opens one StreamEvents from *next and yields its events
// until it ends, advancing *next past each event yielded and each
// heartbeat. It returns whether the stream delivered anything, whether the
// caller stopped the iteration, and the error that ended the stream
// (io.EOF if the server ended it).
func (c *Client) streamEvents(ctx context.Context, next *uint64, filter string, yield func(*forumv1.Event, error) bool) (progressed, stop bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.events.StreamEvents(ctx, &forumv1.StreamEventsRequest{StartRevision: *next, Filter: filter})
	if err != nil {
		return false, false, err
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return progressed, false, err
		}
		progressed = true
		for _, ev := range m.GetEvents() {
			rev := ev.GetRevision()
			if rev < *next && *next != 0 {
				continue // yielded already (a server resending is not trusted)
			}
			*next = rev + 1
			if !yield(ev, nil) {
				return progressed, true, nil
			}
		}
		// Every event up to the message's revision that this reader gets
		// has been sent: a heartbeat says how far the stream has gone.
		if rev := m.GetRevision(); rev >= *next {
			*next = rev + 1
		}
	}
}

// resumeDelay returns how long Events waits before opening a new stream
// after err ended one, at the given attempt (0 for the first since the
// last progress), and whether it resumes at all: after io.EOF (the server
// ended the stream), UNAVAILABLE, and a RESOURCE_EXHAUSTED of the server's
// own (a reader cut off for falling behind, or a rate limit, whose
// RetryInfo delay is honoured), but not after one for too many open
// streams or a message over gRPC's size limit.
func resumeDelay(err error, attempt int) (time.Duration, bool) {
	delay := backoff(attempt)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, ErrUnavailable):
		return delay, true
	case errors.Is(err, ErrRateLimited):
		if reasonOf(err) == "TOO_MANY_STREAMS" {
			return 0, false
		}
		if d, ok := RetryDelay(err); ok && d > delay {
			delay = d
		}
		return delay, true
	}
	return 0, false
}

// reasonOf returns the ErrorInfo reason of err's status, or "".
func reasonOf(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// backoff returns the wait before retry attempt+1 under the Client's retry
// policy (retry.go): a random time up to the initial backoff times the
// multiplier to the power attempt, capped at the maximum backoff.
func backoff(attempt int) time.Duration {
	initial, _ := time.ParseDuration(retryInitialBackoff)
	most, _ := time.ParseDuration(retryMaxBackoff)
	d := initial
	for range attempt {
		if d *= retryMultiplier; d >= most {
			d = most
			break
		}
	}
	return rand.N(d) + 1
}

// ListEvents returns the events req selects (its start_revision, filter,
// page_size and page_token), in revision order, page after page, up to the
// head of the log as it is when the listing reaches it. req may be nil
// (every event kept, from the oldest) and is not changed. To read on
// later, call again with start_revision one past the last event's
// revision; to follow the log as it grows, use Events. Iteration stops at
// the first error, yielded with a nil event: ErrOutOfRange if
// start_revision is older than the oldest kept (see OldestRevision),
// ErrInvalidArgument for a bad filter.
//
// Every page carries a token to read on, the last one too (so that a
// poller can resume where it stopped): the listing ends at a page that
// reaches the head revision, or one that brings nothing new.
func (c *Client) ListEvents(ctx context.Context, req *forumv1.ListEventsRequest) iter.Seq2[*forumv1.Event, error] {
	base := cloneOr(req)
	return func(yield func(*forumv1.Event, error) bool) {
		token := base.GetPageToken()
		for {
			r := proto.CloneOf(base)
			r.PageToken = token
			resp, err := c.events.ListEvents(ctx, r)
			if err != nil {
				yield(nil, err)
				return
			}
			events := resp.GetEvents()
			for _, ev := range events {
				if !yield(ev, nil) {
					return
				}
			}
			next := resp.GetNextPageToken()
			switch {
			case next == "", next == token && len(events) == 0:
				return // nothing more now
			case len(events) > 0 && events[len(events)-1].GetRevision() >= resp.GetHeadRevision():
				return // the head is reached
			}
			token = next
		}
	}
}

// EventTypeName returns the short form of an event type, the one of SSE
// `event:` lines and of filters: the enum value's name without
// EVENT_TYPE_, in lower case, with its last underscore a dot.
// EVENT_TYPE_THREAD_CREATED is "thread.created",
// EVENT_TYPE_API_TOKEN_CREATED "api_token.created". A value this version
// of the package does not know is its number.
func EventTypeName(t forumv1.EventType) string {
	name, ok := strings.CutPrefix(t.String(), "EVENT_TYPE_")
	if !ok {
		return t.String()
	}
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		name = name[:i] + "." + name[i+1:]
	}
	return name
}
