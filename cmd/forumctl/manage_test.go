package main

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// startForum creates amina, then moses: they are users/1 and users/2.
const (
	aminaName = "users/1"
	mosesName = "users/2"
)

// refusal is a forumctl run that must fail with code, saying want.
type refusal struct {
	name string
	u    *user
	code int
	want string
	args []string
}

// checkRefusals runs each refusal in a subtest.
func checkRefusals(t *testing.T, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.u.t = t
			t.Log(c.u.fails(c.code, c.want, c.args...))
		})
	}
}

// loggedInClient returns a client of server logged in as username.
func loggedInClient(t *testing.T, server, username, password string) (context.Context, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	c, err := client.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, username, password); err != nil {
		t.Fatal(err)
	}
	return ctx, c
}

// TestInvitations runs forumctl invitations as a convener: create (the code
// shown once, and it works), list, withdraw; and what is refused.
func TestInvitations(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)

	// Create: the name and the code, shown once with a warning.
	out := amina.ok("", "invitations", "create", "--expires", "7d")
	m := regexp.MustCompile(`^Created (invitations/1): a member may register with it until (` + stamp.String() + `)\.
Code: (fgi_\S+)
The code is shown only this once and cannot be shown again: keep it now\.
$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("invitations create:\n%s", out)
	}
	code := m[len(m)-1] // stamp has a group of its own
	if until, err := time.Parse("2006-01-02 15:04 MST", m[2]); err != nil || time.Until(until) < 7*24*time.Hour-2*time.Minute || time.Until(until) > 7*24*time.Hour {
		t.Errorf("invitations create --expires 7d: until %s (%v)", m[2], err)
	}

	// The code works, once: someone registers with it.
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	anon, err := client.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.AuthService().Register(ctx, &forumv1.RegisterRequest{
		Username: "nadia", DisplayName: "Nadia Newcomer", Password: "newcomer password 123", InvitationCode: code,
	}); err != nil {
		t.Fatalf("register with the code: %v", err)
	}

	// -o json: the whole invitation, code included.
	var inv forumv1.Invitation
	if err := protojson.Unmarshal([]byte(amina.ok("", "invitations", "create", "-o", "json")), &inv); err != nil ||
		inv.GetName() != "invitations/2" || inv.GetRole() != forumv1.Role_ROLE_MEMBER || !strings.HasPrefix(inv.GetCode(), "fgi_") ||
		inv.GetCreator() != aminaName || inv.GetExpireTime() == nil {
		t.Errorf("invitations create -o json: %v, %v", &inv, err)
	}

	// Withdraw the unused one.
	if out := amina.ok("", "invitations", "delete", "invitations/2"); out != "Withdrew invitations/2\n" {
		t.Errorf("invitations delete: %q", out)
	}

	// List: newest first, without codes; the withdrawn one expired, the
	// used one with who used it.
	list := amina.ok("", "invitations", "list")
	lines := strings.Split(strings.TrimSpace(stamp.ReplaceAllString(list, "TIME")), "\n")
	for i, re := range []string{
		`^NAME\s+ROLE\s+EXPIRES\s+CREATOR\s+USED BY$`,
		`^invitations/2\s+member\s+TIME \(expired\)\s+Amina Convener\s+-$`,
		`^invitations/1\s+member\s+TIME\s+Amina Convener\s+Nadia Newcomer$`,
	} {
		if len(lines) != 3 || !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("invitations list: line %d does not match %s:\n%s", i+1, re, list)
			break
		}
	}
	if strings.Contains(list, code) || strings.Contains(list, inv.GetCode()) {
		t.Error("invitations list shows a code")
	}
	listed, err := c.InvitationService().ListInvitations(ctx, &forumv1.ListInvitationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	apiObject(t, "invitations list -o json", json.RawMessage(amina.ok("", "invitations", "list", "-o", "json")), &forumv1.ListInvitationsResponse{}, listed)

	checkRefusals(t, []refusal{
		{"member creates", mo, exitPermission, "may not call", []string{"invitations", "create"}},
		{"member lists", mo, exitPermission, "may not call", []string{"invitations", "list"}},
		{"member withdraws", mo, exitPermission, "may not call", []string{"invitations", "delete", "1"}},
		{"convener invites a convener", amina, exitPermission, "may not invite", []string{"invitations", "create", "--role", "convener"}},
		{"not logged in", newUser(t, "FORUM_SERVER="+server), exitUnauth, "not logged in", []string{"invitations", "create"}},
		{"unknown role", amina, exitUsage, `--role "boss": use one of convener, member`, []string{"invitations", "create", "--role", "boss"}},
		{"admin role", amina, exitUsage, "no admin invitations", []string{"invitations", "create", "--role", "admin"}},
		{"negative lifetime", amina, exitUsage, "must be positive", []string{"invitations", "create", "--expires=-3h"}},
		{"zero lifetime", amina, exitUsage, "must be positive", []string{"invitations", "create", "--expires", "0d"}},
		{"unparsable lifetime", amina, exitUsage, "not a duration", []string{"invitations", "create", "--expires", "a week"}},
		{"lifetime the server refuses", amina, exitInvalid, "invitation.expire_time", []string{"invitations", "create", "--expires", "91d"}},
		{"create takes no argument", amina, exitUsage, "takes no arguments", []string{"invitations", "create", "member"}},
		{"delete without argument", amina, exitUsage, "INVITATION", []string{"invitations", "delete"}},
		{"delete a bad name", amina, exitUsage, "not an invitation", []string{"invitations", "delete", "threads/1"}},
		{"delete a missing one", amina, exitNotFound, "invitations/99", []string{"invitations", "delete", "99"}},
		{"delete a used one", amina, exitConflict, "used by", []string{"invitations", "delete", "1"}},
	})
}

// TestGroups runs forumctl groups as a convener: create, add and remove
// members (what needs no change is said, and is no error), show, list,
// delete; and what is refused.
func TestGroups(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)

	if out := amina.ok("", "groups", "create", "nairobi-2026", "--name", "Nairobi 2026 follow-up", "--description", "Actions agreed in Nairobi"); out != "Created groups/nairobi-2026: Nairobi 2026 follow-up\n" {
		t.Fatalf("groups create: %q", out)
	}
	amina.ok("", "groups", "create", "groups/board", "--name", "Board")

	// Members, step by step: the output, what is said on standard error,
	// and the members after.
	show := func() *forumv1.Group {
		var g forumv1.Group
		if err := protojson.Unmarshal([]byte(amina.ok("", "groups", "show", "nairobi-2026", "-o", "json")), &g); err != nil {
			t.Fatal(err)
		}
		return &g
	}
	for _, step := range []struct {
		args           []string
		stdout, stderr string
		members        []string
	}{
		{[]string{"add-member", "nairobi-2026", "moses"},
			"Added users/2 (Mo Member) to groups/nairobi-2026.\n", "", []string{mosesName}},
		{[]string{"add-member", "groups/nairobi-2026", "2", "users/1", "1"},
			"Added users/1 (Amina Convener) to groups/nairobi-2026.\n",
			"users/2 is already a member of groups/nairobi-2026: nothing to add.\n", []string{mosesName, aminaName}},
		{[]string{"add-member", "nairobi-2026", "users/2", "me"}, "",
			"users/2 is already a member of groups/nairobi-2026: nothing to add.\nusers/1 is already a member of groups/nairobi-2026: nothing to add.\n",
			[]string{mosesName, aminaName}},
		{[]string{"remove-member", "nairobi-2026", "amina"},
			"Removed users/1 (Amina Convener) from groups/nairobi-2026.\n", "", []string{mosesName}},
		{[]string{"remove-member", "nairobi-2026", "1"}, "",
			"users/1 is not a member of groups/nairobi-2026: nothing to remove.\n", []string{mosesName}},
	} {
		before := show()
		r := amina.run("", append([]string{"groups"}, step.args...)...)
		if r.code != 0 || r.stdout != step.stdout || r.stderr != step.stderr {
			t.Errorf("groups %s: %v\nwant stdout %q, stderr %q", strings.Join(step.args, " "), r, step.stdout, step.stderr)
		}
		after := show()
		if strings.Join(after.GetMembers(), " ") != strings.Join(step.members, " ") {
			t.Errorf("groups %s: members %v, want %v", strings.Join(step.args, " "), after.GetMembers(), step.members)
		}
		if noop := step.stdout == ""; noop != (after.GetEtag() == before.GetEtag()) {
			t.Errorf("groups %s: etag %s before, %s after; a change only if something was done", strings.Join(step.args, " "), before.GetEtag(), after.GetEtag())
		}
	}
	// -o json prints the group as changed.
	var g forumv1.Group
	if err := protojson.Unmarshal([]byte(amina.ok("", "groups", "add-member", "nairobi-2026", "1", "-o", "json")), &g); err != nil ||
		strings.Join(g.GetMembers(), " ") != mosesName+" "+aminaName {
		t.Errorf("groups add-member -o json: %v, %v", &g, err)
	}

	got := stamp.ReplaceAllString(amina.ok("", "groups", "show", "nairobi-2026"), "TIME")
	want := `Group:        groups/nairobi-2026
Name:         Nairobi 2026 follow-up
Description:  Actions agreed in Nairobi
Created:      TIME
Updated:      TIME
Members:      2

MEMBER   NAME
users/2  Mo Member
users/1  Amina Convener
`
	if got != want {
		t.Errorf("groups show:\n%s\nwant:\n%s", got, want)
	}

	// Conveners list every group, members those they belong to.
	list := stamp.ReplaceAllString(amina.ok("", "groups", "list"), "TIME")
	if !regexp.MustCompile(`^GROUP\s+NAME\s+MEMBERS\s+UPDATED\ngroups/board\s+Board\s+0\s+TIME\ngroups/nairobi-2026\s+Nairobi 2026 follow-up\s+2\s+TIME\n$`).MatchString(list) {
		t.Errorf("groups list:\n%s", list)
	}
	if out := mo.ok("", "groups", "list"); strings.Contains(out, "groups/board") || !strings.Contains(out, "groups/nairobi-2026") {
		t.Errorf("groups list as a member:\n%s", out)
	}
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	listed, err := c.GroupService().ListGroups(ctx, &forumv1.ListGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	apiObject(t, "groups list -o json", json.RawMessage(amina.ok("", "groups", "list", "-o", "json")), &forumv1.ListGroupsResponse{}, listed)

	// Completion of a group argument comes from the server.
	if r := amina.run("", "__complete", "groups", "add-member", ""); r.code != 0 || !strings.Contains(r.stdout, "nairobi-2026\tNairobi 2026 follow-up") {
		t.Errorf("completion of groups add-member: %v", r)
	}

	stale := show().GetEtag()
	amina.ok("", "groups", "remove-member", "nairobi-2026", "moses")
	checkRefusals(t, []refusal{
		{"member creates", mo, exitPermission, "may not call", []string{"groups", "create", "mine", "--name", "Mine"}},
		{"member adds to a group they cannot see", mo, exitNotFound, "groups/board", []string{"groups", "add-member", "board", "me"}},
		{"member deletes", mo, exitPermission, "may not call", []string{"groups", "delete", "board"}},
		{"existing slug", amina, exitConflict, "already exists", []string{"groups", "create", "board", "--name", "Again"}},
		{"bad slug", amina, exitUsage, "not a group", []string{"groups", "create", "Board Room", "--name", "Board room"}},
		{"slug too long", amina, exitUsage, "at most 63", []string{"groups", "create", strings.Repeat("a", 64), "--name", "Long"}},
		{"no display name", amina, exitUsage, `"name" not set`, []string{"groups", "create", "x"}},
		{"add without a user", amina, exitUsage, "GROUP USER...", []string{"groups", "add-member", "board"}},
		{"remove without arguments", amina, exitUsage, "GROUP USER...", []string{"groups", "remove-member"}},
		{"bad user", amina, exitUsage, "not a user", []string{"groups", "add-member", "board", "users/x"}},
		{"unknown username", amina, exitNotFound, `no user is called "nobody"`, []string{"groups", "add-member", "board", "nobody"}},
		{"missing user", amina, exitInvalid, "users/99 does not exist", []string{"groups", "add-member", "board", "99"}},
		{"missing group", amina, exitNotFound, "groups/nope", []string{"groups", "add-member", "nope", "moses"}},
		{"show a missing group", amina, exitNotFound, "groups/nope", []string{"groups", "show", "nope"}},
		{"delete with a stale etag", amina, exitConflict, "etag", []string{"groups", "delete", "nairobi-2026", "--etag", stale}},
	})

	if out := amina.ok("", "groups", "delete", "groups/nairobi-2026"); out != "Deleted groups/nairobi-2026\n" {
		t.Errorf("groups delete: %q", out)
	}
	amina.fails(exitNotFound, "groups/nairobi-2026", "groups", "show", "nairobi-2026")
	amina.fails(exitNotFound, "groups/nairobi-2026", "groups", "delete", "nairobi-2026")
}

// TestGroupMembersStaleEtag checks that a change of members made on a group
// read before someone else changed it is refused, with exit status 6, and
// does not overwrite theirs.
func TestGroupMembersStaleEtag(t *testing.T) {
	server := startForum(t)
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	read, err := c.GroupService().CreateGroup(ctx, &forumv1.CreateGroupRequest{GroupId: "board", Group: &forumv1.Group{DisplayName: "Board"}})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else adds moses meanwhile.
	if _, err := setGroupMembers(ctx, c, read, []string{mosesName}); err != nil {
		t.Fatal(err)
	}
	_, err = setGroupMembers(ctx, c, read, []string{aminaName})
	if !errors.Is(err, client.ErrConflict) {
		t.Fatalf("members set on a stale read: %v, want ABORTED", err)
	}
	if code, msg := (&app{started: true}).describe(err, "forumctl groups add-member"); code != exitConflict {
		t.Errorf("stale etag: exit %d (%s), want %d", code, msg, exitConflict)
	}
	g, err := c.GroupService().GetGroup(ctx, &forumv1.GetGroupRequest{Name: "groups/board"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(g.GetMembers(), " ") != mosesName {
		t.Errorf("members %v after the refused change, want [%s]", g.GetMembers(), mosesName)
	}
}

// TestTokens runs forumctl tokens: the secret is shown once and works,
// list shows no secret, delete revokes it; and what is refused.
func TestTokens(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)

	out := amina.ok("", "tokens", "create", "--name", "reporting job", "--scopes", "read,write", "--expires", "30d")
	m := regexp.MustCompile(`^Created (users/1/tokens/1) "reporting job" \(read, write\) until ` + stamp.String() + `\.
Token: (fgt_\S+)
The token is shown only this once and cannot be shown again: keep it now\.
$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tokens create:\n%s", out)
	}
	name, secret := m[1], m[len(m)-1] // stamp has a group of its own

	// The token works: whoami, and writing with the write scope.
	bot := newUser(t, "FORUM_SERVER="+server, "FORUM_TOKEN="+secret)
	if who := bot.ok("", "whoami"); !strings.Contains(who, "Username:  amina") {
		t.Errorf("whoami with the token:\n%s", who)
	}
	bot.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Posted by the reporting job")

	// -o json: the whole token, secret included; a read-only token reads
	// but does not write.
	var ro forumv1.ApiToken
	if err := protojson.Unmarshal([]byte(amina.ok("", "tokens", "create", "--name", "reader", "--scopes", "READ,read", "-o", "json")), &ro); err != nil ||
		ro.GetName() != "users/1/tokens/2" || !strings.HasPrefix(ro.GetToken(), "fgt_") ||
		len(ro.GetScopes()) != 1 || ro.GetScopes()[0] != forumv1.TokenScope_TOKEN_SCOPE_READ {
		t.Fatalf("tokens create -o json: %v, %v", &ro, err)
	}
	reader := newUser(t, "FORUM_SERVER="+server, "FORUM_TOKEN="+ro.GetToken())
	reader.ok("", "threads", "show", "1")

	// List: newest first, without secrets.
	list := amina.ok("", "tokens", "list")
	if !regexp.MustCompile(`^NAME\s+DISPLAY NAME\s+SCOPES\s+PREFIX\s+EXPIRES\s+LAST USED\n` +
		`users/1/tokens/2\s+reader\s+read\s+fgt_\S+\s+` + stamp.String() + `\s+\S.*\n` +
		`users/1/tokens/1\s+reporting job\s+read, write\s+fgt_\S+\s+` + stamp.String() + `\s+\S.*\n$`).MatchString(list) {
		t.Errorf("tokens list:\n%s", list)
	}
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	listed, err := c.ApiTokenService().ListApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: aminaName})
	if err != nil {
		t.Fatal(err)
	}
	listJSON := amina.ok("", "tokens", "list", "-o", "json")
	apiObject(t, "tokens list -o json", json.RawMessage(listJSON), &forumv1.ListApiTokensResponse{}, listed)
	if strings.Contains(list+listJSON, secret) || strings.Contains(list+listJSON, ro.GetToken()) {
		t.Error("tokens list shows a secret")
	}
	if r := mo.run("", "tokens", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No API tokens.\n" {
		t.Errorf("tokens list without tokens: %v", r)
	}

	checkRefusals(t, []refusal{
		{"unknown scope", amina, exitUsage, `--scopes "delete": use one of admin, moderate, read, write`, []string{"tokens", "create", "--name", "x", "--scopes", "read,delete"}},
		{"empty scope", amina, exitUsage, "--scopes", []string{"tokens", "create", "--name", "x", "--scopes", "read,,write"}},
		{"no scopes", amina, exitUsage, "at least one", []string{"tokens", "create", "--name", "x", "--scopes", ""}},
		{"scopes not set", amina, exitUsage, `"scopes" not set`, []string{"tokens", "create", "--name", "x"}},
		{"name not set", amina, exitUsage, `"name" not set`, []string{"tokens", "create", "--scopes", "read"}},
		{"negative lifetime", amina, exitUsage, "must be positive", []string{"tokens", "create", "--name", "x", "--scopes", "read", "--expires=-2d"}},
		{"unparsable lifetime", amina, exitUsage, "not a duration", []string{"tokens", "create", "--name", "x", "--scopes", "read", "--expires", "forever"}},
		{"lifetime the server refuses", amina, exitInvalid, "api_token.expire_time", []string{"tokens", "create", "--name", "x", "--scopes", "read", "--expires", "400d"}},
		{"scope above the role", amina, exitPermission, "may not give a token", []string{"tokens", "create", "--name", "x", "--scopes", "admin"}},
		{"member moderates", mo, exitPermission, "may not give a token", []string{"tokens", "create", "--name", "x", "--scopes", "moderate"}},
		{"a token makes a token", bot, exitPermission, "login session", []string{"tokens", "create", "--name", "x", "--scopes", "read"}},
		{"read-only token writes", reader, exitPermission, "scopes", []string{"reply", "1", "--body", "hi"}},
		{"not logged in", newUser(t, "FORUM_SERVER="+server), exitUnauth, "not logged in", []string{"tokens", "list"}},
		{"delete without argument", amina, exitUsage, "TOKEN", []string{"tokens", "delete"}},
		{"delete a bad name", amina, exitUsage, "not an API token", []string{"tokens", "delete", "tokens/1"}},
		{"delete another's", mo, exitPermission, "only their own", []string{"tokens", "delete", name}},
		{"delete a missing one", mo, exitNotFound, "users/2/tokens/1", []string{"tokens", "delete", "1"}},
	})

	// Delete by number revokes at once.
	if out := amina.ok("", "tokens", "delete", "1"); out != "Revoked "+name+"\n" {
		t.Errorf("tokens delete: %q", out)
	}
	bot.fails(exitUnauth, "refused the token", "whoami")
	amina.fails(exitNotFound, name, "tokens", "delete", name)
	if out := amina.ok("", "tokens", "delete", "users/me/tokens/2"); out != "Revoked users/1/tokens/2\n" {
		t.Errorf("tokens delete users/me/tokens/2: %q", out)
	}
	if r := amina.run("", "tokens", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No API tokens.\n" {
		t.Errorf("tokens list after delete: %v", r)
	}
}

// TestExpireTime checks --expires: a Go duration or days, positive.
func TestExpireTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration // 0: nil, the server's default
		err  string
	}{
		{"", 0, ""},
		{"90m", 90 * time.Minute, ""},
		{"72h", 72 * time.Hour, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"0", 0, "must be positive"},
		{"-1h", 0, "must be positive"},
		{"-2d", 0, "must be positive"},
		{"week", 0, "not a duration"},
		{"1.5d", 0, "not a duration"},
		{"d", 0, "not a duration"},
		{"9999999999999d", 0, "too long"},
	} {
		ts, err := expireTime("expires", c.in)
		var u usageError
		switch {
		case c.err != "":
			if !errors.As(err, &u) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("expireTime(%q): %v, want a usage error saying %q", c.in, err, c.err)
			}
		case err != nil:
			t.Errorf("expireTime(%q): %v", c.in, err)
		case c.want == 0 && ts != nil:
			t.Errorf("expireTime(%q) = %v, want nil", c.in, ts)
		case c.want != 0:
			if d := time.Until(ts.AsTime()); d > c.want || d < c.want-time.Minute {
				t.Errorf("expireTime(%q) is %v away, want %v", c.in, d, c.want)
			}
		}
	}
}

// TestManageCompletion checks the completion of the new commands' flags.
func TestManageCompletion(t *testing.T) {
	u := newUser(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"invitations", "create", "--role", ""}, "convener"},
		{[]string{"tokens", "create", "--scopes", ""}, "moderate"},
		{[]string{"tok"}, "tokens"},
		{[]string{"gr"}, "groups"},
		{[]string{"inv"}, "invitations"},
	} {
		if r := u.run("", append([]string{"__complete"}, c.args...)...); r.code != 0 || !strings.Contains(r.stdout, c.want) {
			t.Errorf("completion of %v: %v", c.args, r)
		}
	}
}
