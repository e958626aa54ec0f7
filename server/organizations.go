package server

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

type organizationService struct {
	forumv1.UnsafeOrganizationServiceServer
	s *Server
}

var organizationUpdatable = []string{"display_name", "country", "kind"}

// checkOrganizationName parses the organization name in field, or records
// a violation.
func checkOrganizationName(v *errs.Violations, field, name string) resname.Organization {
	n, err := resname.ParseOrganization(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

func checkOrganizationFields(v *errs.Violations, o *forumv1.Organization, paths []string) {
	for _, p := range paths {
		switch p {
		case "display_name":
			checkName(v, "organization.display_name", o.GetDisplayName(), maxOrganizationName)
		case "country":
			checkCountry(v, "organization.country", o.GetCountry(), true)
		case "kind":
			if _, ok := forumv1.OrganizationKind_name[int32(o.GetKind())]; !ok || o.GetKind() == forumv1.OrganizationKind_ORGANIZATION_KIND_UNSPECIFIED {
				v.Add("organization.kind", "must be NATIONAL_VOLUNTEER_PROGRAMME, NGO, MINISTRY, UN_AGENCY or OTHER")
			}
		}
	}
}

func (o *organizationService) GetOrganization(ctx context.Context, req *forumv1.GetOrganizationRequest) (*forumv1.Organization, error) {
	var v errs.Violations
	name := checkOrganizationName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return o.s.store.GetOrganization(ctx, name)
}

func (o *organizationService) ListOrganizations(ctx context.Context, req *forumv1.ListOrganizationsRequest) (*forumv1.ListOrganizationsResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	orgs, next, err := o.s.store.ListOrganizations(ctx, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListOrganizationsResponse{Organizations: orgs, NextPageToken: next}, nil
}

func (o *organizationService) CreateOrganization(ctx context.Context, req *forumv1.CreateOrganizationRequest) (*forumv1.Organization, error) {
	var v errs.Violations
	if !resname.ValidSlug(req.GetOrganizationId(), maxThemeSlugLen) {
		v.Add("organization_id", "must be a lowercase slug: letters, digits and single hyphens, at most %d characters", maxThemeSlugLen)
	}
	if req.GetOrganization() == nil {
		v.Add("organization", "is required")
	} else {
		checkOrganizationFields(&v, req.GetOrganization(), organizationUpdatable)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return o.s.store.CreateOrganization(ctx, actorFrom(ctx), req.GetOrganizationId(), req.GetOrganization(), req.GetRequestId())
}

func (o *organizationService) UpdateOrganization(ctx context.Context, req *forumv1.UpdateOrganizationRequest) (*forumv1.Organization, error) {
	var v errs.Violations
	org := req.GetOrganization()
	if org == nil {
		v.Add("organization", "is required")
		return nil, v.Err()
	}
	name := checkOrganizationName(&v, "organization.name", org.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), org, organizationUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	checkOrganizationFields(&v, org, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return o.s.store.UpdateOrganization(ctx, actorFrom(ctx), name, org, paths)
}

func (o *organizationService) DeleteOrganization(ctx context.Context, req *forumv1.DeleteOrganizationRequest) (*forumv1.DeleteOrganizationResponse, error) {
	var v errs.Violations
	name := checkOrganizationName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := o.s.store.DeleteOrganization(ctx, actorFrom(ctx), name, req.GetEtag()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteOrganizationResponse{}, nil
}
