package store

import (
	"context"
	"errors"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// answerPaths is the changed_paths of the event of AcceptAnswer and
// UnacceptAnswer.
var answerPaths = []string{"accepted_answer"}

// AcceptAnswer makes reply (of thread name, checked by the caller to be
// of that thread) the accepted answer of question name, in place of any
// before, and returns the thread. The thread's author and moderators may
// (checkPostChange, as an edit: in a locked thread only moderators); the
// thread must be a QUESTION, the reply must exist and not be deleted.
// wantEtag, if set, must be the thread's etag.
func (s *Store) AcceptAnswer(ctx context.Context, actor authz.Actor, name resname.Thread, reply resname.Reply, wantEtag string) (*forumv1.Thread, error) {
	return s.setAnswer(ctx, actor, name, &reply, wantEtag)
}

// UnacceptAnswer clears the accepted answer of question name; as
// AcceptAnswer. A thread without one is returned as it is, and nothing is
// written.
func (s *Store) UnacceptAnswer(ctx context.Context, actor authz.Actor, name resname.Thread, wantEtag string) (*forumv1.Thread, error) {
	return s.setAnswer(ctx, actor, name, nil, wantEtag)
}

func (s *Store) setAnswer(ctx context.Context, actor authz.Actor, name resname.Thread, reply *resname.Reply, wantEtag string) (*forumv1.Thread, error) {
	var out *forumv1.Thread
	err := s.update(ctx, func(tx kv.Tx) error {
		access := s.themeAccess(actor)
		cur, id, err := visibleThread(tx, access, name)
		if err != nil {
			return err
		}
		if err := checkPostChange(actor, opEdit, threadPost(cur), "etag", wantEtag); err != nil {
			return err
		}
		if cur.Kind != forumv1.ThreadKind_THREAD_KIND_QUESTION {
			return fmt.Errorf("%w: thread %s is a %s, not a QUESTION: only a question has an answer", errs.FailedPrecondition, name, kindWord(cur.Kind))
		}
		answer := ""
		if reply != nil {
			r, err := readReplyHead(tx, id, reply.ID)
			if errors.Is(err, errs.NotFound) {
				return errs.InvalidField("reply", "reply %s does not exist", reply)
			} else if err != nil {
				return err
			}
			if r.deleted {
				return fmt.Errorf("%w: reply %s is deleted", errs.FailedPrecondition, reply)
			}
			answer = reply.String()
		}
		out = cur
		if cur.AcceptedAnswer == answer {
			return fillThread(tx, access, out, id)
		}
		next := proto.CloneOf(cur)
		next.AcceptedAnswer = answer
		next.UpdateTime = s.timestamp(cur.UpdateTime)
		next.Etag = etag(next.UpdateTime)
		if err := putThread(tx, id, next); err != nil {
			return err
		}
		if err := s.appendThreadEvent(tx, next.UpdateTime, actor, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, next, answerPaths); err != nil {
			return err
		}
		out = next
		return fillThread(tx, access, out, id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// kindWord names a thread kind in an error: "DISCUSSION".
func kindWord(k forumv1.ThreadKind) string {
	if w, ok := forumv1.ThreadKind_name[int32(k)]; ok && len(w) > len("THREAD_KIND_") {
		return w[len("THREAD_KIND_"):]
	}
	return k.String()
}

// acceptedAnswer returns the accepted answer of thread t (id) as readers
// see it: empty when the reply accepted has been deleted since (it comes
// back if the reply is restored).
func acceptedAnswer(tx kv.Tx, t *forumv1.Thread, id uint64) (string, error) {
	if t.AcceptedAnswer == "" {
		return "", nil
	}
	n, err := resname.ParseReply(t.AcceptedAnswer)
	if err != nil || n.Thread.ID != id {
		return "", nil
	}
	r, err := readReplyHead(tx, id, n.ID)
	if errors.Is(err, errs.NotFound) || err == nil && r.deleted {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return t.AcceptedAnswer, nil
}

// fillThread sets what a thread read from the store carries beside its
// record, for access's actor: its follow-ups (fillFollowUps), its accepted
// answer as readers see it (acceptedAnswer) and its reactions.
func fillThread(tx kv.Tx, access *themeAccess, t *forumv1.Thread, id uint64) error {
	if err := fillFollowUps(tx, access, t, id); err != nil {
		return err
	}
	a, err := acceptedAnswer(tx, t, id)
	if err != nil {
		return err
	}
	t.AcceptedAnswer = a
	t.Reactions, err = postReactions(tx, id, 0, access.actor)
	return err
}

// readAcceptedAnswer returns the accepted_answer recorded in thread id's
// record (forumv1.Thread field 24), read from the wire without decoding
// the thread.
func readAcceptedAnswer(tx kv.Tx, id uint64) (string, error) {
	return readThreadString(tx, id, 24)
}

// fillReply sets what reply r (of thread id) carries beside its record,
// for actor: its reactions, and whether it is its question's accepted
// answer (answer, the thread's accepted_answer as recorded; a deleted
// reply is not).
func fillReply(tx kv.Tx, actor authz.Actor, r *forumv1.Reply, thread uint64, answer string) error {
	n, err := resname.ParseReply(r.Name)
	if err != nil {
		return nil
	}
	r.Accepted = answer != "" && answer == r.Name && r.DeleteTime == nil
	r.Reactions, err = postReactions(tx, thread, n.ID, actor)
	return err
}

// fillReplies is fillReply for replies of thread, in id order, with one
// scan of the reaction counts of the range they span: a reply without
// reactions costs no read.
func fillReplies(tx kv.Tx, actor authz.Actor, thread uint64, answer string, replies []*forumv1.Reply) error {
	if len(replies) == 0 {
		return nil
	}
	ids := make([]uint64, len(replies))
	for i, r := range replies {
		n, err := resname.ParseReply(r.Name)
		if err != nil {
			return fmt.Errorf("store: reply named %q: %w", r.Name, err)
		}
		ids[i] = n.ID
		r.Accepted = answer != "" && answer == r.Name && r.DeleteTime == nil
	}
	var reacted []int // indexes of the replies with reactions
	i := 0
	var perr error
	err := tx.Scan(bucketReactionCounts, postKey(thread, ids[0]), postKey(thread, ids[len(ids)-1]+1), false, func(k, v []byte) bool {
		id := readU64(k[8:])
		for i < len(ids) && ids[i] < id {
			i++
		}
		if i == len(ids) || ids[i] != id {
			return true
		}
		counts, err := parseReactionCounts(v)
		if err != nil {
			perr = err
			return false
		}
		replies[i].Reactions = reactionCounts(counts)
		if len(replies[i].Reactions) > 0 {
			reacted = append(reacted, i)
		}
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	user, uerr := resname.ParseUser(actor.User)
	if uerr != nil {
		return nil
	}
	for _, i := range reacted {
		if err := markReacted(tx, thread, ids[i], user.ID, replies[i].Reactions); err != nil {
			return err
		}
	}
	return nil
}
