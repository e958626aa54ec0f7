package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store/kv"
)

// stateLockedLegacy is THREAD_STATE_LOCKED, deprecated since Thread.locked:
// accepted on input, from older clients, as locked with the state
// unchanged (named by its name here, not by the deprecated identifier).
var stateLockedLegacy = forumv1.ThreadState(forumv1.ThreadState_value["THREAD_STATE_LOCKED"])

// ThreadOrder is the order of ListThreads.
type ThreadOrder int

const (
	// ByActivity lists pinned threads first, then by last activity, newest
	// first.
	ByActivity ThreadOrder = iota
	// ByCreation lists threads by creation, newest first.
	ByCreation
)

// ThreadQuery selects threads for ListThreads.
type ThreadQuery struct {
	// Filter selects threads; nil selects all.
	Filter *filter.Threads
	// Order is the order of the results.
	Order ThreadOrder
	// ShowDeleted includes the deleted threads the actor may see.
	ShowDeleted bool
	// PageSize is the maximum number of threads returned (1-100).
	PageSize int
	// PageToken resumes a previous call with the same query.
	PageToken string
}

// maxScan bounds the index entries one ListThreads call examines, so a
// filter that matches little cannot hold a read transaction for long. A page
// can then be short, with a token to go on.
const maxScan = 5000

func getThread(tx kv.Tx, id uint64) (*forumv1.Thread, error) {
	t := new(forumv1.Thread)
	ok, err := getProto(tx, bucketThreads, threadKey(id), t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: thread %s", errs.NotFound, resname.Thread{ID: id})
	}
	c, err := threadCounters(tx, id)
	if err != nil {
		return nil, err
	}
	t.ReplyCount, t.LastActivityTime = c.count, activityTime(c.lastActivity)
	return t, nil
}

// threadCounters returns the counters of thread id, which every thread has.
func threadCounters(tx kv.Tx, id uint64) (counters, error) {
	c, ok, err := getCounters(tx, bucketThreadStats, threadKey(id))
	if err == nil && !ok {
		err = fmt.Errorf("store: thread %s has no counters in %s", resname.Thread{ID: id}, bucketThreadStats)
	}
	return c, err
}

// putThread stores thread t (id) without its counters, which live in
// threadStats, without its follow-ups, which come from the followUps
// index, and without its reactions and read position (reactions, readMarks),
// and stores its head in threadHeads. Every write of a thread goes
// through it, so the head never differs from the record. t itself is left
// as it was.
func putThread(tx kv.Tx, id uint64, t *forumv1.Thread) error {
	replies, last, followUps, reactions := t.ReplyCount, t.LastActivityTime, t.FollowUps, t.Reactions
	unread, firstUnread := t.UnreadReplyCount, t.FirstUnreadReply
	t.ReplyCount, t.LastActivityTime, t.FollowUps, t.Reactions = 0, nil, nil, nil
	t.UnreadReplyCount, t.FirstUnreadReply = 0, ""
	err := putProto(tx, bucketThreads, threadKey(id), t)
	t.ReplyCount, t.LastActivityTime, t.FollowUps, t.Reactions = replies, last, followUps, reactions
	t.UnreadReplyCount, t.FirstUnreadReply = unread, firstUnread
	if err != nil {
		return err
	}
	return tx.Put(bucketThreadHeads, threadKey(id), threadHeadValue(headOf(t)))
}

// getCounters returns the counters stored under key in b, threadStats or
// themeStats, and whether there are any.
func getCounters(tx kv.Tx, b kv.Bucket, key []byte) (counters, bool, error) {
	v, err := tx.Get(b, key)
	if err != nil || v == nil {
		return counters{}, false, err
	}
	c, err := parseCounters(b, v)
	return c, err == nil, err
}

// threadHead is what replies need to know of their thread: its own small
// record in threadHeads (threadHeadValue), which putThread keeps equal to
// the thread's record, so that checking a thread does not decode its title,
// body, tags or times: for a long first post that would be most of the work
// of a reply.
type threadHead struct {
	id            uint64
	theme, author string
	state         forumv1.ThreadState
	pinned        bool
	locked        bool
	deleted       bool
}

// headOf returns the head of thread t, without its id.
func headOf(t *forumv1.Thread) threadHead {
	return threadHead{theme: t.Theme, author: t.Author, state: t.State, pinned: t.Pinned, locked: t.Locked, deleted: t.DeleteTime != nil}
}

// readThreadHead returns the head of thread id from threadHeads.
func readThreadHead(tx kv.Tx, id uint64) (threadHead, error) {
	v, err := tx.Get(bucketThreadHeads, threadKey(id))
	if err != nil {
		return threadHead{}, err
	}
	if v == nil {
		return threadHead{}, fmt.Errorf("%w: thread %s", errs.NotFound, resname.Thread{ID: id})
	}
	h, err := parseThreadHead(v)
	if err != nil {
		return threadHead{}, fmt.Errorf("store: corrupt record in %s: %w", bucketThreadHeads, err)
	}
	h.id = id
	return h, nil
}

// visibleThreadHead is visibleThread for callers that need only the head.
func visibleThreadHead(tx kv.Tx, access *themeAccess, id uint64) (threadHead, error) {
	h, err := readThreadHead(tx, id)
	if err != nil {
		return threadHead{}, err
	}
	if h.deleted && !authz.SeeDeleted(access.actor, h.author) {
		return threadHead{}, fmt.Errorf("%w: thread %s", errs.NotFound, resname.Thread{ID: id})
	}
	if ok, err := access.allows(tx, h.theme); err != nil {
		return threadHead{}, err
	} else if !ok {
		return threadHead{}, fmt.Errorf("%w: thread %s", errs.NotFound, resname.Thread{ID: id})
	}
	return h, nil
}

// visibleThread loads a thread the actor may see: one in a theme the actor
// may see, and if deleted, only to its author and moderators.
func visibleThread(tx kv.Tx, access *themeAccess, n resname.Thread) (*forumv1.Thread, uint64, error) {
	t, err := getThread(tx, n.ID)
	if err != nil {
		return nil, 0, err
	}
	if t.DeleteTime != nil && !authz.SeeDeleted(access.actor, t.Author) {
		return nil, 0, fmt.Errorf("%w: thread %s", errs.NotFound, n)
	}
	if ok, err := access.allows(tx, t.Theme); err != nil {
		return nil, 0, err
	} else if !ok {
		return nil, 0, fmt.Errorf("%w: thread %s", errs.NotFound, n)
	}
	return t, n.ID, nil
}

// fillFollowUps sets t.FollowUps from the follow-up index, leaving out
// deleted follow-ups and those in themes the actor may not see. The index
// value carries each follow-up's state (followUpValue), so no follow-up
// thread is decoded.
func fillFollowUps(tx kv.Tx, access *themeAccess, t *forumv1.Thread, id uint64) error {
	t.FollowUps = nil
	p := u64(id)
	type entry struct {
		id      uint64
		deleted bool
		theme   string
	}
	var entries []entry
	if err := tx.Scan(bucketFollowUps, p, prefixEnd(p), false, func(k, v []byte) bool {
		e := entry{id: readU64(k[8:])}
		if len(v) > 0 {
			e.deleted, e.theme = v[0] == 1, string(v[1:])
		}
		entries = append(entries, e)
		return true
	}); err != nil {
		return err
	}
	for _, e := range entries {
		if e.theme == "" { // an entry without a value: read the thread's head
			child, err := readThreadHead(tx, e.id)
			if err != nil {
				return err
			}
			e.deleted, e.theme = child.deleted, child.theme
		}
		ok, err := access.allows(tx, e.theme)
		if err != nil {
			return err
		}
		if ok && !e.deleted {
			t.FollowUps = append(t.FollowUps, resname.Thread{ID: e.id}.String())
		}
	}
	return nil
}

// putFollowUp records follow-up thread t (id) under its parent, with what
// fillFollowUps needs to know of it.
func putFollowUp(tx kv.Tx, t *forumv1.Thread, id uint64) error {
	if t.FollowUpOf == "" {
		return nil
	}
	parent, _ := resname.ParseThread(t.FollowUpOf)
	return tx.Put(bucketFollowUps, followUpKey(parent.ID, id), followUpValue(t.DeleteTime != nil, t.Theme))
}

// indexThread adds (or, with del, removes) the thread's entries in the
// activity indexes.
func indexThread(tx kv.Tx, t *forumv1.Thread, id uint64, del bool) error {
	return indexActivity(tx, t.Theme, t.Pinned, activityNanos(t.LastActivityTime), id, del)
}

// indexActivity adds (or, with del, removes) the activity index entries of
// thread id in theme, pinned or not, last active at (unix ns).
func indexActivity(tx kv.Tx, theme string, pinned bool, at int64, id uint64, del bool) error {
	slug := themeSlug(theme)
	keys := [2][]byte{rankKey(pinned, at, id), themeActivityKey(slug, pinned, at, id)}
	buckets := [2]kv.Bucket{bucketThreadActivity, bucketThemeActivity}
	for i, k := range keys {
		var err error
		if del {
			err = tx.Delete(buckets[i], k)
		} else {
			err = tx.Put(buckets[i], k, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// adjustTheme changes a theme's thread count by delta and moves its last
// activity forward to at, if set.
func adjustTheme(tx kv.Tx, name string, delta int64, at *timestamppb.Timestamp) error {
	key := []byte(themeSlug(name))
	c, _, err := getCounters(tx, bucketThemeStats, key)
	if err != nil {
		return err
	}
	c.count += delta
	c.lastActivity = max(c.lastActivity, activityNanos(at))
	return tx.Put(bucketThemeStats, key, countersValue(c))
}

// GetThread returns a thread with its follow-ups.
func (s *Store) GetThread(ctx context.Context, actor authz.Actor, name resname.Thread) (*forumv1.Thread, error) {
	var out *forumv1.Thread
	access := s.themeAccess(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		t, id, err := visibleThread(tx, access, name)
		if err != nil {
			return err
		}
		out = t
		if err := fillThread(tx, access, t, id); err != nil {
			return err
		}
		return setUnread(tx, actor, t)
	})
	return out, err
}

// CreateThread creates a thread written by actor. t has been validated and
// its body rendered; its theme and follow_up_of must exist.
func (s *Store) CreateThread(ctx context.Context, actor authz.Actor, t *forumv1.Thread, requestID string) (*forumv1.Thread, error) {
	var out *forumv1.Thread
	req := s.newRequest("CreateThread", requestID, t)
	err := s.update(ctx, func(tx kv.Tx) error {
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseThread(name)
			th, err := getThread(tx, n.ID)
			if err == nil {
				out = th
				err = fillThread(tx, s.themeAccess(actor), th, n.ID)
			}
			return err
		}
		if err := s.checkNewThread(tx, actor, t); err != nil {
			return err
		}
		id, err := tx.NextSequence(bucketThreads)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		th := proto.CloneOf(t)
		th.Name = resname.Thread{ID: id}.String()
		th.Author = actor.User
		th.FollowUps = nil
		th.ReplyCount = 0
		th.AcceptedAnswer, th.Reactions = "", nil
		if th.State == stateLockedLegacy { // from before Thread.locked
			th.State, th.Locked = forumv1.ThreadState_THREAD_STATE_OPEN, true
		}
		th.CreateTime, th.UpdateTime, th.LastActivityTime, th.DeleteTime = now, now, now, nil
		th.Etag = etag(now)
		if th.Convening == "" && th.FollowUpOf != "" {
			// A follow-up belongs to its parent's convening, unless told
			// otherwise.
			n, _ := resname.ParseThread(th.FollowUpOf)
			if th.Convening, err = readThreadConvening(tx, n.ID); err != nil {
				return err
			}
		}
		if err := setThreadConvening(tx, id, "", th.Convening, "thread.convening"); err != nil {
			return err
		}
		if err := putThread(tx, id, th); err != nil {
			return err
		}
		if err := tx.Put(bucketThreadStats, threadKey(id), countersValue(counters{lastActivity: activityNanos(now)})); err != nil {
			return err
		}
		if err := indexThread(tx, th, id, false); err != nil {
			return err
		}
		if err := tx.Put(bucketThemeCreated, themeCreatedKey(themeSlug(th.Theme), id), nil); err != nil {
			return err
		}
		if err := putFollowUp(tx, th, id); err != nil {
			return err
		}
		if err := adjustTheme(tx, th.Theme, 1, now); err != nil {
			return err
		}
		if err := s.appendThreadEvent(tx, now, actor, forumv1.EventType_EVENT_TYPE_THREAD_CREATED, th, nil); err != nil {
			return err
		}
		out = th
		return remember(tx, actor, req, th.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkNewThread makes the checks of CreateThread that need stored data:
// the theme exists and the actor may see it, and so does the followed-up
// thread, which is not deleted.
func (s *Store) checkNewThread(tx kv.Tx, actor authz.Actor, t *forumv1.Thread) error {
	if _, err := visibleThemeNamed(tx, actor, t.Theme); err != nil {
		return errs.InvalidField("thread.theme", "theme %s does not exist", t.Theme)
	}
	if t.FollowUpOf != "" {
		n, err := resname.ParseThread(t.FollowUpOf)
		if err != nil {
			return errs.InvalidField("thread.follow_up_of", "%v", err)
		}
		p, err := visibleThreadHead(tx, s.themeAccess(actor), n.ID)
		if err != nil || p.deleted {
			return errs.InvalidField("thread.follow_up_of", "thread %s does not exist", t.FollowUpOf)
		}
	}
	return nil
}

// ValidateThread makes every check CreateThread makes, in a read-only
// transaction, and returns the thread CreateThread would create, without
// the name, times and etag it would be given (AIP-163 validate_only).
func (s *Store) ValidateThread(ctx context.Context, actor authz.Actor, t *forumv1.Thread) (*forumv1.Thread, error) {
	err := s.kv.View(ctx, func(tx kv.Tx) error { return s.checkNewThread(tx, actor, t) })
	if err != nil {
		return nil, err
	}
	th := proto.CloneOf(t)
	th.Name, th.Author, th.FollowUps, th.ReplyCount, th.Etag = "", actor.User, nil, 0, ""
	th.CreateTime, th.UpdateTime, th.LastActivityTime, th.DeleteTime = nil, nil, nil, nil
	return th, nil
}

// UpdateThread changes the fields of thread name (u.Name, parsed) named in
// paths (title, body with body_html, tags, state, pinned, theme). The caller
// has checked that the actor's role allows those fields; the store checks
// that the actor may change this thread, the etag (u.Etag, if set) and the
// thread's state.
func (s *Store) UpdateThread(ctx context.Context, actor authz.Actor, name resname.Thread, u *forumv1.Thread, paths []string) (*forumv1.Thread, error) {
	var out *forumv1.Thread
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, id, err := visibleThread(tx, s.themeAccess(actor), name)
		if err != nil {
			return err
		}
		if err := checkPostChange(actor, opEdit, threadPost(cur), "thread.etag", u.Etag); err != nil {
			return err
		}
		next := proto.CloneOf(cur)
		for _, p := range paths {
			switch p {
			case "title":
				next.Title = u.Title
			case "body":
				next.Body, next.BodyHtml = u.Body, u.BodyHtml
			case "tags":
				next.Tags = slices.Clone(u.Tags)
			case "state":
				if u.State == stateLockedLegacy {
					next.Locked = true // from before Thread.locked: the state stays
				} else {
					next.State = u.State
				}
			case "locked":
				next.Locked = u.Locked
			case "convening":
				if err := setThreadConvening(tx, id, cur.Convening, u.Convening, "thread.convening"); err != nil {
					return err
				}
				next.Convening = u.Convening
			case "pinned":
				next.Pinned = u.Pinned
			case "theme":
				if _, err := visibleThemeNamed(tx, actor, u.Theme); err != nil {
					return errs.InvalidField("thread.theme", "theme %s does not exist", u.Theme)
				}
				next.Theme = u.Theme
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		if next.Pinned != cur.Pinned || next.Theme != cur.Theme {
			if err := indexThread(tx, cur, id, true); err != nil {
				return err
			}
			if err := indexThread(tx, next, id, false); err != nil {
				return err
			}
		}
		if next.Theme != cur.Theme {
			if err := tx.Delete(bucketThemeCreated, themeCreatedKey(themeSlug(cur.Theme), id)); err != nil {
				return err
			}
			if err := tx.Put(bucketThemeCreated, themeCreatedKey(themeSlug(next.Theme), id), nil); err != nil {
				return err
			}
			if err := adjustTheme(tx, cur.Theme, -1, nil); err != nil {
				return err
			}
			if err := adjustTheme(tx, next.Theme, 1, next.LastActivityTime); err != nil {
				return err
			}
			if err := putFollowUp(tx, next, id); err != nil {
				return err
			}
		}
		next.UpdateTime = s.timestamp(cur.UpdateTime)
		next.Etag = etag(next.UpdateTime)
		if next.Title != cur.Title || next.Body != cur.Body || !slices.Equal(next.Tags, cur.Tags) {
			// An edit of the post: its history (revisions.go). The version
			// replaced is stored only if it is the first (its author's).
			before := threadRevision(id, cur, cur.Author, cur.CreateTime)
			if err := recordEdit(tx, id, 0, before, threadRevision(id, next, actor.User, next.UpdateTime)); err != nil {
				return err
			}
		}
		if err := putThread(tx, id, next); err != nil {
			return err
		}
		if err := s.appendThreadEvent(tx, next.UpdateTime, actor, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, next, paths); err != nil {
			return err
		}
		out = next
		return fillThread(tx, s.themeAccess(actor), next, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteThread soft-deletes a thread and returns it, recording the actor as
// its deleted_by and reason (validated by the caller) as its delete_reason.
// checkPostChange says who may.
func (s *Store) DeleteThread(ctx context.Context, actor authz.Actor, name resname.Thread, wantEtag, reason string) (*forumv1.Thread, error) {
	return s.setThreadDeleted(ctx, actor, name, wantEtag, true, reason)
}

// UndeleteThread restores a soft-deleted thread and returns it, with its
// deleted_by and delete_reason cleared. checkPostChange says who may: only
// a moderator restores a thread a moderator deleted.
func (s *Store) UndeleteThread(ctx context.Context, actor authz.Actor, name resname.Thread, wantEtag string) (*forumv1.Thread, error) {
	return s.setThreadDeleted(ctx, actor, name, wantEtag, false, "")
}

func (s *Store) setThreadDeleted(ctx context.Context, actor authz.Actor, name resname.Thread, wantEtag string, del bool, reason string) (*forumv1.Thread, error) {
	var out *forumv1.Thread
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, id, err := visibleThread(tx, s.themeAccess(actor), name)
		if err != nil {
			return err
		}
		op := opUndelete
		if del {
			op = opDelete
		}
		if err := checkPostChange(actor, op, threadPost(cur), "etag", wantEtag); err != nil {
			return err
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		delta := int64(1)
		if del {
			cur.DeleteTime = cur.UpdateTime
			cur.DeletedBy, cur.DeleteReason = actor.User, reason
			delta = -1
		} else {
			cur.DeleteTime = nil
			cur.DeletedBy, cur.DeleteReason = "", ""
		}
		if err := putThread(tx, id, cur); err != nil {
			return err
		}
		if err := putFollowUp(tx, cur, id); err != nil {
			return err
		}
		if err := adjustTheme(tx, cur.Theme, delta, nil); err != nil {
			return err
		}
		typ := forumv1.EventType_EVENT_TYPE_THREAD_UNDELETED
		if del {
			typ = forumv1.EventType_EVENT_TYPE_THREAD_DELETED
		}
		if err := s.appendThreadEvent(tx, cur.UpdateTime, actor, typ, cur, nil); err != nil {
			return err
		}
		out = cur
		return fillThread(tx, s.themeAccess(actor), cur, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListThreads returns a page of the threads q selects, and the token of the
// next page.
func (s *Store) ListThreads(ctx context.Context, actor authz.Actor, q ThreadQuery) ([]*forumv1.Thread, string, error) {
	query := fmt.Sprintf("ListThreads\x00%s\x00%d\x00%t", q.Filter.String(), q.Order, q.ShowDeleted)
	cursor, err := s.decodeToken(query, q.PageToken)
	if err != nil {
		return nil, "", err
	}
	// Pick the index: per theme when the filter names one theme.
	var (
		bucket     kv.Bucket
		prefix     []byte
		reverse    bool
		idFromKey  func(k []byte) uint64
		slug, isTh = q.Filter.Theme()
	)
	switch {
	case q.Order == ByActivity && isTh:
		bucket, prefix, idFromKey = bucketThemeActivity, themePrefix(themeSlug(slug)), idFromRankKey
	case q.Order == ByActivity:
		bucket, idFromKey = bucketThreadActivity, idFromRankKey
	case isTh:
		bucket, prefix, reverse, idFromKey = bucketThemeCreated, themePrefix(themeSlug(slug)), true, idFromRankKey
	default:
		bucket, reverse, idFromKey = bucketThreads, true, readU64
	}
	start, end := prefix, prefixEnd(prefix)
	if len(prefix) == 0 {
		start, end = nil, nil
	}
	if cursor != nil {
		if reverse {
			end = cursor
		} else {
			start = after(cursor)
		}
	}
	var out []*forumv1.Thread
	var next string
	access := s.themeAccess(actor)
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		var last []byte
		scanned := 0
		var ierr error
		authors := userCache{}
		size := 0 // of the threads in out (see MaxPageBytes)
		err := tx.Scan(bucket, start, end, reverse, func(k, _ []byte) bool {
			if len(out) == q.PageSize || scanned == maxScan {
				next = s.encodeToken(query, last)
				return false
			}
			scanned++
			// done moves the page's cursor past k.
			done := func() bool { last = append(last[:0], k...); return true }
			t, err := getThread(tx, idFromKey(k))
			if err != nil {
				ierr = err
				return false
			}
			if t.DeleteTime != nil && !(q.ShowDeleted && authz.SeeDeleted(actor, t.Author)) {
				return done()
			}
			var visible bool
			if visible, ierr = access.allows(tx, t.Theme); ierr != nil {
				return false
			} else if !visible {
				return done()
			}
			if t.AcceptedAnswer != "" {
				// As readers see it (a deleted answer is none), before
				// the filter's answered.
				id, _ := resname.ParseThread(t.Name)
				if t.AcceptedAnswer, ierr = acceptedAnswer(tx, t, id.ID); ierr != nil {
					return false
				}
			}
			var author *forumv1.User
			if q.Filter.NeedsAuthor() {
				if author, ierr = authors.get(tx, t.Author); ierr != nil {
					return false
				}
			}
			if !q.Filter.Match(t, author) {
				return done()
			}
			n := proto.Size(t)
			if len(out) > 0 && size+n > MaxPageBytes {
				// The next page starts with t.
				next = s.encodeToken(query, last)
				return false
			}
			out, size = append(out, t), size+n
			return done()
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		for _, t := range out {
			n, _ := resname.ParseThread(t.Name)
			if err := fillThread(tx, access, t, n.ID); err != nil {
				return err
			}
			if err := setUnread(tx, actor, t); err != nil {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

// userCache remembers the users a list has looked up.
type userCache map[string]*forumv1.User

func (c userCache) get(tx kv.Tx, name string) (*forumv1.User, error) {
	if u, ok := c[name]; ok {
		return u, nil
	}
	user, err := resname.ParseUser(name)
	if err != nil {
		return nil, err
	}
	u, err := getUser(tx, user.ID)
	if errors.Is(err, errs.NotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c[name] = u
	return u, nil
}
