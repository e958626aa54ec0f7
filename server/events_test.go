package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// eventEnv is a testEnv whose store does not sync (the event tests write a
// lot, none of which needs to be durable), with its EventService client.
type eventEnv struct {
	*testEnv
	events forumv1.EventServiceClient
}

// newEventEnv returns an eventEnv; heartbeat is Config.EventHeartbeat (0:
// the default, 15 s).
func newEventEnv(t *testing.T, heartbeat time.Duration) *eventEnv {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, Config{Store: st, EventHeartbeat: heartbeat})
	return &eventEnv{testEnv: e, events: forumv1.NewEventServiceClient(e.conn)}
}

// head returns the revision of the last event.
func (e *eventEnv) head(t testing.TB) uint64 {
	t.Helper()
	h, err := e.store.EventHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newUser creates a member straight in the store, with a login session.
func (e *eventEnv) newUser(t testing.TB, username string) testUser {
	t.Helper()
	u, err := e.store.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: username, DisplayName: username, Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	token, hash := auth.NewToken(auth.SessionPrefix)
	if _, err := e.store.CreateSession(t.Context(), resname.MustParseUser(u.Name), hash, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	return testUser{name: u.Name, token: token}
}

// storeReply creates a reply of alice's in thread straight in the store:
// quicker than over gRPC, for tests that need many events.
func (e *eventEnv) storeReply(t testing.TB, thread string, body string) {
	t.Helper()
	alice := authz.Actor{User: e.alice.name, Role: forumv1.Role_ROLE_MEMBER}
	if _, err := e.store.CreateReply(context.Background(), alice, resname.MustParseThread(thread), &forumv1.Reply{Body: body, BodyHtml: "<p>" + body + "</p>"}, ""); err != nil {
		t.Error(err)
	}
}

// listAll lists every event ctx's caller may see from revision from, with
// filter, page by page, until an empty page, and checks the pages:
// revisions increase, and every page has a next_page_token.
func (e *eventEnv) listAll(t *testing.T, ctx context.Context, from uint64, filter string, pageSize int32) []*forumv1.Event {
	t.Helper()
	var all []*forumv1.Event
	req := &forumv1.ListEventsRequest{StartRevision: from, Filter: filter, PageSize: pageSize}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("more than 10000 pages")
		}
		resp, err := e.events.ListEvents(ctx, req)
		if err != nil {
			t.Fatalf("ListEvents(%v): %v", req, err)
		}
		if resp.NextPageToken == "" {
			t.Fatalf("ListEvents(%v): no next_page_token", req)
		}
		for _, ev := range resp.Events {
			if len(all) > 0 && ev.Revision <= all[len(all)-1].Revision {
				t.Fatalf("revision %d after %d", ev.Revision, all[len(all)-1].Revision)
			}
			if ev.Revision > resp.HeadRevision {
				t.Fatalf("revision %d past the head %d", ev.Revision, resp.HeadRevision)
			}
			all = append(all, ev)
		}
		// A page shorter than asked is the last for now, unless its
		// events reached store.MaxPageBytes; an empty page always is
		// here (the test reads far fewer events than maxEventReads
		// reads at most).
		if len(resp.Events) == 0 {
			return all
		}
		req = &forumv1.ListEventsRequest{Filter: filter, PageSize: pageSize, PageToken: resp.NextPageToken}
	}
}

// revisions returns the revisions of events.
func revisions(events []*forumv1.Event) []uint64 {
	revs := make([]uint64, len(events))
	for i, ev := range events {
		revs[i] = ev.Revision
	}
	return revs
}

// eventStream reads a StreamEvents call in a goroutine, so that a test can
// wait for its events with a timeout.
type eventStream struct {
	c    chan *forumv1.StreamEventsResponse // the messages, heartbeats included; closed at the end
	err  error                              // the call's end (nil for io.EOF), once c is closed
	stop context.CancelFunc

	pending []*forumv1.Event // the events of the last message that next has not returned yet
}

// stream opens StreamEvents as ctx's caller and reads it.
func (e *eventEnv) stream(t testing.TB, ctx context.Context, req *forumv1.StreamEventsRequest) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	cs, err := e.events.StreamEvents(ctx, req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &eventStream{c: make(chan *forumv1.StreamEventsResponse, 16), stop: cancel}
	t.Cleanup(cancel)
	go func() {
		defer close(s.c)
		for {
			m, err := cs.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					s.err = err
				}
				return
			}
			s.c <- m
		}
	}()
	return s
}

// checkMessage checks the form of a StreamEvents message: its events in
// increasing revision order, and its revision that of the last (a
// heartbeat has no events, and its revision is the stream's position).
func checkMessage(t testing.TB, m *forumv1.StreamEventsResponse) {
	t.Helper()
	evs := m.GetEvents()
	if len(evs) == 0 {
		return
	}
	for i, ev := range evs {
		if ev == nil || ev.Type == forumv1.EventType_EVENT_TYPE_UNSPECIFIED || (i > 0 && ev.Revision <= evs[i-1].Revision) {
			t.Fatalf("message %d of %d events: event %d is %v", m.Revision, len(evs), i, ev)
		}
	}
	if last := evs[len(evs)-1].Revision; m.Revision != last {
		t.Fatalf("message of events %d to %d has revision %d, want the last event's", evs[0].Revision, last, m.Revision)
	}
}

// next returns the next event, the events of each message in turn,
// skipping heartbeats, or fails after d.
func (s *eventStream) next(t testing.TB, d time.Duration) *forumv1.Event {
	t.Helper()
	timeout := time.After(d)
	for len(s.pending) == 0 {
		select {
		case m, ok := <-s.c:
			if !ok {
				t.Fatalf("the stream ended: %v", s.err)
			}
			checkMessage(t, m)
			s.pending = m.Events
		case <-timeout:
			t.Fatalf("no event in %v", d)
		}
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev
}

// until reads events, skipping heartbeats, up to and including the first
// for which stop returns true, and returns them; it fails after d.
func (s *eventStream) until(t testing.TB, d time.Duration, stop func(*forumv1.Event) bool) []*forumv1.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	var got []*forumv1.Event
	for {
		ev := s.next(t, time.Until(deadline))
		got = append(got, ev)
		if stop(ev) {
			return got
		}
	}
}

// end waits for the stream to end and returns its events (those next has
// not returned yet, then every message's) and its error.
func (s *eventStream) end(t testing.TB, d time.Duration) ([]*forumv1.Event, error) {
	t.Helper()
	got := s.pending
	s.pending = nil
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-s.c:
			if !ok {
				return got, s.err
			}
			checkMessage(t, m)
			got = append(got, m.Events...)
		case <-timeout:
			t.Fatalf("the stream did not end in %v", d)
		}
	}
}

// wantInvalid checks that err is INVALID_ARGUMENT with a violation of
// field whose description holds text.
func wantInvalid(t *testing.T, what string, err error, field, text string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Errorf("%s: %v, want INVALID_ARGUMENT", what, err)
		return
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				if v.Field == field && strings.Contains(v.Description, text) {
					return
				}
			}
		}
	}
	t.Errorf("%s: %v; want a violation of %s saying %q", what, err, field, text)
}

// TestListEvents pages through the log with and without filters, resumes
// a poller from its last token, and checks the bad inputs.
func TestListEvents(t *testing.T) {
	e := newEventEnv(t, 0)
	ctx, admin := t.Context(), e.admin.ctx(t)
	first := e.mustThread(t, e.alice, &forumv1.Thread{Title: "First"})
	second := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Second", Theme: "themes/reciprocal-volunteering"})
	for i := range 5 {
		e.mustReply(t, e.alice, first.Name, fmt.Sprintf("reply %d", i))
		e.mustReply(t, e.bob, second.Name, fmt.Sprintf("reply %d", i))
	}
	head := e.head(t)
	if head < 12 {
		t.Fatalf("head %d after 12 changes: does the store append events?", head)
	}

	// The whole log in one page, and in pages of 3: the same events.
	all := e.listAll(t, admin, 0, "", 1000)
	if len(all) == 0 || all[len(all)-1].Revision != head || all[0].Revision != 1 {
		t.Fatalf("the log as admin: revisions %v, head %d", revisions(all), head)
	}
	if paged := e.listAll(t, admin, 0, "", 3); !slices.Equal(revisions(paged), revisions(all)) {
		t.Errorf("in pages of 3: %v; in one page: %v", revisions(paged), revisions(all))
	}
	if paged := e.listAll(t, admin, 1, "", 0); !slices.Equal(revisions(paged), revisions(all)) {
		t.Errorf("from revision 1 with the default page size: %v; want %v", revisions(paged), revisions(all))
	}
	for i, ev := range all {
		if ev.Name != "events/"+strconv.FormatUint(ev.Revision, 10) || ev.EventTime == nil || ev.Type == forumv1.EventType_EVENT_TYPE_UNSPECIFIED {
			t.Errorf("event %d: %v", i, ev)
		}
	}
	// From the middle.
	mid := all[len(all)/2].Revision
	if got := e.listAll(t, admin, mid, "", 2); len(got) == 0 || got[0].Revision != mid || got[len(got)-1].Revision != head {
		t.Errorf("from %d: %v", mid, revisions(got))
	}

	// Filters, each spelled two ways.
	filtered := func(keep func(*forumv1.Event) bool) []uint64 {
		var revs []uint64
		for _, ev := range all {
			if keep(ev) {
				revs = append(revs, ev.Revision)
			}
		}
		return revs
	}
	for _, c := range []struct {
		filters []string
		keep    func(*forumv1.Event) bool
	}{
		{[]string{`type = "reply.created"`, `type=EVENT_TYPE_REPLY_CREATED`}, func(ev *forumv1.Event) bool {
			return ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_CREATED
		}},
		{[]string{`type != reply.created`, `type!="EVENT_TYPE_REPLY_CREATED"`}, func(ev *forumv1.Event) bool {
			return ev.Type != forumv1.EventType_EVENT_TYPE_REPLY_CREATED
		}},
		{[]string{`theme = reciprocal-volunteering`, `theme = "themes/reciprocal-volunteering"`}, func(ev *forumv1.Event) bool {
			return ev.Theme == "themes/reciprocal-volunteering"
		}},
		{[]string{`thread = ` + first.Name, `thread="` + first.Name + `"`}, func(ev *forumv1.Event) bool { return ev.Thread == first.Name }},
		{[]string{`actor = ` + e.bob.name, `actor = "` + e.bob.name + `"`}, func(ev *forumv1.Event) bool { return ev.Actor == e.bob.name }},
		{[]string{`type = thread.created AND actor = ` + e.alice.name, `actor = ` + e.alice.name + ` AND type = EVENT_TYPE_THREAD_CREATED`}, func(ev *forumv1.Event) bool {
			return ev.Type == forumv1.EventType_EVENT_TYPE_THREAD_CREATED && ev.Actor == e.alice.name
		}},
	} {
		want := filtered(c.keep)
		if len(want) == 0 {
			t.Errorf("%s: the test matches nothing", c.filters[0])
		}
		for _, f := range c.filters {
			if got := revisions(e.listAll(t, admin, 0, f, 2)); !slices.Equal(got, want) {
				t.Errorf("filter %s: %v, want %v", f, got, want)
			}
		}
		// A token of one spelling works with the other (the canonical
		// form binds it).
		resp, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{Filter: c.filters[0], PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{Filter: c.filters[1], PageToken: resp.NextPageToken}); err != nil {
			t.Errorf("token of %q with %q: %v", c.filters[0], c.filters[1], err)
		}
	}

	// A poller: its last page is short and carries a token, which
	// returns nothing until something happens, then what happened.
	resp, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{StartRevision: head})
	if err != nil || len(resp.Events) != 1 || resp.HeadRevision != head || resp.NextPageToken == "" {
		t.Fatalf("from the head: %v, %v", resp, err)
	}
	resp, err = e.events.ListEvents(admin, &forumv1.ListEventsRequest{PageToken: resp.NextPageToken})
	if err != nil || len(resp.Events) != 0 || resp.HeadRevision != head || resp.NextPageToken == "" {
		t.Fatalf("past the head: %v, %v", resp, err)
	}
	r := e.mustReply(t, e.alice, first.Name, "news")
	resp, err = e.events.ListEvents(admin, &forumv1.ListEventsRequest{PageToken: resp.NextPageToken})
	if err != nil || len(resp.Events) == 0 || resp.Events[0].Resource != r.Name || resp.Events[0].Revision != head+1 || resp.HeadRevision != e.head(t) {
		t.Fatalf("after a reply: %v, %v", resp, err)
	}
	// A start past the head is an empty page that waits there.
	resp, err = e.events.ListEvents(admin, &forumv1.ListEventsRequest{StartRevision: head + 100})
	if err != nil || len(resp.Events) != 0 || resp.HeadRevision != e.head(t) {
		t.Errorf("past the head: %v, %v", resp, err)
	}

	// Bad inputs: each a clear INVALID_ARGUMENT naming the field, and
	// nothing changes.
	tok, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{Filter: "type = reply.created", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := digest(t, e.testEnv)
	for _, c := range []struct {
		what        string
		req         *forumv1.ListEventsRequest
		field, text string
	}{
		{"negative page size", &forumv1.ListEventsRequest{PageSize: -1}, "page_size", "must not be negative"},
		{"unknown field", &forumv1.ListEventsRequest{Filter: "colour = red"}, "filter", `unknown field "colour"; fields are type, theme, thread, actor (at offset 0)`},
		{"unknown type", &forumv1.ListEventsRequest{Filter: "type = thread.exploded"}, "filter", `invalid type "thread.exploded"`},
		{"bad theme", &forumv1.ListEventsRequest{Filter: "theme = Not_A_Slug"}, "filter", "invalid theme"},
		{"bad thread", &forumv1.ListEventsRequest{Filter: "thread = threads/x"}, "filter", `invalid thread "threads/x"`},
		{"bad actor", &forumv1.ListEventsRequest{Filter: "actor = alice"}, "filter", `invalid actor "alice"`},
		{"OR", &forumv1.ListEventsRequest{Filter: "type = thread.created OR type = reply.created"}, "filter", "OR is not supported; join comparisons with AND (at offset 22)"},
		{"unterminated", &forumv1.ListEventsRequest{Filter: `actor = "users/1`}, "filter", "unterminated string (at offset 8)"},
		{"garbage token", &forumv1.ListEventsRequest{PageToken: "not a token"}, "page_token", "is not a page token"},
		{"another list's token", &forumv1.ListEventsRequest{PageToken: "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "page_token", "is not a page token"},
		{"a token of another filter", &forumv1.ListEventsRequest{Filter: "type = thread.created", PageToken: tok.NextPageToken}, "page_token", "another filter"},
		{"a token without its filter", &forumv1.ListEventsRequest{PageToken: tok.NextPageToken}, "page_token", "another filter"},
	} {
		_, err := e.events.ListEvents(admin, c.req)
		wantInvalid(t, c.what, err, c.field, c.text)
	}
	// Both a bad page size and a bad filter are named.
	_, err = e.events.ListEvents(ctx, &forumv1.ListEventsRequest{PageSize: -5, Filter: "nope"})
	wantInvalid(t, "two bad fields", err, "page_size", "negative")
	wantInvalid(t, "two bad fields", err, "filter", "unknown field")
	// Streams check their filter too.
	_, err = e.stream(t, admin, &forumv1.StreamEventsRequest{Filter: "type = "}).end(t, 10*time.Second)
	wantInvalid(t, "StreamEvents with a bad filter", err, "filter", "expected value after =, not the end of the filter (at offset 7)")
	if after := digest(t, e.testEnv); after != before {
		t.Error("a refused request changed the database")
	}
	// A large page size is capped, not refused.
	if _, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{PageSize: 1 << 30}); err != nil {
		t.Errorf("page size 2^30: %v", err)
	}
}

// TestListEventsBoundedBytes checks that a page stops before its events
// would pass store.MaxPageBytes, and that its token resumes with the
// first event left out.
func TestListEventsBoundedBytes(t *testing.T) {
	e := newEventEnv(t, 0)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Long replies"})
	body := strings.Repeat("a long line of text ", maxBodyBytes/21)
	n := 3*store.MaxPageBytes/(2*len(body)) + 2 // replies carry body and HTML
	for range n {
		e.storeReply(t, th.Name, body)
	}
	admin := e.admin.ctx(t)
	filter := "thread = " + th.Name + " AND type = reply.created"
	resp, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{Filter: filter, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Events) == 0 || len(resp.Events) >= n {
		t.Fatalf("%d events of %d in the first page", len(resp.Events), n)
	}
	all := e.listAll(t, admin, 0, filter, 1000)
	if len(all) != n {
		t.Fatalf("%d events in all pages, want %d", len(all), n)
	}
}

// TestEventsOutOfRange sweeps the oldest events and asks for them: ListEvents
// (by start_revision and by page token) and StreamEvents are OUT_OF_RANGE,
// with the oldest revision kept in the ErrorInfo's metadata.
func TestEventsOutOfRange(t *testing.T) {
	e := newEventEnv(t, 0)
	admin := e.admin.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Old news"})
	for i := range 5 {
		e.mustReply(t, e.alice, th.Name, fmt.Sprintf("reply %d", i))
	}
	page, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{StartRevision: 1, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.store.SweepEvents(t.Context(), time.Now().Add(time.Hour), 3)
	if err != nil || n != 3 {
		t.Fatalf("SweepEvents: %d, %v", n, err)
	}
	const oldest = "4"
	wantOutOfRange := func(what string, err error) {
		t.Helper()
		st := status.Convert(err)
		if st.Code() != codes.OutOfRange {
			t.Errorf("%s: %v, want OUT_OF_RANGE", what, err)
			return
		}
		var md map[string]string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				md = info.Metadata
			}
		}
		if md["oldest_revision"] != oldest {
			t.Errorf("%s: ErrorInfo metadata %v, want oldest_revision %s", what, md, oldest)
		}
		if got := errs.MetadataOf(errs.FromStatus(st)); got["oldest_revision"] != oldest {
			t.Errorf("%s: errs.FromStatus metadata %v", what, got)
		}
		if !strings.Contains(st.Message(), "older than the oldest") {
			t.Errorf("%s: message %q", what, st.Message())
		}
	}
	_, err = e.events.ListEvents(admin, &forumv1.ListEventsRequest{StartRevision: 2})
	wantOutOfRange("ListEvents from 2", err)
	_, err = e.events.ListEvents(admin, &forumv1.ListEventsRequest{PageToken: page.NextPageToken})
	wantOutOfRange("ListEvents with a token at 2", err)
	_, err = e.events.ListEvents(e.alice.ctx(t), &forumv1.ListEventsRequest{StartRevision: 3, Filter: "type = reply.created"})
	wantOutOfRange("ListEvents from 3 as alice, filtered", err)

	// A stream from a swept revision gets nothing but the error.
	got, err := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: 1}).end(t, 10*time.Second)
	if len(got) != 0 {
		t.Errorf("StreamEvents from 1 sent %d events before its error", len(got))
	}
	wantOutOfRange("StreamEvents from 1", err)

	// From the oldest kept, or from 0 (the oldest), all is well.
	for _, from := range []uint64{0, 4} {
		resp, err := e.events.ListEvents(admin, &forumv1.ListEventsRequest{StartRevision: from})
		if err != nil || len(resp.Events) == 0 || resp.Events[0].Revision != 4 {
			t.Errorf("ListEvents from %d: %v, %v", from, resp, err)
		}
	}
	s := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: 4})
	if ev := s.next(t, 10*time.Second); ev.Revision != 4 {
		t.Errorf("StreamEvents from 4 starts at %d", ev.Revision)
	}
}

// writers runs n goroutines that each create replies in thread straight in
// the store until stop is closed, and returns a function that stops them
// and waits.
func (e *eventEnv) writers(t *testing.T, n int, thread string) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e.storeReply(t, thread, fmt.Sprintf("writer %d, reply %d", w, i))
				// A few thousand events a second: a stream that replays
				// while they come must not fall SubscriptionBuffer behind.
				time.Sleep(time.Millisecond)
			}
		})
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
		})
	}
}

// TestStreamEventsReplayThenTail opens streams, from the start of the log
// and with a filter, while writers run, and checks that each carries what
// ListEvents lists afterwards: nothing missing, nothing twice.
func TestStreamEventsReplayThenTail(t *testing.T) {
	e := newEventEnv(t, 0)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Busy"})
	for i := range 200 {
		e.storeReply(t, th.Name, fmt.Sprintf("history %d", i))
	}
	stopWriters := e.writers(t, 4, th.Name)
	defer stopWriters()
	time.Sleep(20 * time.Millisecond)

	admin := e.admin.ctx(t)
	const filter = "type = reply.created"
	whole := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: 1})
	replies := e.stream(t, e.bob.ctx(t), &forumv1.StreamEventsRequest{StartRevision: 1, Filter: filter})
	// Let the writers go on while both streams replay and tail, until at
	// least 100 events past the history are committed (bounded: a loaded
	// machine writes slower, and nothing here depends on how fast).
	for deadline := time.Now().Add(30 * time.Second); e.head(t) < 300; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writers committed only up to revision %d in 30 s", e.head(t))
		}
	}
	stopWriters()

	wantAll := e.listAll(t, admin, 1, "", 1000)
	wantReplies := e.listAll(t, e.bob.ctx(t), 1, filter, 1000)
	if len(wantAll) == 0 || len(wantReplies) == 0 {
		t.Fatalf("ListEvents lists %d events, %d replies", len(wantAll), len(wantReplies))
	}
	got := whole.until(t, 30*time.Second, func(ev *forumv1.Event) bool { return ev.Revision >= wantAll[len(wantAll)-1].Revision })
	if !slices.Equal(revisions(got), revisions(wantAll)) {
		t.Errorf("the stream carried %d events, ListEvents lists %d; first difference at %d", len(got), len(wantAll), firstDiff(revisions(got), revisions(wantAll)))
	}
	got = replies.until(t, 30*time.Second, func(ev *forumv1.Event) bool { return ev.Revision >= wantReplies[len(wantReplies)-1].Revision })
	if !slices.Equal(revisions(got), revisions(wantReplies)) {
		t.Errorf("the filtered stream carried %d events, ListEvents lists %d; first difference at %d", len(got), len(wantReplies), firstDiff(revisions(got), revisions(wantReplies)))
	}
	for _, ev := range got {
		if ev.Type != forumv1.EventType_EVENT_TYPE_REPLY_CREATED || ev.GetReply() == nil {
			t.Fatalf("the filtered stream carried %v", ev)
		}
	}
}

// firstDiff returns the index of the first difference between a and b.
func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestStreamEventsResume cuts a stream off at random moments, while writers
// run, and resumes it each time from the revision after the last event it
// received: altogether it receives what ListEvents lists, each event once.
func TestStreamEventsResume(t *testing.T) {
	e := newEventEnv(t, 5*time.Millisecond)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Flaky network"})
	for i := range 100 {
		e.storeReply(t, th.Name, fmt.Sprintf("history %d", i))
	}
	stopWriters := e.writers(t, 3, th.Name)
	defer stopWriters()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	admin := e.admin.ctx(t)

	var got []*forumv1.Event
	next := uint64(1)
	for cut := range 20 {
		ctx, cancel := context.WithCancel(admin)
		after := time.Duration(rng.IntN(30)) * time.Millisecond
		timer := time.AfterFunc(after, cancel)
		keep := rng.IntN(60) // events to take before cutting, at most
		cs, err := e.events.StreamEvents(ctx, &forumv1.StreamEventsRequest{StartRevision: next})
		if err != nil {
			if status.Code(err) != codes.Canceled {
				t.Fatal(err)
			}
			keep = 0 // cut before it opened
		}
		// A message may carry many events: the reader may drop the
		// stream in the middle of one, keeping the events before the cut
		// only, as a client that fails while it applies them does; it
		// resumes from the revision after the last event it kept.
		n := 0
		for n < keep {
			m, err := cs.Recv()
			if err != nil {
				if c := status.Code(err); c != codes.Canceled {
					t.Fatalf("cut %d: %v", cut, err)
				}
				break
			}
			checkMessage(t, m)
			if len(m.Events) == 0 {
				if m.Revision+1 < next {
					t.Fatalf("cut %d: heartbeat at %d, before the start %d", cut, m.Revision, next)
				}
				continue
			}
			for _, ev := range m.Events {
				if n == keep {
					break
				}
				if ev.Revision < next {
					t.Fatalf("cut %d: revision %d again (resumed from %d)", cut, ev.Revision, next)
				}
				got = append(got, ev)
				next = ev.Revision + 1
				n++
			}
		}
		timer.Stop()
		cancel()
	}
	stopWriters()
	// The last stream catches up to the head.
	want := e.listAll(t, admin, 1, "", 1000)
	if len(want) == 0 {
		t.Fatal("ListEvents lists no event")
	}
	if last := want[len(want)-1].Revision; next <= last {
		rest := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: next})
		got = append(got, rest.until(t, 30*time.Second, func(ev *forumv1.Event) bool { return ev.Revision >= last })...)
	}
	if !slices.Equal(revisions(got), revisions(want)) {
		t.Errorf("the resumed streams carried %d events, ListEvents lists %d; first difference at %d", len(got), len(want), firstDiff(revisions(got), revisions(want)))
	}
}

// TestStreamEventsPrivateTheme checks that a non-member's stream and list
// never carry an event of a private group's theme, and that a member
// removed from the group stops receiving them.
func TestStreamEventsPrivateTheme(t *testing.T) {
	e := newEventEnv(t, 0)
	carol := e.newUser(t, "carol")
	conv := e.convener.ctx(t)
	groups := forumv1.NewGroupServiceClient(e.conn)
	if _, err := groups.CreateGroup(conv, &forumv1.CreateGroupRequest{GroupId: "team", Group: &forumv1.Group{DisplayName: "Team", Members: []string{e.alice.name, e.bob.name}}}); err != nil {
		t.Fatal(err)
	}
	const private = "themes/private"
	if _, err := e.themes.CreateTheme(conv, &forumv1.CreateThemeRequest{ThemeId: "private", Theme: &forumv1.Theme{DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/team"}}}); err != nil {
		t.Fatal(err)
	}
	isPrivate := func(ev *forumv1.Event) bool {
		return ev.Theme == private || ev.Resource == private || ev.Resource == "groups/team"
	}
	secret := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Secret", Theme: private})
	e.mustReply(t, e.alice, secret.Name, "between us")

	// Streams from the start: replay, then live.
	bobStream := e.stream(t, e.bob.ctx(t), &forumv1.StreamEventsRequest{StartRevision: 1})
	carolStream := e.stream(t, carol.ctx(t), &forumv1.StreamEventsRequest{StartRevision: 1})
	anonStream := e.stream(t, t.Context(), &forumv1.StreamEventsRequest{StartRevision: 1})
	carolLive := e.stream(t, carol.ctx(t), &forumv1.StreamEventsRequest{Filter: "theme = private"})

	// Bob sees the secret thread's events, live too.
	sawSecret := func(ev *forumv1.Event) bool { return ev.Thread == secret.Name }
	bobStream.until(t, 10*time.Second, sawSecret)
	r := e.mustReply(t, e.alice, secret.Name, "still between us")
	bobStream.until(t, 10*time.Second, func(ev *forumv1.Event) bool { return ev.Resource == r.Name })

	// Bob leaves the group; then alice posts in private, then in public.
	if _, err := groups.UpdateGroup(conv, &forumv1.UpdateGroupRequest{Group: &forumv1.Group{Name: "groups/team", Members: []string{e.alice.name}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"members"}}}); err != nil {
		t.Fatal(err)
	}
	removed := e.head(t)
	after := e.mustThread(t, e.alice, &forumv1.Thread{Title: "After bob left", Theme: private})
	e.mustReply(t, e.alice, after.Name, "bob cannot see this")
	marker := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Public marker"})
	untilMarker := func(ev *forumv1.Event) bool { return ev.Resource == marker.Name }

	for _, c := range []struct {
		who string
		s   *eventStream
		ok  func(*forumv1.Event) bool
	}{
		{"bob", bobStream, func(ev *forumv1.Event) bool { return ev.Revision <= removed || !isPrivate(ev) }},
		{"carol", carolStream, func(ev *forumv1.Event) bool { return !isPrivate(ev) }},
		{"anonymous", anonStream, func(ev *forumv1.Event) bool { return !isPrivate(ev) }},
	} {
		for _, ev := range c.s.until(t, 10*time.Second, untilMarker) {
			if !c.ok(ev) {
				t.Errorf("%s's stream carried %v", c.who, ev)
			}
		}
	}
	select {
	case m := <-carolLive.c:
		if len(m.GetEvents()) > 0 {
			t.Errorf("carol's live stream of the private theme carried %v", m)
		}
	default:
	}
	// Lists, now: carol and anonymous never, bob no longer.
	for who, ctx := range map[string]context.Context{"carol": carol.ctx(t), "anonymous": t.Context(), "bob": e.bob.ctx(t)} {
		for _, ev := range e.listAll(t, ctx, 0, "", 1000) {
			if isPrivate(ev) {
				t.Errorf("ListEvents as %s lists %v", who, ev)
			}
		}
	}
	// Alice, still a member, lists the thread posted after bob left.
	if got := e.listAll(t, e.alice.ctx(t), 0, "thread = "+after.Name, 1000); len(got) != 2 {
		t.Errorf("alice lists %d events of the thread posted after bob left, want 2", len(got))
	}
}

// TestStreamEventsHeartbeat checks that an idle stream gets heartbeats,
// carrying the stream's position, and events between them.
func TestStreamEventsHeartbeat(t *testing.T) {
	e := newEventEnv(t, 20*time.Millisecond)
	head := e.head(t)
	s := e.stream(t, e.alice.ctx(t), &forumv1.StreamEventsRequest{})
	start := time.Now()
	for i := range 3 {
		select {
		case m := <-s.c:
			if m == nil || len(m.Events) != 0 || m.Revision != head {
				t.Fatalf("heartbeat %d: %v (stream error %v), want a heartbeat (no events) at the head %d", i, m, s.err, head)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat in 10s")
		}
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("3 heartbeats in %v, with an interval of 20ms", d)
	}
	th := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Wake up"})
	ev := s.next(t, 10*time.Second)
	if ev.Resource != th.Name || ev.Type != forumv1.EventType_EVENT_TYPE_THREAD_CREATED || ev.GetThreadResource().GetTitle() != "Wake up" {
		t.Fatalf("after the heartbeats: %v", ev)
	}
	if len(s.pending) != 0 {
		t.Fatalf("the event came with %d more: %v", len(s.pending), s.pending)
	}
	select {
	case hb := <-s.c:
		if hb == nil || len(hb.Events) != 0 || hb.Revision != ev.Revision {
			t.Errorf("after the event: %v, want a heartbeat (no events) at %d", hb, ev.Revision)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat in 10s")
	}
}

// slowConn returns a connection to e's server with static flow-control
// windows of 64 KiB: with gRPC's dynamic windows, a reader that does not
// read can still take megabytes into its transport; with these, the
// server cannot send a stream that is not read more than 64 KiB. It is
// closed in t.Cleanup.
func (e *eventEnv) slowConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go e.srv.GRPC().Serve(lis)
	conn, err := grpc.NewClient("passthrough:///slow",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// openSlowStream opens a StreamEvents of every new event over slowConn, as
// the caller of ctx, and waits until the server has accepted it. The
// stream ends with the test.
func (e *eventEnv) openSlowStream(t *testing.T, ctx context.Context) grpc.ServerStreamingClient[forumv1.StreamEventsResponse] {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	cs, err := forumv1.NewEventServiceClient(e.slowConn(t)).StreamEvents(ctx, &forumv1.StreamEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Header(); err != nil { // the stream is open
		t.Fatal(err)
	}
	return cs
}

// TestStreamEventsBatches checks that one StreamEvents message carries
// several events, in revision order, with the revision of the last: a
// replay sends each page it reads as one message, and a stream that the
// reader does not read gets the events committed meanwhile many to a
// message once it reads again.
func TestStreamEventsBatches(t *testing.T) {
	e := newEventEnv(t, 0)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Batches"})
	for i := range 2*replayPageSize + 50 {
		e.storeReply(t, th.Name, fmt.Sprintf("history %d", i))
	}
	admin := e.admin.ctx(t)
	head := e.head(t)

	// The replay: the whole log, in at most one message per page read.
	replay := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: 1})
	var got []*forumv1.Event
	var sizes []int // the events of each message
	timeout := time.After(30 * time.Second)
	for len(got) == 0 || got[len(got)-1].Revision < head {
		select {
		case m, ok := <-replay.c:
			if !ok {
				t.Fatalf("the stream ended: %v", replay.err)
			}
			checkMessage(t, m)
			if len(m.Events) > 0 {
				got = append(got, m.Events...)
				sizes = append(sizes, len(m.Events))
			}
		case <-timeout:
			t.Fatalf("the replay stopped at %d events, head %d", len(got), head)
		}
	}
	for i, ev := range got {
		if ev.Revision != uint64(i+1) {
			t.Fatalf("replayed event %d has revision %d", i, ev.Revision)
		}
	}
	if pages := (int(head) + replayPageSize - 1) / replayPageSize; len(sizes) > pages || sizes[0] < 2 {
		t.Errorf("the replay of %d events came in messages of %v events; want at most %d messages, one a page of %d", head, sizes, pages, replayPageSize)
	}

	// The tail, while the reader does not read: the server blocks on the
	// first large events (a stream window is 64 KiB), and what is
	// committed meanwhile waits in its subscription, to go many to a
	// message once the reader reads.
	cs := e.openSlowStream(t, admin)
	start := e.head(t) + 1
	large := strings.Repeat("y", maxBodyBytes/2) // with its HTML, an event of 64 KiB
	for range 8 {
		e.storeReply(t, th.Name, large)
	}
	const small = 30
	for i := range small {
		e.storeReply(t, th.Name, fmt.Sprintf("small %d", i))
	}
	last := e.head(t)
	got, sizes = nil, nil
	smallMessages := 0 // the messages that carried any of the small events
	for len(got) == 0 || got[len(got)-1].Revision < last {
		m, err := cs.Recv()
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		checkMessage(t, m)
		if len(m.Events) == 0 {
			continue
		}
		got = append(got, m.Events...)
		sizes = append(sizes, len(m.Events))
		if m.Revision > last-small {
			smallMessages++
		}
	}
	t.Logf("the tail came in messages of %v events", sizes)
	for i, ev := range got {
		if ev.Revision != start+uint64(i) {
			t.Fatalf("event %d has revision %d, want %d", i, ev.Revision, start+uint64(i))
		}
	}
	if uint64(len(got)) != last-start+1 {
		t.Fatalf("%d events, want %d", len(got), last-start+1)
	}
	if smallMessages >= small {
		t.Errorf("the %d events committed while the stream was blocked came in %d messages; want several to a message", small, smallMessages)
	}
}

// TestStreamEventsSlowReader stops reading a stream while many events are
// written: the server cuts it off with RESOURCE_EXHAUSTED, after the
// events it had queued, and the reader resumes from the revision after the
// last one it received without missing any.
func TestStreamEventsSlowReader(t *testing.T) {
	e := newEventEnv(t, 0)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Firehose"})
	admin := e.admin.ctx(t)
	cs := e.openSlowStream(t, admin)
	start := e.head(t) + 1
	// Not reading: the transport's windows fill up, then the
	// subscription's buffer.
	n := store.SubscriptionBuffer*2 + 1000
	body := strings.Repeat("x", 500)
	for range n {
		e.storeReply(t, th.Name, body)
	}
	var got []*forumv1.Event
	messages, most := 0, 0 // the messages that carried events, and the most events in one
	for {
		m, err := cs.Recv()
		if err != nil {
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "resume from the revision after the last one received") {
				t.Fatalf("after %d events: %v, want RESOURCE_EXHAUSTED", len(got), err)
			}
			break
		}
		checkMessage(t, m)
		if len(m.Events) > 0 {
			messages++
			most = max(most, len(m.Events))
		}
		got = append(got, m.Events...)
		if len(got) > n {
			t.Fatal("the stream was not cut off")
		}
	}
	if len(got) == 0 || len(got) >= n {
		t.Fatalf("%d events before the cut, of %d", len(got), n)
	}
	t.Logf("cut off after %d of %d events, in %d messages of at most %d", len(got), n, messages, most)
	// A reader that falls behind gets the events queued for it many to a
	// message, within the bound of one message.
	if most < 2 || most > maxStreamBatch {
		t.Errorf("the reader that fell behind got at most %d events in a message; want several, at most %d", most, maxStreamBatch)
	}
	for i, ev := range got {
		if ev.Revision != start+uint64(i) {
			t.Fatalf("event %d: revision %d, want %d", i, ev.Revision, start+uint64(i))
		}
	}
	// Resuming from the revision after the last received gives the rest.
	last := e.head(t)
	rest := e.stream(t, admin, &forumv1.StreamEventsRequest{StartRevision: got[len(got)-1].Revision + 1})
	more := rest.until(t, 30*time.Second, func(ev *forumv1.Event) bool { return ev.Revision >= last })
	if more[0].Revision != got[len(got)-1].Revision+1 || uint64(len(got)+len(more)) != last-start+1 {
		t.Errorf("resumed at %d with %d events; want %d to %d", more[0].Revision, len(more), got[len(got)-1].Revision+1, last)
	}
}

// TestStreamEventsReplayHeartbeat replays a long log of which the filter
// keeps nothing: heartbeats come during the replay too, at the revision
// it has read up to, and then at the head.
func TestStreamEventsReplayHeartbeat(t *testing.T) {
	e := newEventEnv(t, time.Millisecond)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Long history"})
	for i := range 6000 {
		e.storeReply(t, th.Name, fmt.Sprintf("reply %d", i))
	}
	head := e.head(t)
	s := e.stream(t, e.alice.ctx(t), &forumv1.StreamEventsRequest{StartRevision: 1, Filter: "type = theme.deleted"})
	var revs []uint64
	timeout := time.After(30 * time.Second)
	for len(revs) == 0 || revs[len(revs)-1] < head {
		select {
		case m, ok := <-s.c:
			if !ok {
				t.Fatalf("the stream ended: %v", s.err)
			}
			if len(m.Events) != 0 {
				t.Fatalf("the filter kept %v", m.Events)
			}
			revs = append(revs, m.Revision)
		case <-timeout:
			t.Fatalf("heartbeats at %v, never at the head %d", revs, head)
		}
	}
	if !slices.IsSorted(revs) || revs[0] >= head || revs[len(revs)-1] != head {
		t.Errorf("heartbeats at %v; want some before the head %d, in order, then the head", revs, head)
	}
}
