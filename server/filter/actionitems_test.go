package filter

import (
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestActionItems checks the ListActionItems filter: what it keeps, its
// canonical form, and what it refuses.
func TestActionItems(t *testing.T) {
	open := &forumv1.ActionItem{Owner: "organizations/vso", State: forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN, DueDate: "2026-12-01", Convening: "convenings/beijing-2015", Theme: "themes/ke"}
	undated := &forumv1.ActionItem{Owner: "users/3", State: forumv1.ActionItemState_ACTION_ITEM_STATE_DONE}
	me := []string{"users/3", "organizations/vso"}
	for _, c := range []struct {
		filter        string
		open, undated bool
	}{
		{"", true, true},
		{"state = OPEN", true, false},
		{`state != "ACTION_ITEM_STATE_OPEN"`, false, true},
		{"owner = organizations/vso", true, false},
		{"owner = me", true, true},
		{`due_date < "2026-12-08"`, true, false},
		{`due_date >= "2026-12-02"`, false, false},
		{`state = OPEN AND due_date < "2026-12-08" AND convening = beijing-2015`, true, false},
		{"theme = ke", true, false},
		{"theme != ke", false, true},
	} {
		f, err := ParseActionItems(c.filter)
		if err != nil {
			t.Fatalf("%q: %v", c.filter, err)
		}
		if got := f.Match(open, me); got != c.open {
			t.Errorf("%q on the open item: %v", c.filter, got)
		}
		if got := f.Match(undated, me); got != c.undated {
			t.Errorf("%q on the undated item: %v", c.filter, got)
		}
	}
	a, _ := ParseActionItems(`state = OPEN AND owner = "users/3"`)
	b, _ := ParseActionItems(`owner = users/3 AND state = ACTION_ITEM_STATE_OPEN AND state = OPEN`)
	if a.String() != b.String() {
		t.Errorf("canonical forms differ: %q, %q", a, b)
	}
	for filter, msg := range map[string]string{
		"state = CLOSED":          "invalid state",
		"owner > users/3":         "= or != only",
		`due_date < "yesterday"`:  "invalid due_date",
		"priority = high":         "unknown field",
		"state = OPEN OR owner=x": "not a comparison",
		"owner = groups/x":        "invalid owner",
		strings.Repeat("x", 5000): "longer than",
	} {
		if _, err := ParseActionItems(filter); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%.40q: %v, want %q", filter, err, msg)
		}
	}
}
