package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

func groupSlug(name string) string { return strings.TrimPrefix(name, "groups/") }

func groupMemberKey(slug string, user uint64) []byte { return orgUserKey(slug, user) }

func groupThemeKey(group, theme string) []byte { return append(themePrefix(group), theme...) }

func getGroup(tx kv.Tx, name resname.Group) (*forumv1.Group, error) {
	g := new(forumv1.Group)
	ok, err := getProto(tx, bucketGroups, []byte(name.Slug), g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: group %s", errs.NotFound, name)
	}
	return g, nil
}

// isMember reports whether actor belongs to group slug.
func isMember(tx kv.Tx, actor authz.Actor, slug string) (bool, error) {
	user, err := resname.ParseUser(actor.User)
	if err != nil {
		return false, nil
	}
	v, err := tx.Get(bucketGroupMembers, groupMemberKey(slug, user.ID))
	return v != nil, err
}

// maySeeGroup reports whether the actor may see group slug: authz.SeeGroup,
// with the actor's membership read in tx.
func maySeeGroup(tx kv.Tx, actor authz.Actor, slug string) (bool, error) {
	return authz.SeeGroup(actor, func() (bool, error) { return isMember(tx, actor, slug) })
}

// visibleGroup loads a group the actor may see; others are NotFound.
func visibleGroup(tx kv.Tx, actor authz.Actor, name resname.Group) (*forumv1.Group, error) {
	ok, err := maySeeGroup(tx, actor, name.Slug)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: group %s", errs.NotFound, name)
	}
	return getGroup(tx, name)
}

// GetGroup returns a group the actor may see.
func (s *Store) GetGroup(ctx context.Context, actor authz.Actor, name resname.Group) (*forumv1.Group, error) {
	var out *forumv1.Group
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		out, err = visibleGroup(tx, actor, name)
		return err
	})
	return out, err
}

// ListGroups returns the groups the actor may see, in name order.
func (s *Store) ListGroups(ctx context.Context, actor authz.Actor, pageSize int, pageToken string) ([]*forumv1.Group, string, error) {
	p := page{query: "ListGroups\x00" + actor.User, bucket: bucketGroups, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Group { return new(forumv1.Group) }, nil,
		func(tx kv.Tx, g *forumv1.Group) (bool, error) { return maySeeGroup(tx, actor, groupSlug(g.Name)) })
}

// setMembers replaces the membership index of group slug from old to new.
func setMembers(tx kv.Tx, slug string, old, new []string) error {
	for _, m := range old {
		if !slices.Contains(new, m) {
			user, _ := resname.ParseUser(m)
			if err := tx.Delete(bucketGroupMembers, groupMemberKey(slug, user.ID)); err != nil {
				return err
			}
		}
	}
	for _, m := range new {
		user, err := resname.ParseUser(m)
		if err != nil {
			return errs.InvalidField("group.members", "%v", err)
		}
		if _, err := getUser(tx, user.ID); err != nil {
			return errs.InvalidField("group.members", "user %s does not exist", m)
		}
		if err := tx.Put(bucketGroupMembers, groupMemberKey(slug, user.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// CreateGroup creates `groups/{slug}`. Who may is the access table's
// (authz): the store does not check.
func (s *Store) CreateGroup(ctx context.Context, actor authz.Actor, slug string, g *forumv1.Group, requestID string) (*forumv1.Group, error) {
	var out *forumv1.Group
	req := s.newRequest("CreateGroup", requestID, slug, g)
	err := s.update(ctx, func(tx kv.Tx) error {
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseGroup(name)
			out, err = getGroup(tx, n)
			return err
		}
		if v, err := tx.Get(bucketGroups, []byte(slug)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: group groups/%s", errs.AlreadyExists, slug)
		}
		now := s.timestamp(nil)
		out = &forumv1.Group{
			Name:        resname.Group{Slug: slug}.String(),
			DisplayName: g.GetDisplayName(),
			Description: g.GetDescription(),
			Members:     slices.Clone(g.GetMembers()),
			CreateTime:  now,
			UpdateTime:  now,
			Etag:        etag(now),
		}
		if err := setMembers(tx, slug, nil, out.Members); err != nil {
			return err
		}
		if err := putProto(tx, bucketGroups, []byte(slug), out); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, groupEvent(actor, forumv1.EventType_EVENT_TYPE_GROUP_CREATED, out, nil)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateGroup changes the fields of group name (g.Name, parsed by the
// caller) named in paths (display_name, description, members).
func (s *Store) UpdateGroup(ctx context.Context, actor authz.Actor, name resname.Group, g *forumv1.Group, paths []string) (*forumv1.Group, error) {
	var out *forumv1.Group
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getGroup(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("group.etag", g.GetEtag(), cur.Etag); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "display_name":
				cur.DisplayName = g.GetDisplayName()
			case "description":
				cur.Description = g.GetDescription()
			case "members":
				if err := setMembers(tx, name.Slug, cur.Members, g.GetMembers()); err != nil {
					return err
				}
				cur.Members = slices.Clone(g.GetMembers())
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		out = cur
		if err := putProto(tx, bucketGroups, []byte(name.Slug), cur); err != nil {
			return err
		}
		return s.appendEvent(tx, cur.UpdateTime, groupEvent(actor, forumv1.EventType_EVENT_TYPE_GROUP_UPDATED, cur, paths))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteGroup deletes a group no theme is restricted to.
func (s *Store) DeleteGroup(ctx context.Context, actor authz.Actor, name resname.Group, wantEtag string) error {
	return s.update(ctx, func(tx kv.Tx) error {
		cur, err := getGroup(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("etag", wantEtag, cur.Etag); err != nil {
			return err
		}
		slug := name.Slug
		p := themePrefix(slug)
		used := false
		if err := tx.Scan(bucketGroupThemes, p, prefixEnd(p), false, func(k, v []byte) bool {
			used = true
			return false
		}); err != nil {
			return err
		}
		if used {
			return fmt.Errorf("%w: themes are still restricted to %s", errs.FailedPrecondition, name)
		}
		if err := setMembers(tx, slug, cur.Members, nil); err != nil {
			return err
		}
		if err := tx.Delete(bucketGroups, []byte(slug)); err != nil {
			return err
		}
		return s.appendEvent(tx, s.timestamp(nil), groupEvent(actor, forumv1.EventType_EVENT_TYPE_GROUP_DELETED, cur, nil))
	})
}

// setThemeGroups replaces the groups a theme is restricted to in the
// groupThemes index; every new group must exist.
func setThemeGroups(tx kv.Tx, theme string, old, new []string) error {
	for _, g := range old {
		if err := tx.Delete(bucketGroupThemes, groupThemeKey(groupSlug(g), theme)); err != nil {
			return err
		}
	}
	for _, g := range new {
		n, err := resname.ParseGroup(g)
		if err == nil {
			_, err = getGroup(tx, n)
		}
		if err != nil {
			return errs.InvalidField("theme.groups", "group %s does not exist", g)
		}
		if err := tx.Put(bucketGroupThemes, groupThemeKey(n.Slug, theme), nil); err != nil {
			return err
		}
	}
	return nil
}

// maySeeTheme reports whether the actor may see theme t and what is in it.
func maySeeTheme(tx kv.Tx, actor authz.Actor, t *forumv1.Theme) (bool, error) {
	return themeGate{visibility: t.GetVisibility(), groups: t.GetGroups()}.allows(tx, actor)
}

// themeAccess answers, for one transaction, which themes the actor may see.
// Most transactions ask about one theme, so the first answer is kept in two
// fields and the map is made only for a second theme. Gates come from the
// store's gateCache when it has them, else from themeGates.
type themeAccess struct {
	actor     authz.Actor
	cache     *gateCache
	gen       uint64 // the cache's generation when the access was made
	firstName string
	firstOK   bool
	first     bool            // firstName/firstOK are set
	seen      map[string]bool // the other themes asked about
}

// themeAccess returns a themeAccess for actor. In a read-only transaction it
// must be made before the transaction starts (see gateCache).
func (s *Store) themeAccess(actor authz.Actor) *themeAccess {
	return &themeAccess{actor: actor, cache: &s.gates, gen: s.gates.generation()}
}

// allows reports whether the actor may see the theme named name; a theme
// that does not exist is not visible.
func (a *themeAccess) allows(tx kv.Tx, name string) (bool, error) {
	if a.first && a.firstName == name {
		return a.firstOK, nil
	}
	if ok, found := a.seen[name]; found {
		return ok, nil
	}
	slug := themeSlug(name)
	g, found := a.cache.get(slug)
	if !found {
		v, err := tx.Get(bucketThemeGates, []byte(slug))
		if err != nil {
			return false, err
		}
		if v != nil {
			if g, err = parseThemeGate(v); err != nil {
				return false, fmt.Errorf("store: corrupt record in %s: %w", bucketThemeGates, err)
			}
			found = true
			a.cache.put(a.gen, slug, g)
		}
	}
	ok := false
	if found {
		var err error
		if ok, err = g.allows(tx, a.actor); err != nil {
			return false, err
		}
	}
	switch {
	case !a.first:
		a.firstName, a.firstOK, a.first = name, ok, true
	default:
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		a.seen[name] = ok
	}
	return ok, nil
}
