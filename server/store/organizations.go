package store

import (
	"context"
	"fmt"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

func orgSlug(name string) string { return strings.TrimPrefix(name, "organizations/") }

func getOrganization(tx kv.Tx, name resname.Organization) (*forumv1.Organization, error) {
	o := new(forumv1.Organization)
	ok, err := getProto(tx, bucketOrganizations, []byte(name.Slug), o)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: organization %s", errs.NotFound, name)
	}
	return o, nil
}

// getOrganizationNamed is getOrganization of a name that has not been parsed
// (a user's organization); a name that does not parse is not found.
func getOrganizationNamed(tx kv.Tx, name string) (*forumv1.Organization, error) {
	n, err := resname.ParseOrganization(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.NotFound, err)
	}
	return getOrganization(tx, n)
}

// GetOrganization returns the organisation `organizations/{slug}`.
func (s *Store) GetOrganization(ctx context.Context, name resname.Organization) (*forumv1.Organization, error) {
	var out *forumv1.Organization
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		out, err = getOrganization(tx, name)
		return err
	})
	return out, err
}

// ListOrganizations returns up to pageSize organisations in name order, and
// the token of the next page.
func (s *Store) ListOrganizations(ctx context.Context, pageSize int, pageToken string) ([]*forumv1.Organization, string, error) {
	p := page{query: "ListOrganizations", bucket: bucketOrganizations, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Organization { return new(forumv1.Organization) }, nil, nil)
}

// CreateOrganization creates `organizations/{slug}`. Who may is the
// access table's (authz): the store does not check.
func (s *Store) CreateOrganization(ctx context.Context, actor authz.Actor, slug string, o *forumv1.Organization, requestID string) (*forumv1.Organization, error) {
	var out *forumv1.Organization
	req := s.newRequest("CreateOrganization", requestID, slug, o)
	err := s.update(ctx, func(tx kv.Tx) error {
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			out, err = getOrganizationNamed(tx, name)
			return err
		}
		if v, err := tx.Get(bucketOrganizations, []byte(slug)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: organization organizations/%s", errs.AlreadyExists, slug)
		}
		now := s.timestamp(nil)
		out = &forumv1.Organization{
			Name:        resname.Organization{Slug: slug}.String(),
			DisplayName: o.GetDisplayName(),
			Country:     o.GetCountry(),
			Kind:        o.GetKind(),
			CreateTime:  now,
			UpdateTime:  now,
			Etag:        etag(now),
		}
		if err := putProto(tx, bucketOrganizations, []byte(slug), out); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, organizationEvent(actor, forumv1.EventType_EVENT_TYPE_ORGANIZATION_CREATED, out, nil)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateOrganization changes the fields of organisation name (o.Name,
// parsed by the caller) named in paths (display_name, country, kind).
func (s *Store) UpdateOrganization(ctx context.Context, actor authz.Actor, name resname.Organization, o *forumv1.Organization, paths []string) (*forumv1.Organization, error) {
	var out *forumv1.Organization
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getOrganization(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("organization.etag", o.GetEtag(), cur.Etag); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "display_name":
				cur.DisplayName = o.GetDisplayName()
			case "country":
				cur.Country = o.GetCountry()
			case "kind":
				cur.Kind = o.GetKind()
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		out = cur
		if err := putProto(tx, bucketOrganizations, []byte(name.Slug), cur); err != nil {
			return err
		}
		return s.appendEvent(tx, cur.UpdateTime, organizationEvent(actor, forumv1.EventType_EVENT_TYPE_ORGANIZATION_UPDATED, cur, paths))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteOrganization deletes an organisation no user belongs to.
func (s *Store) DeleteOrganization(ctx context.Context, actor authz.Actor, name resname.Organization, wantEtag string) error {
	return s.update(ctx, func(tx kv.Tx) error {
		cur, err := getOrganization(tx, name)
		if err != nil {
			return err
		}
		if err := checkEtag("etag", wantEtag, cur.Etag); err != nil {
			return err
		}
		if users, err := anyKey(tx, bucketOrgUsers, themePrefix(name.Slug)); err != nil {
			return err
		} else if users {
			return fmt.Errorf("%w: users still belong to %s", errs.FailedPrecondition, name)
		}
		if err := tx.Delete(bucketOrganizations, []byte(name.Slug)); err != nil {
			return err
		}
		return s.appendEvent(tx, s.timestamp(nil), organizationEvent(actor, forumv1.EventType_EVENT_TYPE_ORGANIZATION_DELETED, cur, nil))
	})
}
