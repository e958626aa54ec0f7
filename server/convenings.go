package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
)

type conveningService struct {
	forumv1.UnsafeConveningServiceServer
	s *Server
}

// conveningUpdatable are the fields UpdateConvening may change.
var conveningUpdatable = []string{"title", "description", "start_date", "end_date", "place", "country", "organizers", "themes", "state"}

// Bounds of a convening's fields.
const (
	maxPlaceChars      = 200
	maxOrganizers      = 50
	maxConveningThemes = 20
	maxConveningSlug   = 63
)

// checkConveningName parses the convening name in field, or records a
// violation.
func checkConveningName(v *errs.Violations, field, name string) resname.Convening {
	n, err := resname.ParseConvening(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

// checkDate records a violation unless s is a date `YYYY-MM-DD`.
func checkDate(v *errs.Violations, field, s string) bool {
	if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
		v.Add(field, "must be a date YYYY-MM-DD, such as 2015-10-21")
		return false
	}
	return true
}

// checkConveningFields validates the fields of c named in paths (and the
// order of its dates, when both are given).
func checkConveningFields(v *errs.Violations, c *forumv1.Convening, paths []string) {
	dates := 0
	for _, p := range paths {
		switch p {
		case "title":
			checkText(v, "convening.title", c.GetTitle(), 1, maxTitleChars, false)
		case "description":
			checkBody(v, "convening.description", c.GetDescription(), false)
		case "start_date":
			if checkDate(v, "convening.start_date", c.GetStartDate()) {
				dates++
			}
		case "end_date":
			if checkDate(v, "convening.end_date", c.GetEndDate()) {
				dates++
			}
		case "place":
			checkText(v, "convening.place", c.GetPlace(), 0, maxPlaceChars, false)
		case "country":
			checkCountry(v, "convening.country", c.GetCountry(), false)
		case "organizers":
			if len(c.GetOrganizers()) > maxOrganizers {
				v.Add("convening.organizers", "must be at most %d", maxOrganizers)
			}
			seen := map[string]bool{}
			for i, o := range c.GetOrganizers() {
				field := fmt.Sprintf("convening.organizers[%d]", i)
				switch {
				case !userOrOrganization(o):
					v.Add(field, "%q is neither a user (users/{id}) nor an organization (organizations/{slug})", o)
				case seen[o]:
					v.Add(field, "%s is named twice", o)
				}
				seen[o] = true
			}
		case "themes":
			if len(c.GetThemes()) > maxConveningThemes {
				v.Add("convening.themes", "must be at most %d", maxConveningThemes)
			}
			seen := map[string]bool{}
			for i, th := range c.GetThemes() {
				field := fmt.Sprintf("convening.themes[%d]", i)
				if _, err := resname.ParseTheme(th); err != nil {
					v.Add(field, "%v", err)
				} else if seen[th] {
					v.Add(field, "%s is named twice", th)
				}
				seen[th] = true
			}
		case "state":
			if s := c.GetState(); s == forumv1.ConveningState_CONVENING_STATE_UNSPECIFIED || forumv1.ConveningState_name[int32(s)] == "" {
				v.Add("convening.state", "must be PLANNED, HELD or ARCHIVED")
			}
		}
	}
	if dates == 2 && c.GetEndDate() < c.GetStartDate() {
		v.Add("convening.end_date", "%s is before the start date, %s", c.GetEndDate(), c.GetStartDate())
	}
}

func (c *conveningService) GetConvening(ctx context.Context, req *forumv1.GetConveningRequest) (*forumv1.Convening, error) {
	var v errs.Violations
	name := checkConveningName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	return c.s.store.GetConvening(ctx, actorFrom(ctx), name)
}

func (c *conveningService) ListConvenings(ctx context.Context, req *forumv1.ListConveningsRequest) (*forumv1.ListConveningsResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	var state forumv1.ConveningState
	if f := strings.Join(strings.Fields(req.GetFilter()), " "); f != "" {
		word, ok := strings.CutPrefix(f, "state = ")
		if !ok {
			word, ok = strings.CutPrefix(f, "state=")
		}
		word = strings.Trim(strings.TrimSpace(word), `"`)
		if !strings.HasPrefix(word, "CONVENING_STATE_") {
			word = "CONVENING_STATE_" + word
		}
		state = forumv1.ConveningState(forumv1.ConveningState_value[word])
		if !ok || state == forumv1.ConveningState_CONVENING_STATE_UNSPECIFIED {
			v.Add("filter", "must be empty or state = PLANNED, HELD or ARCHIVED")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	list, next, err := c.s.store.ListConvenings(ctx, actorFrom(ctx), state, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListConveningsResponse{Convenings: list, NextPageToken: next}, nil
}

// renderDescription renders the description of conv when paths names it.
func (c *conveningService) renderDescription(conv *forumv1.Convening, paths []string) error {
	for _, p := range paths {
		if p == "description" {
			html, err := c.s.renderBody("convening.description", conv.GetDescription())
			if err != nil {
				return err
			}
			conv.DescriptionHtml = html
		}
	}
	return nil
}

func (c *conveningService) CreateConvening(ctx context.Context, req *forumv1.CreateConveningRequest) (*forumv1.Convening, error) {
	var v errs.Violations
	if !resname.ValidSlug(req.GetConveningId(), maxConveningSlug) {
		v.Add("convening_id", "must be a lowercase slug: letters, digits and single hyphens, at most %d characters", maxConveningSlug)
	}
	conv := req.GetConvening()
	if conv == nil {
		v.Add("convening", "is required")
	} else {
		paths := conveningUpdatable
		if conv.GetState() == forumv1.ConveningState_CONVENING_STATE_UNSPECIFIED {
			paths = paths[:len(paths)-1] // PLANNED by default
		}
		checkConveningFields(&v, conv, paths)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := c.renderDescription(conv, []string{"description"}); err != nil {
		return nil, err
	}
	return c.s.store.CreateConvening(ctx, actorFrom(ctx), req.GetConveningId(), conv, req.GetRequestId())
}

func (c *conveningService) UpdateConvening(ctx context.Context, req *forumv1.UpdateConveningRequest) (*forumv1.Convening, error) {
	var v errs.Violations
	conv := req.GetConvening()
	if conv == nil {
		v.Add("convening", "is required")
		return nil, v.Err()
	}
	name := checkConveningName(&v, "convening.name", conv.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), conv, conveningUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	checkConveningFields(&v, conv, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := c.renderDescription(conv, paths); err != nil {
		return nil, err
	}
	return c.s.store.UpdateConvening(ctx, actorFrom(ctx), name, conv, paths)
}

func (c *conveningService) DeleteConvening(ctx context.Context, req *forumv1.DeleteConveningRequest) (*forumv1.DeleteConveningResponse, error) {
	var v errs.Violations
	name := checkConveningName(&v, "name", req.GetName())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := c.s.store.DeleteConvening(ctx, actorFrom(ctx), name, req.GetEtag()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteConveningResponse{}, nil
}
