package authz

import (
	"errors"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
)

// The rules are exercised call by call, as every principal, by the
// server's TestAuthorizationMatrix and TestRuleMatrix; these tests check
// what those cannot see from outside.

// TestRulesAreNamed checks that every rule has a name of its own, a doc, and
// methods the access table has.
func TestRulesAreNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if r.Name == "" || r.Doc == "" || len(r.Methods) == 0 || seen[r.Name] {
			t.Errorf("rule %q: empty, without a doc or methods, or named twice", r.Name)
		}
		seen[r.Name] = true
		for _, m := range r.Methods {
			if _, ok := table[m]; !ok {
				t.Errorf("rule %s names %s, which the access table lacks", r.Name, m)
			}
		}
	}
}

// TestSeeThemeAsksOnlyWhenNeeded checks that SeeTheme reads no membership
// (a store read) for a theme open to the caller, a moderator or an
// anonymous caller, and stops at the first group the caller is in.
func TestSeeThemeAsksOnlyWhenNeeded(t *testing.T) {
	member := Actor{User: "users/1", Role: forumv1.Role_ROLE_MEMBER}
	var asked []string
	in := func(g string) (bool, error) { asked = append(asked, g); return g == "groups/b", nil }
	groups := []string{"groups/a", "groups/b", "groups/c"}
	for _, c := range []struct {
		a     Actor
		vis   forumv1.ThemeVisibility
		want  bool
		asked int
	}{
		{member, forumv1.ThemeVisibility_THEME_VISIBILITY_PUBLIC, true, 0},
		{Actor{}, forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS, false, 0},
		{member, forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS, true, 0},
		{Actor{}, forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, false, 0},
		{SystemActor, forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, true, 0},
		{Actor{User: "users/2", Role: forumv1.Role_ROLE_CONVENER}, forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, true, 0},
		{member, forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, true, 2},
	} {
		asked = nil
		got, err := SeeTheme(c.a, c.vis, groups, in)
		if err != nil || got != c.want || len(asked) != c.asked {
			t.Errorf("%+v on %v: %v, %v after asking %q; want %v after %d", c.a, c.vis, got, err, asked, c.want, c.asked)
		}
	}
	boom := errors.New("boom")
	if _, err := SeeTheme(member, forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, groups, func(string) (bool, error) { return false, boom }); err != boom {
		t.Errorf("a failed membership read: %v; want it returned", err)
	}
}

// TestCallCodes checks the codes of Call's refusals: UNAUTHENTICATED for
// anonymous callers, PERMISSION_DENIED for known ones and for methods
// without an entry.
func TestCallCodes(t *testing.T) {
	member := Actor{User: "users/1", Role: forumv1.Role_ROLE_MEMBER}
	for _, c := range []struct {
		known bool
		need  Level
		c     Caller
		want  error
	}{
		{false, Public, Caller{}, errs.PermissionDenied},
		{true, Member, Caller{}, errs.Unauthenticated},
		{true, Public, Caller{Suspended: true}, nil},
		{true, Reader, Caller{Suspended: true}, errs.PermissionDenied},
		{true, Moderator, Caller{Actor: member}, errs.PermissionDenied},
		{true, Session, Caller{Actor: member, Scopes: []forumv1.TokenScope{}}, errs.PermissionDenied},
		{true, Member, Caller{Actor: member, Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_WRITE}}, nil},
	} {
		err := Call("/forum.v1.X/Y", c.need, c.known, c.c)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%v (known %v) as %+v: %v; want %v", c.need, c.known, c.c, err, c.want)
		}
	}
}
