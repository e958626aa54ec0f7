package store

import (
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestReadReplyHead checks that the fields the deriver reads from a
// reply's wire format are those proto.Unmarshal gives, and that a record
// that is not protobuf is an error.
func TestReadReplyHead(t *testing.T) {
	s, _ := openTest(t)
	now := timestamppb.Now()
	for i, r := range []*forumv1.Reply{
		{Name: "threads/1/replies/1", Body: "b", BodyHtml: "<p>b</p>", Author: "users/2", CreateTime: now},
		{Name: "threads/1/replies/2", Body: "é @ana", Author: "users/3", InReplyTo: "threads/1/replies/1", DeleteTime: now, DeletedBy: "users/1"},
		{Name: "threads/1/replies/3"},
	} {
		if err := s.kv.Update(t.Context(), func(tx kv.Tx) error { return putProto(tx, bucketReplies, replyKey(1, uint64(i+1)), r) }); err != nil {
			t.Fatal(err)
		}
		var h replyHead
		err := s.kv.View(t.Context(), func(tx kv.Tx) (err error) {
			h, err = readReplyHead(tx, 1, uint64(i+1))
			return err
		})
		want := replyHead{name: r.Name, body: r.Body, author: r.Author, inReplyTo: r.InReplyTo, deleted: r.DeleteTime != nil}
		if err != nil || h != want {
			t.Errorf("reply %d: %+v, %v; want %+v", i+1, h, err, want)
		}
	}
	if err := s.kv.Update(t.Context(), func(tx kv.Tx) error { return tx.Put(bucketReplies, replyKey(1, 9), []byte{0x0a, 0x05, 'a'}) }); err != nil {
		t.Fatal(err)
	}
	if err := s.kv.View(t.Context(), func(tx kv.Tx) error { _, err := readReplyHead(tx, 1, 9); return err }); err == nil {
		t.Error("a truncated record read without an error")
	}
}

// TestEventTypeOf checks the type read from an event's wire format.
func TestEventTypeOf(t *testing.T) {
	for _, ev := range []*forumv1.Event{
		{},
		{Name: "events/7", Revision: 7, Type: forumv1.EventType_EVENT_TYPE_REPLY_CREATED, Resource: "threads/1/replies/2"},
		{Type: forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED, ResourceState: &forumv1.Event_Notification{Notification: &forumv1.Notification{Name: "users/1/notifications/1"}}},
		{Type: forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, ChangedPaths: []string{"body", "state"}, EventTime: timestamppb.Now()},
	} {
		v, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := eventTypeOf(v); err != nil || got != ev.Type {
			t.Errorf("eventTypeOf(%v) = %v, %v", ev, got, err)
		}
	}
	if _, err := eventTypeOf([]byte{0x28}); err == nil {
		t.Error("a type without its value read without an error")
	}
}
