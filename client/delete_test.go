package client_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestDeleteWithReason deletes a thread and a reply with a reason and an
// etag, and checks the refusals a caller can act on: the member may not
// undo the convener's deletion, a stale etag conflicts, and a bad reason
// names the field.
func TestDeleteWithReason(t *testing.T) {
	f := start(t)
	th := mustThread(t, f.member, "themes/knowledge-exchange", "Cheap flights!!!")
	r := mustReply(t, f.member, th.GetName(), "Click here")

	// A stale etag: nothing is deleted.
	if _, err := f.convener.DeleteThread(callCtx(t), th.GetName(), client.WithEtag(`"stale"`), client.WithReason("spam")); !errors.Is(err, client.ErrConflict) {
		t.Fatalf("DeleteThread with a stale etag: %v, want ErrConflict", err)
	}
	// A bad reason names the field.
	_, err := f.convener.DeleteReply(callCtx(t), r.GetName(), client.WithReason(strings.Repeat("x", 501)))
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("DeleteReply with a 501-character reason: %v", err)
	}
	if v := client.FieldViolations(err); len(v) != 1 || v[0].Field != "reason" {
		t.Fatalf("field violations %v", v)
	}

	tomb, err := f.convener.DeleteReply(callCtx(t), r.GetName(), client.WithReason("Advertising"), client.WithEtag(r.GetEtag()))
	if err != nil {
		t.Fatal(err)
	}
	conv, err := f.convener.UserService().GetUser(callCtx(t), &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if tomb.GetDeletedBy() != conv.GetName() || tomb.GetDeleteReason() != "Advertising" {
		t.Fatalf("tombstone deleted_by %q, delete_reason %q", tomb.GetDeletedBy(), tomb.GetDeleteReason())
	}
	del, err := f.convener.DeleteThread(callCtx(t), th.GetName(), client.WithReason("Advertising"), client.WithEtag(th.GetEtag()))
	if err != nil {
		t.Fatal(err)
	}
	if del.GetDeletedBy() != conv.GetName() || del.GetDeleteReason() != "Advertising" || del.GetDeleteTime() == nil {
		t.Fatalf("deleted thread: deleted_by %q, delete_reason %q", del.GetDeletedBy(), del.GetDeleteReason())
	}
	// The member sees why, and may not undo it.
	seen, err := f.member.ThreadService().GetThread(callCtx(t), &forumv1.GetThreadRequest{Name: th.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if seen.GetDeleteReason() != "Advertising" {
		t.Fatalf("the author sees delete_reason %q", seen.GetDeleteReason())
	}
	if _, err := f.member.ThreadService().UndeleteThread(callCtx(t), &forumv1.UndeleteThreadRequest{Name: th.GetName()}); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("the author's undelete: %v, want ErrPermissionDenied", err)
	}
	// Without options: the member's own deletion, with no reason.
	own := mustThread(t, f.member, "themes/knowledge-exchange", "Mine")
	d, err := f.member.DeleteThread(callCtx(t), own.GetName())
	if err != nil {
		t.Fatal(err)
	}
	if d.GetDeletedBy() != own.GetAuthor() || d.GetDeleteReason() != "" {
		t.Fatalf("own deletion: deleted_by %q, delete_reason %q", d.GetDeletedBy(), d.GetDeleteReason())
	}
}
