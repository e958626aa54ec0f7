package server

import (
	"context"
	"errors"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type authService struct {
	forumv1.UnsafeAuthServiceServer
	s *Server
}

// dummyHash is verified against when a username is unknown, so that a wrong
// username takes as long as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0R3qDoKZ8MUlmKUnWnMTbGPGQvbcBlwV6t/cUAiGKQo"

var errBadLogin = fmt.Errorf("%w: invalid username or password", errs.Unauthenticated)

// verifyPassword checks a password against a hash, at most
// LoginConcurrency at a time, so a flood of logins cannot take more than
// that many argon2id computations' worth of memory and CPU.
func (s *Server) verifyPassword(ctx context.Context, hash, password string) error {
	select {
	case s.loginSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.loginSlots }()
	return auth.VerifyPassword(hash, password)
}

// hashPassword hashes a password under the same concurrency bound.
func (s *Server) hashPassword(ctx context.Context, password string) (string, error) {
	select {
	case s.loginSlots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.loginSlots }()
	return auth.HashPassword(password)
}

func (a *authService) Login(ctx context.Context, req *forumv1.LoginRequest) (*forumv1.LoginResponse, error) {
	var v errs.Violations
	if req.GetUsername() == "" {
		v.Add("username", "is required")
	}
	if req.GetPassword() == "" {
		v.Add("password", "is required")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(req.GetUsername()) > maxUsernameBytes || len(req.GetPassword()) > auth.MaxPasswordLen {
		return nil, errBadLogin
	}
	user, hash, err := a.s.store.Credentials(ctx, req.GetUsername())
	if err != nil && !errors.Is(err, errs.NotFound) {
		return nil, err
	}
	if err != nil {
		hash = dummyHash
	}
	verr := a.s.verifyPassword(ctx, hash, req.GetPassword())
	if err != nil || verr != nil {
		return nil, errBadLogin
	}
	if user.State == forumv1.UserState_USER_STATE_SUSPENDED {
		return nil, fmt.Errorf("%w: this account is suspended", errs.PermissionDenied)
	}
	token, tokenHash := auth.NewToken(auth.SessionPrefix)
	name, err := resname.ParseUser(user.Name)
	if err != nil {
		return nil, err
	}
	expire, err := a.s.store.CreateSession(ctx, name, tokenHash, a.s.sessionIdle, a.s.sessionMaxAge)
	if err != nil {
		return nil, err
	}
	return &forumv1.LoginResponse{Token: token, ExpireTime: timestamppb.New(expire), User: user}, nil
}

func (a *authService) Logout(ctx context.Context, req *forumv1.LogoutRequest) (*forumv1.LogoutResponse, error) {
	if err := a.s.store.DeleteSession(ctx, callerFrom(ctx).tokenHash); err != nil {
		return nil, err
	}
	return &forumv1.LogoutResponse{}, nil
}

func (a *authService) Register(ctx context.Context, req *forumv1.RegisterRequest) (*forumv1.LoginResponse, error) {
	var v errs.Violations
	u := &forumv1.User{Username: req.GetUsername(), DisplayName: req.GetDisplayName(), Email: req.GetEmail(), Role: forumv1.Role_ROLE_MEMBER}
	checkUsername(&v, "username", u.Username)
	checkName(&v, "display_name", u.DisplayName, maxDisplayName)
	checkEmail(&v, "email", u.Email)
	if err := auth.CheckPasswordPolicy(req.GetPassword()); err != nil {
		v.Add("password", "%v", err)
	}
	if len(req.GetInvitationCode()) > 128 {
		v.Add("invitation_code", "is too long")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.Register(a.s.authzSettings(), req.GetInvitationCode() != ""); err != nil {
		return nil, err
	}
	hash, err := a.s.hashPassword(ctx, req.GetPassword())
	if err != nil {
		return nil, err
	}
	token, tokenHash := auth.NewToken(auth.SessionPrefix)
	r := store.Registration{
		User: u, PasswordHash: hash,
		SessionHash: tokenHash, Idle: a.s.sessionIdle, MaxAge: a.s.sessionMaxAge,
	}
	if req.GetInvitationCode() != "" {
		r.CodeHash = auth.HashToken(req.GetInvitationCode())
	}
	user, expire, err := a.s.store.Register(ctx, r)
	if err != nil {
		return nil, err
	}
	return &forumv1.LoginResponse{Token: token, ExpireTime: timestamppb.New(expire), User: user}, nil
}

func (a *authService) ChangePassword(ctx context.Context, req *forumv1.ChangePasswordRequest) (*forumv1.ChangePasswordResponse, error) {
	var v errs.Violations
	if req.GetOldPassword() == "" {
		v.Add("old_password", "is required")
	}
	if err := auth.CheckPasswordPolicy(req.GetNewPassword()); err != nil {
		v.Add("new_password", "%v", err)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	user, err := resname.ParseUser(actorFrom(ctx).User)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.NotFound, err)
	}
	me, err := a.s.store.GetUser(ctx, user)
	if err != nil {
		return nil, err
	}
	_, hash, err := a.s.store.Credentials(ctx, me.Username)
	if err != nil {
		return nil, err
	}
	if err := a.s.verifyPassword(ctx, hash, req.GetOldPassword()); err != nil {
		return nil, fmt.Errorf("%w: the old password is wrong", errs.PermissionDenied)
	}
	newHash, err := a.s.hashPassword(ctx, req.GetNewPassword())
	if err != nil {
		return nil, err
	}
	if err := a.s.store.SetPassword(ctx, user, newHash); err != nil {
		return nil, err
	}
	return &forumv1.ChangePasswordResponse{}, nil
}
