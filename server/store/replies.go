package store

import (
	"context"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

func getReply(tx kv.Tx, thread, reply uint64) (*forumv1.Reply, error) {
	r := new(forumv1.Reply)
	ok, err := getProto(tx, bucketReplies, replyKey(thread, reply), r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: reply %s", errs.NotFound, resname.Reply{Thread: resname.Thread{ID: thread}, ID: reply})
	}
	return r, nil
}

// visibleReply loads a reply whose thread the actor may see, and the head
// of that thread.
func visibleReply(tx kv.Tx, access *themeAccess, name resname.Reply) (*forumv1.Reply, threadHead, uint64, error) {
	t, err := visibleThreadHead(tx, access, name.Thread.ID)
	if err != nil {
		return nil, threadHead{}, 0, err
	}
	r, err := getReply(tx, name.Thread.ID, name.ID)
	if err != nil {
		return nil, threadHead{}, 0, err
	}
	return r, t, name.ID, nil
}

// GetReply returns a reply; a deleted one is a tombstone without a body.
func (s *Store) GetReply(ctx context.Context, actor authz.Actor, name resname.Reply) (*forumv1.Reply, error) {
	var out *forumv1.Reply
	access := s.themeAccess(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		if out, _, _, err = visibleReply(tx, access, name); err != nil {
			return err
		}
		answer, err := readAcceptedAnswer(tx, name.Thread.ID)
		if err != nil {
			return err
		}
		return fillReply(tx, actor, out, name.Thread.ID, answer)
	})
	return out, err
}

// ListReplies returns up to pageSize replies of thread parent in creation
// order, tombstones included, and the token of the next page. Reply ids grow
// in commit order, so a token (the last id returned) never skips or repeats
// a reply, however many are added between pages.
func (s *Store) ListReplies(ctx context.Context, actor authz.Actor, parent resname.Thread, pageSize int, pageToken string) ([]*forumv1.Reply, string, error) {
	tid := parent.ID
	prefix := u64(tid)
	p := page{query: "ListReplies\x00" + parent.String(), bucket: bucketReplies, start: prefix, end: prefixEnd(prefix), size: pageSize, token: pageToken}
	access := s.themeAccess(actor) // before listPage's transaction
	var answer string
	visible := func(tx kv.Tx) error {
		if _, err := visibleThreadHead(tx, access, tid); err != nil {
			return err
		}
		var err error
		answer, err = readAcceptedAnswer(tx, tid)
		return err
	}
	var page []*forumv1.Reply // and the one after it, read to know there is one
	fill := func(_ kv.Tx, r *forumv1.Reply) (bool, error) {
		page = append(page, r)
		return true, nil
	}
	p.after = func(tx kv.Tx) error { return fillReplies(tx, actor, tid, answer, page) }
	return listPage(ctx, s, p, func() *forumv1.Reply { return new(forumv1.Reply) }, visible, fill)
}

// CreateReply adds a reply by actor to thread parent. r has been validated
// and rendered; r.InReplyTo, if set, names a reply of the same thread. The
// thread's reply count and last activity change in the same transaction.
func (s *Store) CreateReply(ctx context.Context, actor authz.Actor, parent resname.Thread, r *forumv1.Reply, requestID string) (*forumv1.Reply, error) {
	var out *forumv1.Reply
	req := s.newRequest("CreateReply", requestID, parent, r)
	err := s.update(ctx, func(tx kv.Tx) error {
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseReply(name)
			out, err = getReply(tx, n.Thread.ID, n.ID)
			return err
		}
		t, err := s.checkNewReply(tx, actor, parent, r)
		if err != nil {
			return err
		}
		rid, err := tx.NextSequence(bucketReplies)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		out = &forumv1.Reply{
			Name:       resname.Reply{Thread: resname.Thread{ID: t.id}, ID: rid}.String(),
			Body:       r.Body,
			BodyHtml:   r.BodyHtml,
			Author:     actor.User,
			InReplyTo:  r.InReplyTo,
			CreateTime: now,
			UpdateTime: now,
			Etag:       etag(now),
		}
		if err := putProto(tx, bucketReplies, replyKey(t.id, rid), out); err != nil {
			return err
		}
		c, err := threadCounters(tx, t.id)
		if err != nil {
			return err
		}
		prev := c.lastActivity
		c.count++
		c.lastActivity = max(c.lastActivity, activityNanos(now))
		if err := tx.Put(bucketThreadStats, threadKey(t.id), countersValue(c)); err != nil {
			return err
		}
		if c.lastActivity != prev {
			if err := indexActivity(tx, t.theme, t.pinned, prev, t.id, true); err != nil {
				return err
			}
			if err := indexActivity(tx, t.theme, t.pinned, c.lastActivity, t.id, false); err != nil {
				return err
			}
		}
		if err := adjustTheme(tx, t.theme, 0, now); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, replyEvent(actor, forumv1.EventType_EVENT_TYPE_REPLY_CREATED, out, t.theme, nil)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkNewReply makes the checks of CreateReply that need stored data and
// returns the head of the thread replied to: the actor may see the thread,
// which is neither deleted nor locked, and r.InReplyTo, if set, is one of
// its replies.
func (s *Store) checkNewReply(tx kv.Tx, actor authz.Actor, parent resname.Thread, r *forumv1.Reply) (threadHead, error) {
	t, err := visibleThreadHead(tx, s.themeAccess(actor), parent.ID)
	if err != nil {
		return threadHead{}, err
	}
	if t.deleted {
		return threadHead{}, fmt.Errorf("%w: thread %s is deleted", errs.FailedPrecondition, parent)
	}
	if t.locked {
		return threadHead{}, fmt.Errorf("%w: thread %s is locked", errs.FailedPrecondition, parent)
	}
	if r.InReplyTo != "" {
		irt, err := resname.ParseReply(r.InReplyTo)
		if err != nil {
			return threadHead{}, errs.InvalidField("reply.in_reply_to", "%v", err)
		}
		if _, err := getReply(tx, parent.ID, irt.ID); err != nil {
			return threadHead{}, errs.InvalidField("reply.in_reply_to", "reply %s does not exist", r.InReplyTo)
		}
	}
	return t, nil
}

// ValidateReply makes every check CreateReply makes, in a read-only
// transaction, and returns the reply CreateReply would create, without the
// name, times and etag it would be given (AIP-163 validate_only).
func (s *Store) ValidateReply(ctx context.Context, actor authz.Actor, parent resname.Thread, r *forumv1.Reply) (*forumv1.Reply, error) {
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		_, err := s.checkNewReply(tx, actor, parent, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &forumv1.Reply{Body: r.Body, BodyHtml: r.BodyHtml, Author: actor.User, InReplyTo: r.InReplyTo}, nil
}

// UpdateReply replaces the body (and body_html) of reply name (u.Name,
// parsed). If u.Etag is set it must match.
func (s *Store) UpdateReply(ctx context.Context, actor authz.Actor, name resname.Reply, u *forumv1.Reply) (*forumv1.Reply, error) {
	var out *forumv1.Reply
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, t, rid, err := visibleReply(tx, s.themeAccess(actor), name)
		if err != nil {
			return err
		}
		if err := checkPostChange(actor, opEdit, replyPost(cur, t), "reply.etag", u.Etag); err != nil {
			return err
		}
		if err := keepReplyVersion(tx, t.id, rid, cur); err != nil {
			return err
		}
		before := replyRevision(t.id, rid, cur, cur.Author, cur.CreateTime)
		if cur.EditCount > 0 {
			before.Editor, before.CreateTime = "", cur.UpdateTime // stored already: recordEdit keeps the stored one
		}
		cur.Body, cur.BodyHtml = u.Body, u.BodyHtml
		cur.EditCount++
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		if err := recordEdit(tx, t.id, rid, before, replyRevision(t.id, rid, cur, actor.User, cur.UpdateTime)); err != nil {
			return err
		}
		out = cur
		if err := putProto(tx, bucketReplies, replyKey(t.id, rid), cur); err != nil {
			return err
		}
		if err := s.appendEvent(tx, cur.UpdateTime, replyEvent(actor, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED, cur, t.theme, replyPaths)); err != nil {
			return err
		}
		answer, err := readAcceptedAnswer(tx, t.id)
		if err != nil {
			return err
		}
		return fillReply(tx, actor, out, t.id, answer) // after the record is written: it does not keep these
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteReply turns a reply into a tombstone (its body removed) that
// records the actor as its deleted_by and reason (validated by the caller)
// as its delete_reason, and returns it. The thread's reply count drops by
// one. checkPostChange says who may.
func (s *Store) DeleteReply(ctx context.Context, actor authz.Actor, name resname.Reply, wantEtag, reason string) (*forumv1.Reply, error) {
	var out *forumv1.Reply
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, t, rid, err := visibleReply(tx, s.themeAccess(actor), name)
		if err != nil {
			return err
		}
		if err := checkPostChange(actor, opDelete, replyPost(cur, t), "etag", wantEtag); err != nil {
			return err
		}
		cur.Body, cur.BodyHtml = "", ""
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.DeleteTime = cur.UpdateTime
		cur.DeletedBy, cur.DeleteReason = actor.User, reason
		cur.Etag = etag(cur.UpdateTime)
		if err := putProto(tx, bucketReplies, replyKey(t.id, rid), cur); err != nil {
			return err
		}
		c, err := threadCounters(tx, t.id)
		if err != nil {
			return err
		}
		c.count--
		out = cur
		if err := tx.Put(bucketThreadStats, threadKey(t.id), countersValue(c)); err != nil {
			return err
		}
		return s.appendEvent(tx, cur.UpdateTime, replyEvent(actor, forumv1.EventType_EVENT_TYPE_REPLY_DELETED, cur, t.theme, nil))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
