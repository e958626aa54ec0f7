package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// API token lifetimes.
const (
	defaultTokenLifetime = 90 * 24 * time.Hour
	maxTokenLifetime     = 366 * 24 * time.Hour
)

type apiTokenService struct {
	forumv1.UnsafeApiTokenServiceServer
	s *Server
}

// resolveUser parses the user name in field, `users/me` standing for the
// caller's, or records a violation.
func resolveUser(v *errs.Violations, field, name string, a authz.Actor) resname.User {
	if name == "users/me" {
		name = a.User
	}
	n, err := resname.ParseUser(name)
	if err != nil {
		v.Add(field, "%v", err)
	}
	return n
}

func (t *apiTokenService) CreateApiToken(ctx context.Context, req *forumv1.CreateApiTokenRequest) (*forumv1.ApiToken, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	in := req.GetApiToken()
	if in == nil {
		v.Add("api_token", "is required")
		return nil, v.Err()
	}
	checkName(&v, "api_token.display_name", in.GetDisplayName(), maxDisplayName)
	if len(in.GetScopes()) == 0 {
		v.Add("api_token.scopes", "name at least one scope: READ, WRITE, MODERATE or ADMIN")
	}
	for i, sc := range in.GetScopes() {
		if _, ok := forumv1.TokenScope_name[int32(sc)]; !ok || sc == forumv1.TokenScope_TOKEN_SCOPE_UNSPECIFIED {
			v.Add(fmt.Sprintf("api_token.scopes[%d]", i), "must be READ, WRITE, MODERATE or ADMIN")
		} else if slices.Contains(in.GetScopes()[:i], sc) {
			v.Add(fmt.Sprintf("api_token.scopes[%d]", i), "%s appears twice", sc)
		}
	}
	now := time.Now()
	expire := now.Add(defaultTokenLifetime)
	if in.GetExpireTime() != nil {
		expire = in.GetExpireTime().AsTime()
		if !expire.After(now) || expire.Sub(now) > maxTokenLifetime || !in.GetExpireTime().IsValid() {
			v.Add("api_token.expire_time", "must be in the future and at most a year away")
		}
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.CreateToken(a, parent.String(), in.GetScopes()); err != nil {
		return nil, err
	}
	token, hash := auth.NewToken(auth.APITokenPrefix)
	scopes := slices.Clone(in.GetScopes())
	slices.Sort(scopes)
	spec := &forumv1.ApiToken{
		DisplayName: in.GetDisplayName(),
		Scopes:      scopes,
		ExpireTime:  timestamppb.New(expire),
		TokenPrefix: token[:len(auth.APITokenPrefix)+6],
	}
	out, created, err := t.s.store.CreateAPIToken(ctx, a, parent, spec, hash, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	if created { // not the replay of an earlier request, whose secret is gone
		out.Token = token
	}
	return out, nil
}

func (t *apiTokenService) ListApiTokens(ctx context.Context, req *forumv1.ListApiTokensRequest) (*forumv1.ListApiTokensResponse, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.TokenOwner(a, parent.String(), "list"); err != nil {
		return nil, err
	}
	tokens, next, err := t.s.store.ListAPITokens(ctx, a, parent, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListApiTokensResponse{ApiTokens: tokens, NextPageToken: next}, nil
}

func (t *apiTokenService) DeleteApiToken(ctx context.Context, req *forumv1.DeleteApiTokenRequest) (*forumv1.DeleteApiTokenResponse, error) {
	name, err := resname.ParseAPIToken(req.GetName())
	if err != nil {
		return nil, errs.InvalidField("name", "%v", err)
	}
	if err := authz.TokenOwner(actorFrom(ctx), name.User.String(), "revoke"); err != nil {
		return nil, err
	}
	if err := t.s.store.DeleteAPIToken(ctx, actorFrom(ctx), name); err != nil {
		return nil, err
	}
	return &forumv1.DeleteApiTokenResponse{}, nil
}

// Invitation lifetimes.
const (
	defaultInvitationLifetime = 14 * 24 * time.Hour
	maxInvitationLifetime     = 90 * 24 * time.Hour
)

type invitationService struct {
	forumv1.UnsafeInvitationServiceServer
	s *Server
}

func (i *invitationService) CreateInvitation(ctx context.Context, req *forumv1.CreateInvitationRequest) (*forumv1.Invitation, error) {
	var v errs.Violations
	in := req.GetInvitation()
	if in == nil {
		in = &forumv1.Invitation{}
	}
	role := in.GetRole()
	if role == forumv1.Role_ROLE_UNSPECIFIED {
		role = forumv1.Role_ROLE_MEMBER
	}
	if role != forumv1.Role_ROLE_MEMBER && role != forumv1.Role_ROLE_CONVENER {
		v.Add("invitation.role", "must be MEMBER or CONVENER")
	}
	now := time.Now()
	expire := now.Add(defaultInvitationLifetime)
	if in.GetExpireTime() != nil {
		expire = in.GetExpireTime().AsTime()
		if !expire.After(now) || expire.Sub(now) > maxInvitationLifetime || !in.GetExpireTime().IsValid() {
			v.Add("invitation.expire_time", "must be in the future and at most 90 days away")
		}
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.Invite(actorFrom(ctx), role); err != nil {
		return nil, err
	}
	code, hash := auth.NewToken(auth.InvitationPrefix)
	spec := &forumv1.Invitation{Role: role, ExpireTime: timestamppb.New(expire)}
	out, created, err := i.s.store.CreateInvitation(ctx, actorFrom(ctx), spec, hash, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	if created { // not the replay of an earlier request, whose code is gone
		out.Code = code
	}
	return out, nil
}

func (i *invitationService) ListInvitations(ctx context.Context, req *forumv1.ListInvitationsRequest) (*forumv1.ListInvitationsResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	invs, next, err := i.s.store.ListInvitations(ctx, actorFrom(ctx), n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListInvitationsResponse{Invitations: invs, NextPageToken: next}, nil
}

func (i *invitationService) DeleteInvitation(ctx context.Context, req *forumv1.DeleteInvitationRequest) (*forumv1.DeleteInvitationResponse, error) {
	name, err := resname.ParseInvitation(req.GetName())
	if err != nil {
		return nil, errs.InvalidField("name", "%v", err)
	}
	if err := i.s.store.DeleteInvitation(ctx, actorFrom(ctx), name); err != nil {
		return nil, err
	}
	return &forumv1.DeleteInvitationResponse{}, nil
}
