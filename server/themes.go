package server

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

type themeService struct {
	forumv1.UnsafeThemeServiceServer
	s *Server
}

// checkThemeName parses the theme name in field, or records a violation.
func checkThemeName(v *errs.Violations, field, name string) resname.Theme {
	n, err := resname.ParseTheme(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

func (t *themeService) GetTheme(ctx context.Context, req *forumv1.GetThemeRequest) (*forumv1.Theme, error) {
	var v errs.Violations
	name := checkThemeName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.GetTheme(ctx, actorFrom(ctx), name)
}

func (t *themeService) ListThemes(ctx context.Context, req *forumv1.ListThemesRequest) (*forumv1.ListThemesResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	themes, next, err := t.s.store.ListThemes(ctx, actorFrom(ctx), n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListThemesResponse{Themes: themes, NextPageToken: next}, nil
}

// themeUpdatable are the theme fields UpdateTheme may change.
var themeUpdatable = []string{"display_name", "description", "visibility", "groups"}

// checkThemeVisibility records a violation unless groups are given exactly
// when the visibility is GROUPS.
func checkThemeVisibility(v *errs.Violations, th *forumv1.Theme) {
	groups := th.GetVisibility() == forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS
	switch {
	case groups && len(th.GetGroups()) == 0:
		v.Add("theme.groups", "name at least one group for GROUPS visibility")
	case !groups && len(th.GetGroups()) > 0:
		v.Add("theme.groups", "are only for GROUPS visibility")
	}
}

func checkThemeFields(v *errs.Violations, th *forumv1.Theme, paths []string) {
	for _, p := range paths {
		switch p {
		case "display_name":
			checkName(v, "theme.display_name", th.GetDisplayName(), maxDisplayName)
		case "description":
			checkText(v, "theme.description", th.GetDescription(), 0, maxDescription, true)
		case "visibility":
			if _, ok := forumv1.ThemeVisibility_name[int32(th.GetVisibility())]; !ok {
				v.Add("theme.visibility", "must be PUBLIC, MEMBERS or GROUPS")
			}
		case "groups":
			checkGroupNames(v, "theme.groups", th.GetGroups(), 20)
		}
	}
}

func (t *themeService) CreateTheme(ctx context.Context, req *forumv1.CreateThemeRequest) (*forumv1.Theme, error) {
	var v errs.Violations
	if !resname.ValidSlug(req.GetThemeId(), maxThemeSlugLen) {
		v.Add("theme_id", "must be a lowercase slug: letters, digits and single hyphens, at most %d characters", maxThemeSlugLen)
	}
	if req.GetTheme() == nil {
		v.Add("theme", "is required")
	} else {
		checkThemeFields(&v, req.GetTheme(), themeUpdatable)
		checkThemeVisibility(&v, req.GetTheme())
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.CreateTheme(ctx, actorFrom(ctx), req.GetThemeId(), req.GetTheme(), req.GetRequestId())
}

func (t *themeService) UpdateTheme(ctx context.Context, req *forumv1.UpdateThemeRequest) (*forumv1.Theme, error) {
	var v errs.Violations
	if req.GetTheme() == nil {
		v.Add("theme", "is required")
		return nil, v.Err()
	}
	name := checkThemeName(&v, "theme.name", req.GetTheme().GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), req.GetTheme(), themeUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	checkThemeFields(&v, req.GetTheme(), paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t.s.store.UpdateTheme(ctx, actorFrom(ctx), name, req.GetTheme(), paths)
}

func (t *themeService) DeleteTheme(ctx context.Context, req *forumv1.DeleteThemeRequest) (*forumv1.DeleteThemeResponse, error) {
	var v errs.Violations
	name := checkThemeName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := t.s.store.DeleteTheme(ctx, actorFrom(ctx), name, req.GetEtag()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteThemeResponse{}, nil
}
