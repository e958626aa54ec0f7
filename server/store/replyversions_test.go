package store

import (
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/protobuf/proto"
)

// TestReplyEventsByReference checks that a reply's events, stored without
// the reply, give every reader the reply exactly as each change left it:
// a live subscriber as the change commits, and a replay after later edits
// (from replyVersions), with the same bytes; that a deleted reply's
// earlier events lose their content while its deletion keeps the
// tombstone; and that sweeping the events sweeps the versions they kept.
func TestReplyEventsByReference(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "t", Body: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe(ctx, authz.Actor{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	live := map[uint64]*forumv1.Event{}
	reader := &subReader{Subscription: sub}
	takeLive := func(want int) {
		t.Helper()
		for len(live) < want {
			ev := reader.receive(t)
			live[ev.Revision] = ev
		}
	}

	r, err := s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "v1", BodyHtml: "<p>v1</p>"}, "")
	if err != nil {
		t.Fatal(err)
	}
	takeLive(1) // the creation, read by the feed before any edit
	name := resname.MustParseReply(r.Name)
	versions := []*forumv1.Reply{r}
	for _, body := range []string{"v2", "v3"} {
		u, err := s.UpdateReply(ctx, a, name, &forumv1.Reply{Name: r.Name, Body: body, BodyHtml: "<p>" + body + "</p>"})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, proto.CloneOf(u))
	}
	takeLive(3)
	page, err := s.ReadEvents(ctx, authz.Actor{}, EventQuery{Match: func(ev *forumv1.Event) bool { return ev.Thread == th.Name && ev.Resource == r.Name }})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 3 {
		t.Fatalf("replay: %d events of the reply, want 3", len(page.Events))
	}
	for i, ev := range page.Events {
		if got := ev.GetReply(); !proto.Equal(got, versions[i]) {
			t.Errorf("replay: event %d (%v) holds %v, want version %d: %v", ev.Revision, ev.Type, got, i+1, versions[i])
		}
		l := live[ev.Revision]
		if !proto.Equal(l, ev) {
			t.Errorf("event %d: live %v, replayed %v", ev.Revision, l, ev)
		}
		lb, _ := proto.Marshal(l)
		rb, _ := proto.Marshal(ev)
		if string(lb) != string(rb) {
			t.Errorf("event %d: the live and the replayed encodings differ", ev.Revision)
		}
	}
	if n := countKeys(t, s, bucketReplyVersions); n != 2 {
		t.Errorf("%d reply versions kept after two edits, want 2 (v1 and v2; v3 is the record)", n)
	}

	// Deleted: the earlier events carry no content, the deletion the
	// tombstone; nothing more is kept.
	del, err := s.DeleteReply(ctx, a, name, "", "")
	if err != nil {
		t.Fatal(err)
	}
	page, err = s.ReadEvents(ctx, authz.Actor{}, EventQuery{Match: func(ev *forumv1.Event) bool { return ev.Resource == r.Name }})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 4 {
		t.Fatalf("after the deletion: %d events of the reply, want 4", len(page.Events))
	}
	for _, ev := range page.Events[:3] {
		if ev.ResourceState != nil {
			t.Errorf("event %d (%v) of a deleted reply holds %v", ev.Revision, ev.Type, ev.ResourceState)
		}
	}
	if got := page.Events[3].GetReply(); page.Events[3].Type != forumv1.EventType_EVENT_TYPE_REPLY_DELETED || !proto.Equal(got, del) {
		t.Errorf("the deletion's event holds %v, want the tombstone %v", got, del)
	}
	if n := countKeys(t, s, bucketReplyVersions); n != 2 {
		t.Errorf("%d reply versions kept after the deletion, want 2", n)
	}

	// Sweeping the events sweeps the versions only they referred to.
	if _, err := s.SweepEvents(ctx, time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, bucketReplyVersions); n != 0 {
		t.Errorf("%d reply versions kept after their events were swept, want 0", n)
	}
}
