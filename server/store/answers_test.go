package store

import (
	"errors"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// TestMigrateLockedState opens a file of schema 8, where a locked thread
// had the state LOCKED (in its record, its head and its events), and checks
// that it opens OPEN and locked, still refusing replies, that a resolved
// thread stays resolved, that its old event
// reads the same way, and that unlocking it later keeps a state set since.
func TestMigrateLockedState(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	conv := member(t, s, "conv", forumv1.Role_ROLE_CONVENER)
	th, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Old", Body: "b", State: forumv1.ThreadState_THREAD_STATE_OPEN}, "")
	if err != nil {
		t.Fatal(err)
	}
	name := resname.MustParseThread(th.Name)
	resolved, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Resolved", Body: "b", State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Rewrite it as schema 8 wrote a locked thread.
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Update(ctx, func(tx kv.Tx) error {
		old := proto.CloneOf(th)
		old.State, old.Locked = stateLockedLegacy, false
		if err := putProto(tx, bucketThreads, threadKey(name.ID), old); err != nil {
			return err
		}
		if err := tx.Put(bucketThreadHeads, threadKey(name.ID), threadHeadValue(headOf(old))); err != nil {
			return err
		}
		head, _, err := getU64(tx, bucketMeta, metaEventHead)
		if err != nil {
			return err
		}
		ev := threadEvent(conv, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, old, []string{"state"})
		ev.Revision, ev.Name, ev.EventTime = head+1, "events/x", old.UpdateTime
		if err := putProto(tx, bucketEvents, eventKey(head+1), ev); err != nil {
			return err
		}
		if err := tx.Put(bucketMeta, metaEventHead, u64(head+1)); err != nil {
			return err
		}
		return tx.Put(bucketMeta, metaSchemaVersion, u64(8))
	}); err != nil {
		t.Fatal(err)
	}
	eng.Close()

	s = openMigrated(t, path)
	if r, err := s.GetThread(ctx, alice, resname.MustParseThread(resolved.Name)); err != nil || r.State != forumv1.ThreadState_THREAD_STATE_RESOLVED || r.Locked {
		t.Errorf("a resolved thread after the migration: state %v, locked %v, %v; want RESOLVED, not locked", r.GetState(), r.GetLocked(), err)
	}
	got, err := s.GetThread(ctx, alice, name)
	if err != nil || got.State != forumv1.ThreadState_THREAD_STATE_OPEN || !got.Locked {
		t.Fatalf("after the migration: state %v, locked %v, %v; want OPEN and locked", got.GetState(), got.GetLocked(), err)
	}
	if _, err := s.CreateReply(ctx, alice, name, &forumv1.Reply{Body: "x"}, ""); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("a reply to the migrated locked thread: %v, want FailedPrecondition", err)
	}
	page, err := s.ReadEvents(ctx, authz.SystemActor, EventQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	last := page.Events[len(page.Events)-1].GetThreadResource()
	if last.GetState() != forumv1.ThreadState_THREAD_STATE_OPEN || !last.GetLocked() {
		t.Errorf("the event written by schema 8 reads state %v, locked %v; want OPEN and locked", last.GetState(), last.GetLocked())
	}
	// Resolved while locked, then unlocked: still resolved.
	if _, err := s.UpdateThread(ctx, conv, name, &forumv1.Thread{State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	un, err := s.UpdateThread(ctx, conv, name, &forumv1.Thread{Locked: false}, []string{"locked"})
	if err != nil || un.State != forumv1.ThreadState_THREAD_STATE_RESOLVED || un.Locked {
		t.Fatalf("unlocked: state %v, locked %v, %v; want RESOLVED, not locked", un.GetState(), un.GetLocked(), err)
	}
	if _, err := s.CreateReply(ctx, alice, name, &forumv1.Reply{Body: "x"}, ""); err != nil {
		t.Errorf("a reply once unlocked: %v", err)
	}
	// state LOCKED, from an older client, locks and keeps the state.
	re, err := s.UpdateThread(ctx, conv, name, &forumv1.Thread{State: stateLockedLegacy}, []string{"state"})
	if err != nil || re.State != forumv1.ThreadState_THREAD_STATE_RESOLVED || !re.Locked {
		t.Errorf("state LOCKED: state %v, locked %v, %v; want RESOLVED and locked", re.GetState(), re.GetLocked(), err)
	}
	f, _ := filter.ParseThreads("state = LOCKED")
	if list, _, err := s.ListThreads(ctx, alice, ThreadQuery{Filter: f, PageSize: 10}); err != nil || len(list) != 1 {
		t.Errorf("filter state = LOCKED: %d threads, %v; want 1", len(list), err)
	}
}

// TestAcceptAnswer checks a question's accepted answer: who may accept,
// what may be, how replies and the filter show it, a deleted answer, and
// the notification of the answer's author.
func TestAcceptAnswer(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob", "carol", "mod")
	ctx := t.Context()
	q := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Q", Body: "?", Kind: forumv1.ThreadKind_THREAD_KIND_QUESTION})
	qn := resname.MustParseThread(q.Name)
	r1 := e.reply("bob", q.Name, "first answer", "")
	r2 := e.reply("carol", q.Name, "second answer", "")
	d := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "D", Body: "."})
	dr := e.reply("bob", d.Name, "x", "")
	e.derive()
	e.fresh()

	for _, c := range []struct {
		who   string
		th    resname.Thread
		reply string
		want  error
	}{
		{"bob", qn, r1.Name, errs.PermissionDenied},                                  // not the asker
		{"alice", resname.MustParseThread(d.Name), dr.Name, errs.FailedPrecondition}, // not a question
		{"alice", qn, q.Name + "/replies/99", errs.InvalidArgument},                  // no such reply
	} {
		if _, err := e.s.AcceptAnswer(ctx, e.users[c.who], c.th, resname.MustParseReply(c.reply), ""); !errors.Is(err, c.want) {
			t.Errorf("%s accepting %s: %v, want %v", c.who, c.reply, err, c.want)
		}
	}
	got, err := e.s.AcceptAnswer(ctx, e.users["alice"], qn, resname.MustParseReply(r1.Name), "")
	if err != nil || got.AcceptedAnswer != r1.Name {
		t.Fatalf("alice accepting %s: %v, %v", r1.Name, got.GetAcceptedAnswer(), err)
	}
	// A convener changes it; the etag of the old version is refused.
	if _, err := e.s.AcceptAnswer(ctx, e.users["mod"], qn, resname.MustParseReply(r2.Name), q.Etag); !errors.Is(err, errs.Aborted) {
		t.Errorf("an old etag: %v, want Aborted", err)
	}
	if got, err = e.s.AcceptAnswer(ctx, e.users["mod"], qn, resname.MustParseReply(r2.Name), got.Etag); err != nil || got.AcceptedAnswer != r2.Name {
		t.Fatalf("the convener accepting %s: %v, %v", r2.Name, got.GetAcceptedAnswer(), err)
	}
	replies, _, err := e.s.ListReplies(ctx, e.users["bob"], qn, 10, "")
	if err != nil || len(replies) != 2 || replies[0].Accepted || !replies[1].Accepted {
		t.Errorf("ListReplies: %v, %v; want the second accepted", replies, err)
	}
	if r, err := e.s.GetReply(ctx, authz.Actor{}, resname.MustParseReply(r2.Name)); err != nil || !r.Accepted {
		t.Errorf("GetReply of the answer, anonymously: %v, %v", r, err)
	}
	answered, _ := filter.ParseThreads("answered = true")
	if list, _, err := e.s.ListThreads(ctx, e.users["bob"], ThreadQuery{Filter: answered, PageSize: 10}); err != nil || len(list) != 1 || list[0].Name != q.Name {
		t.Errorf("answered = true: %v, %v", list, err)
	}
	e.expect("answers accepted", map[string][]string{"bob": {"answer " + r1.Name}, "carol": {"answer " + r2.Name}})

	// The answer deleted: none, and the question is unanswered; restored:
	// the answer again.
	if _, err := e.s.DeleteReply(ctx, e.users["carol"], resname.MustParseReply(r2.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	if th, _ := e.s.GetThread(ctx, e.users["bob"], qn); th.AcceptedAnswer != "" {
		t.Errorf("the answer deleted: accepted_answer %q", th.AcceptedAnswer)
	}
	if list, _, _ := e.s.ListThreads(ctx, e.users["bob"], ThreadQuery{Filter: answered, PageSize: 10}); len(list) != 0 {
		t.Errorf("answered = true with the answer deleted: %v", list)
	}
	if _, err := e.s.AcceptAnswer(ctx, e.users["alice"], qn, resname.MustParseReply(r2.Name), ""); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("accepting a deleted reply: %v, want FailedPrecondition", err)
	}
	if got, err = e.s.UnacceptAnswer(ctx, e.users["alice"], qn, ""); err != nil || got.AcceptedAnswer != "" {
		t.Errorf("unaccept: %v, %v", got.GetAcceptedAnswer(), err)
	}
	again, err := e.s.UnacceptAnswer(ctx, e.users["alice"], qn, "")
	if err != nil || again.Etag != got.Etag {
		t.Errorf("unaccepting again changed the thread: %v", err)
	}
}

// TestReactions checks giving and withdrawing reactions: once each, the
// counts and the caller's own, a deleted post, a locked thread, and the
// events.
func TestReactions(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob", "mod")
	ctx := t.Context()
	th := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"})
	tn := resname.MustParseThread(th.Name)
	r := e.reply("alice", th.Name, "r", "")
	rid := resname.MustParseReply(r.Name).ID
	head0, _ := e.s.EventHead(ctx)

	heart, thanks := forumv1.Reaction_REACTION_HEART, forumv1.Reaction_REACTION_THANKS
	for range 2 { // the second changes nothing
		if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, rid, heart, true); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.s.SetReaction(ctx, e.users["alice"], tn, rid, heart, true)
	if err != nil || len(out.Reactions) != 1 || out.Reactions[0].Count != 2 || !out.Reactions[0].Reacted || out.Name != r.Name {
		t.Fatalf("two hearts: %v, %v", out, err)
	}
	if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, 0, thanks, true); err != nil {
		t.Fatal(err)
	}
	got, _ := e.s.GetReply(ctx, e.users["mod"], resname.MustParseReply(r.Name))
	if len(got.Reactions) != 1 || got.Reactions[0].Count != 2 || got.Reactions[0].Reacted {
		t.Errorf("the reply's reactions to another reader: %v", got.Reactions)
	}
	tg, _ := e.s.GetThread(ctx, e.users["bob"], tn)
	if len(tg.Reactions) != 1 || tg.Reactions[0].Reaction != thanks || !tg.Reactions[0].Reacted {
		t.Errorf("the thread's reactions to bob: %v", tg.Reactions)
	}
	// Withdrawn, twice.
	for range 2 {
		if out, err = e.s.SetReaction(ctx, e.users["bob"], tn, rid, heart, false); err != nil || out.Reactions[0].Count != 1 || out.Reactions[0].Reacted {
			t.Errorf("bob's heart withdrawn: %v, %v", out, err)
		}
	}
	if head, _ := e.s.EventHead(ctx); head != head0+4 {
		t.Errorf("%d events for 4 changes and 2 repeats", head-head0)
	}
	page, _ := e.s.ReadEvents(ctx, authz.Actor{}, EventQuery{From: head0 + 1, Limit: 10})
	if len(page.Events) != 4 || page.Events[3].Type != forumv1.EventType_EVENT_TYPE_REACTION_REMOVED || page.Events[3].GetReactions().GetReactions()[0].GetCount() != 1 {
		t.Errorf("the reaction events, anonymously: %v", page.Events)
	}
	// A page of replies: the reactions of those that have any (alice's
	// heart on the first), the caller's own marked.
	r2 := e.reply("bob", th.Name, "r2", "")
	r3 := e.reply("bob", th.Name, "r3", "")
	if _, err := e.s.SetReaction(ctx, e.users["alice"], tn, resname.MustParseReply(r3.Name).ID, thanks, true); err != nil {
		t.Fatal(err)
	}
	page1, _, err := e.s.ListReplies(ctx, e.users["bob"], tn, 10, "")
	if err != nil || len(page1) != 3 || len(page1[0].Reactions) != 1 || page1[0].Reactions[0].Count != 1 || page1[0].Reactions[0].Reacted ||
		page1[1].Reactions != nil || page1[1].Name != r2.Name || len(page1[2].Reactions) != 1 || page1[2].Reactions[0].Reacted {
		t.Errorf("ListReplies as bob: %v, %v", page1, err)
	}
	if page2, _, err := e.s.ListReplies(ctx, e.users["alice"], tn, 1, ""); err != nil || len(page2) != 1 || !page2[0].Reactions[0].Reacted {
		t.Errorf("ListReplies as alice, a page of one: %v, %v", page2, err)
	}
	// Refused, changing nothing.
	if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, rid, forumv1.Reaction(9), true); !errors.Is(err, errs.InvalidArgument) {
		t.Errorf("an unknown reaction: %v", err)
	}
	if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, 99, heart, true); !errors.Is(err, errs.NotFound) {
		t.Errorf("a reply that does not exist: %v", err)
	}
	if _, err := e.s.DeleteReply(ctx, e.users["alice"], resname.MustParseReply(r.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, rid, heart, true); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("a deleted reply: %v", err)
	}
	if _, err := e.s.UpdateThread(ctx, e.users["mod"], tn, &forumv1.Thread{Locked: true}, []string{"locked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetReaction(ctx, e.users["bob"], tn, 0, heart, true); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("a member in a locked thread: %v", err)
	}
	if _, err := e.s.SetReaction(ctx, e.users["mod"], tn, 0, heart, true); err != nil {
		t.Errorf("a convener in a locked thread: %v", err)
	}
	tg, _ = e.s.GetThread(ctx, authz.Actor{}, tn)
	if len(tg.Reactions) != 2 || tg.Reactions[0].Reaction != heart || tg.Reactions[1].Count != 1 {
		t.Errorf("the thread's reactions at the end: %v", tg.Reactions)
	}
}
