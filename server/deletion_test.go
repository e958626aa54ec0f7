package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestThreadDeletionRules covers, over gRPC, who deleted a post and why,
// who may restore a deleted thread, and locked threads: a member cannot
// undo a moderator's deletion (issue 12, defect 2), and a lock refuses a
// member's deletions of the thread and of its replies alike.
func TestThreadDeletionRules(t *testing.T) {
	e := newTestEnv(t)
	alice, bob, conv, admin := e.alice.ctx(t), e.bob.ctx(t), e.convener.ctx(t), e.admin.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Spam, really"})

	// A convener removes alice's thread, with a reason.
	del, err := e.threads.DeleteThread(conv, &forumv1.DeleteThreadRequest{Name: th.Name, Reason: "  Advertising: see rule 3.  "})
	if err != nil {
		t.Fatal(err)
	}
	if del.DeletedBy != e.convener.name || del.DeleteReason != "Advertising: see rule 3." {
		t.Fatalf("deleted_by %q, delete_reason %q", del.DeletedBy, del.DeleteReason)
	}
	got, err := e.threads.GetThread(alice, &forumv1.GetThreadRequest{Name: th.Name})
	if err != nil {
		t.Fatal(err)
	}
	if got.DeletedBy != e.convener.name || got.DeleteReason != "Advertising: see rule 3." {
		t.Fatalf("the author sees deleted_by %q, delete_reason %q", got.DeletedBy, got.DeleteReason)
	}
	// The author cannot undo it, with or without the etag.
	for _, etag := range []string{"", got.Etag} {
		_, err = e.threads.UndeleteThread(alice, &forumv1.UndeleteThreadRequest{Name: th.Name, Etag: etag})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "moderator removed") {
			t.Fatalf("the author undoes a moderator's deletion (etag %q): %v", etag, err)
		}
	}
	if _, err := e.threads.GetThread(bob, &forumv1.GetThreadRequest{Name: th.Name}); status.Code(err) != codes.NotFound {
		t.Fatalf("after the author's attempt, bob gets %v, want NOT_FOUND", err)
	}
	// Another moderator may; that clears who and why.
	back, err := e.threads.UndeleteThread(admin, &forumv1.UndeleteThreadRequest{Name: th.Name})
	if err != nil {
		t.Fatal(err)
	}
	if back.DeletedBy != "" || back.DeleteReason != "" || back.DeleteTime != nil {
		t.Fatalf("undeleted: deleted_by %q, delete_reason %q, delete_time %v", back.DeletedBy, back.DeleteReason, back.DeleteTime)
	}
	// The author still restores what they deleted themself.
	if d, err := e.threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name}); err != nil || d.DeletedBy != e.alice.name {
		t.Fatalf("the author's delete: %v, deleted_by %q", err, d.GetDeletedBy())
	}
	if _, err := e.threads.UndeleteThread(alice, &forumv1.UndeleteThreadRequest{Name: th.Name}); err != nil {
		t.Fatalf("the author's undelete of their own deletion: %v", err)
	}

	// Locked: the author may delete neither the thread nor a reply in it,
	// refused in the same words; a moderator may.
	mine := e.mustReply(t, e.alice, th.Name, "my reply")
	theirs := e.mustReply(t, e.bob, th.Name, "bob's reply")
	if _, err := e.threads.UpdateThread(conv, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, State: stateLockedLegacy}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}}); err != nil {
		t.Fatal(err)
	}
	_, threadErr := e.threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name})
	_, replyErr := e.replies.DeleteReply(alice, &forumv1.DeleteReplyRequest{Name: mine.Name})
	for what, err := range map[string]error{"thread": threadErr, "reply": replyErr} {
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), th.Name+" is locked") {
			t.Errorf("the author deletes the locked %s: %v", what, err)
		}
	}
	if status.Convert(threadErr).Message() != status.Convert(replyErr).Message() {
		t.Errorf("a lock is explained differently: %q and %q", status.Convert(threadErr).Message(), status.Convert(replyErr).Message())
	}
	tomb, err := e.replies.DeleteReply(conv, &forumv1.DeleteReplyRequest{Name: theirs.Name, Reason: "Personal attack"})
	if err != nil {
		t.Fatal(err)
	}
	if tomb.DeletedBy != e.convener.name || tomb.DeleteReason != "Personal attack" || tomb.Body != "" {
		t.Fatalf("tombstone %v", tomb)
	}
	// Everyone who reads the thread sees who removed the reply, and why.
	list, err := e.replies.ListReplies(t.Context(), &forumv1.ListRepliesRequest{Parent: th.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Replies) != 2 || list.Replies[1].DeletedBy != e.convener.name || list.Replies[1].DeleteReason != "Personal attack" {
		t.Fatalf("listed replies %v", list.Replies)
	}
	if _, err := e.threads.DeleteThread(conv, &forumv1.DeleteThreadRequest{Name: th.Name}); err != nil {
		t.Fatalf("a convener deletes the locked thread: %v", err)
	}
}

// TestDeleteReasonValidation checks the reason of DeleteThread and
// DeleteReply: at most 500 characters, valid UTF-8 without control
// characters, else INVALID_ARGUMENT naming the field `reason`, with
// nothing deleted.
func TestDeleteReasonValidation(t *testing.T) {
	e := newTestEnv(t)
	alice := e.alice.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Kept"})
	r := e.mustReply(t, e.alice, th.Name, "kept")
	bad := map[string]string{
		"501 characters": strings.Repeat("é", 501),
		"NUL":            "spam\x00",
		"newline":        "line one\nline two",
		"escape":         "\x1b[31mred",
		"invalid UTF-8":  "bad \xff byte",
	}
	threads := &threadService{s: e.srv}
	replies := &replyService{s: e.srv}
	for name, reason := range bad {
		t.Run(name, func(t *testing.T) {
			// In process, so that invalid UTF-8 reaches the validation (on
			// the wire the codec refuses it first).
			_, terr := threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name, Reason: reason})
			_, rerr := replies.DeleteReply(alice, &forumv1.DeleteReplyRequest{Name: r.Name, Reason: reason})
			for what, err := range map[string]error{"DeleteThread": terr, "DeleteReply": rerr} {
				var ia *errs.InvalidArgumentError
				if !errors.As(err, &ia) || len(ia.Violations) != 1 || ia.Violations[0].Field != "reason" {
					t.Errorf("%s: %v, want INVALID_ARGUMENT for reason", what, err)
				}
			}
			if name == "invalid UTF-8" {
				return
			}
			_, err := e.threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name, Reason: reason})
			if status.Code(err) != codes.InvalidArgument || !containsString(violatedFields(err), "reason") {
				t.Errorf("DeleteThread over gRPC: %v", err)
			}
		})
	}
	// Invalid UTF-8 on the wire is refused too.
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	req = protowire.AppendString(req, th.Name)
	req = protowire.AppendTag(req, 3, protowire.BytesType)
	req = protowire.AppendBytes(req, []byte("bad \xff byte"))
	var out forumv1.Thread
	if err := e.conn.Invoke(alice, forumv1.ThreadService_DeleteThread_FullMethodName, req, &out, grpc.ForceCodecV2(rawCodec{})); status.Code(err) != codes.InvalidArgument {
		t.Errorf("invalid UTF-8 reason on the wire: %v", err)
	}
	// Nothing was deleted.
	if got, err := e.threads.GetThread(t.Context(), &forumv1.GetThreadRequest{Name: th.Name}); err != nil || got.DeleteTime != nil {
		t.Fatalf("thread after refused deletes: %v %v", got, err)
	}
	if got, err := e.replies.GetReply(t.Context(), &forumv1.GetReplyRequest{Name: r.Name}); err != nil || got.DeleteTime != nil {
		t.Fatalf("reply after refused deletes: %v %v", got, err)
	}
	// 500 characters, and an empty reason, are fine.
	ok := strings.Repeat("é", 500)
	if d, err := e.replies.DeleteReply(alice, &forumv1.DeleteReplyRequest{Name: r.Name, Reason: ok}); err != nil || d.DeleteReason != ok {
		t.Fatalf("a 500-character reason: %v", err)
	}
	if d, err := e.threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name, Reason: "   "}); err != nil || d.DeleteReason != "" {
		t.Fatalf("a blank reason: %v, delete_reason %q", err, d.GetDeleteReason())
	}
}

// violatedFields returns the fields of the BadRequest detail of err.
func violatedFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				fields = append(fields, v.Field)
			}
		}
	}
	return fields
}

// TestUndeleteByAuthorOverHTTP is the reported reproduction over the JSON
// API: after a convener's DELETE /v1/threads/{id}?reason=..., the author's
// POST /v1/threads/{id}:undelete answers 403 and the thread stays deleted.
func TestUndeleteByAuthorOverHTTP(t *testing.T) {
	e := newTestEnv(t)
	h, err := gateway.New(t.Context(), e.conn, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	call := func(u testUser, method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if u.token != "" {
			req.Header.Set("Authorization", "Bearer "+u.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON", method, path, rec.Code, b)
		}
		return rec.Code, out
	}
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Buy my product"})
	r := e.mustReply(t, e.bob, th.Name, "Me too!")

	code, out := call(e.convener, "DELETE", "/v1/"+th.Name+"?reason="+url.QueryEscape("Advertising (rule 3)"), "")
	if code != http.StatusOK || out["deletedBy"] != e.convener.name || out["deleteReason"] != "Advertising (rule 3)" {
		t.Fatalf("DELETE: %d %v", code, out)
	}
	code, out = call(e.alice, "POST", "/v1/"+th.Name+":undelete", "{}")
	if code != http.StatusForbidden {
		t.Fatalf("the author's undelete: %d %v, want 403", code, out)
	}
	if code, _ := call(e.bob, "GET", "/v1/"+th.Name, ""); code != http.StatusNotFound {
		t.Fatalf("bob reads the thread after the author's undelete: %d, want 404", code)
	}
	code, out = call(e.alice, "GET", "/v1/"+th.Name, "")
	if code != http.StatusOK || out["deletedBy"] != e.convener.name || out["deleteReason"] != "Advertising (rule 3)" {
		t.Fatalf("the author's view: %d %v", code, out)
	}
	if code, out := call(e.convener, "POST", "/v1/"+th.Name+":undelete", "{}"); code != http.StatusOK || out["deletedBy"] != nil || out["deleteReason"] != nil {
		t.Fatalf("the convener's undelete: %d %v", code, out)
	}

	// A reply's reason travels the same way; a bad one is a 400 naming it.
	if code, out := call(e.convener, "DELETE", "/v1/"+r.Name+"?reason="+strings.Repeat("x", 501), ""); code != http.StatusBadRequest || !strings.Contains(jsonText(out), `"reason"`) {
		t.Fatalf("DELETE reply with a 501-character reason: %d %v", code, out)
	}
	code, out = call(e.convener, "DELETE", "/v1/"+r.Name+"?reason="+url.QueryEscape("Off topic"), "")
	if code != http.StatusOK || out["deletedBy"] != e.convener.name || out["deleteReason"] != "Off topic" {
		t.Fatalf("DELETE reply: %d %v", code, out)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
