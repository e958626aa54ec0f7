package server

import (
	"context"
	"slices"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// followUp creates, as the convener, a follow-up in theme of a thread of
// alice's.
func (e *matrixEnv) followUp(t *testing.T, theme string) *forumv1.Thread {
	t.Helper()
	th, _ := e.post(t, theme)
	return e.mustThread(t, e.convener, &forumv1.Thread{Theme: theme, Title: "Follow-up", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.Name})
}

// item creates, as the convener, an action item owned by alice on a new
// follow-up in theme.
func (e *matrixEnv) item(t *testing.T, theme string) *forumv1.ActionItem {
	t.Helper()
	fu := e.followUp(t, theme)
	it, err := forumv1.NewActionItemServiceClient(e.conn).CreateActionItem(e.convener.ctx(t), &forumv1.CreateActionItemRequest{Parent: fu.Name, ActionItem: &forumv1.ActionItem{Title: "Share the guide", Owner: e.alice.name, DueDate: "2026-12-31"}})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// actionItemCases are the cases of rule action-item-owner and of
// theme-visibility for the action items' methods.
func actionItemCases() []ruleCase {
	ai := func(e *matrixEnv) forumv1.ActionItemServiceClient { return forumv1.NewActionItemServiceClient(e.conn) }
	done := func(ctx context.Context, e *matrixEnv, it *forumv1.ActionItem) error {
		_, err := ai(e).UpdateActionItem(ctx, &forumv1.UpdateActionItemRequest{
			ActionItem: &forumv1.ActionItem{Name: it.Name, State: forumv1.ActionItemState_ACTION_ITEM_STATE_DONE, ClosingNote: "Shared."},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "closing_note"}},
		})
		return err
	}
	return []ruleCase{
		{"action-item-owner", forumv1.ActionItemService_UpdateActionItem_FullMethodName, "alice's item closed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			return done(ctx, e, e.item(t, publicTheme))
		}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
		{"theme-visibility", forumv1.ActionItemService_UpdateActionItem_FullMethodName, "alice's item in a private theme closed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			return done(ctx, e, e.item(t, privateTheme))
		}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
		{"theme-visibility", forumv1.ActionItemService_GetActionItem_FullMethodName, "an item in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ai(e).GetActionItem(ctx, &forumv1.GetActionItemRequest{Name: e.item(t, privateTheme).Name})
			return err
		}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
		{"theme-visibility", forumv1.ActionItemService_ListActionItems_FullMethodName, "an item in a private theme listed across threads", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			it := e.item(t, privateTheme)
			resp, err := ai(e).ListActionItems(ctx, &forumv1.ListActionItemsRequest{Parent: "threads/-", PageSize: 100})
			if err != nil {
				return err
			}
			return shown(slices.ContainsFunc(resp.ActionItems, func(x *forumv1.ActionItem) bool { return x.Name == it.Name }))
		}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
		{"theme-visibility", forumv1.ActionItemService_CreateActionItem_FullMethodName, "an item on a follow-up in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			fu := e.followUp(t, privateTheme)
			_, err := ai(e).CreateActionItem(ctx, &forumv1.CreateActionItemRequest{Parent: fu.Name, ActionItem: &forumv1.ActionItem{Title: "T", Owner: e.alice.name}})
			return err
		}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	}
}

func init() { ruleCases = append(ruleCases, actionItemCases()...) }

// TestActionItems: items created on a follow-up and listed across threads
// with a filter, closed by a member of the owning organisation but not by
// another, their history, the owners told when assigned and reminded when
// due (once), and every bad input refused with its field, changing
// nothing.
func TestActionItems(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	ai := forumv1.NewActionItemServiceClient(e.conn)
	cctx, actx, bctx := e.convener.ctx(t), e.alice.ctx(t), e.bob.ctx(t)
	for _, slug := range []string{"vso", "ifad"} {
		if _, err := e.store.CreateOrganization(ctx, authz.SystemActor, slug, &forumv1.Organization{DisplayName: slug, Country: "KE", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for u, org := range map[string]string{e.alice.name: "organizations/vso", e.bob.name: "organizations/ifad"} {
		if _, err := e.store.UpdateUser(ctx, authz.SystemActor, resname.MustParseUser(u), &forumv1.User{Organization: org}, []string{"organization"}); err != nil {
			t.Fatal(err)
		}
	}
	parent := e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hosting"})
	fu := e.mustThread(t, e.convener, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Follow-up: hosting", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: parent.Name})
	create := func(ctx context.Context, parent string, it *forumv1.ActionItem) (*forumv1.ActionItem, error) {
		return ai.CreateActionItem(ctx, &forumv1.CreateActionItemRequest{Parent: parent, ActionItem: it})
	}
	guide, err := create(cctx, fu.Name, &forumv1.ActionItem{Title: "Share the mentoring guide", Owner: "organizations/vso", DueDate: "2026-12-09"})
	if err != nil {
		t.Fatal(err)
	}
	if guide.State != forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN || len(guide.History) != 1 || guide.ThreadTitle != fu.Title || guide.Creator != e.convener.name {
		t.Errorf("created: %v", guide)
	}
	later, err := create(cctx, fu.Name, &forumv1.ActionItem{Title: "Report back", Owner: e.bob.name})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := e.store.EventHead(ctx)

	for _, b := range []struct {
		what  string
		err   error
		code  codes.Code
		field string
	}{
		{"an owner that does not exist", func() error {
			_, err := create(cctx, fu.Name, &forumv1.ActionItem{Title: "T", Owner: "users/999"})
			return err
		}(), codes.InvalidArgument, "action_item.owner"},
		{"an owner of no kind", func() error {
			_, err := create(cctx, fu.Name, &forumv1.ActionItem{Title: "T", Owner: "groups/team"})
			return err
		}(), codes.InvalidArgument, "action_item.owner"},
		{"no title", func() error {
			_, err := create(cctx, fu.Name, &forumv1.ActionItem{Owner: e.bob.name})
			return err
		}(), codes.InvalidArgument, "action_item.title"},
		{"a due date that is none", func() error {
			_, err := create(cctx, fu.Name, &forumv1.ActionItem{Title: "T", Owner: e.bob.name, DueDate: "2026-13-01"})
			return err
		}(), codes.InvalidArgument, "action_item.due_date"},
		{"an item on a thread that is not a follow-up", func() error {
			_, err := create(cctx, parent.Name, &forumv1.ActionItem{Title: "T", Owner: e.bob.name})
			return err
		}(), codes.FailedPrecondition, ""},
		{"a member creating one", func() error {
			_, err := create(actx, fu.Name, &forumv1.ActionItem{Title: "T", Owner: e.bob.name})
			return err
		}(), codes.PermissionDenied, ""},
		{"an owner of another organisation closing it", func() error {
			_, err := ai.UpdateActionItem(bctx, &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: guide.Name, State: forumv1.ActionItemState_ACTION_ITEM_STATE_DONE}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
			return err
		}(), codes.PermissionDenied, ""},
		{"its owner moving the date", func() error {
			_, err := ai.UpdateActionItem(actx, &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: guide.Name, DueDate: "2027-01-01"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"due_date"}}})
			return err
		}(), codes.PermissionDenied, ""},
		{"a state out of range", func() error {
			_, err := ai.UpdateActionItem(actx, &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: guide.Name, State: 9}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
			return err
		}(), codes.InvalidArgument, "action_item.state"},
		{"a filter of another field", func() error {
			_, err := ai.ListActionItems(actx, &forumv1.ListActionItemsRequest{Parent: "threads/-", Filter: "priority = high"})
			return err
		}(), codes.InvalidArgument, "filter"},
		{"an item name of no kind", func() error {
			_, err := ai.GetActionItem(actx, &forumv1.GetActionItemRequest{Name: fu.Name + "/items/1"})
			return err
		}(), codes.InvalidArgument, "name"},
	} {
		if status.Code(b.err) != b.code {
			t.Errorf("%s: %v, want %s", b.what, b.err, b.code)
		} else if b.field != "" && !slices.Contains(violatedFields(b.err), b.field) {
			t.Errorf("%s: %v, want a violation of %s", b.what, b.err, b.field)
		}
	}
	if h, _ := e.store.EventHead(ctx); h != head {
		t.Errorf("the refusals wrote %d events", h-head)
	}

	// What is overdue, and mine: the organisation's item is alice's.
	list, err := ai.ListActionItems(actx, &forumv1.ListActionItemsRequest{Parent: "threads/-", Filter: `state = OPEN AND due_date < "2026-12-10" AND owner = me`})
	if err != nil || len(list.ActionItems) != 1 || list.ActionItems[0].Name != guide.Name {
		t.Errorf("overdue and mine: %v, %v", list, err)
	}
	if all, err := ai.ListActionItems(t.Context(), &forumv1.ListActionItemsRequest{Parent: fu.Name}); err != nil || len(all.ActionItems) != 2 || all.ActionItems[1].Name != later.Name {
		t.Errorf("the thread's items, dated first: %v, %v", all, err)
	}
	// A member of the owning organisation closes it, with a note.
	done, err := ai.UpdateActionItem(actx, &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: guide.Name, State: forumv1.ActionItemState_ACTION_ITEM_STATE_DONE, ClosingNote: "Shared with all members."}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "closing_note"}}})
	if err != nil || done.State != forumv1.ActionItemState_ACTION_ITEM_STATE_DONE || len(done.History) != 2 || done.History[1].Actor != e.alice.name || done.History[1].Note != "Shared with all members." {
		t.Fatalf("closed: %v, %v", done, err)
	}

	// The owners were told of the assignments; the reminders come once.
	derive := func() {
		for range 20 {
			res, err := e.store.DeriveNotifications(ctx, store.DeriveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Cursor >= res.Head {
				return
			}
		}
	}
	kinds := func(u testUser) []string {
		t.Helper()
		list, _, _, err := e.store.ListNotifications(ctx, resname.MustParseUser(u.name), 100, "", false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range list {
			out = append(out, n.Kind.String()+" "+n.Excerpt)
		}
		slices.Sort(out)
		return out
	}
	if _, err := ai.UpdateActionItem(cctx, &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: later.Name, DueDate: "2026-12-10"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"due_date"}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for range 2 {
		if _, err := e.store.QueueActionItemReminders(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	derive()
	if got := kinds(e.bob); !slices.Equal(got, []string{"NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED Report back", "NOTIFICATION_KIND_ACTION_ITEM_DUE Report back (2026-12-10)"}) {
		t.Errorf("bob told: %q", got)
	}
	if got := kinds(e.alice); !slices.Equal(got, []string{"NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED Share the mentoring guide (2026-12-09)", "NOTIFICATION_KIND_FOLLOW_UP "}) {
		t.Errorf("alice told (her organisation's item, closed before it was due): %q", got)
	}
}
