package store

import (
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
)

// The changes to a post, as authz names them.
const (
	opEdit     = authz.EditPost
	opDelete   = authz.DeletePost
	opUndelete = authz.UndeletePost
)

// post is what checkPostChange needs to know of the thread or reply
// changed and of the thread it is in: what the rules of authz read, and the
// data the store checks itself.
type post struct {
	authz.Post        // kind, name, author, deleted, deleted_by
	etag       string // its current etag
	thread     string // the thread's name (a thread's own)
	locked     bool   // the thread is LOCKED
	inDeleted  bool   // a reply in a deleted thread
}

// checkPostChange makes the checks every change to a thread or a reply
// makes (UpdateThread, DeleteThread, UndeleteThread, UpdateReply,
// DeleteReply), in one order, so that the same situation gets the same code
// for threads and replies:
//
//  1. PERMISSION_DENIED unless authz.ChangePost allows the change: the
//     author or a moderator; and, to undelete, a moderator when someone
//     other than the author (necessarily a moderator), or no one recorded,
//     deleted the post (authz.RestorePost).
//  2. ABORTED if wantEtag is set and not the post's: the caller decided on
//     a version that is gone, and must read the post again before any
//     verdict on its state (a repeated delete with an etag gets ABORTED, as
//     the client package documents).
//  3. FAILED_PRECONDITION if the post is deleted (edit, delete) or not
//     deleted (undelete); then, unless authz.ChangeLocked lets the actor
//     change a locked thread's posts, if its thread is locked: "thread …
//     is locked", whatever the post; and, by the same rule, if a reply's
//     thread is deleted (no reply is added to a deleted thread either):
//     the thread is restored first.
//
// The caller has already loaded the post as one the actor may see
// (NOT_FOUND otherwise).
func checkPostChange(actor authz.Actor, op authz.PostOp, p post, etagField, wantEtag string) error {
	if err := authz.ChangePost(actor, op, p.Post); err != nil {
		return err
	}
	if err := checkEtag(etagField, wantEtag, p.etag); err != nil {
		return err
	}
	switch {
	case op == opEdit && p.Deleted && p.Kind == "thread" && authz.RestorePost(actor, p.Post) != nil:
		// The actor may not restore it: say why rather than "undelete it first".
		return fmt.Errorf("%w: thread %s is deleted: a moderator removed it", errs.FailedPrecondition, p.Name)
	case op == opEdit && p.Deleted && p.Kind == "thread":
		return fmt.Errorf("%w: thread %s is deleted; undelete it first", errs.FailedPrecondition, p.Name)
	case op == opEdit && p.Deleted:
		return fmt.Errorf("%w: %s %s is deleted", errs.FailedPrecondition, p.Kind, p.Name)
	case op == opDelete && p.Deleted:
		return fmt.Errorf("%w: %s %s is already deleted", errs.FailedPrecondition, p.Kind, p.Name)
	case op == opUndelete && !p.Deleted:
		return fmt.Errorf("%w: %s %s is not deleted", errs.FailedPrecondition, p.Kind, p.Name)
	}
	if p.locked && !authz.ChangeLocked(actor) {
		return fmt.Errorf("%w: thread %s is locked", errs.FailedPrecondition, p.thread)
	}
	if p.inDeleted && !authz.ChangeLocked(actor) {
		return fmt.Errorf("%w: thread %s is deleted; its replies change only once it is restored", errs.FailedPrecondition, p.thread)
	}
	return nil
}

// threadPost is thread t as checkPostChange sees it.
func threadPost(t *forumv1.Thread) post {
	return post{
		Post:   authz.Post{Kind: "thread", Name: t.Name, Author: t.Author, Deleted: t.DeleteTime != nil, DeletedBy: t.DeletedBy},
		etag:   t.Etag,
		thread: t.Name, locked: t.Locked,
	}
}

// replyPost is reply r, in the thread whose head is h, as checkPostChange
// sees it.
func replyPost(r *forumv1.Reply, h threadHead) post {
	return post{
		Post:   authz.Post{Kind: "reply", Name: r.Name, Author: r.Author, Deleted: r.DeleteTime != nil, DeletedBy: r.DeletedBy},
		etag:   r.Etag,
		thread: resname.Thread{ID: h.id}.String(), locked: h.locked,
		inDeleted: h.deleted,
	}
}
