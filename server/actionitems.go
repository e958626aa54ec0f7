package server

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store"
)

type actionItemService struct {
	forumv1.UnsafeActionItemServiceServer
	s *Server
}

// actionItemUpdatable are the fields UpdateActionItem may change.
var actionItemUpdatable = []string{"title", "owner", "due_date", "state", "closing_note"}

// maxNoteChars bounds an action item's closing note.
const maxNoteChars = 2000

// checkActionItemFields validates the fields of a named in paths.
func checkActionItemFields(v *errs.Violations, a *forumv1.ActionItem, paths []string) {
	for _, p := range paths {
		switch p {
		case "title":
			checkText(v, "action_item.title", a.GetTitle(), 1, maxTitleChars, false)
		case "owner":
			if !userOrOrganization(a.GetOwner()) {
				v.Add("action_item.owner", "is required: a user (users/{id}) or an organization (organizations/{slug})")
			}
		case "due_date":
			if a.GetDueDate() != "" {
				checkDate(v, "action_item.due_date", a.GetDueDate())
			}
		case "state":
			if s := a.GetState(); s == forumv1.ActionItemState_ACTION_ITEM_STATE_UNSPECIFIED || forumv1.ActionItemState_name[int32(s)] == "" {
				v.Add("action_item.state", "must be OPEN, DONE or DROPPED")
			}
		case "closing_note":
			checkText(v, "action_item.closing_note", a.GetClosingNote(), 0, maxNoteChars, true)
		}
	}
}

// userOrOrganization reports whether name is a user's (`users/{id}`) or
// an organisation's (`organizations/{slug}`): an action item's owner, a
// convening's organiser.
func userOrOrganization(name string) bool {
	_, uerr := resname.ParseUser(name)
	_, oerr := resname.ParseOrganization(name)
	return uerr == nil || oerr == nil
}

// checkActionItemName parses an action item's name in field.
func checkActionItemName(v *errs.Violations, field, name string) resname.ActionItem {
	n, err := resname.ParseActionItem(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

func (a *actionItemService) GetActionItem(ctx context.Context, req *forumv1.GetActionItemRequest) (*forumv1.ActionItem, error) {
	var v errs.Violations
	name := checkActionItemName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return a.s.store.GetActionItem(ctx, actorFrom(ctx), name)
}

func (a *actionItemService) ListActionItems(ctx context.Context, req *forumv1.ListActionItemsRequest) (*forumv1.ListActionItemsResponse, error) {
	var v errs.Violations
	var thread *resname.Thread
	if req.GetParent() != "threads/-" {
		t := checkThreadName(&v, "parent", req.GetParent())
		thread = &t
	}
	n := pageSize(&v, req.GetPageSize())
	f, err := filter.ParseActionItems(req.GetFilter())
	if err != nil {
		v.Add("filter", "%v", err)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var match store.ActionItemMatch
	if f != nil {
		match = f.Match
	}
	items, next, err := a.s.store.ListActionItems(ctx, actorFrom(ctx), thread, match, f.String(), n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListActionItemsResponse{ActionItems: items, NextPageToken: next}, nil
}

func (a *actionItemService) CreateActionItem(ctx context.Context, req *forumv1.CreateActionItemRequest) (*forumv1.ActionItem, error) {
	var v errs.Violations
	parent := checkThreadName(&v, "parent", req.GetParent())
	item := req.GetActionItem()
	var paths []string
	if item == nil {
		v.Add("action_item", "is required")
	} else {
		paths = []string{"title", "owner"}
		if item.GetDueDate() != "" {
			paths = append(paths, "due_date")
		}
		if item.GetState() != forumv1.ActionItemState_ACTION_ITEM_STATE_UNSPECIFIED {
			paths = append(paths, "state")
		}
		if item.GetClosingNote() != "" {
			paths = append(paths, "closing_note")
		}
		checkActionItemFields(&v, item, paths)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return a.s.store.CreateActionItem(ctx, actorFrom(ctx), parent, item, paths, req.GetRequestId())
}

func (a *actionItemService) UpdateActionItem(ctx context.Context, req *forumv1.UpdateActionItemRequest) (*forumv1.ActionItem, error) {
	var v errs.Violations
	item := req.GetActionItem()
	if item == nil {
		v.Add("action_item", "is required")
		return nil, v.Err()
	}
	name := checkActionItemName(&v, "action_item.name", item.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), item, actionItemUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	checkActionItemFields(&v, item, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return a.s.store.UpdateActionItem(ctx, actorFrom(ctx), name, item, paths)
}
