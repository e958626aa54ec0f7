package notify

import (
	"context"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// TestRunRemindsWhenIdle checks that Run looks for action items coming due
// on its own clock, with no commit to wake it, and that the owner is told
// once.
func TestRunRemindsWhenIdle(t *testing.T) {
	e := newMailEnv(t)
	ctx := t.Context()
	conv := authz.Actor{User: e.users["alice"].User, Role: forumv1.Role_ROLE_CONVENER}
	parent := e.thread("bob", "Hosting")
	fu, err := e.st.CreateThread(ctx, conv, &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Follow-up", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: parent.Name}, "")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC()
	if _, err := e.st.CreateActionItem(ctx, conv, resname.MustParseThread(fu.Name), &forumv1.ActionItem{Title: "Report", Owner: e.users["carol"].User, DueDate: today.AddDate(0, 0, 1).Format(time.DateOnly)}, []string{"title", "owner", "due_date"}, ""); err != nil {
		t.Fatal(err)
	}
	n := New(e.st, nil)
	n.Reminders = 20 * time.Millisecond
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); n.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	carol := resname.MustParseUser(e.users["carol"].User)
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _, _, err := e.st.ListNotifications(ctx, carol, 10, "", false)
		if err != nil {
			t.Fatal(err)
		}
		due := 0
		for _, x := range list {
			if x.Kind == forumv1.NotificationKind_NOTIFICATION_KIND_ACTION_ITEM_DUE {
				due++
			}
		}
		if due == 1 && len(list) == 2 { // assigned, then due
			time.Sleep(100 * time.Millisecond) // several more looks: still once
			if again, _, _, _ := e.st.ListNotifications(ctx, carol, 10, "", false); len(again) != 2 {
				t.Fatalf("told again: %v", again)
			}
			return
		}
		if due > 1 || time.Now().After(deadline) {
			t.Fatalf("carol's notifications: %v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
