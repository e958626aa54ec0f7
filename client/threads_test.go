package client_test

import (
	"errors"
	"testing"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestAnswersReactionsAndLocking: a question answered and unanswered, a
// reaction given twice and withdrawn, and a resolved thread locked and
// unlocked, still resolved, over gRPC with the client's methods.
func TestAnswersReactionsAndLocking(t *testing.T) {
	f := start(t)
	ctx := callCtx(t)
	q, err := f.member.CreateThread(ctx, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "How do you host?", Body: "?", Kind: forumv1.ThreadKind_THREAD_KIND_QUESTION})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.convener.CreateReply(ctx, q.GetName(), &forumv1.Reply{Body: "With families."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.convener.AcceptAnswer(ctx, q.GetName(), r.GetName()); err != nil {
		t.Errorf("a convener accepting: %v", err)
	}
	got, err := f.member.AcceptAnswer(ctx, q.GetName(), r.GetName())
	if err != nil || got.GetAcceptedAnswer() != r.GetName() {
		t.Fatalf("the asker accepting: %v, %v", got.GetAcceptedAnswer(), err)
	}
	if got, err = f.member.UnacceptAnswer(ctx, q.GetName()); err != nil || got.GetAcceptedAnswer() != "" {
		t.Errorf("unaccept: %v, %v", got.GetAcceptedAnswer(), err)
	}
	if _, err := f.member.AcceptAnswer(ctx, q.GetName(), "threads/999/replies/1"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("a reply of another thread: %v, want ErrInvalidArgument", err)
	}

	for range 2 {
		if _, err := f.member.React(ctx, r.GetName(), client.Heart); err != nil {
			t.Fatal(err)
		}
	}
	pr, err := f.convener.React(ctx, r.GetName(), client.Heart)
	if err != nil || len(pr.GetReactions()) != 1 || pr.GetReactions()[0].GetCount() != 2 || !pr.GetReactions()[0].GetReacted() {
		t.Fatalf("two hearts: %v, %v", pr, err)
	}
	if pr, err = f.member.Unreact(ctx, r.GetName(), client.Heart); err != nil || pr.GetReactions()[0].GetCount() != 1 || pr.GetReactions()[0].GetReacted() {
		t.Errorf("withdrawn: %v, %v", pr, err)
	}
	if _, err := f.anonymous.React(ctx, r.GetName(), client.Heart); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("anonymous: %v, want ErrUnauthenticated", err)
	}
	if _, err := f.member.React(ctx, r.GetName(), forumv1.Reaction_REACTION_UNSPECIFIED); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("no reaction: %v, want ErrInvalidArgument", err)
	}

	if _, err := f.member.ThreadService().UpdateThread(ctx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: q.GetName(), State: forumv1.ThreadState_THREAD_STATE_RESOLVED}}); err != nil {
		t.Fatal(err)
	}
	th, err := f.convener.SetThreadLocked(ctx, q.GetName(), true)
	if err != nil || !th.GetLocked() || th.GetState() != forumv1.ThreadState_THREAD_STATE_RESOLVED {
		t.Fatalf("locked: %v %v, %v", th.GetState(), th.GetLocked(), err)
	}
	if _, err := f.member.React(ctx, q.GetName(), client.Thanks); !errors.Is(err, client.ErrFailedPrecondition) {
		t.Errorf("a member reacting in a locked thread: %v, want ErrFailedPrecondition", err)
	}
	if _, err := f.member.SetThreadLocked(ctx, q.GetName(), false); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("a member unlocking: %v, want ErrPermissionDenied", err)
	}
	if th, err = f.convener.SetThreadLocked(ctx, q.GetName(), false); err != nil || th.GetLocked() || th.GetState() != forumv1.ThreadState_THREAD_STATE_RESOLVED {
		t.Errorf("unlocked: %v %v, %v; want RESOLVED and not locked", th.GetState(), th.GetLocked(), err)
	}
}

// TestConvenings: a convening created through the stub and listed with
// the iterator, across pages.
func TestConvenings(t *testing.T) {
	f := start(t)
	ctx := callCtx(t)
	for _, c := range []struct{ slug, start string }{{"beijing-2015", "2015-10-19"}, {"nairobi-2026", "2026-05-04"}} {
		if _, err := f.convener.ConveningService().CreateConvening(ctx, &forumv1.CreateConveningRequest{ConveningId: c.slug, Convening: &forumv1.Convening{Title: c.slug, StartDate: c.start, EndDate: c.start}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for c, err := range f.anonymous.Convenings(ctx, &forumv1.ListConveningsRequest{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.GetName())
	}
	if len(got) != 2 || got[0] != "convenings/nairobi-2026" || got[1] != "convenings/beijing-2015" {
		t.Errorf("Convenings: %v", got)
	}
}

// TestActionItems: an item created, closed by its owner and listed with
// the iterator and a filter.
func TestActionItems(t *testing.T) {
	f := start(t)
	ctx := callCtx(t)
	th, err := f.member.CreateThread(ctx, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hosting"})
	if err != nil {
		t.Fatal(err)
	}
	fu, err := f.convener.CreateFollowUp(ctx, th.GetName(), &forumv1.Thread{Title: "Follow-up"})
	if err != nil {
		t.Fatal(err)
	}
	me, err := f.member.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	it, err := f.convener.CreateActionItem(ctx, fu.GetName(), &forumv1.ActionItem{Title: "Share the guide", Owner: me.GetName(), DueDate: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.convener.CreateActionItem(ctx, th.GetName(), &forumv1.ActionItem{Title: "x", Owner: me.GetName()}); !errors.Is(err, client.ErrFailedPrecondition) {
		t.Errorf("an item on a discussion: %v, want ErrFailedPrecondition", err)
	}
	done, err := f.member.CloseActionItem(ctx, it.GetName(), forumv1.ActionItemState_ACTION_ITEM_STATE_DONE, "Shared.")
	if err != nil || done.GetState() != forumv1.ActionItemState_ACTION_ITEM_STATE_DONE || len(done.GetHistory()) != 2 {
		t.Fatalf("closed: %v, %v", done, err)
	}
	var got []string
	for x, err := range f.anonymous.ActionItems(ctx, &forumv1.ListActionItemsRequest{Parent: "threads/-", Filter: "state = DONE"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x.GetName())
	}
	if len(got) != 1 || got[0] != it.GetName() {
		t.Errorf("ActionItems state = DONE: %v", got)
	}
}

// TestRevisions: a reply edited once has two versions, the newest first.
func TestRevisions(t *testing.T) {
	f := start(t)
	ctx := callCtx(t)
	th, err := f.member.CreateThread(ctx, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "T"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.member.CreateReply(ctx, th.GetName(), &forumv1.Reply{Body: "before"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.member.ReplyService().UpdateReply(ctx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: r.GetName(), Body: "after"}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for rv, err := range f.anonymous.Revisions(ctx, r.GetName()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rv.GetBody())
	}
	if len(got) != 2 || got[0] != "after" || got[1] != "before" {
		t.Errorf("Revisions: %v", got)
	}
}
