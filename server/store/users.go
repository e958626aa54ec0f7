package store

import (
	"context"
	"fmt"
	"slices"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

func getUser(tx kv.Tx, id uint64) (*forumv1.User, error) {
	u := new(forumv1.User)
	ok, err := getProto(tx, bucketUsers, u64(id), u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: user %s", errs.NotFound, resname.User{ID: id})
	}
	return u, nil
}

// GetUser returns the user `users/{id}`.
func (s *Store) GetUser(ctx context.Context, name resname.User) (*forumv1.User, error) {
	var out *forumv1.User
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		out, err = getUser(tx, name.ID)
		return err
	})
	return out, err
}

// ListUsers returns up to pageSize users in creation order, and the token of
// the next page.
func (s *Store) ListUsers(ctx context.Context, pageSize int, pageToken string) ([]*forumv1.User, string, error) {
	p := page{query: "ListUsers", bucket: bucketUsers, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.User { return new(forumv1.User) }, nil, nil)
}

// ListUsersByUsername returns the users whose username is prefix (exact)
// or starts with it, in username order.
func (s *Store) ListUsersByUsername(ctx context.Context, prefix string, exact bool, pageSize int, pageToken string) ([]*forumv1.User, string, error) {
	query := fmt.Sprintf("ListUsersByUsername\x00%s\x00%v", prefix, exact)
	cursor, err := s.decodeToken(query, pageToken)
	if err != nil {
		return nil, "", err
	}
	start, end := []byte(prefix), prefixEnd([]byte(prefix))
	if exact {
		end = after([]byte(prefix))
	}
	if cursor != nil {
		start = after(cursor)
	}
	var out []*forumv1.User
	var next string
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		var ierr error
		var last []byte
		err := tx.Scan(bucketUsernames, start, end, false, func(k, v []byte) bool {
			if len(out) == pageSize {
				next = s.encodeToken(query, last)
				return false
			}
			u, err := getUser(tx, readU64(v))
			if err != nil {
				ierr = err
				return false
			}
			out = append(out, u)
			last = append(last[:0], k...)
			return true
		})
		if err == nil {
			err = ierr
		}
		return err
	})
	return out, next, err
}

// CreateUser creates a user with a password hash. Who may is the access
// table's (authz): the store does not check.
func (s *Store) CreateUser(ctx context.Context, actor authz.Actor, u *forumv1.User, passwordHash string, requestID string) (*forumv1.User, error) {
	var out *forumv1.User
	req := s.newRequest("CreateUser", requestID, u)
	err := s.update(ctx, func(tx kv.Tx) error {
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseUser(name)
			out, err = getUser(tx, n.ID)
			return err
		}
		if v, err := tx.Get(bucketUsernames, []byte(u.Username)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: the username %q is taken", errs.AlreadyExists, u.Username)
		}
		id, err := tx.NextSequence(bucketUsers)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		out = &forumv1.User{
			Name:        resname.User{ID: id}.String(),
			Username:    u.Username,
			DisplayName: u.DisplayName,
			Role:        u.Role,
			CreateTime:  now,
			UpdateTime:  now,
			Etag:        etag(now),
		}
		if err := putProto(tx, bucketUsers, u64(id), out); err != nil {
			return err
		}
		if err := tx.Put(bucketUsernames, []byte(u.Username), u64(id)); err != nil {
			return err
		}
		if err := tx.Put(bucketCredentials, u64(id), []byte(passwordHash)); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, userEvent(actor.User, forumv1.EventType_EVENT_TYPE_USER_CREATED, out, nil)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateUser changes the fields of user name (u.Name, parsed by the caller)
// named in paths (display_name, email, organization, country, languages,
// bio, role, state). The caller has checked that the actor may
// (authz.UpdateUser: users change themselves, admins anyone, and only
// admins change roles and states).
//
// A change that would leave the forum without an active admin (demoting or
// suspending the last one, themself or by another admin) is refused with
// errs.FailedPrecondition: only an offline `forumd admin create-user` could
// recover from it. The check runs in the transaction that makes the change,
// so two admins demoting each other at once cannot both succeed.
func (s *Store) UpdateUser(ctx context.Context, actor authz.Actor, name resname.User, u *forumv1.User, paths []string) (*forumv1.User, error) {
	id := name.ID
	var out *forumv1.User
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getUser(tx, id)
		if err != nil {
			return err
		}
		if err := checkEtag("user.etag", u.Etag, cur.Etag); err != nil {
			return err
		}
		oldOrg := cur.Organization
		wasActiveAdmin := activeAdmin(cur)
		for _, p := range paths {
			switch p {
			case "display_name":
				cur.DisplayName = u.DisplayName
			case "role":
				cur.Role = u.Role
			case "state":
				cur.State = u.State
			case "email":
				cur.Email = u.Email
			case "country":
				cur.Country = u.Country
			case "languages":
				cur.Languages = slices.Clone(u.Languages)
			case "bio":
				cur.Bio = u.Bio
			case "organization":
				if u.Organization != "" {
					if _, err := getOrganizationNamed(tx, u.Organization); err != nil {
						return errs.InvalidField("user.organization", "organization %s does not exist", u.Organization)
					}
				}
				cur.Organization = u.Organization
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		if wasActiveAdmin && !activeAdmin(cur) {
			if err := checkOtherActiveAdmin(tx, id); err != nil {
				return err
			}
		}
		if cur.State == forumv1.UserState_USER_STATE_SUSPENDED {
			if err := revokeSessions(tx, id); err != nil {
				return err
			}
		}
		if cur.Organization != oldOrg {
			if oldOrg != "" {
				if err := tx.Delete(bucketOrgUsers, orgUserKey(orgSlug(oldOrg), id)); err != nil {
					return err
				}
			}
			if cur.Organization != "" {
				if err := tx.Put(bucketOrgUsers, orgUserKey(orgSlug(cur.Organization), id), nil); err != nil {
					return err
				}
			}
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		out = cur
		if err := putProto(tx, bucketUsers, u64(id), cur); err != nil {
			return err
		}
		return s.appendEvent(tx, cur.UpdateTime, userEvent(actor.User, forumv1.EventType_EVENT_TYPE_USER_UPDATED, cur, paths))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// activeAdmin reports whether u is an admin who is not suspended.
func activeAdmin(u *forumv1.User) bool {
	return u.GetRole() == forumv1.Role_ROLE_ADMIN && u.GetState() != forumv1.UserState_USER_STATE_SUSPENDED
}

// checkOtherActiveAdmin returns errs.FailedPrecondition unless a user other
// than the user id is an active admin, in tx. It reads users in creation
// order and stops at the first active admin, who is usually among the
// first users; it runs only when an active admin is about to stop being
// one.
func checkOtherActiveAdmin(tx kv.Tx, id uint64) error {
	found := false
	var decodeErr error
	err := tx.Scan(bucketUsers, nil, nil, false, func(k, v []byte) bool {
		if readU64(k) == id {
			return true
		}
		u := new(forumv1.User)
		if err := proto.Unmarshal(v, u); err != nil {
			decodeErr = fmt.Errorf("store: corrupt record in %s: %w", bucketUsers, err)
			return false
		}
		found = activeAdmin(u)
		return !found
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return fmt.Errorf("looking for another active admin: %w", err)
	}
	if !found {
		return fmt.Errorf("%w: %s is the last active admin; make another user an admin first, so that someone can still administer the forum", errs.FailedPrecondition, resname.User{ID: id})
	}
	return nil
}

// Credentials returns the user with that username and their password hash.
// An unknown username is errs.NotFound.
func (s *Store) Credentials(ctx context.Context, username string) (*forumv1.User, string, error) {
	var u *forumv1.User
	var hash []byte
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bucketUsernames, []byte(username))
		if err != nil {
			return err
		}
		if v == nil {
			return fmt.Errorf("%w: user %q", errs.NotFound, username)
		}
		if u, err = getUser(tx, readU64(v)); err != nil {
			return err
		}
		hash, err = tx.Get(bucketCredentials, v)
		return err
	})
	return u, string(hash), err
}
