package server

import (
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestLastAdminCannotLeave: through the API, the forum's only active admin
// can neither demote nor suspend themself (FAILED_PRECONDITION, nothing
// changed); once another user is an admin, they can.
func TestLastAdminCannotLeave(t *testing.T) {
	e := newTestEnv(t)
	admin := e.admin.ctx(t)
	update := func(name string, u *forumv1.User, paths ...string) error {
		u.Name = name
		_, err := e.users.UpdateUser(admin, &forumv1.UpdateUserRequest{User: u, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}
	refused := []struct {
		name  string
		user  *forumv1.User
		paths []string
	}{
		{"demote to member", &forumv1.User{Role: forumv1.Role_ROLE_MEMBER}, []string{"role"}},
		{"demote to convener", &forumv1.User{Role: forumv1.Role_ROLE_CONVENER}, []string{"role"}},
		{"suspend", &forumv1.User{State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}},
		{"demote and rename at once", &forumv1.User{Role: forumv1.Role_ROLE_MEMBER, DisplayName: "Former admin"}, []string{"role", "display_name"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := digest(t, e)
			err := update(e.admin.name, tc.user, tc.paths...)
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("the last admin's %s: %v, want FAILED_PRECONDITION", tc.name, err)
			}
			if after := digest(t, e); after != before {
				t.Error("a refused change changed the forum")
			}
		})
	}
	// With a second admin, the first may step down.
	if err := update(e.alice.name, &forumv1.User{Role: forumv1.Role_ROLE_ADMIN}, "role"); err != nil {
		t.Fatalf("promoting alice: %v", err)
	}
	if err := update(e.admin.name, &forumv1.User{Role: forumv1.Role_ROLE_MEMBER}, "role"); err != nil {
		t.Fatalf("stepping down with another admin: %v", err)
	}
}
