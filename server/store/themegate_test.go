package store

import (
	"slices"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestReadThemeGate checks that the partial decoder reads the same gate as
// a full decode of the stored theme, whatever else the theme holds.
func TestReadThemeGate(t *testing.T) {
	now := timestamppb.Now()
	for _, th := range []*forumv1.Theme{
		{},
		{Name: "themes/a", DisplayName: "A", Description: "open to all", CreateTime: now},
		{Name: "themes/m", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS, ThreadCount: 42, LastActivityTime: now},
		{Name: "themes/g", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/one"}},
		{Name: "themes/g3", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/one", "groups/two", "groups/three"}, Description: "private", UpdateTime: now},
		{Name: "themes/x", Visibility: forumv1.ThemeVisibility(99)}, // a value from a newer schema
	} {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(th)
		if err != nil {
			t.Fatal(err)
		}
		g, err := readThemeGate(b)
		if err != nil {
			t.Fatalf("%s: %v", th.Name, err)
		}
		if g.visibility != th.Visibility || !slices.Equal(g.groups, th.Groups) {
			t.Errorf("%s: read %v %v, want %v %v", th.Name, g.visibility, g.groups, th.Visibility, th.Groups)
		}
		// Every proper prefix that cuts a field short is an error, not a
		// silently shorter gate.
		for i := 1; i < len(b); i++ {
			if proto.Unmarshal(b[:i], new(forumv1.Theme)) != nil {
				if _, err := readThemeGate(b[:i]); err == nil {
					t.Errorf("%s: truncated to %d bytes: no error", th.Name, i)
				}
			}
		}
	}
}
