package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAnswersReactionsAndLocks runs threads accept and unaccept, react and
// unreact, threads lock and unlock on a resolved thread, and list
// --unanswered, with what threads show then says, and their refusals.
func TestAnswersReactionsAndLocks(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	nobody := newUser(t, "FORUM_SERVER="+server)
	mo.ok("", "threads", "create", "--theme", "joint-programmes", "--kind", "question", "--title", "Who hosts?", "--body", "Looking for host families.")
	answer := posted(t, amina.ok("", "reply", "1", "--body", "Our network does."), "threads/1")
	mo.ok("", "threads", "create", "--theme", "joint-programmes", "--kind", "question", "--title", "Open question", "--body", "?")

	if out := mo.ok("", "threads", "accept", "1", "1"); out != answer+" is the answer to threads/1: Who hosts?\n" {
		t.Errorf("threads accept: %q", out)
	}
	show := mo.ok("", "threads", "show", "1")
	if !strings.Contains(show, "answer: "+answer+"\n") || !strings.Contains(show, " · accepted answer\n") {
		t.Errorf("threads show of an answered question:\n%s", show)
	}
	if out := mo.ok("", "threads", "list", "--unanswered"); !strings.Contains(out, "Open question") || strings.Contains(out, "Who hosts?") {
		t.Errorf("threads list --unanswered:\n%s", out)
	}
	if out := mo.ok("", "threads", "unaccept", "threads/1"); out != "threads/1 has no accepted answer: Who hosts?\n" {
		t.Errorf("threads unaccept: %q", out)
	}

	// Reactions: twice is once; another's counts; withdrawn.
	mo.ok("", "react", "1/1", "heart")
	if out := mo.ok("", "react", answer, "HEART"); out != answer+": heart 1 (you)\n" {
		t.Errorf("react twice: %q", out)
	}
	if out := amina.ok("", "react", "1/1", "+1"); out != answer+": +1 1 (you), heart 1\n" {
		t.Errorf("react +1: %q", out)
	}
	var pr struct {
		Name      string
		Reactions []struct {
			Reaction string
			Count    int
			Reacted  bool
		}
	}
	if err := json.Unmarshal([]byte(mo.ok("", "unreact", "1/1", "heart", "-o", "json")), &pr); err != nil || len(pr.Reactions) != 1 || pr.Reactions[0].Reaction != "REACTION_PLUS_ONE" || pr.Reactions[0].Reacted {
		t.Errorf("unreact -o json: %+v (%v)", pr, err)
	}
	if show := mo.ok("", "threads", "show", "1"); !strings.Contains(show, "reactions: +1 1\n") {
		t.Errorf("threads show with a reaction:\n%s", show)
	}

	// Locked while resolved, then unlocked: still resolved.
	mo.ok("", "threads", "resolve", "1")
	if out := amina.ok("", "threads", "lock", "1"); out != "threads/1 is now locked: Who hosts?\n" {
		t.Errorf("threads lock: %q", out)
	}
	if show := mo.ok("", "threads", "show", "1"); !strings.Contains(show, " · question · resolved, locked · ") {
		t.Errorf("threads show of a locked resolved thread:\n%s", show)
	}
	if out := mo.ok("", "threads", "list", "--state", "locked"); !strings.Contains(out, "resolved, locked") || strings.Contains(out, "Open question") {
		t.Errorf("threads list --state locked:\n%s", out)
	}
	if out := amina.ok("", "threads", "unlock", "1"); out != "threads/1 is now unlocked: Who hosts?\n" {
		t.Errorf("threads unlock: %q", out)
	}
	if show := mo.ok("", "threads", "show", "1"); !strings.Contains(show, " · question · resolved · ") {
		t.Errorf("threads show once unlocked:\n%s", show)
	}

	amina.ok("", "threads", "lock", "2")
	// Amina's own question: Mo may not accept its answer.
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--kind", "question", "--title", "Amina asks", "--body", "?")
	mo.ok("", "reply", "3", "--body", "An answer.")
	checkRefusals(t, []refusal{
		{"accept: not the asker", mo, exitPermission, "", []string{"threads", "accept", "3", "1"}},
		{"accept: not logged in", nobody, exitUnauth, "not logged in", []string{"threads", "accept", "1", "1"}},
		{"accept: a reply of another thread", mo, exitUsage, "threads/2/replies/1 is not a reply of threads/1", []string{"threads", "accept", "1", "2/1"}},
		{"accept: no reply", mo, exitUsage, "accept takes THREAD REPLY", []string{"threads", "accept", "1"}},
		{"accept: a missing reply", mo, exitInvalid, "does not exist", []string{"threads", "accept", "1", "99"}},
		{"react: an unknown reaction", mo, exitUsage, `"love" is not a reaction`, []string{"react", "1", "love"}},
		{"react: not a post", mo, exitUsage, `"x" is not a post`, []string{"react", "x", "heart"}},
		{"react: in a locked thread", mo, exitConflict, "thread threads/2 is locked", []string{"react", "2", "heart"}},
		{"lock: a member", mo, exitPermission, "lock threads", []string{"threads", "lock", "1"}},
		{"unlock: a member", mo, exitPermission, "unlock threads", []string{"threads", "unlock", "2"}},
	})
}

// TestHistory shows a reply's versions, the newest first, and refuses a
// deleted reply's history to a member.
func TestHistory(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	mo.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Budget", "--body", "?")
	reply := posted(t, mo.ok("", "reply", "1", "--body", "About 3,000 dollars."), "threads/1")
	mo.ok("", "reply", "edit", reply, "--body", "About 4,000 dollars.")
	out := stamp.ReplaceAllString(amina.ok("", "history", "1/1"), "TIME")
	want := "── 2 · edited by Mo Member · TIME\nAbout 4,000 dollars.\n\n── 1 · written by Mo Member · TIME\nAbout 3,000 dollars.\n"
	if out != want {
		t.Errorf("history:\n%s\nwant:\n%s", out, want)
	}
	if out := stamp.ReplaceAllString(mo.ok("", "history", "1"), "TIME"); out != "── 1 · written by Mo Member · TIME\nBudget\n?\n" {
		t.Errorf("history of a thread never edited: %q", out)
	}
	mo.ok("", "reply", "delete", reply)
	mo.fails(exitNotFound, "moderators only", "history", reply)
	if out := amina.ok("", "history", reply); !strings.Contains(out, "About 3,000 dollars.") {
		t.Errorf("a convener reading a deleted reply's history:\n%s", out)
	}
	mo.fails(exitUsage, "is not a post", "history", "x")
}
