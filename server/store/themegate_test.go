package store

import (
	"errors"
	"slices"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestThemeGateValue checks that a theme's gate survives its encoding
// (themeGateValue, parseThemeGate), whatever else the theme holds, and that
// corrupt values are errors rather than gates with fewer groups.
func TestThemeGateValue(t *testing.T) {
	now := timestamppb.Now()
	for _, th := range []*forumv1.Theme{
		{},
		{Name: "themes/a", DisplayName: "A", Description: "open to all", CreateTime: now},
		{Name: "themes/m", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS, ThreadCount: 42, LastActivityTime: now},
		{Name: "themes/g", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/one"}},
		{Name: "themes/g3", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/one", "groups/two", "groups/three"}, Description: "private", UpdateTime: now},
		{Name: "themes/long", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/" + strings.Repeat("g", 200), ""}},
		{Name: "themes/x", Visibility: forumv1.ThemeVisibility(99)}, // a value from a newer API
		{Name: "themes/y", Visibility: forumv1.ThemeVisibility(-1)},
	} {
		v := themeGateValue(gateOf(th))
		g, err := parseThemeGate(v)
		if err != nil {
			t.Fatalf("%s: %v", th.Name, err)
		}
		if g.visibility != th.Visibility || !slices.Equal(g.groups, th.Groups) {
			t.Errorf("%s: read %v %q, want %v %q", th.Name, g.visibility, g.groups, th.Visibility, th.Groups)
		}
		// Every value cut short, even between two groups, and every value
		// run on is an error, not a gate with fewer groups.
		for n := range len(v) {
			if _, err := parseThemeGate(v[:n]); err == nil {
				t.Errorf("%s: cut to %d bytes: no error", th.Name, n)
			}
		}
		if _, err := parseThemeGate(append(slices.Clone(v), 0)); err == nil {
			t.Errorf("%s: a byte after the gate: no error", th.Name)
		}
	}
	for name, v := range map[string][]byte{
		"version 0":   {0, 0, 0, 0, 1, 0},
		"version 2":   {2, 0, 0, 0, 1, 0},
		"huge count":  {1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'x'},
		"huge length": {1, 0, 0, 0, 2, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'},
	} {
		if _, err := parseThemeGate(v); err == nil {
			t.Errorf("%s: parseThemeGate accepted a corrupt value", name)
		}
	}
}

// TestThemeGateCacheFollowsUpdates checks that a theme's visibility change
// applies to every read that starts after UpdateTheme returns, although
// reads before it cached the old gate, and that concurrent readers never
// see a thread of a private theme once it has been made private.
func TestThemeGateCacheFollowsUpdates(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin := member(t, s, "ada", forumv1.Role_ROLE_ADMIN)
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	if _, err := s.CreateGroup(ctx, admin, "board", &forumv1.Group{DisplayName: "Board"}, ""); err != nil {
		t.Fatal(err)
	}
	th, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "t", Body: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	anon := authz.Actor{}
	visible := func() bool {
		_, err := s.GetThread(ctx, anon, resname.MustParseThread(th.Name))
		if err != nil && !errors.Is(err, errs.NotFound) {
			t.Error(err) // not Fatal: readers call it from their goroutines
		}
		return err == nil
	}
	setVisibility := func(v forumv1.ThemeVisibility, groups ...string) {
		t.Helper()
		if _, err := s.UpdateTheme(ctx, admin, resname.MustParseTheme("themes/knowledge-exchange"), &forumv1.Theme{Name: "themes/knowledge-exchange", Visibility: v, Groups: groups}, []string{"visibility", "groups"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if !visible() { // caches the public gate
			t.Fatalf("round %d: public thread not visible", i)
		}
		noStaleReads(t, func() { setVisibility(forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, "groups/board") },
			visible, "a read that started after the theme became private saw its thread")
		if visible() {
			t.Fatalf("round %d: thread of a private theme visible to an anonymous reader", i)
		}
		if _, err := s.GetThread(ctx, admin, resname.MustParseThread(th.Name)); err != nil {
			t.Fatalf("round %d: moderator: %v", i, err)
		}
		setVisibility(forumv1.ThemeVisibility_THEME_VISIBILITY_PUBLIC)
	}
	if !visible() {
		t.Fatal("thread not visible after the theme became public again")
	}
}
