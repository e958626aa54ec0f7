package server

import (
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestProfilesAndOrganizations(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	orgs := forumv1.NewOrganizationServiceClient(e.conn)
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

	if _, err := orgs.CreateOrganization(e.alice.ctx(t), &forumv1.CreateOrganizationRequest{OrganizationId: "vso", Organization: &forumv1.Organization{DisplayName: "VSO", Country: "KE", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("member creates an organization: %v", err)
	}
	org, err := orgs.CreateOrganization(e.convener.ctx(t), &forumv1.CreateOrganizationRequest{OrganizationId: "kenya-nvp", Organization: &forumv1.Organization{DisplayName: "Kenya NVP", Country: "KE", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NATIONAL_VOLUNTEER_PROGRAMME}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"XX", "ke", "KEN", "EU", "1A"} {
		_, err := orgs.CreateOrganization(e.convener.ctx(t), &forumv1.CreateOrganizationRequest{OrganizationId: "x", Organization: &forumv1.Organization{DisplayName: "X", Country: bad, Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("country %q: %v", bad, err)
		}
	}

	// Alice fills in her profile.
	me, err := e.users.UpdateUser(e.alice.ctx(t), &forumv1.UpdateUserRequest{
		User:       &forumv1.User{Name: e.alice.name, Email: "alice@example.org", Organization: org.Name, Country: "KE", Languages: []string{"sw", "en-KE"}, Bio: "Volunteer coordinator"},
		UpdateMask: mask("email", "organization", "country", "languages", "bio"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if me.Email != "alice@example.org" || me.Organization != org.Name {
		t.Fatalf("own profile %v", me)
	}
	// Only Alice sees her e-mail address.
	for _, who := range []testUser{e.bob, e.admin, {}} {
		c := ctx
		if who.token != "" {
			c = who.ctx(t)
		}
		u, err := e.users.GetUser(c, &forumv1.GetUserRequest{Name: e.alice.name})
		if err != nil || u.Email != "" || u.Country != "KE" {
			t.Errorf("GetUser as %q: %v %v", who.name, u, err)
		}
		l, err := e.users.ListUsers(c, &forumv1.ListUsersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range l.Users {
			if u.Email != "" {
				t.Errorf("ListUsers as %q shows %s's e-mail", who.name, u.Name)
			}
		}
	}
	if u, _ := e.users.GetUser(e.alice.ctx(t), &forumv1.GetUserRequest{Name: "users/me"}); u.GetEmail() != "alice@example.org" {
		t.Errorf("users/me lacks the own e-mail: %v", u)
	}
	for _, bad := range []*forumv1.UpdateUserRequest{
		{User: &forumv1.User{Name: e.alice.name, Country: "ZZ"}, UpdateMask: mask("country")},
		{User: &forumv1.User{Name: e.alice.name, Languages: []string{"not a tag!"}}, UpdateMask: mask("languages")},
		{User: &forumv1.User{Name: e.alice.name, Email: "Alice <a@b.c>"}, UpdateMask: mask("email")},
		{User: &forumv1.User{Name: e.alice.name, Organization: "organizations/nope"}, UpdateMask: mask("organization")},
	} {
		if _, err := e.users.UpdateUser(e.alice.ctx(t), bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("UpdateUser(%v): %v", bad.User, err)
		}
	}
	// An organisation with members cannot be deleted.
	if _, err := orgs.DeleteOrganization(e.convener.ctx(t), &forumv1.DeleteOrganizationRequest{Name: org.Name}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("delete an organization with members: %v", err)
	}

	// Threads listed by the author's organisation and country.
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "From Nairobi"})
	e.mustThread(t, e.bob, &forumv1.Thread{Title: "From elsewhere"})
	for _, f := range []string{`author.organization = "organizations/kenya-nvp"`, "author.country = KE"} {
		l, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Threads) != 1 || l.Threads[0].Name != th.Name {
			t.Errorf("filter %s: %v", f, names(l.Threads))
		}
	}
}

func TestSuspension(t *testing.T) {
	e := newTestEnv(t)
	mask := &fieldmaskpb.FieldMask{Paths: []string{"state"}}
	suspend := &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.bob.name, State: forumv1.UserState_USER_STATE_SUSPENDED}, UpdateMask: mask}
	if _, err := e.users.UpdateUser(e.convener.ctx(t), suspend); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a convener suspends: %v", err)
	}
	th := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Before suspension"})
	if _, err := e.users.UpdateUser(e.admin.ctx(t), suspend); err != nil {
		t.Fatal(err)
	}
	if _, err := e.replies.CreateReply(e.bob.ctx(t), &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "still here?"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a suspended user writes: %v", err)
	}
	if _, err := e.authc.Login(t.Context(), &forumv1.LoginRequest{Username: "bob", Password: testPassword}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a suspended user logs in: %v", err)
	}
	// Their posts stay.
	if _, err := e.threads.GetThread(t.Context(), &forumv1.GetThreadRequest{Name: th.Name}); err != nil {
		t.Fatal(err)
	}
}
