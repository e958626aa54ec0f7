package server

import (
	"context"
	"fmt"
	"slices"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

type groupService struct {
	forumv1.UnsafeGroupServiceServer
	s *Server
}

// groupUpdatable are the group fields UpdateGroup may change.
var groupUpdatable = []string{"display_name", "description", "members"}

const maxGroupMembers = 1000

// checkGroupName parses the group name in field, or records a violation.
func checkGroupName(v *errs.Violations, field, name string) resname.Group {
	n, err := resname.ParseGroup(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

// checkGroupNames records a violation unless names are at most max distinct
// group names.
func checkGroupNames(v *errs.Violations, field string, names []string, max int) {
	if len(names) > max {
		v.Add(field, "at most %d groups are allowed", max)
		return
	}
	for i, n := range names {
		checkGroupName(v, fmt.Sprintf("%s[%d]", field, i), n)
		if slices.Contains(names[:i], n) {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "%s appears twice", n)
		}
	}
}

func checkGroupFields(v *errs.Violations, g *forumv1.Group, paths []string) {
	for _, p := range paths {
		switch p {
		case "display_name":
			checkName(v, "group.display_name", g.GetDisplayName(), maxDisplayName)
		case "description":
			checkText(v, "group.description", g.GetDescription(), 0, maxDescription, true)
		case "members":
			if len(g.GetMembers()) > maxGroupMembers {
				v.Add("group.members", "at most %d members are allowed", maxGroupMembers)
				continue
			}
			for i, m := range g.GetMembers() {
				if _, err := resname.ParseUser(m); err != nil {
					v.Add(fmt.Sprintf("group.members[%d]", i), "%v", err)
				} else if slices.Contains(g.GetMembers()[:i], m) {
					v.Add(fmt.Sprintf("group.members[%d]", i), "%s appears twice", m)
				}
			}
		}
	}
}

func (g *groupService) GetGroup(ctx context.Context, req *forumv1.GetGroupRequest) (*forumv1.Group, error) {
	var v errs.Violations
	name := checkGroupName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return g.s.store.GetGroup(ctx, actorFrom(ctx), name)
}

func (g *groupService) ListGroups(ctx context.Context, req *forumv1.ListGroupsRequest) (*forumv1.ListGroupsResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	groups, next, err := g.s.store.ListGroups(ctx, actorFrom(ctx), n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListGroupsResponse{Groups: groups, NextPageToken: next}, nil
}

func (g *groupService) CreateGroup(ctx context.Context, req *forumv1.CreateGroupRequest) (*forumv1.Group, error) {
	var v errs.Violations
	if !resname.ValidSlug(req.GetGroupId(), maxThemeSlugLen) {
		v.Add("group_id", "must be a lowercase slug: letters, digits and single hyphens, at most %d characters", maxThemeSlugLen)
	}
	if req.GetGroup() == nil {
		v.Add("group", "is required")
	} else {
		checkGroupFields(&v, req.GetGroup(), groupUpdatable)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return g.s.store.CreateGroup(ctx, actorFrom(ctx), req.GetGroupId(), req.GetGroup(), req.GetRequestId())
}

func (g *groupService) UpdateGroup(ctx context.Context, req *forumv1.UpdateGroupRequest) (*forumv1.Group, error) {
	var v errs.Violations
	grp := req.GetGroup()
	if grp == nil {
		v.Add("group", "is required")
		return nil, v.Err()
	}
	name := checkGroupName(&v, "group.name", grp.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), grp, groupUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	checkGroupFields(&v, grp, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return g.s.store.UpdateGroup(ctx, actorFrom(ctx), name, grp, paths)
}

func (g *groupService) DeleteGroup(ctx context.Context, req *forumv1.DeleteGroupRequest) (*forumv1.DeleteGroupResponse, error) {
	var v errs.Violations
	name := checkGroupName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := g.s.store.DeleteGroup(ctx, actorFrom(ctx), name, req.GetEtag()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteGroupResponse{}, nil
}
