package server

import (
	"context"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// captureStream is a grpc.ServerStream that keeps what SendMsg sends, as
// requestCodec encodes it.
type captureStream struct {
	msgs [][]byte
}

func (c *captureStream) SetHeader(metadata.MD) error  { return nil }
func (c *captureStream) SendHeader(metadata.MD) error { return nil }
func (c *captureStream) SetTrailer(metadata.MD)       {}
func (c *captureStream) Context() context.Context     { return context.Background() }
func (c *captureStream) RecvMsg(any) error            { return nil }
func (c *captureStream) SendMsg(m any) error {
	data, err := requestCodec{}.Marshal(m)
	if err != nil {
		return err
	}
	c.msgs = append(c.msgs, data.Materialize())
	data.Free()
	return nil
}

var _ grpc.ServerStream = (*captureStream)(nil)

// TestSendEvents checks the messages sendEvents makes: each decodes as a
// StreamEventsResponse whose events are the ones given, in order, each
// once, with the revision of its last; none holds more than
// maxStreamBatch events, nor more than maxStreamBytes unless it holds one
// event that is larger on its own.
func TestSendEvents(t *testing.T) {
	body := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name  string
		sizes []int // the body size of each event
		msgs  int   // the messages expected
	}{
		{"one", []int{10}, 1},
		{"a few", []int{10, 20, 30}, 1},
		{"more than a batch", make([]int, maxStreamBatch+1), 2},
		{"over the byte bound", []int{600 << 10, 600 << 10, 10}, 2},
		{"one larger than the bound", []int{10, 2 << 20, 10}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var evs []*store.SharedEvent
			for i, n := range c.sizes {
				rev := uint64(100 + i)
				evs = append(evs, &store.SharedEvent{Event: &forumv1.Event{
					Revision: rev, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED,
					ResourceState: &forumv1.Event_Reply{Reply: &forumv1.Reply{Name: "threads/1/replies/1", Body: body(n)}},
				}})
			}
			var cs captureStream
			if err := sendEvents(&cs, evs); err != nil {
				t.Fatal(err)
			}
			if len(cs.msgs) != c.msgs {
				t.Errorf("%d messages, want %d", len(cs.msgs), c.msgs)
			}
			next := 0
			for i, b := range cs.msgs {
				var m forumv1.StreamEventsResponse
				if err := proto.Unmarshal(b, &m); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if len(m.Events) == 0 || len(m.Events) > maxStreamBatch {
					t.Errorf("message %d holds %d events", i, len(m.Events))
				}
				if len(m.Events) > 1 && len(b) > maxStreamBytes+64 {
					t.Errorf("message %d holds %d events in %d bytes", i, len(m.Events), len(b))
				}
				for _, ev := range m.Events {
					if next >= len(evs) || !proto.Equal(ev, evs[next].Event) {
						t.Fatalf("message %d: event %d is not the one given next (%d)", i, ev.Revision, next)
					}
					next++
				}
				if last := m.Events[len(m.Events)-1].Revision; m.Revision != last {
					t.Errorf("message %d has revision %d, its last event %d", i, m.Revision, last)
				}
			}
			if next != len(evs) {
				t.Errorf("%d events sent, want %d", next, len(evs))
			}
		})
	}
}
