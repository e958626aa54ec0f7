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
)

// GetTheme returns the theme named `themes/{slug}`, if the actor may see it.
func (s *Store) GetTheme(ctx context.Context, actor authz.Actor, name resname.Theme) (*forumv1.Theme, error) {
	var t *forumv1.Theme
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		t, err = visibleTheme(tx, actor, name)
		return err
	})
	return t, err
}

// visibleTheme loads a theme the actor may see; others are NotFound.
func visibleTheme(tx kv.Tx, actor authz.Actor, name resname.Theme) (*forumv1.Theme, error) {
	t, err := getTheme(tx, name)
	if err != nil {
		return nil, err
	}
	if ok, err := maySeeTheme(tx, actor, t); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: theme %s", errs.NotFound, name)
	}
	return t, nil
}

// visibleThemeNamed is visibleTheme of a name that has not been parsed (a
// thread's theme); a name that does not parse is not found.
func visibleThemeNamed(tx kv.Tx, actor authz.Actor, name string) (*forumv1.Theme, error) {
	n, err := resname.ParseTheme(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.NotFound, err)
	}
	return visibleTheme(tx, actor, n)
}

func getTheme(tx kv.Tx, name resname.Theme) (*forumv1.Theme, error) {
	t := new(forumv1.Theme)
	ok, err := getProto(tx, bucketThemes, []byte(name.Slug), t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: theme %s", errs.NotFound, name)
	}
	return t, fillThemeCounters(tx, t)
}

// fillThemeCounters sets t's thread count and last activity from
// themeStats (none before its first thread).
func fillThemeCounters(tx kv.Tx, t *forumv1.Theme) error {
	c, _, err := getCounters(tx, bucketThemeStats, []byte(themeSlug(t.Name)))
	t.ThreadCount, t.LastActivityTime = c.count, activityTime(c.lastActivity)
	return err
}

// putTheme stores theme t without its counters, which live in themeStats,
// and stores its gate in themeGates. Every write of a theme goes through it
// (and DeleteTheme deletes both), so the gate never differs from the
// record. t itself is left as it was.
func putTheme(tx kv.Tx, t *forumv1.Theme) error {
	count, last := t.ThreadCount, t.LastActivityTime
	t.ThreadCount, t.LastActivityTime = 0, nil
	err := putProto(tx, bucketThemes, []byte(themeSlug(t.Name)), t)
	t.ThreadCount, t.LastActivityTime = count, last
	if err != nil {
		return err
	}
	return tx.Put(bucketThemeGates, []byte(themeSlug(t.Name)), themeGateValue(gateOf(t)))
}

// ListThemes returns up to pageSize of the themes the actor may see, in
// name order, and the token of the next page.
func (s *Store) ListThemes(ctx context.Context, actor authz.Actor, pageSize int, pageToken string) ([]*forumv1.Theme, string, error) {
	p := page{query: "ListThemes", bucket: bucketThemes, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Theme { return new(forumv1.Theme) }, nil,
		func(tx kv.Tx, t *forumv1.Theme) (bool, error) {
			ok, err := maySeeTheme(tx, actor, t)
			if ok && err == nil {
				err = fillThemeCounters(tx, t)
			}
			return ok, err
		})
}

// CreateTheme creates theme `themes/{slug}`. Who may is the access
// table's (authz): the store does not check.
func (s *Store) CreateTheme(ctx context.Context, actor authz.Actor, slug string, t *forumv1.Theme, requestID string) (*forumv1.Theme, error) {
	defer s.gates.invalidate() // see gateCache
	var out *forumv1.Theme
	req := s.newRequest("CreateTheme", requestID, slug, t)
	err := s.update(ctx, func(tx kv.Tx) error {
		name, err := replay(tx, actor, req)
		if err != nil {
			return err
		}
		if name != "" {
			n, _ := resname.ParseTheme(name)
			out, err = getTheme(tx, n)
			return err
		}
		if v, err := tx.Get(bucketThemes, []byte(slug)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: theme %s", errs.AlreadyExists, resname.Theme{Slug: slug})
		}
		now := s.timestamp(nil)
		out = &forumv1.Theme{
			Name:        resname.Theme{Slug: slug}.String(),
			DisplayName: t.GetDisplayName(),
			Description: t.GetDescription(),
			Visibility:  t.GetVisibility(),
			Groups:      slices.Clone(t.GetGroups()),
			CreateTime:  now,
			UpdateTime:  now,
			Etag:        etag(now),
		}
		if err := setThemeGroups(tx, slug, nil, out.Groups); err != nil {
			return err
		}
		if err := putTheme(tx, out); err != nil {
			return err
		}
		if err := s.appendThemeEvent(tx, now, actor, forumv1.EventType_EVENT_TYPE_THEME_CREATED, out, nil); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateTheme changes the fields named in paths (display_name,
// description, visibility, groups) of theme name (t.Name, parsed). If t.Etag
// is set it must match.
func (s *Store) UpdateTheme(ctx context.Context, actor authz.Actor, name resname.Theme, t *forumv1.Theme, paths []string) (*forumv1.Theme, error) {
	defer s.gates.invalidate() // see gateCache
	var out *forumv1.Theme
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getTheme(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("theme.etag", t.GetEtag(), cur.Etag); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "display_name":
				cur.DisplayName = t.GetDisplayName()
			case "description":
				cur.Description = t.GetDescription()
			case "visibility":
				cur.Visibility = t.GetVisibility()
			case "groups":
				if err := setThemeGroups(tx, name.Slug, cur.Groups, t.GetGroups()); err != nil {
					return err
				}
				cur.Groups = slices.Clone(t.GetGroups())
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		if groups := cur.Visibility == forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS; groups != (len(cur.Groups) > 0) {
			return errs.InvalidField("theme.groups", "a theme has groups exactly when its visibility is GROUPS")
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		out = cur
		if err := putTheme(tx, cur); err != nil {
			return err
		}
		return s.appendThemeEvent(tx, cur.UpdateTime, actor, forumv1.EventType_EVENT_TYPE_THEME_UPDATED, cur, paths)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteTheme deletes a theme that holds no threads (deleted ones included).
func (s *Store) DeleteTheme(ctx context.Context, actor authz.Actor, name resname.Theme, wantEtag string) error {
	defer s.gates.invalidate() // see gateCache
	return s.update(ctx, func(tx kv.Tx) error {
		cur, err := getTheme(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("etag", wantEtag, cur.Etag); err != nil {
			return err
		}
		slug := name.Slug
		p := themePrefix(slug)
		empty := true
		if err := tx.Scan(bucketThemeCreated, p, prefixEnd(p), false, func(k, v []byte) bool {
			empty = false
			return false
		}); err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%w: theme %s still holds threads; move or purge them first", errs.FailedPrecondition, name)
		}
		if err := setThemeGroups(tx, slug, cur.Groups, nil); err != nil {
			return err
		}
		if err := tx.Delete(bucketThemeStats, []byte(slug)); err != nil {
			return err
		}
		if err := tx.Delete(bucketThemeGates, []byte(slug)); err != nil {
			return err
		}
		if err := tx.Delete(bucketThemes, []byte(slug)); err != nil {
			return err
		}
		return s.appendThemeEvent(tx, s.timestamp(nil), actor, forumv1.EventType_EVENT_TYPE_THEME_DELETED, cur, nil) // the theme as it was
	})
}
