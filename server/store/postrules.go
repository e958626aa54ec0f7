package store

import (
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
)

// postOp is a change to a post (a thread or a reply).
type postOp int

const (
	opEdit postOp = iota
	opDelete
	opUndelete
)

// verb is how the refusals of op name it.
func (op postOp) verb() string {
	switch op {
	case opDelete:
		return "delete"
	case opUndelete:
		return "restore"
	}
	return "change"
}

// post is what checkPostChange needs to know of the thread or reply
// changed and of the thread it is in.
type post struct {
	kind      string // "thread" or "reply"
	name      string
	author    string
	deleted   bool
	deletedBy string // who deleted it, while deleted; "" if not recorded
	etag      string // its current etag
	thread    string // the thread's name (a thread's own)
	locked    bool   // the thread is LOCKED
}

// removedByModerator reports whether a deleted post was deleted by someone
// other than its author, which only a moderator may do. A post deleted
// before deleted_by was recorded (deletedBy empty) counts as removed by a
// moderator: whether its author or a moderator deleted it is unknown, and
// the safe side is to let only a moderator restore it. (Deletions by
// SystemActor, forumd's own admin commands, have no user and so count as a
// moderator's too, which they are.)
func (p post) removedByModerator() bool {
	return p.deleted && (p.deletedBy == "" || p.deletedBy != p.author)
}

// checkPostChange makes the checks every change to a thread or a reply
// makes (UpdateThread, DeleteThread, UndeleteThread, UpdateReply,
// DeleteReply), in one order, so that the same situation gets the same code
// for threads and replies:
//
//  1. PERMISSION_DENIED unless the actor is the author or a moderator; and,
//     to undelete, unless a moderator when someone other than the author
//     (necessarily a moderator), or no one recorded, deleted the post.
//  2. ABORTED if wantEtag is set and not the post's: the caller decided on
//     a version that is gone, and must read the post again before any
//     verdict on its state (a repeated delete with an etag gets ABORTED, as
//     the client package documents).
//  3. FAILED_PRECONDITION if the post is deleted (edit, delete) or not
//     deleted (undelete); then, unless the actor is a moderator, if its
//     thread is locked: "thread … is locked", whatever the post.
//
// The caller has already loaded the post as one the actor may see
// (NOT_FOUND otherwise).
func checkPostChange(actor Actor, op postOp, p post, etagField, wantEtag string) error {
	if !actor.mayChange(p.author) {
		return fmt.Errorf("%w: only the author, conveners and admins %s %s %s", errs.PermissionDenied, op.verb(), p.kind, p.name)
	}
	if op == opUndelete && p.removedByModerator() && !actor.Moderator() {
		return fmt.Errorf("%w: a moderator removed %s %s; only conveners and admins restore it", errs.PermissionDenied, p.kind, p.name)
	}
	if err := checkEtag(etagField, wantEtag, p.etag); err != nil {
		return err
	}
	switch {
	case op == opEdit && p.deleted && p.kind == "thread" && p.removedByModerator() && !actor.Moderator():
		return fmt.Errorf("%w: thread %s is deleted: a moderator removed it", errs.FailedPrecondition, p.name)
	case op == opEdit && p.deleted && p.kind == "thread":
		return fmt.Errorf("%w: thread %s is deleted; undelete it first", errs.FailedPrecondition, p.name)
	case op == opEdit && p.deleted:
		return fmt.Errorf("%w: %s %s is deleted", errs.FailedPrecondition, p.kind, p.name)
	case op == opDelete && p.deleted:
		return fmt.Errorf("%w: %s %s is already deleted", errs.FailedPrecondition, p.kind, p.name)
	case op == opUndelete && !p.deleted:
		return fmt.Errorf("%w: %s %s is not deleted", errs.FailedPrecondition, p.kind, p.name)
	}
	if p.locked && !actor.Moderator() {
		return fmt.Errorf("%w: thread %s is locked", errs.FailedPrecondition, p.thread)
	}
	return nil
}

// threadPost is thread t as checkPostChange sees it.
func threadPost(t *forumv1.Thread) post {
	return post{
		kind: "thread", name: t.Name, author: t.Author,
		deleted: t.DeleteTime != nil, deletedBy: t.DeletedBy, etag: t.Etag,
		thread: t.Name, locked: t.State == forumv1.ThreadState_THREAD_STATE_LOCKED,
	}
}

// replyPost is reply r, in the thread whose head is h, as checkPostChange
// sees it.
func replyPost(r *forumv1.Reply, h threadHead) post {
	return post{
		kind: "reply", name: r.Name, author: r.Author,
		deleted: r.DeleteTime != nil, deletedBy: r.DeletedBy, etag: r.Etag,
		thread: threadName(h.id), locked: h.state == forumv1.ThreadState_THREAD_STATE_LOCKED,
	}
}
