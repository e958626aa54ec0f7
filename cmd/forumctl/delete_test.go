package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDeleteWithReason covers 'threads delete' and 'reply delete' with
// --reason, what 'threads show' says of them, 'threads undelete' (which
// the author may not use on a convener's deletion), and a locked thread.
func TestDeleteWithReason(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)

	if out := mo.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Cheap flights", "--body", "Click here."); out != "Created threads/1: Cheap flights\n" {
		t.Fatalf("threads create: %q", out)
	}
	spam := posted(t, mo.ok("", "reply", "1", "--body", "Really cheap."), "threads/1")
	own := posted(t, mo.ok("", "reply", "1", "--body", "Posted twice."), "threads/1")

	// The reason is checked by the server: exit status 8, naming it.
	amina.fails(exitInvalid, "reason", "reply", "delete", spam, "--reason", strings.Repeat("x", 501))

	// The convener removes a reply and the thread, saying why.
	var tomb struct{ DeletedBy, DeleteReason string }
	if err := json.Unmarshal([]byte(amina.ok("", "reply", "delete", spam, "--reason", "Advertising", "-o", "json")), &tomb); err != nil {
		t.Fatal(err)
	}
	if tomb.DeletedBy == "" || tomb.DeleteReason != "Advertising" {
		t.Fatalf("reply delete -o json: %+v", tomb)
	}
	if out := mo.ok("", "reply", "delete", own); out != "Deleted "+own+"\n" {
		t.Fatalf("reply delete: %q", out)
	}
	if out := amina.ok("", "threads", "delete", "1", "--reason", "Advertising, see the rules"); out != "Deleted threads/1: Cheap flights\n" {
		t.Fatalf("threads delete: %q", out)
	}

	// The author sees who and why.
	show := stamp.ReplaceAllString(mo.ok("", "threads", "show", "1"), "TIME")
	for _, want := range []string{
		"deleted TIME by Amina Convener\nreason: Advertising, see the rules\n",
		spam + " · Mo Member · TIME\n[removed by a moderator: Advertising]\n",
		own + " · Mo Member · TIME\n[deleted]\n",
	} {
		if !strings.Contains(show, want) {
			t.Errorf("threads show lacks %q:\n%s", want, show)
		}
	}

	// The author cannot undo the convener's deletion; the convener can.
	mo.fails(exitPermission, "a moderator removed thread threads/1", "threads", "undelete", "1")
	if out := amina.ok("", "threads", "undelete", "threads/1"); out != "Restored threads/1: Cheap flights\n" {
		t.Fatalf("threads undelete: %q", out)
	}
	if show := mo.ok("", "threads", "show", "1"); strings.Contains(show, "reason:") || strings.Contains(show, "\ndeleted ") {
		t.Errorf("the restored thread still shows its deletion:\n%s", show)
	}

	// Locked: the author may delete neither the thread nor a reply in it.
	mine := posted(t, mo.ok("", "reply", "1", "--body", "One more."), "threads/1")
	amina.ok("", "threads", "lock", "1")
	mo.fails(exitConflict, "thread threads/1 is locked", "threads", "delete", "1")
	mo.fails(exitConflict, "thread threads/1 is locked", "reply", "delete", mine)

	// The author deletes and restores their own thread.
	amina.ok("", "threads", "unlock", "1")
	mo.ok("", "threads", "delete", "1")
	mo.ok("", "threads", "undelete", "1")
}
