package server

import (
	"context"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

type replyService struct {
	forumv1.UnsafeReplyServiceServer
	s *Server
}

// checkReplyName parses the reply name in field, or records a violation.
func checkReplyName(v *errs.Violations, field, name string) resname.Reply {
	n, err := resname.ParseReply(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

func (r *replyService) GetReply(ctx context.Context, req *forumv1.GetReplyRequest) (*forumv1.Reply, error) {
	var v errs.Violations
	name := checkReplyName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return r.s.store.GetReply(ctx, actorFrom(ctx), name)
}

func (r *replyService) ListReplies(ctx context.Context, req *forumv1.ListRepliesRequest) (*forumv1.ListRepliesResponse, error) {
	var v errs.Violations
	parent := checkThreadName(&v, "parent", req.GetParent())
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	replies, next, err := r.s.store.ListReplies(ctx, actorFrom(ctx), parent, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListRepliesResponse{Replies: replies, NextPageToken: next}, nil
}

func (r *replyService) CreateReply(ctx context.Context, req *forumv1.CreateReplyRequest) (*forumv1.Reply, error) {
	var v errs.Violations
	parent := checkThreadName(&v, "parent", req.GetParent())
	rep := req.GetReply()
	if rep == nil {
		v.Add("reply", "is required")
		return nil, v.Err()
	}
	checkBody(&v, "reply.body", rep.GetBody(), true)
	if irt := rep.GetInReplyTo(); irt != "" {
		checkReplyName(&v, "reply.in_reply_to", irt)
		if !strings.HasPrefix(irt, req.GetParent()+"/replies/") {
			v.Add("reply.in_reply_to", "must be a reply of %s, the thread replied to", req.GetParent())
		}
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	html, err := r.s.renderBody("reply.body", rep.GetBody())
	if err != nil {
		return nil, err
	}
	in := &forumv1.Reply{Body: rep.GetBody(), BodyHtml: html, InReplyTo: rep.GetInReplyTo()}
	if req.GetValidateOnly() {
		return r.s.store.ValidateReply(ctx, actorFrom(ctx), parent, in)
	}
	return r.s.store.CreateReply(ctx, actorFrom(ctx), parent, in, req.GetRequestId())
}

func (r *replyService) UpdateReply(ctx context.Context, req *forumv1.UpdateReplyRequest) (*forumv1.Reply, error) {
	var v errs.Violations
	rep := req.GetReply()
	if rep == nil {
		v.Add("reply", "is required")
		return nil, v.Err()
	}
	name := checkReplyName(&v, "reply.name", rep.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(req.GetUpdateMask().GetPaths()) > 0 {
		if _, err := updatePaths(req.GetUpdateMask(), rep, []string{"body"}, "etag"); err != nil {
			return nil, err
		}
	}
	checkBody(&v, "reply.body", rep.GetBody(), true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	html, err := r.s.renderBody("reply.body", rep.GetBody())
	if err != nil {
		return nil, err
	}
	in := &forumv1.Reply{Name: rep.GetName(), Body: rep.GetBody(), BodyHtml: html, Etag: rep.GetEtag()}
	return r.s.store.UpdateReply(ctx, actorFrom(ctx), name, in)
}

func (r *replyService) DeleteReply(ctx context.Context, req *forumv1.DeleteReplyRequest) (*forumv1.Reply, error) {
	var v errs.Violations
	name := checkReplyName(&v, "name", req.GetName())
	reason := deleteReason(&v, req.GetReason())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return r.s.store.DeleteReply(ctx, actorFrom(ctx), name, req.GetEtag(), reason)
}
