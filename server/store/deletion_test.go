package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// deletionFixture is a store with an author (alice), another member (bob),
// a convener and an admin.
type deletionFixture struct {
	s                       *Store
	alice, bob, conv, admin authz.Actor
	thread, reply           string // alice's thread and her reply in it
}

func newDeletionFixture(t *testing.T) *deletionFixture {
	t.Helper()
	s, _ := openTest(t)
	f := &deletionFixture{
		s:     s,
		alice: member(t, s, "alice", forumv1.Role_ROLE_MEMBER),
		bob:   member(t, s, "bob", forumv1.Role_ROLE_MEMBER),
		conv:  member(t, s, "conv", forumv1.Role_ROLE_CONVENER),
		admin: member(t, s, "admin", forumv1.Role_ROLE_ADMIN),
	}
	th, err := s.CreateThread(t.Context(), f.alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "mine"}, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateReply(t.Context(), f.alice, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "my reply"}, "")
	if err != nil {
		t.Fatal(err)
	}
	f.thread, f.reply = th.Name, r.Name
	return f
}

// must runs a setup step and fails the test if it fails.
func (f *deletionFixture) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
}

// setState sets the thread's state as the convener.
func (f *deletionFixture) setState(t *testing.T, st forumv1.ThreadState) {
	t.Helper()
	_, err := f.s.UpdateThread(t.Context(), f.conv, resname.MustParseThread(f.thread), &forumv1.Thread{Name: f.thread, State: st}, []string{"state"})
	f.must(t, err)
}

// rewriteThread changes the stored thread record in place, as data written
// by an older version would be.
func (f *deletionFixture) rewriteThread(t *testing.T, change func(*forumv1.Thread)) {
	t.Helper()
	f.must(t, f.s.kv.Update(t.Context(), func(tx kv.Tx) error {
		id := resname.MustParseThread(f.thread).ID
		th, err := getThread(tx, id)
		if err != nil {
			return err
		}
		change(th)
		return putThread(tx, id, th)
	}))
}

func (f *deletionFixture) deleteThread(ctx context.Context, a authz.Actor, etag, reason string) error {
	_, err := f.s.DeleteThread(ctx, a, resname.MustParseThread(f.thread), etag, reason)
	return err
}

func (f *deletionFixture) undeleteThread(ctx context.Context, a authz.Actor, etag string) error {
	_, err := f.s.UndeleteThread(ctx, a, resname.MustParseThread(f.thread), etag)
	return err
}

func (f *deletionFixture) editThread(ctx context.Context, a authz.Actor, etag string) error {
	_, err := f.s.UpdateThread(ctx, a, resname.MustParseThread(f.thread), &forumv1.Thread{Name: f.thread, Title: "edited", Etag: etag}, []string{"title"})
	return err
}

func (f *deletionFixture) deleteReply(ctx context.Context, a authz.Actor, etag, reason string) error {
	_, err := f.s.DeleteReply(ctx, a, resname.MustParseReply(f.reply), etag, reason)
	return err
}

func (f *deletionFixture) editReply(ctx context.Context, a authz.Actor, etag string) error {
	_, err := f.s.UpdateReply(ctx, a, resname.MustParseReply(f.reply), &forumv1.Reply{Name: f.reply, Body: "edited", Etag: etag})
	return err
}

// TestDeletionRules checks who may delete, undelete and edit threads and
// replies, with which code, and that a thread and a reply in the same
// situation get the same one.
func TestDeletionRules(t *testing.T) {
	const stale = `"stale"`
	type actorOf func(f *deletionFixture) authz.Actor
	var (
		alice = func(f *deletionFixture) authz.Actor { return f.alice }
		bob   = func(f *deletionFixture) authz.Actor { return f.bob }
		conv  = func(f *deletionFixture) authz.Actor { return f.conv }
		admin = func(f *deletionFixture) authz.Actor { return f.admin }
	)
	// Setups, run on a fresh fixture.
	var (
		fresh           = func(t *testing.T, f *deletionFixture) {}
		locked          = func(t *testing.T, f *deletionFixture) { f.setState(t, stateLockedLegacy) }
		deletedByAuthor = func(t *testing.T, f *deletionFixture) { f.must(t, f.deleteThread(t.Context(), f.alice, "", "")) }
		deletedByConv   = func(t *testing.T, f *deletionFixture) {
			f.must(t, f.deleteThread(t.Context(), f.conv, "", "off topic"))
		}
		replyDeleted    = func(t *testing.T, f *deletionFixture) { f.must(t, f.deleteReply(t.Context(), f.alice, "", "")) }
		deletedNoRecord = func(t *testing.T, f *deletionFixture) {
			// A deletion stored before deleted_by existed.
			deletedByAuthor(t, f)
			f.rewriteThread(t, func(th *forumv1.Thread) { th.DeletedBy, th.DeleteReason = "", "" })
		}
		lockedDeletedByAuthor = func(t *testing.T, f *deletionFixture) {
			// An author deleted a locked thread before this was refused.
			locked(t, f)
			f.must(t, f.deleteThread(t.Context(), f.conv, "", ""))
			f.rewriteThread(t, func(th *forumv1.Thread) { th.DeletedBy = f.alice.User })
		}
	)
	type op func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error
	var (
		deleteThread op = func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error {
			return f.deleteThread(ctx, a, etag, "why")
		}
		undeleteThread op = func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error {
			return f.undeleteThread(ctx, a, etag)
		}
		editThread op = func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error {
			return f.editThread(ctx, a, etag)
		}
		deleteReply op = func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error {
			return f.deleteReply(ctx, a, etag, "why")
		}
		editReply op = func(ctx context.Context, f *deletionFixture, a authz.Actor, etag string) error {
			return f.editReply(ctx, a, etag)
		}
	)
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *deletionFixture)
		as    actorOf
		do    op
		etag  string // sent; "" sends none
		want  error  // nil, or the sentinel the error must match
		msg   string // in the error
	}{
		// Undelete: the author restores what they deleted, not what a
		// moderator deleted; moderators restore either.
		{"author restores own deletion", deletedByAuthor, alice, undeleteThread, "", nil, ""},
		{"convener restores author's deletion", deletedByAuthor, conv, undeleteThread, "", nil, ""},
		{"author restores moderator's deletion", deletedByConv, alice, undeleteThread, "", errs.PermissionDenied, "a moderator removed thread"},
		{"author with stale etag restores moderator's deletion", deletedByConv, alice, undeleteThread, stale, errs.PermissionDenied, "a moderator removed thread"},
		{"convener restores moderator's deletion", deletedByConv, conv, undeleteThread, "", nil, ""},
		{"admin restores convener's deletion", deletedByConv, admin, undeleteThread, "", nil, ""},
		{"other member restores moderator's deletion", deletedByConv, bob, undeleteThread, "", errs.NotFound, ""},
		{"author restores unrecorded deletion", deletedNoRecord, alice, undeleteThread, "", errs.PermissionDenied, "a moderator removed thread"},
		{"convener restores unrecorded deletion", deletedNoRecord, conv, undeleteThread, "", nil, ""},
		{"author restores live thread", fresh, alice, undeleteThread, "", errs.FailedPrecondition, "is not deleted"},
		{"author restores own deletion with stale etag", deletedByAuthor, alice, undeleteThread, stale, errs.Aborted, ""},

		// A locked thread: moderators only, for threads and replies alike,
		// with the same words.
		{"author deletes locked thread", locked, alice, deleteThread, "", errs.FailedPrecondition, "is locked"},
		{"author deletes reply in locked thread", locked, alice, deleteReply, "", errs.FailedPrecondition, "is locked"},
		{"author edits locked thread", locked, alice, editThread, "", errs.FailedPrecondition, "is locked"},
		{"author edits reply in locked thread", locked, alice, editReply, "", errs.FailedPrecondition, "is locked"},
		{"author restores own deletion of locked thread", lockedDeletedByAuthor, alice, undeleteThread, "", errs.FailedPrecondition, "is locked"},
		{"convener deletes locked thread", locked, conv, deleteThread, "", nil, ""},
		{"admin deletes locked thread", locked, admin, deleteThread, "", nil, ""},
		{"convener deletes reply in locked thread", locked, conv, deleteReply, "", nil, ""},
		{"convener edits locked thread", locked, conv, editThread, "", nil, ""},
		{"convener edits reply in locked thread", locked, conv, editReply, "", nil, ""},
		{"convener restores author's deletion of locked thread", lockedDeletedByAuthor, conv, undeleteThread, "", nil, ""},

		// The order of checks: permission, then etag, then state.
		{"other member deletes thread", fresh, bob, deleteThread, "", errs.PermissionDenied, "only the author"},
		{"other member deletes reply", fresh, bob, deleteReply, "", errs.PermissionDenied, "only the author"},
		{"other member deletes locked thread with stale etag", locked, bob, deleteThread, stale, errs.PermissionDenied, ""},
		{"other member deletes reply in locked thread with stale etag", locked, bob, deleteReply, stale, errs.PermissionDenied, ""},
		{"author deletes locked thread with stale etag", locked, alice, deleteThread, stale, errs.Aborted, ""},
		{"author deletes reply in locked thread with stale etag", locked, alice, deleteReply, stale, errs.Aborted, ""},
		{"author edits locked thread with stale etag", locked, alice, editThread, stale, errs.Aborted, ""},
		{"author edits reply in locked thread with stale etag", locked, alice, editReply, stale, errs.Aborted, ""},
		{"author deletes deleted thread", deletedByAuthor, alice, deleteThread, "", errs.FailedPrecondition, "already deleted"},
		{"author deletes deleted reply", replyDeleted, alice, deleteReply, "", errs.FailedPrecondition, "already deleted"},
		{"author deletes deleted thread with stale etag", deletedByAuthor, alice, deleteThread, stale, errs.Aborted, ""},
		{"author deletes deleted reply with stale etag", replyDeleted, alice, deleteReply, stale, errs.Aborted, ""},
		{"author edits deleted thread", deletedByAuthor, alice, editThread, "", errs.FailedPrecondition, "is deleted; undelete it first"},
		{"author edits thread a moderator deleted", deletedByConv, alice, editThread, "", errs.FailedPrecondition, "a moderator removed it"},
		{"convener edits thread a moderator deleted", deletedByConv, conv, editThread, "", errs.FailedPrecondition, "undelete it first"},
		{"author edits deleted reply", replyDeleted, alice, editReply, "", errs.FailedPrecondition, "is deleted"},
		{"author edits deleted thread with stale etag", deletedByAuthor, alice, editThread, stale, errs.Aborted, ""},
		{"author edits deleted reply with stale etag", replyDeleted, alice, editReply, stale, errs.Aborted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDeletionFixture(t)
			tc.setup(t, f)
			err := tc.do(t.Context(), f, tc.as(f), tc.etag)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case tc.want != nil && !strings.Contains(err.Error(), tc.msg):
				t.Fatalf("got %q, want it to say %q", err, tc.msg)
			}
		})
	}
}

// TestDeletionRecordsWhoAndWhy checks deleted_by and delete_reason: set by
// a deletion, seen by those who may read the post, cleared by undelete.
func TestDeletionRecordsWhoAndWhy(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		by     func(f *deletionFixture) authz.Actor
		reason string
	}{
		{"author without a reason", func(f *deletionFixture) authz.Actor { return f.alice }, ""},
		{"author with a reason", func(f *deletionFixture) authz.Actor { return f.alice }, "posted twice"},
		{"convener with a reason", func(f *deletionFixture) authz.Actor { return f.conv }, "off topic: see the rules"},
		{"admin without a reason", func(f *deletionFixture) authz.Actor { return f.admin }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDeletionFixture(t)
			by := tc.by(f)

			// The reply's tombstone: returned, got and listed, by anyone.
			r, err := f.s.DeleteReply(ctx, by, resname.MustParseReply(f.reply), "", tc.reason)
			if err != nil {
				t.Fatal(err)
			}
			if r.DeletedBy != by.User || r.DeleteReason != tc.reason {
				t.Errorf("DeleteReply returned deleted_by %q, delete_reason %q; want %q, %q", r.DeletedBy, r.DeleteReason, by.User, tc.reason)
			}
			got, err := f.s.GetReply(ctx, authz.Actor{}, resname.MustParseReply(f.reply))
			if err != nil {
				t.Fatal(err)
			}
			if got.DeletedBy != by.User || got.DeleteReason != tc.reason || got.Body != "" {
				t.Errorf("GetReply: deleted_by %q, delete_reason %q, body %q", got.DeletedBy, got.DeleteReason, got.Body)
			}
			list, _, err := f.s.ListReplies(ctx, f.bob, resname.MustParseThread(f.thread), 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].DeletedBy != by.User || list[0].DeleteReason != tc.reason {
				t.Errorf("ListReplies: %v", list)
			}

			// The thread: returned, and got by its author and moderators.
			th, err := f.s.DeleteThread(ctx, by, resname.MustParseThread(f.thread), "", tc.reason)
			if err != nil {
				t.Fatal(err)
			}
			if th.DeletedBy != by.User || th.DeleteReason != tc.reason {
				t.Errorf("DeleteThread returned deleted_by %q, delete_reason %q; want %q, %q", th.DeletedBy, th.DeleteReason, by.User, tc.reason)
			}
			for _, reader := range []authz.Actor{f.alice, f.conv} {
				got, err := f.s.GetThread(ctx, reader, resname.MustParseThread(f.thread))
				if err != nil {
					t.Fatal(err)
				}
				if got.DeletedBy != by.User || got.DeleteReason != tc.reason {
					t.Errorf("GetThread as %s: deleted_by %q, delete_reason %q", reader.User, got.DeletedBy, got.DeleteReason)
				}
			}
			listed, _, err := f.s.ListThreads(ctx, f.conv, ThreadQuery{ShowDeleted: true, PageSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 || listed[0].DeletedBy != by.User || listed[0].DeleteReason != tc.reason {
				t.Errorf("ListThreads(show_deleted): %v", listed)
			}

			// Undelete (by a moderator, who always may) clears both.
			th, err = f.s.UndeleteThread(ctx, f.conv, resname.MustParseThread(f.thread), "")
			if err != nil {
				t.Fatal(err)
			}
			if th.DeletedBy != "" || th.DeleteReason != "" || th.DeleteTime != nil {
				t.Errorf("UndeleteThread returned deleted_by %q, delete_reason %q, delete_time %v", th.DeletedBy, th.DeleteReason, th.DeleteTime)
			}
			got2, err := f.s.GetThread(ctx, f.bob, resname.MustParseThread(f.thread))
			if err != nil {
				t.Fatal(err)
			}
			if got2.DeletedBy != "" || got2.DeleteReason != "" {
				t.Errorf("GetThread after undelete: deleted_by %q, delete_reason %q", got2.DeletedBy, got2.DeleteReason)
			}
		})
	}
}

// TestModeratorDeletionSticks is the reported reproduction, through the
// store: a convener deletes a member's thread; the member cannot restore
// it, and it stays deleted (hidden from others) until a moderator does.
func TestModeratorDeletionSticks(t *testing.T) {
	f := newDeletionFixture(t)
	ctx := t.Context()
	f.must(t, f.deleteThread(ctx, f.conv, "", "spam"))
	th, err := f.s.GetThread(ctx, f.alice, resname.MustParseThread(f.thread))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UndeleteThread(ctx, f.alice, resname.MustParseThread(f.thread), th.Etag); !errors.Is(err, errs.PermissionDenied) {
		t.Fatalf("the author's undelete: %v, want PERMISSION_DENIED", err)
	}
	if _, err := f.s.GetThread(ctx, f.bob, resname.MustParseThread(f.thread)); !errors.Is(err, errs.NotFound) {
		t.Fatalf("after the author's attempt, another member gets %v, want NOT_FOUND", err)
	}
	// The author may not edit it back to life either.
	if _, err := f.s.UpdateThread(ctx, f.alice, resname.MustParseThread(f.thread), &forumv1.Thread{Name: f.thread, Title: "back"}, []string{"title"}); !errors.Is(err, errs.FailedPrecondition) {
		t.Fatalf("the author's edit of the deleted thread: %v", err)
	}
	if _, err := f.s.UndeleteThread(ctx, f.conv, resname.MustParseThread(f.thread), th.Etag); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GetThread(ctx, f.bob, resname.MustParseThread(f.thread)); err != nil {
		t.Fatal(err)
	}
}
