package store

import (
	"context"
	"fmt"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// CreateInvitation stores an invitation whose code hashes to codeHash.
// The caller has checked that the actor may invite that role
// (authz.Invite). inv holds the role and expiry. created is false when requestID replays an earlier
// call: the invitation returned is that call's, and codeHash was not stored.
func (s *Store) CreateInvitation(ctx context.Context, actor authz.Actor, inv *forumv1.Invitation, codeHash []byte, requestID string) (out *forumv1.Invitation, created bool, err error) {
	req := s.newRequest("CreateInvitation", requestID, &forumv1.Invitation{Role: inv.Role})
	err = s.update(ctx, func(tx kv.Tx) error {
		created = false // this function may run more than once
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseInvitation(name)
			out = new(forumv1.Invitation)
			_, err := getProto(tx, bucketInvitations, u64(n.ID), out)
			return err
		}
		created = true
		id, err := tx.NextSequence(bucketInvitations)
		if err != nil {
			return err
		}
		out = &forumv1.Invitation{
			Name:       resname.Invitation{ID: id}.String(),
			Role:       inv.Role,
			ExpireTime: inv.ExpireTime,
			Creator:    actor.User,
			CreateTime: s.timestamp(nil),
		}
		if err := putProto(tx, bucketInvitations, u64(id), out); err != nil {
			return err
		}
		if err := tx.Put(bucketInviteCodes, codeHash, u64(id)); err != nil {
			return err
		}
		if err := s.appendEvent(tx, out.CreateTime, invitationEvent(actor, forumv1.EventType_EVENT_TYPE_INVITATION_CREATED, out)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// ListInvitations returns invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, actor authz.Actor, pageSize int, pageToken string) ([]*forumv1.Invitation, string, error) {
	p := page{query: "ListInvitations", bucket: bucketInvitations, reverse: true, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Invitation { return new(forumv1.Invitation) }, nil, nil)
}

// DeleteInvitation withdraws an unused invitation, if the actor may
// (authz.WithdrawInvitation, asked in the transaction with its creator).
func (s *Store) DeleteInvitation(ctx context.Context, actor authz.Actor, name resname.Invitation) error {
	id := name.ID
	return s.update(ctx, func(tx kv.Tx) error {
		inv := new(forumv1.Invitation)
		if ok, err := getProto(tx, bucketInvitations, u64(id), inv); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: invitation %s", errs.NotFound, name)
		}
		if err := authz.WithdrawInvitation(actor, name.String(), inv.Creator); err != nil {
			return err
		}
		if inv.UsedBy != "" {
			return fmt.Errorf("%w: invitation %s was used by %s", errs.FailedPrecondition, name, inv.UsedBy)
		}
		// Expire it rather than delete it, so its code cannot be replayed
		// and the record of who invited stays.
		inv.ExpireTime = s.timestamp(nil)
		if err := putProto(tx, bucketInvitations, u64(id), inv); err != nil {
			return err
		}
		return s.appendEvent(tx, inv.ExpireTime, invitationEvent(actor, forumv1.EventType_EVENT_TYPE_INVITATION_DELETED, inv))
	})
}

// Registration describes a Register call.
type Registration struct {
	// User holds the username, display name and e-mail; its role is set
	// from the invitation, or MEMBER.
	User *forumv1.User
	// PasswordHash is the new user's password hash.
	PasswordHash string
	// CodeHash is the hash of the invitation code, or nil to register
	// without one (the caller has checked that the forum allows it:
	// authz.Register).
	CodeHash []byte
	// SessionHash, Idle and MaxAge describe the login session to create.
	SessionHash  []byte
	Idle, MaxAge time.Duration
}

// Register creates a user, uses up their invitation and logs them in, in
// one transaction. It returns the user and the session's expiry.
func (s *Store) Register(ctx context.Context, r Registration) (*forumv1.User, time.Time, error) {
	var out *forumv1.User
	now := s.now()
	expire := now.Add(r.MaxAge)
	err := s.update(ctx, func(tx kv.Tx) error {
		role := forumv1.Role_ROLE_MEMBER
		var inv *forumv1.Invitation
		var invID uint64
		if r.CodeHash != nil {
			v, err := tx.Get(bucketInviteCodes, r.CodeHash)
			if err != nil {
				return err
			}
			inv = new(forumv1.Invitation)
			if v != nil {
				invID = readU64(v)
				if _, err := getProto(tx, bucketInvitations, v, inv); err != nil {
					return err
				}
			}
			if v == nil || inv.UsedBy != "" || !now.Before(inv.ExpireTime.AsTime()) {
				return errs.InvalidField("invitation_code", "the invitation code is unknown, used or expired")
			}
			role = inv.Role
		}
		if v, err := tx.Get(bucketUsernames, []byte(r.User.Username)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: the username %q is taken", errs.AlreadyExists, r.User.Username)
		}
		id, err := tx.NextSequence(bucketUsers)
		if err != nil {
			return err
		}
		ts := s.timestamp(nil)
		out = &forumv1.User{
			Name:        resname.User{ID: id}.String(),
			Username:    r.User.Username,
			DisplayName: r.User.DisplayName,
			Email:       r.User.Email,
			Role:        role,
			State:       forumv1.UserState_USER_STATE_ACTIVE,
			CreateTime:  ts,
			UpdateTime:  ts,
			Etag:        etag(ts),
		}
		if err := putProto(tx, bucketUsers, u64(id), out); err != nil {
			return err
		}
		if err := tx.Put(bucketUsernames, []byte(r.User.Username), u64(id)); err != nil {
			return err
		}
		if err := tx.Put(bucketCredentials, u64(id), []byte(r.PasswordHash)); err != nil {
			return err
		}
		if inv != nil {
			inv.UsedBy = out.Name
			if err := putProto(tx, bucketInvitations, u64(invID), inv); err != nil {
				return err
			}
		}
		sess := &sessionRecord{User: id, Created: now.UnixNano(), LastUsed: now.UnixNano(), Expire: expire.UnixNano(), Idle: int64(r.Idle)}
		if err := putSession(tx, r.SessionHash, sess); err != nil {
			return err
		}
		// The user registering is the actor; using up the invitation is
		// part of this one change.
		if err := s.appendEvent(tx, ts, userEvent(out.Name, forumv1.EventType_EVENT_TYPE_USER_CREATED, out, nil)); err != nil {
			return err
		}
		return tx.Put(bucketUserSessions, append(u64(id), r.SessionHash...), nil)
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return out, expire, nil
}
