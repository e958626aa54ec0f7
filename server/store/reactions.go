package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// Reactions are kept in two buckets (schema 9): reactions, one key a
// user's reaction to a post (postKey, user id, the reaction as a byte),
// and reactionCounts, a post's counts (reactionCountsValue), so that a
// read of a post costs one Get for the counts and one short scan for the
// caller's own.

// numReactions is how many reactions there are: forumv1.Reaction's values
// 1 to numReactions.
const numReactions = 5

// postKey is the key part of a post: its thread id and its reply id (0
// for the thread's opening post).
func postKey(thread, reply uint64) []byte {
	return append(u64(thread), u64(reply)...)
}

// reactionKey is the key of user's reaction r to post (thread, reply).
func reactionKey(thread, reply, user uint64, r forumv1.Reaction) []byte {
	return append(append(postKey(thread, reply), u64(user)...), byte(r))
}

// reactionCountsValue encodes counts (index r-1 for reaction r) as
// numReactions big-endian uint32s.
func reactionCountsValue(counts [numReactions]uint32) []byte {
	v := make([]byte, 0, 4*numReactions)
	for _, c := range counts {
		v = binary.BigEndian.AppendUint32(v, c)
	}
	return v
}

// readReactionCounts returns the counts of post (thread, reply).
func readReactionCounts(tx kv.Tx, thread, reply uint64) ([numReactions]uint32, error) {
	v, err := tx.Get(bucketReactionCounts, postKey(thread, reply))
	if err != nil || v == nil {
		return [numReactions]uint32{}, err
	}
	return parseReactionCounts(v)
}

// parseReactionCounts decodes a reactionCounts value.
func parseReactionCounts(v []byte) ([numReactions]uint32, error) {
	var counts [numReactions]uint32
	if len(v) != 4*numReactions {
		return counts, fmt.Errorf("store: corrupt record in %s: %d bytes", bucketReactionCounts, len(v))
	}
	for i := range counts {
		counts[i] = binary.BigEndian.Uint32(v[4*i:])
	}
	return counts, nil
}

// reactionCounts returns counts as a post carries them, without reacted:
// one entry a reaction given at least once; nil if none is.
func reactionCounts(counts [numReactions]uint32) []*forumv1.ReactionCount {
	var out []*forumv1.ReactionCount
	for i, c := range counts {
		if c > 0 {
			out = append(out, &forumv1.ReactionCount{Reaction: forumv1.Reaction(i + 1), Count: int32(min(c, 1<<31-1))})
		}
	}
	return out
}

// markReacted sets reacted in rs, the reactions of post (thread, reply),
// for those user gave.
func markReacted(tx kv.Tx, thread, reply, user uint64, rs []*forumv1.ReactionCount) error {
	prefix := append(postKey(thread, reply), u64(user)...)
	return tx.Scan(bucketReactions, prefix, prefixEnd(prefix), false, func(k, _ []byte) bool {
		if len(k) == len(prefix)+1 {
			for _, rc := range rs {
				if byte(rc.Reaction) == k[len(prefix)] {
					rc.Reacted = true
				}
			}
		}
		return true
	})
}

// postReactions returns the reactions to post (thread, reply) as a post
// carries them: one entry a reaction given at least once, with whether
// actor gave it (never for an actor who is not a user).
func postReactions(tx kv.Tx, thread, reply uint64, actor authz.Actor) ([]*forumv1.ReactionCount, error) {
	counts, err := readReactionCounts(tx, thread, reply)
	if err != nil {
		return nil, err
	}
	out := reactionCounts(counts)
	if len(out) == 0 {
		return nil, nil
	}
	user, err := resname.ParseUser(actor.User)
	if err != nil {
		return out, nil
	}
	return out, markReacted(tx, thread, reply, user.ID, out)
}

// SetReaction gives (on) or withdraws actor's reaction r to post: thread
// name, or its reply (reply not 0; the caller parsed both). It returns the
// post's reactions after it. Giving one given before, or withdrawing one
// not given, changes nothing and appends no event. The post must be one
// actor may read and not deleted; in a locked thread only moderators
// react.
func (s *Store) SetReaction(ctx context.Context, actor authz.Actor, thread resname.Thread, reply uint64, r forumv1.Reaction, on bool) (*forumv1.PostReactions, error) {
	user, err := resname.ParseUser(actor.User)
	if err != nil {
		return nil, fmt.Errorf("%w: only a user reacts", errs.PermissionDenied)
	}
	if r <= forumv1.Reaction_REACTION_UNSPECIFIED || r > numReactions {
		return nil, errs.InvalidField("reaction", "must be one of PLUS_ONE, HEART, CELEBRATE, THANKS and INSIGHTFUL")
	}
	name := thread.String()
	if reply != 0 {
		name = resname.Reply{Thread: thread, ID: reply}.String()
	}
	var out *forumv1.PostReactions
	err = s.update(ctx, func(tx kv.Tx) error {
		h, err := visibleThreadHead(tx, s.themeAccess(actor), thread.ID)
		if err != nil {
			return err
		}
		if h.deleted {
			return fmt.Errorf("%w: thread %s is deleted", errs.FailedPrecondition, thread)
		}
		if reply != 0 {
			rh, err := readReplyHead(tx, thread.ID, reply)
			if errors.Is(err, errs.NotFound) {
				return fmt.Errorf("%w: reply %s", errs.NotFound, name)
			} else if err != nil {
				return err
			}
			if rh.deleted {
				return fmt.Errorf("%w: reply %s is deleted", errs.FailedPrecondition, name)
			}
		}
		if h.locked && !authz.ChangeLocked(actor) {
			return fmt.Errorf("%w: thread %s is locked", errs.FailedPrecondition, thread)
		}
		key := reactionKey(thread.ID, reply, user.ID, r)
		v, err := tx.Get(bucketReactions, key)
		if err != nil {
			return err
		}
		counts, err := readReactionCounts(tx, thread.ID, reply)
		if err != nil {
			return err
		}
		if changed := (v == nil) == on; changed {
			typ := forumv1.EventType_EVENT_TYPE_REACTION_ADDED
			if on {
				counts[r-1]++
				err = tx.Put(bucketReactions, key, nil)
			} else {
				typ = forumv1.EventType_EVENT_TYPE_REACTION_REMOVED
				counts[r-1] = max(counts[r-1], 1) - 1
				err = tx.Delete(bucketReactions, key)
			}
			if err != nil {
				return err
			}
			if err := tx.Put(bucketReactionCounts, postKey(thread.ID, reply), reactionCountsValue(counts)); err != nil {
				return err
			}
			ev := &forumv1.PostReactions{Name: name, Reactions: reactionCounts(counts)}
			if err := s.appendEvent(tx, s.timestamp(nil), &forumv1.Event{
				Actor: actor.User, Type: typ, Resource: name, ChangedPaths: []string{r.String()},
				Theme: h.theme, Thread: thread.String(), ResourceState: &forumv1.Event_Reactions{Reactions: ev},
			}); err != nil {
				return err
			}
		}
		reactions, err := postReactions(tx, thread.ID, reply, actor)
		out = &forumv1.PostReactions{Name: name, Reactions: reactions}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
