package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
)

// activeAdmins returns the names of the forum's active admins.
func activeAdmins(t *testing.T, s *Store) []string {
	t.Helper()
	users, _, err := s.ListUsers(t.Context(), 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range users {
		if activeAdmin(u) {
			out = append(out, u.Name)
		}
	}
	return out
}

// TestLastActiveAdminKept: no change leaves the forum without an active
// admin, whoever makes it; changes that keep one are allowed.
func TestLastActiveAdminKept(t *testing.T) {
	demote := &forumv1.User{Role: forumv1.Role_ROLE_MEMBER}
	suspend := &forumv1.User{State: forumv1.UserState_USER_STATE_SUSPENDED}
	reinstate := &forumv1.User{State: forumv1.UserState_USER_STATE_ACTIVE}
	cases := []struct {
		name string
		// others are created before the target (an admin) and the actor.
		others  []forumv1.Role
		suspend []int // indexes of others to suspend first
		// byOther: the change is made by another admin (others[0])
		// instead of the target themself; bySystem: offline.
		byOther, bySystem bool
		change            *forumv1.User
		paths             []string
		wantRefused       bool
	}{
		{name: "last admin demotes themself", change: demote, paths: []string{"role"}, wantRefused: true},
		{name: "last admin suspends themself", change: suspend, paths: []string{"state"}, wantRefused: true},
		{name: "last admin demoted and suspended at once", change: &forumv1.User{Role: forumv1.Role_ROLE_CONVENER, State: forumv1.UserState_USER_STATE_SUSPENDED}, paths: []string{"role", "state"}, wantRefused: true},
		{name: "last admin demoted offline", bySystem: true, change: demote, paths: []string{"role"}, wantRefused: true},
		{name: "members and conveners do not count", others: []forumv1.Role{forumv1.Role_ROLE_MEMBER, forumv1.Role_ROLE_CONVENER}, change: demote, paths: []string{"role"}, wantRefused: true},
		{name: "a suspended admin does not count", others: []forumv1.Role{forumv1.Role_ROLE_ADMIN}, suspend: []int{0}, change: demote, paths: []string{"role"}, wantRefused: true},
		{name: "a suspended admin does not count for suspension either", others: []forumv1.Role{forumv1.Role_ROLE_ADMIN}, suspend: []int{0}, change: suspend, paths: []string{"state"}, wantRefused: true},
		{name: "demoting with another active admin", others: []forumv1.Role{forumv1.Role_ROLE_ADMIN}, change: demote, paths: []string{"role"}},
		{name: "demoted by another active admin", others: []forumv1.Role{forumv1.Role_ROLE_ADMIN}, byOther: true, change: demote, paths: []string{"role"}},
		{name: "suspended by another active admin", others: []forumv1.Role{forumv1.Role_ROLE_ADMIN}, byOther: true, change: suspend, paths: []string{"state"}},
		{name: "last admin changes their display name", change: &forumv1.User{DisplayName: "Still in charge"}, paths: []string{"display_name"}},
		{name: "last admin stays admin", change: &forumv1.User{Role: forumv1.Role_ROLE_ADMIN}, paths: []string{"role"}},
		{name: "last admin reinstates themself", change: reinstate, paths: []string{"state"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			ctx := t.Context()
			var others []authz.Actor
			for i, r := range tc.others {
				others = append(others, member(t, s, fmt.Sprintf("other%d", i), r))
			}
			target := member(t, s, "target", forumv1.Role_ROLE_ADMIN)
			for _, i := range tc.suspend {
				if _, err := s.UpdateUser(ctx, authz.SystemActor, resname.MustParseUser(others[i].User), &forumv1.User{Name: others[i].User, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}); err != nil {
					t.Fatal(err)
				}
			}
			actor := target
			switch {
			case tc.bySystem:
				actor = authz.SystemActor
			case tc.byOther:
				actor = others[0]
			}
			before, err := s.GetUser(ctx, resname.MustParseUser(target.User))
			if err != nil {
				t.Fatal(err)
			}
			change := &forumv1.User{Name: target.User, Role: tc.change.Role, State: tc.change.State, DisplayName: tc.change.DisplayName}
			_, err = s.UpdateUser(ctx, actor, resname.MustParseUser(change.Name), change, tc.paths)
			if !tc.wantRefused {
				if err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
				if len(activeAdmins(t, s)) == 0 {
					t.Fatal("no active admin left")
				}
				return
			}
			if !errors.Is(err, errs.FailedPrecondition) {
				t.Fatalf("UpdateUser = %v, want errs.FailedPrecondition", err)
			}
			after, err := s.GetUser(ctx, resname.MustParseUser(target.User))
			if err != nil {
				t.Fatal(err)
			}
			if after.Etag != before.Etag || after.Role != before.Role || after.State != before.State {
				t.Errorf("a refused change changed the user: %v -> %v", before, after)
			}
		})
	}
}

// TestLastActiveAdminRace: the forum's only two active admins demote each
// other, or suspend themselves, at the same moment. The check is in the
// transaction that makes the change, so exactly one of them succeeds, in
// every round.
func TestLastActiveAdminRace(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "anna", forumv1.Role_ROLE_ADMIN)
	b := member(t, s, "bruno", forumv1.Role_ROLE_ADMIN)
	restore := func() {
		t.Helper()
		for _, x := range []authz.Actor{a, b} {
			if _, err := s.UpdateUser(ctx, authz.SystemActor, resname.MustParseUser(x.User), &forumv1.User{Name: x.User, Role: forumv1.Role_ROLE_ADMIN, State: forumv1.UserState_USER_STATE_ACTIVE}, []string{"role", "state"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	type change struct {
		actor authz.Actor
		user  *forumv1.User
		paths []string
	}
	cases := []struct {
		name    string
		changes [2]change
	}{
		{"demote each other", [2]change{
			{a, &forumv1.User{Name: b.User, Role: forumv1.Role_ROLE_MEMBER}, []string{"role"}},
			{b, &forumv1.User{Name: a.User, Role: forumv1.Role_ROLE_MEMBER}, []string{"role"}},
		}},
		{"suspend themselves", [2]change{
			{a, &forumv1.User{Name: a.User, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}},
			{b, &forumv1.User{Name: b.User, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}},
		}},
		{"each demotes themself", [2]change{
			{a, &forumv1.User{Name: a.User, Role: forumv1.Role_ROLE_MEMBER}, []string{"role"}},
			{b, &forumv1.User{Name: b.User, Role: forumv1.Role_ROLE_MEMBER}, []string{"role"}},
		}},
	}
	const rounds = 25
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for round := range rounds {
				restore()
				start := make(chan struct{})
				var results [2]error
				var wg sync.WaitGroup
				for i, c := range tc.changes {
					wg.Go(func() {
						<-start
						_, results[i] = s.UpdateUser(ctx, c.actor, resname.MustParseUser(c.user.Name), c.user, c.paths)
					})
				}
				close(start)
				wg.Wait()
				ok, refused := 0, 0
				for _, err := range results {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, errs.FailedPrecondition):
						refused++
					default:
						t.Fatalf("round %d: %v", round, err)
					}
				}
				if admins := activeAdmins(t, s); len(admins) == 0 {
					t.Fatalf("round %d: no active admin left (%d changes succeeded)", round, ok)
				}
				if ok != 1 || refused != 1 {
					t.Fatalf("round %d: %d succeeded, %d refused", round, ok, refused)
				}
			}
		})
	}
}
