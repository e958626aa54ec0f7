package server

import (
	"context"
	"slices"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store"
)

// stateLockedLegacy is THREAD_STATE_LOCKED, deprecated since Thread.locked:
// accepted on input, from older clients, as locked with the state
// unchanged (named by its name here, not by the deprecated identifier).
var stateLockedLegacy = forumv1.ThreadState(forumv1.ThreadState_value["THREAD_STATE_LOCKED"])

type threadService struct {
	forumv1.UnsafeThreadServiceServer
	s *Server
}

// threadUpdatable are the thread fields UpdateThread may change; theme and
// pinned, and locking, only for moderators (authz.ThreadFields).
var threadUpdatable = []string{"title", "body", "tags", "state", "theme", "pinned", "locked", "convening"}

// lockedFromState reads state LOCKED, from the clients written before
// Thread.locked, as it now means: locked, the state unchanged. On
// UpdateThread (paths, the update mask) "state" with LOCKED becomes
// "locked" with true; it returns the paths to apply, or a violation if
// the request also unlocks.
func lockedFromState(v *errs.Violations, t *forumv1.Thread, paths []string) []string {
	if t.GetState() != stateLockedLegacy {
		return paths
	}
	i := slices.Index(paths, "state")
	if i < 0 {
		return paths
	}
	if slices.Contains(paths, "locked") && !t.GetLocked() {
		v.Add("thread.state", "LOCKED (locked: true) contradicts locked: false in the same request")
		return paths
	}
	t.State, t.Locked = forumv1.ThreadState_THREAD_STATE_UNSPECIFIED, true
	paths = slices.Delete(slices.Clone(paths), i, i+1)
	if !slices.Contains(paths, "locked") {
		paths = append(paths, "locked")
	}
	return paths
}

// checkThreadName parses the thread name in field, or records a violation.
func checkThreadName(v *errs.Violations, field, name string) resname.Thread {
	n, err := resname.ParseThread(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

// checkThreadFields validates the fields of t named in paths.
func checkThreadFields(v *errs.Violations, t *forumv1.Thread, paths []string) {
	for _, p := range paths {
		switch p {
		case "theme":
			checkThemeName(v, "thread.theme", t.GetTheme())
		case "title":
			checkText(v, "thread.title", t.GetTitle(), 1, maxTitleChars, false)
		case "body":
			checkBody(v, "thread.body", t.GetBody(), false)
		case "tags":
			checkTags(v, "thread.tags", t.GetTags())
		case "convening":
			if t.GetConvening() != "" {
				checkConveningName(v, "thread.convening", t.GetConvening())
			}
		case "state":
			if s := t.GetState(); s != forumv1.ThreadState_THREAD_STATE_OPEN && s != forumv1.ThreadState_THREAD_STATE_RESOLVED {
				v.Add("thread.state", "must be OPEN or RESOLVED (LOCKED, from before the field locked, means locked: true)")
			}
		}
	}
}

func (t *threadService) GetThread(ctx context.Context, req *forumv1.GetThreadRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.GetThread(ctx, actorFrom(ctx), name)
}

func (t *threadService) ListThreads(ctx context.Context, req *forumv1.ListThreadsRequest) (*forumv1.ListThreadsResponse, error) {
	var v errs.Violations
	q := store.ThreadQuery{PageSize: pageSize(&v, req.GetPageSize()), PageToken: req.GetPageToken(), ShowDeleted: req.GetShowDeleted()}
	if len(req.GetFilter()) > maxFilterBytes {
		v.Add("filter", "must be at most %d bytes long", maxFilterBytes)
	} else if f, err := filter.ParseThreads(req.GetFilter()); err != nil {
		v.Add("filter", "%v", err)
	} else {
		q.Filter = f
	}
	switch strings.Join(strings.Fields(req.GetOrderBy()), " ") {
	case "", "last_activity_time desc":
		q.Order = store.ByActivity
	case "create_time desc":
		q.Order = store.ByCreation
	default:
		v.Add("order_by", "must be \"last_activity_time desc\" (the default) or \"create_time desc\"")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	threads, next, err := t.s.store.ListThreads(ctx, actorFrom(ctx), q)
	if err != nil {
		return nil, err
	}
	return &forumv1.ListThreadsResponse{Threads: threads, NextPageToken: next}, nil
}

func (t *threadService) CreateThread(ctx context.Context, req *forumv1.CreateThreadRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	th := req.GetThread()
	if th == nil {
		v.Add("thread", "is required")
		return nil, v.Err()
	}
	if th.Kind == forumv1.ThreadKind_THREAD_KIND_UNSPECIFIED {
		th.Kind = forumv1.ThreadKind_THREAD_KIND_DISCUSSION
	}
	if th.State == stateLockedLegacy { // from before Thread.locked
		th.State, th.Locked = forumv1.ThreadState_THREAD_STATE_OPEN, true
	}
	if th.State == forumv1.ThreadState_THREAD_STATE_UNSPECIFIED {
		th.State = forumv1.ThreadState_THREAD_STATE_OPEN
	}
	checkThreadFields(&v, th, []string{"theme", "title", "body", "tags", "state", "convening"})
	if _, ok := forumv1.ThreadKind_name[int32(th.Kind)]; !ok {
		v.Add("thread.kind", "must be DISCUSSION, QUESTION, FOLLOW_UP or ANNOUNCEMENT")
	}
	switch {
	case th.Kind == forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP && th.FollowUpOf == "":
		v.Add("thread.follow_up_of", "is required for a FOLLOW_UP thread: name the thread it follows up")
	case th.Kind != forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP && th.FollowUpOf != "":
		v.Add("thread.follow_up_of", "is only for FOLLOW_UP threads; set kind to FOLLOW_UP")
	case th.FollowUpOf != "":
		checkThreadName(&v, "thread.follow_up_of", th.FollowUpOf)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	a := actorFrom(ctx)
	if err := authz.ThreadKind(a, th.Kind); err != nil {
		return nil, err
	}
	var set []string // the moderator-only fields this create sets
	if th.Pinned {
		set = append(set, "pinned")
	}
	if th.Locked {
		set = append(set, "locked")
	}
	if err := authz.ThreadFields(a, th, set); err != nil {
		return nil, err
	}
	html, err := t.s.renderBody("thread.body", th.Body)
	if err != nil {
		return nil, err
	}
	th.BodyHtml = html
	if req.GetValidateOnly() {
		return t.s.store.ValidateThread(ctx, a, th)
	}
	return t.s.store.CreateThread(ctx, a, th, req.GetRequestId())
}

func (t *threadService) UpdateThread(ctx context.Context, req *forumv1.UpdateThreadRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	th := req.GetThread()
	if th == nil {
		v.Add("thread", "is required")
		return nil, v.Err()
	}
	name := checkThreadName(&v, "thread.name", th.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), th, threadUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	paths = lockedFromState(&v, th, paths)
	checkThreadFields(&v, th, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	a := actorFrom(ctx)
	if err := authz.ThreadFields(a, th, paths); err != nil {
		return nil, err
	}
	for _, p := range paths {
		if p == "body" {
			if th.BodyHtml, err = t.s.renderBody("thread.body", th.Body); err != nil {
				return nil, err
			}
		}
	}
	return t.s.store.UpdateThread(ctx, a, name, th, paths)
}

// maxReasonChars bounds the reason of a deletion (delete_reason).
const maxReasonChars = 500

// deleteReason returns the reason of a DeleteThread or DeleteReply request
// without its surrounding white space, and records a violation of the field
// `reason` unless it is empty or one line of at most maxReasonChars
// characters that a name could be (checkText): it is shown beside the
// tombstone, to everyone who may read the post.
func deleteReason(v *errs.Violations, reason string) string {
	reason = strings.TrimSpace(reason)
	checkText(v, "reason", reason, 0, maxReasonChars, false)
	return reason
}

func (t *threadService) DeleteThread(ctx context.Context, req *forumv1.DeleteThreadRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	reason := deleteReason(&v, req.GetReason())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.DeleteThread(ctx, actorFrom(ctx), name, req.GetEtag(), reason)
}

func (t *threadService) UndeleteThread(ctx context.Context, req *forumv1.UndeleteThreadRequest) (*forumv1.Thread, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.UndeleteThread(ctx, actorFrom(ctx), name, req.GetEtag())
}
