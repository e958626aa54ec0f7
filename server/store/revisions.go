package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Revisions (schema 9) are a post's versions, in revisions: postKey (thread
// id, reply id; 0 for the thread's opening post), revision number → Revision,
// and under number 0 the last number (u64).
// A post never edited has none stored: its one revision is its record. The
// first edit stores the version it replaces as revision 1 and its own as 2;
// each later edit stores only its own, numbered after the last: an edit
// costs the same however many came before (one seek for the last number).

func revisionKey(thread, reply, n uint64) []byte {
	return append(postKey(thread, reply), u64(n)...)
}

// postName is the name of post (thread, reply).
func postName(thread, reply uint64) string {
	if reply == 0 {
		return resname.Thread{ID: thread}.String()
	}
	return resname.Reply{Thread: resname.Thread{ID: thread}, ID: reply}.String()
}

// revisionOf is a version of a post as a Revision numbered n.
func revisionOf(thread, reply, n uint64, title, body, html string, tags []string, editor string, at *timestamppb.Timestamp) *forumv1.Revision {
	return &forumv1.Revision{
		Name: postName(thread, reply) + "/revisions/" + strconv.FormatUint(n, 10), Number: int32(min(n, 1<<31-1)),
		Title: title, Body: body, BodyHtml: html, Tags: slices.Clone(tags), Editor: editor, CreateTime: at,
	}
}

// lastRevision returns the number of post (thread, reply)'s last stored
// revision, 0 if none is: kept under revision number 0, so that finding
// it is one Get (a scan for the last key would read, in the store's
// overlay of recent writes, every revision not yet checkpointed).
func lastRevision(tx kv.Tx, thread, reply uint64) (uint64, error) {
	n, _, err := getU64(tx, bucketRevisions, revisionKey(thread, reply, 0))
	return n, err
}

// recordEdit stores the revisions of an edit of post (thread, reply):
// before, the version it replaces (stored as revision 1 if the post has
// none yet), and after, the edit's own.
func recordEdit(tx kv.Tx, thread, reply uint64, before, after *forumv1.Revision) error {
	last, err := lastRevision(tx, thread, reply)
	if err != nil {
		return err
	}
	if last == 0 {
		before.Name, before.Number = postName(thread, reply)+"/revisions/1", 1
		if err := putProto(tx, bucketRevisions, revisionKey(thread, reply, 1), before); err != nil {
			return err
		}
		last = 1
	}
	after.Name, after.Number = postName(thread, reply)+"/revisions/"+strconv.FormatUint(last+1, 10), int32(min(last+1, 1<<31-1))
	if err := putProto(tx, bucketRevisions, revisionKey(thread, reply, last+1), after); err != nil {
		return err
	}
	return tx.Put(bucketRevisions, revisionKey(thread, reply, 0), u64(last+1))
}

// threadRevision is thread t's current version, as a Revision by editor
// at time at.
func threadRevision(id uint64, t *forumv1.Thread, editor string, at *timestamppb.Timestamp) *forumv1.Revision {
	return revisionOf(id, 0, 0, t.Title, t.Body, t.BodyHtml, t.Tags, editor, at)
}

// replyRevision is reply r's current version, as a Revision.
func replyRevision(thread, reply uint64, r *forumv1.Reply, editor string, at *timestamppb.Timestamp) *forumv1.Revision {
	return revisionOf(thread, reply, 0, "", r.Body, r.BodyHtml, nil, editor, at)
}

// historyPost returns the current revision of post (thread, reply) if
// actor may read its history: whoever may read the post, and for a
// deleted post (or a reply of a deleted thread) only moderators.
func (s *Store) historyPost(tx kv.Tx, actor authz.Actor, thread, reply uint64) (*forumv1.Revision, error) {
	t, _, err := visibleThread(tx, s.themeAccess(actor), resname.Thread{ID: thread})
	if err != nil {
		return nil, err
	}
	gone := fmt.Errorf("%w: the history of %s (deleted: moderators only)", errs.NotFound, postName(thread, reply))
	if t.DeleteTime != nil && !actor.Moderator() {
		return nil, gone
	}
	if reply == 0 {
		return threadRevision(thread, t, t.Author, t.CreateTime), nil
	}
	r, err := getReply(tx, thread, reply)
	if err != nil {
		return nil, err
	}
	if r.DeleteTime != nil && !actor.Moderator() {
		return nil, gone
	}
	return replyRevision(thread, reply, r, r.Author, r.CreateTime), nil
}

// ListRevisions returns up to pageSize revisions of post (thread, reply;
// reply 0 for the thread's opening post), the newest first, and the token
// of the next page.
func (s *Store) ListRevisions(ctx context.Context, actor authz.Actor, thread, reply uint64, pageSize int, pageToken string) ([]*forumv1.Revision, string, error) {
	query := "ListRevisions\x00" + postName(thread, reply)
	cursor, err := s.decodeToken(query, pageToken)
	if err != nil {
		return nil, "", err
	}
	var out []*forumv1.Revision
	var next string
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		cur, err := s.historyPost(tx, actor, thread, reply)
		if err != nil {
			return err
		}
		prefix := postKey(thread, reply)
		end := prefixEnd(prefix)
		if cursor != nil {
			end = cursor
		}
		var perr error
		var last []byte
		err = tx.Scan(bucketRevisions, revisionKey(thread, reply, 1), end, true, func(k, v []byte) bool {
			if len(out) == pageSize {
				next = s.encodeToken(query, last)
				return false
			}
			rv := new(forumv1.Revision)
			if ok, err := decodeRevision(v, rv); !ok {
				perr = err
				return false
			}
			out, last = append(out, rv), slices.Clone(k)
			return true
		})
		if err == nil {
			err = perr
		}
		if err == nil && len(out) == 0 && cursor == nil {
			cur.Name, cur.Number = postName(thread, reply)+"/revisions/1", 1
			out = []*forumv1.Revision{cur} // never edited: as written
		}
		return err
	})
	return out, next, err
}

// GetRevision returns revision n of post (thread, reply).
func (s *Store) GetRevision(ctx context.Context, actor authz.Actor, thread, reply, n uint64) (*forumv1.Revision, error) {
	var out *forumv1.Revision
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		cur, err := s.historyPost(tx, actor, thread, reply)
		if err != nil {
			return err
		}
		rv := new(forumv1.Revision)
		ok, err := getProto(tx, bucketRevisions, revisionKey(thread, reply, n), rv)
		if err != nil {
			return err
		}
		if ok {
			out = rv
			return nil
		}
		if n == 1 {
			if last, err := lastRevision(tx, thread, reply); err != nil {
				return err
			} else if last == 0 {
				cur.Name, cur.Number = postName(thread, reply)+"/revisions/1", 1
				out = cur
				return nil
			}
		}
		return fmt.Errorf("%w: revision %s/revisions/%d", errs.NotFound, postName(thread, reply), n)
	})
	return out, err
}

// decodeRevision unmarshals a revisions value into rv.
func decodeRevision(v []byte, rv *forumv1.Revision) (bool, error) {
	if err := proto.Unmarshal(v, rv); err != nil {
		return false, fmt.Errorf("store: corrupt record in %s: %w", bucketRevisions, err)
	}
	return true, nil
}
