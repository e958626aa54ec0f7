package server

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

func (t *threadService) AcceptAnswer(ctx context.Context, req *forumv1.AcceptAnswerRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	var reply resname.Reply
	if req.GetReply() == "" {
		v.Add("reply", "is required: the reply accepted as the answer")
	} else if rn, err := resname.ParseReply(req.GetReply()); err != nil {
		v.Add("reply", "%v", err)
	} else if rn.Thread != name {
		v.Add("reply", "must be a reply of %s, the question", req.GetName())
	} else {
		reply = rn
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.AcceptAnswer(ctx, actorFrom(ctx), name, reply, req.GetEtag())
}

func (t *threadService) UnacceptAnswer(ctx context.Context, req *forumv1.UnacceptAnswerRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.UnacceptAnswer(ctx, actorFrom(ctx), name, req.GetEtag())
}

// checkPostName parses a post's name, `threads/{thread}` or
// `threads/{thread}/replies/{reply}`, in field; the reply id is 0 for a
// thread.
func checkPostName(v *errs.Violations, field, name string) (resname.Thread, uint64) {
	if t, err := resname.ParseThread(name); err == nil {
		return t, 0
	}
	r, err := resname.ParseReply(name)
	if err != nil {
		v.Add(field, "must be a post: threads/{thread} or threads/{thread}/replies/{reply}")
		return resname.Thread{}, 0
	}
	return r.Thread, r.ID
}

// checkReaction records a violation unless r is one of the reactions.
func checkReaction(v *errs.Violations, r forumv1.Reaction) {
	if _, ok := forumv1.Reaction_name[int32(r)]; !ok || r == forumv1.Reaction_REACTION_UNSPECIFIED {
		v.Add("reaction", "must be one of PLUS_ONE, HEART, CELEBRATE, THANKS and INSIGHTFUL")
	}
}

func (t *threadService) AddReaction(ctx context.Context, req *forumv1.AddReactionRequest) (*forumv1.PostReactions, error) {
	var v errs.Violations
	thread, reply := checkPostName(&v, "name", req.GetName())
	checkReaction(&v, req.GetReaction())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.SetReaction(ctx, actorFrom(ctx), thread, reply, req.GetReaction(), true)
}

func (t *threadService) RemoveReaction(ctx context.Context, req *forumv1.RemoveReactionRequest) (*forumv1.PostReactions, error) {
	var v errs.Violations
	thread, reply := checkPostName(&v, "name", req.GetName())
	checkReaction(&v, req.GetReaction())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.SetReaction(ctx, actorFrom(ctx), thread, reply, req.GetReaction(), false)
}
