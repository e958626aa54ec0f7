package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
)

type userService struct {
	forumv1.UnsafeUserServiceServer
	s *Server
}

// usernameFilter is ListUsers' filter: a username, or the start of one
// and *.
var usernameFilter = regexp.MustCompile(`^\s*username\s*=\s*"([A-Za-z0-9_.-]{1,32})(\*?)"\s*$`)

// checkUsername records a violation unless name is 3-32 characters of
// [a-z0-9_.-] starting with a letter.
func checkUsername(v *errs.Violations, field, name string) {
	ok := len(name) >= 3 && len(name) <= maxUsernameBytes && name[0] >= 'a' && name[0] <= 'z'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		v.Add(field, "must be 3-%d characters of a-z, 0-9, _ . -, starting with a letter", maxUsernameBytes)
	}
}

func checkRole(v *errs.Violations, field string, r forumv1.Role) {
	if _, ok := forumv1.Role_name[int32(r)]; !ok || r == forumv1.Role_ROLE_UNSPECIFIED {
		v.Add(field, "must be MEMBER, CONVENER or ADMIN")
	}
}

func checkNewUser(v *errs.Violations, in *forumv1.User) {
	checkUsername(v, "user.username", in.GetUsername())
	checkName(v, "user.display_name", in.GetDisplayName(), maxDisplayName)
	checkRole(v, "user.role", in.GetRole())
}

// ValidateNewUser checks a new user's username, display name and role as
// CreateUser does. forumd's admin create-user uses it, since it writes to the
// store directly; the password is checked by auth.CheckPasswordPolicy.
func ValidateNewUser(u *forumv1.User) error {
	var v errs.Violations
	checkNewUser(&v, u)
	return v.Err()
}

func (u *userService) GetUser(ctx context.Context, req *forumv1.GetUserRequest) (*forumv1.User, error) {
	name := req.GetName()
	if name == "users/me" {
		if name = actorFrom(ctx).User; name == "" {
			return nil, fmt.Errorf("%w: users/me needs a bearer token", errs.Unauthenticated)
		}
	}
	n, err := resname.ParseUser(name)
	if err != nil {
		return nil, errs.InvalidField("name", "%v", err)
	}
	out, err := u.s.store.GetUser(ctx, n)
	return u.s.privateView(actorFrom(ctx), out), err
}

func (u *userService) ListUsers(ctx context.Context, req *forumv1.ListUsersRequest) (*forumv1.ListUsersResponse, error) {
	var v errs.Violations
	n := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	var (
		users []*forumv1.User
		next  string
		err   error
	)
	if f := req.GetFilter(); strings.TrimSpace(f) != "" {
		m := usernameFilter.FindStringSubmatch(f)
		if m == nil {
			return nil, errs.InvalidField("filter", `must be username = "name" or username = "prefix*" (a-z, 0-9, _ . -)`)
		}
		users, next, err = u.s.store.ListUsersByUsername(ctx, strings.ToLower(m[1]), m[2] == "", n, req.GetPageToken())
	} else {
		users, next, err = u.s.store.ListUsers(ctx, n, req.GetPageToken())
	}
	if err != nil {
		return nil, err
	}
	for i, x := range users {
		users[i] = u.s.privateView(actorFrom(ctx), x)
	}
	return &forumv1.ListUsersResponse{Users: users, NextPageToken: next}, nil
}

func (u *userService) CreateUser(ctx context.Context, req *forumv1.CreateUserRequest) (*forumv1.User, error) {
	var v errs.Violations
	in := req.GetUser()
	if in == nil {
		v.Add("user", "is required")
		return nil, v.Err()
	}
	if in.Role == forumv1.Role_ROLE_UNSPECIFIED {
		in.Role = forumv1.Role_ROLE_MEMBER
	}
	checkNewUser(&v, in)
	if err := auth.CheckPasswordPolicy(req.GetPassword()); err != nil {
		v.Add("password", "%v", err)
	}
	checkRequestID(&v, req.GetRequestId())
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(req.GetPassword())
	if err != nil {
		return nil, err
	}
	out, err := u.s.store.CreateUser(ctx, actorFrom(ctx), in, hash, req.GetRequestId())
	return u.s.privateView(actorFrom(ctx), out), err
}

// userUpdatable are the user fields UpdateUser may change; role and state
// only for admins (authz.UpdateUser).
var userUpdatable = []string{"display_name", "email", "organization", "country", "languages", "bio", "role", "state"}

func (u *userService) UpdateUser(ctx context.Context, req *forumv1.UpdateUserRequest) (*forumv1.User, error) {
	var v errs.Violations
	in := req.GetUser()
	if in == nil {
		v.Add("user", "is required")
		return nil, v.Err()
	}
	name, err := resname.ParseUser(in.GetName())
	if err != nil {
		v.Add("user.name", "%v", err)
		return nil, v.Err()
	}
	paths, err := updatePaths(req.GetUpdateMask(), in, userUpdatable, "etag")
	if err != nil {
		return nil, err
	}
	a := actorFrom(ctx)
	for _, p := range paths {
		switch p {
		case "display_name":
			checkName(&v, "user.display_name", in.GetDisplayName(), maxDisplayName)
		case "email":
			checkEmail(&v, "user.email", in.GetEmail())
		case "organization":
			if in.GetOrganization() != "" {
				checkOrganizationName(&v, "user.organization", in.GetOrganization())
			}
		case "country":
			checkCountry(&v, "user.country", in.GetCountry(), false)
		case "languages":
			checkLanguages(&v, "user.languages", in.GetLanguages())
		case "bio":
			checkText(&v, "user.bio", in.GetBio(), 0, maxBio, true)
		case "role":
			checkRole(&v, "user.role", in.GetRole())
		case "state":
			if _, ok := forumv1.UserState_name[int32(in.GetState())]; !ok || in.GetState() == forumv1.UserState_USER_STATE_UNSPECIFIED {
				v.Add("user.state", "must be ACTIVE or SUSPENDED")
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.UpdateUser(a, in.GetName(), paths); err != nil {
		return nil, err
	}
	out, err := u.s.store.UpdateUser(ctx, a, name, in, paths)
	return u.s.privateView(a, out), err
}

// privateView returns u as the actor may see it (authz.UserView, with the
// server's settings: Config.PublicDirectory).
func (s *Server) privateView(a authz.Actor, u *forumv1.User) *forumv1.User {
	return authz.UserView(a, u, s.authzSettings())
}
