package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
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
	// Only Alice sees her e-mail address; anonymous callers see her name
	// only (TestDirectoryForMembers).
	for _, who := range []testUser{e.bob, e.admin} {
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
	tokens := forumv1.NewApiTokenServiceClient(e.conn)
	tok, err := tokens.CreateApiToken(e.bob.ctx(t), &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "bot", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_WRITE}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.UpdateUser(e.admin.ctx(t), suspend); err != nil {
		t.Fatal(err)
	}
	reply := &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "still here?"}}
	// Suspension revokes the login sessions, and the API tokens stop writing.
	if _, err := e.replies.CreateReply(e.bob.ctx(t), reply); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a suspended user's session writes: %v", err)
	}
	if _, err := e.replies.CreateReply(testUser{token: tok.Token}.ctx(t), reply); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a suspended user's API token writes: %v", err)
	}
	if _, err := e.authc.Login(t.Context(), &forumv1.LoginRequest{Username: "bob", Password: testPassword}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a suspended user logs in: %v", err)
	}
	// Their posts stay.
	if _, err := e.threads.GetThread(t.Context(), &forumv1.GetThreadRequest{Name: th.Name}); err != nil {
		t.Fatal(err)
	}
}

func TestAPITokens(t *testing.T) {
	e := newTestEnv(t)
	tokens := forumv1.NewApiTokenServiceClient(e.conn)
	create := func(u testUser, scopes ...forumv1.TokenScope) (*forumv1.ApiToken, error) {
		return tokens.CreateApiToken(u.ctx(t), &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "integration", Scopes: scopes}})
	}
	read, err := create(e.alice, forumv1.TokenScope_TOKEN_SCOPE_READ)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(read.Token, "fgt_") || !strings.HasPrefix(read.Token, read.TokenPrefix) || read.ExpireTime == nil {
		t.Fatalf("token %v", read)
	}
	write, err := create(e.alice, forumv1.TokenScope_TOKEN_SCOPE_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	readCtx, writeCtx := testUser{token: read.Token}.ctx(t), testUser{token: write.Token}.ctx(t)
	newThread := &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "From a script"}}
	if _, err := e.threads.CreateThread(readCtx, newThread); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a READ token writes: %v", err)
	}
	th, err := e.threads.CreateThread(writeCtx, newThread)
	if err != nil || th.Author != e.alice.name {
		t.Fatalf("a WRITE token writes: %v %v", th, err)
	}
	if _, err := e.threads.ListThreads(readCtx, &forumv1.ListThreadsRequest{}); err != nil {
		t.Fatalf("a READ token reads: %v", err)
	}
	// Scopes never exceed the owner's role; tokens cannot mint tokens or
	// change passwords.
	if _, err := create(e.alice, forumv1.TokenScope_TOKEN_SCOPE_MODERATE); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a member mints a MODERATE token: %v", err)
	}
	if _, err := tokens.CreateApiToken(writeCtx, &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "x", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a token mints a token: %v", err)
	}
	if _, err := e.authc.ChangePassword(writeCtx, &forumv1.ChangePasswordRequest{OldPassword: testPassword, NewPassword: "another long password"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a token changes the password: %v", err)
	}
	// A convener's WRITE token cannot moderate.
	convWrite, err := create(e.convener, forumv1.TokenScope_TOKEN_SCOPE_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	pin := &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Pinned: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"pinned"}}}
	if _, err := e.threads.UpdateThread(testUser{token: convWrite.Token}.ctx(t), pin); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a convener's WRITE token pins: %v", err)
	}
	convMod, err := create(e.convener, forumv1.TokenScope_TOKEN_SCOPE_WRITE, forumv1.TokenScope_TOKEN_SCOPE_MODERATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.threads.UpdateThread(testUser{token: convMod.Token}.ctx(t), pin); err != nil {
		t.Fatalf("a convener's MODERATE token pins: %v", err)
	}
	// Listing shows no secrets; bob cannot list alice's tokens.
	l, err := tokens.ListApiTokens(e.alice.ctx(t), &forumv1.ListApiTokensRequest{Parent: "users/me"})
	if err != nil || len(l.ApiTokens) != 2 {
		t.Fatalf("list: %v %v", l, err)
	}
	for _, tk := range l.ApiTokens {
		if tk.Token != "" {
			t.Fatal("ListApiTokens returns a secret")
		}
	}
	if _, err := tokens.ListApiTokens(e.bob.ctx(t), &forumv1.ListApiTokensRequest{Parent: e.alice.name}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bob lists alice's tokens: %v", err)
	}
	// Revocation is immediate.
	if _, err := tokens.DeleteApiToken(e.alice.ctx(t), &forumv1.DeleteApiTokenRequest{Name: write.Name}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.threads.CreateThread(writeCtx, newThread); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a revoked token: %v", err)
	}
	// An expired token is refused.
	expired, hash := auth.NewToken(auth.APITokenPrefix)
	if _, _, err := e.store.CreateAPIToken(t.Context(), authz.Actor{User: e.alice.name, Role: forumv1.Role_ROLE_MEMBER},
		resname.MustParseUser(e.alice.name), &forumv1.ApiToken{DisplayName: "old", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_WRITE}, ExpireTime: timestamppb.New(time.Now().Add(-time.Second))}, hash, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.threads.CreateThread(testUser{token: expired}.ctx(t), newThread); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("an expired token: %v", err)
	}
}

func TestRegistrationAndInvitations(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	invites := forumv1.NewInvitationServiceClient(e.conn)
	reg := func(username, code string) (*forumv1.LoginResponse, error) {
		return e.authc.Register(ctx, &forumv1.RegisterRequest{Username: username, DisplayName: username, Password: testPassword, InvitationCode: code})
	}
	if _, err := reg("newcomer", ""); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("register without an invitation: %v", err)
	}
	if _, err := invites.CreateInvitation(e.alice.ctx(t), &forumv1.CreateInvitationRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a member invites: %v", err)
	}
	if _, err := invites.CreateInvitation(e.convener.ctx(t), &forumv1.CreateInvitationRequest{Invitation: &forumv1.Invitation{Role: forumv1.Role_ROLE_CONVENER}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a convener invites a convener: %v", err)
	}
	inv, err := invites.CreateInvitation(e.convener.ctx(t), &forumv1.CreateInvitationRequest{})
	if err != nil || !strings.HasPrefix(inv.Code, "fgi_") {
		t.Fatalf("invitation %v %v", inv, err)
	}
	res, err := reg("newcomer", inv.Code)
	if err != nil || res.User.Role != forumv1.Role_ROLE_MEMBER || res.Token == "" {
		t.Fatalf("register with an invitation: %v %v", res, err)
	}
	if _, err := e.threads.CreateThread(testUser{token: res.Token}.ctx(t), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hello"}}); err != nil {
		t.Fatalf("the new user posts: %v", err)
	}
	if _, err := reg("second", inv.Code); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("an invitation used twice: %v", err)
	}
	if _, err := reg("x", "fgi_bogus"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a bad registration: %v", err)
	}
	l, err := invites.ListInvitations(e.convener.ctx(t), &forumv1.ListInvitationsRequest{})
	if err != nil || len(l.Invitations) != 1 || l.Invitations[0].UsedBy != res.User.Name || l.Invitations[0].Code != "" {
		t.Fatalf("invitations %v %v", l, err)
	}

	// With self-registration on, no code is needed.
	open := newTestEnvWith(t, Config{SelfRegistration: true})
	if _, err := open.authc.Register(ctx, &forumv1.RegisterRequest{Username: "free", DisplayName: "Free", Password: testPassword}); err != nil {
		t.Fatalf("self-registration: %v", err)
	}
	if _, err := open.authc.Register(ctx, &forumv1.RegisterRequest{Username: "free", DisplayName: "Free", Password: testPassword}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("a taken username: %v", err)
	}
}

func TestSessionsRevoked(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	login := func(pw string) (testUser, error) {
		r, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: "alice", Password: pw})
		return testUser{token: r.GetToken()}, err
	}
	s1, err := login(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := login(testPassword)
	me := &forumv1.GetUserRequest{Name: "users/me"}
	if _, err := e.users.GetUser(s1.ctx(t), me); err != nil {
		t.Fatal(err)
	}
	// Logout revokes that session only.
	if _, err := e.authc.Logout(s1.ctx(t), &forumv1.LogoutRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.users.GetUser(s1.ctx(t), me); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("after logout: %v", err)
	}
	if _, err := e.users.GetUser(s2.ctx(t), me); err != nil {
		t.Fatalf("the other session after logout: %v", err)
	}
	// A password change revokes every session.
	change := &forumv1.ChangePasswordRequest{OldPassword: "wrong password", NewPassword: "a brand new password"}
	if _, err := e.authc.ChangePassword(s2.ctx(t), change); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("wrong old password: %v", err)
	}
	change.OldPassword = testPassword
	if _, err := e.authc.ChangePassword(s2.ctx(t), change); err != nil {
		t.Fatal(err)
	}
	for _, s := range []testUser{s2, e.alice} {
		if _, err := e.users.GetUser(s.ctx(t), me); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("a session after a password change: %v", err)
		}
	}
	if _, err := login(testPassword); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("login with the old password: %v", err)
	}
	if _, err := login("a brand new password"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

// TestPrivateThemes probes a theme restricted to a group from outside it:
// NOT_FOUND everywhere, nothing in lists or counts, no follow-up link.
func TestPrivateThemes(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	groups := forumv1.NewGroupServiceClient(e.conn)
	conv := e.convener.ctx(t)
	g, err := groups.CreateGroup(conv, &forumv1.CreateGroupRequest{GroupId: "health-wg", Group: &forumv1.Group{DisplayName: "Health working group", Members: []string{e.alice.name}}})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := e.themes.CreateTheme(conv, &forumv1.CreateThemeRequest{ThemeId: "health", Theme: &forumv1.Theme{
		DisplayName: "Health", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{g.Name}}})
	if err != nil {
		t.Fatal(err)
	}
	membersOnly, err := e.themes.CreateTheme(conv, &forumv1.CreateThemeRequest{ThemeId: "internal", Theme: &forumv1.Theme{
		DisplayName: "Internal", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS}})
	if err != nil {
		t.Fatal(err)
	}
	public := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Public"})
	secret := e.mustThread(t, e.alice, &forumv1.Thread{Theme: priv.Name, Title: "Secret plans", Tags: []string{"budget"}})
	reply := e.mustReply(t, e.alice, secret.Name, "confidential")
	// A follow-up in the private theme of a public thread.
	fu, err := e.threads.CreateThread(conv, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: priv.Name, Title: "Private follow-up", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: public.Name}})
	if err != nil {
		t.Fatal(err)
	}
	internal := e.mustThread(t, e.bob, &forumv1.Thread{Theme: membersOnly.Name, Title: "For members"})

	// Alice (a member of the group) and the convener see it all.
	for _, u := range []testUser{e.alice, e.convener} {
		if _, err := e.threads.GetThread(u.ctx(t), &forumv1.GetThreadRequest{Name: secret.Name}); err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
		p, _ := e.threads.GetThread(u.ctx(t), &forumv1.GetThreadRequest{Name: public.Name})
		if len(p.GetFollowUps()) != 1 {
			t.Fatalf("%s does not see the private follow-up", u.name)
		}
	}
	// Bob (outside the group) and anonymous callers see nothing.
	for _, c := range []struct {
		who string
		ctx context.Context
	}{{"bob", e.bob.ctx(t)}, {"anonymous", ctx}} {
		notFound := map[string]error{}
		_, notFound["GetTheme"] = e.themes.GetTheme(c.ctx, &forumv1.GetThemeRequest{Name: priv.Name})
		_, notFound["GetThread"] = e.threads.GetThread(c.ctx, &forumv1.GetThreadRequest{Name: secret.Name})
		_, notFound["GetReply"] = e.replies.GetReply(c.ctx, &forumv1.GetReplyRequest{Name: reply.Name})
		_, notFound["ListReplies"] = e.replies.ListReplies(c.ctx, &forumv1.ListRepliesRequest{Parent: secret.Name})
		_, notFound["GetGroup"] = groups.GetGroup(c.ctx, &forumv1.GetGroupRequest{Name: g.Name})
		for name, err := range notFound {
			if status.Code(err) != codes.NotFound {
				t.Errorf("%s %s: %v, want NotFound", c.who, name, err)
			}
		}
		themes, _ := e.themes.ListThemes(c.ctx, &forumv1.ListThemesRequest{PageSize: 100})
		for _, th := range themes.GetThemes() {
			if th.Name == priv.Name {
				t.Errorf("%s lists the private theme", c.who)
			}
		}
		for _, f := range []string{"", "theme = health", "tag = budget", `follow_up_of = "` + public.Name + `"`} {
			l, err := e.threads.ListThreads(c.ctx, &forumv1.ListThreadsRequest{Filter: f, PageSize: 100, ShowDeleted: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range l.Threads {
				if th.Theme == priv.Name {
					t.Errorf("%s lists %s with filter %q", c.who, th.Name, f)
				}
			}
		}
		p, err := e.threads.GetThread(c.ctx, &forumv1.GetThreadRequest{Name: public.Name})
		if err != nil || len(p.FollowUps) != 0 {
			t.Errorf("%s sees follow-ups %v of the public thread (%v)", c.who, p.GetFollowUps(), err)
		}
		gl, _ := groups.ListGroups(c.ctx, &forumv1.ListGroupsRequest{})
		if len(gl.GetGroups()) != 0 {
			t.Errorf("%s lists groups %v", c.who, gl.GetGroups())
		}
	}
	// Bob cannot write into it either, and gets the same answer as for a
	// theme that does not exist.
	_, err = e.replies.CreateReply(e.bob.ctx(t), &forumv1.CreateReplyRequest{Parent: secret.Name, Reply: &forumv1.Reply{Body: "let me in"}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("bob replies in the private theme: %v", err)
	}
	_, err = e.threads.CreateThread(e.bob.ctx(t), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: priv.Name, Title: "x"}})
	_, errMissing := e.threads.CreateThread(e.bob.ctx(t), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/no-such", Title: "x"}})
	if status.Code(err) != codes.InvalidArgument || strings.Replace(status.Convert(err).Message(), "health", "no-such", 1) != status.Convert(errMissing).Message() {
		t.Errorf("posting into the private theme (%v) differs from a missing theme (%v)", err, errMissing)
	}
	// The members-only theme: logged-in users see it, anonymous callers not.
	if _, err := e.threads.GetThread(e.bob.ctx(t), &forumv1.GetThreadRequest{Name: internal.Name}); err != nil {
		t.Errorf("bob reads a members-only thread: %v", err)
	}
	if _, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: internal.Name}); status.Code(err) != codes.NotFound {
		t.Errorf("anonymous reads a members-only thread: %v", err)
	}
	// A group a theme is restricted to cannot be deleted.
	if _, err := groups.DeleteGroup(conv, &forumv1.DeleteGroupRequest{Name: g.Name}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("delete a group in use: %v", err)
	}
	_ = fu
}

// TestSecretsShownOnceOnReplay: a CreateApiToken or CreateInvitation
// retried with the same request_id returns the first call's resource
// without its secret (which is not stored), and creates nothing more.
func TestSecretsShownOnceOnReplay(t *testing.T) {
	e := newTestEnv(t)
	tokens := forumv1.NewApiTokenServiceClient(e.conn)
	invites := forumv1.NewInvitationServiceClient(e.conn)
	const rid = "5f0c9b2e-8f57-4c1e-9a7b-3d2f1e0a9c88"
	treq := &forumv1.CreateApiTokenRequest{Parent: e.alice.name, ApiToken: &forumv1.ApiToken{DisplayName: "ci", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}, RequestId: rid}
	first, err := tokens.CreateApiToken(e.alice.ctx(t), treq)
	if err != nil || !strings.HasPrefix(first.Token, "fgt_") {
		t.Fatalf("first CreateApiToken: %v, token %q", err, first.GetToken())
	}
	again, err := tokens.CreateApiToken(e.alice.ctx(t), treq)
	if err != nil || again.Name != first.Name || again.Token != "" {
		t.Errorf("replayed CreateApiToken: %v, name %q (first %q), token %q; want the same token without its secret", err, again.GetName(), first.Name, again.GetToken())
	}
	ireq := &forumv1.CreateInvitationRequest{RequestId: rid}
	inv, err := invites.CreateInvitation(e.convener.ctx(t), ireq)
	if err != nil || !strings.HasPrefix(inv.Code, "fgi_") {
		t.Fatalf("first CreateInvitation: %v, code %q", err, inv.GetCode())
	}
	inv2, err := invites.CreateInvitation(e.convener.ctx(t), ireq)
	if err != nil || inv2.Name != inv.Name || inv2.Code != "" {
		t.Errorf("replayed CreateInvitation: %v, name %q (first %q), code %q; want the same invitation without its code", err, inv2.GetName(), inv.Name, inv2.GetCode())
	}
	list, err := invites.ListInvitations(e.convener.ctx(t), &forumv1.ListInvitationsRequest{})
	if err != nil || len(list.Invitations) != 1 {
		t.Errorf("invitations after a replay: %d, %v; want 1", len(list.GetInvitations()), err)
	}
}

// TestDirectoryForMembers: the member directory (ListUsers, and whole
// profiles) is for logged-in callers, a READ token included; an anonymous
// caller gets UNAUTHENTICATED from ListUsers and a user's name, username
// and display name only from GetUser. Config.PublicDirectory opens both.
func TestDirectoryForMembers(t *testing.T) {
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("PublicDirectory=%v", open), func(t *testing.T) {
			e := newTestEnvWith(t, Config{PublicDirectory: open})
			if _, err := e.users.UpdateUser(e.alice.ctx(t), &forumv1.UpdateUserRequest{
				User:       &forumv1.User{Name: e.alice.name, Country: "KE", Bio: "Volunteer coordinator", Languages: []string{"sw"}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"country", "bio", "languages"}},
			}); err != nil {
				t.Fatal(err)
			}
			anon := t.Context()
			_, err := e.users.ListUsers(anon, &forumv1.ListUsersRequest{})
			if open != (err == nil) || (!open && status.Code(err) != codes.Unauthenticated) {
				t.Errorf("anonymous ListUsers: %v", err)
			}
			u, err := e.users.GetUser(anon, &forumv1.GetUserRequest{Name: e.alice.name})
			if err != nil || u.GetName() != e.alice.name || u.GetUsername() != "alice" || u.GetDisplayName() == "" {
				t.Fatalf("anonymous GetUser: %v, %v", u, err)
			}
			if whole := u.GetCountry() == "KE" && u.GetBio() != "" && len(u.GetLanguages()) == 1 && u.GetCreateTime() != nil; whole != open {
				t.Errorf("anonymous GetUser shows the whole profile: %v, want %v (%v)", whole, open, u)
			}
			if u.GetEmail() != "" {
				t.Errorf("anonymous GetUser shows the e-mail address")
			}
			// Members see the directory and whole profiles either way.
			l, err := e.users.ListUsers(e.bob.ctx(t), &forumv1.ListUsersRequest{})
			if err != nil || len(l.GetUsers()) == 0 {
				t.Fatalf("a member's ListUsers: %v", err)
			}
			if u, err := e.users.GetUser(e.bob.ctx(t), &forumv1.GetUserRequest{Name: e.alice.name}); err != nil || u.GetCountry() != "KE" {
				t.Errorf("a member's GetUser: %v, %v", u, err)
			}
		})
	}
}

// TestWithdrawInvitations: admins withdraw any invitation, conveners only
// the ones they created (issue 12: a convener could withdraw an admin's
// invitation); a refusal changes nothing.
func TestWithdrawInvitations(t *testing.T) {
	e := newTestEnv(t)
	invites := forumv1.NewInvitationServiceClient(e.conn)
	create := func(u testUser, role forumv1.Role) *forumv1.Invitation {
		t.Helper()
		inv, err := invites.CreateInvitation(u.ctx(t), &forumv1.CreateInvitationRequest{Invitation: &forumv1.Invitation{Role: role}})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	byAdmin := create(e.admin, forumv1.Role_ROLE_CONVENER)
	byConvener := create(e.convener, forumv1.Role_ROLE_MEMBER)
	byAdmin2 := create(e.admin, forumv1.Role_ROLE_MEMBER)
	withdraw := func(u testUser, inv *forumv1.Invitation) error {
		_, err := invites.DeleteInvitation(u.ctx(t), &forumv1.DeleteInvitationRequest{Name: inv.GetName()})
		return err
	}
	if err := withdraw(e.convener, byAdmin); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a convener withdrawing an admin's invitation: %v, want PERMISSION_DENIED", err)
	}
	// The refused withdrawal changed nothing: the code still registers.
	if _, err := e.authc.Register(t.Context(), &forumv1.RegisterRequest{Username: "newconv", DisplayName: "N", Password: testPassword, InvitationCode: byAdmin.GetCode()}); err != nil {
		t.Errorf("the admin's invitation after the refused withdrawal: %v", err)
	}
	if err := withdraw(e.convener, byConvener); err != nil {
		t.Errorf("a convener withdrawing their own invitation: %v", err)
	}
	if err := withdraw(e.admin, byAdmin2); err != nil {
		t.Errorf("an admin withdrawing an invitation: %v", err)
	}
	other := create(e.convener, forumv1.Role_ROLE_MEMBER)
	if err := withdraw(e.admin, other); err != nil {
		t.Errorf("an admin withdrawing a convener's invitation: %v", err)
	}
}
