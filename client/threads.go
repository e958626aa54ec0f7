package client

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// The reactions a post may be given (forumv1.Reaction).
const (
	PlusOne    = forumv1.Reaction_REACTION_PLUS_ONE
	Heart      = forumv1.Reaction_REACTION_HEART
	Celebrate  = forumv1.Reaction_REACTION_CELEBRATE
	Thanks     = forumv1.Reaction_REACTION_THANKS
	Insightful = forumv1.Reaction_REACTION_INSIGHTFUL
)

// SetThreadLocked locks thread (`threads/{id}`) against new replies, or
// unlocks it, and returns it; its state (OPEN or RESOLVED) stays as it
// is. Conveners and admins only.
func (c *Client) SetThreadLocked(ctx context.Context, thread string, locked bool) (*forumv1.Thread, error) {
	return c.threads.UpdateThread(ctx, &forumv1.UpdateThreadRequest{
		Thread:     &forumv1.Thread{Name: thread, Locked: locked},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"locked"}},
	})
}

// AcceptAnswer accepts reply (`threads/{id}/replies/{r}`) as the answer
// to its question, thread, and returns the thread. The asker, conveners
// and admins may.
func (c *Client) AcceptAnswer(ctx context.Context, thread, reply string) (*forumv1.Thread, error) {
	return c.threads.AcceptAnswer(ctx, &forumv1.AcceptAnswerRequest{Name: thread, Reply: reply})
}

// UnacceptAnswer clears the accepted answer of question thread.
func (c *Client) UnacceptAnswer(ctx context.Context, thread string) (*forumv1.Thread, error) {
	return c.threads.UnacceptAnswer(ctx, &forumv1.UnacceptAnswerRequest{Name: thread})
}

// React gives the Client user's reaction r to post (a thread,
// `threads/{id}`, or a reply), once: again changes nothing. It returns
// the post's reactions after it.
func (c *Client) React(ctx context.Context, post string, r forumv1.Reaction) (*forumv1.PostReactions, error) {
	return c.threads.AddReaction(ctx, &forumv1.AddReactionRequest{Name: post, Reaction: r})
}

// Unreact withdraws the Client user's reaction r to post; withdrawing one
// not given changes nothing.
func (c *Client) Unreact(ctx context.Context, post string, r forumv1.Reaction) (*forumv1.PostReactions, error) {
	return c.threads.RemoveReaction(ctx, &forumv1.RemoveReactionRequest{Name: post, Reaction: r})
}

// CreateActionItem creates item (title, owner, optional due_date) on the
// follow-up thread, with a request id so that a retry creates it once.
// Conveners and admins.
func (c *Client) CreateActionItem(ctx context.Context, thread string, item *forumv1.ActionItem) (*forumv1.ActionItem, error) {
	return c.items.CreateActionItem(ctx, &forumv1.CreateActionItemRequest{Parent: thread, ActionItem: item, RequestId: NewRequestID()})
}

// CloseActionItem sets the state of action item name (DONE, DROPPED, or
// OPEN again) with a closing note, and returns it. Its owner (or a member
// of the owning organisation), conveners and admins may.
func (c *Client) CloseActionItem(ctx context.Context, name string, state forumv1.ActionItemState, note string) (*forumv1.ActionItem, error) {
	return c.items.UpdateActionItem(ctx, &forumv1.UpdateActionItemRequest{
		ActionItem: &forumv1.ActionItem{Name: name, State: state, ClosingNote: note},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "closing_note"}},
	})
}
