package server

import (
	"context"
	"strconv"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
)

type revisionService struct {
	forumv1.UnsafeRevisionServiceServer
	s *Server
}

// checkRevisionName parses `{post}/revisions/{n}` in field.
func checkRevisionName(v *errs.Violations, field, name string) (thread, reply, n uint64) {
	post, num, ok := strings.Cut(name, "/revisions/")
	var pv errs.Violations
	t, r := checkPostName(&pv, field, post)
	id, err := strconv.ParseUint(num, 10, 64)
	if !ok || pv.Err() != nil || err != nil || id == 0 || strconv.FormatUint(id, 10) != num {
		v.Add(field, "%q is not a revision name: threads/{thread}/revisions/{n} or threads/{thread}/replies/{reply}/revisions/{n}", name)
		return 0, 0, 0
	}
	return t.ID, r, id
}

func (r *revisionService) ListRevisions(ctx context.Context, req *forumv1.ListRevisionsRequest) (*forumv1.ListRevisionsResponse, error) {
	var v errs.Violations
	thread, reply := checkPostName(&v, "parent", req.GetParent())
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, next, err := r.s.store.ListRevisions(ctx, actorFrom(ctx), thread.ID, reply, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListRevisionsResponse{Revisions: list, NextPageToken: next}, nil
}

func (r *revisionService) GetRevision(ctx context.Context, req *forumv1.GetRevisionRequest) (*forumv1.Revision, error) {
	var v errs.Violations
	thread, reply, n := checkRevisionName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return r.s.store.GetRevision(ctx, actorFrom(ctx), thread, reply, n)
}
