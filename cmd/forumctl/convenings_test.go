package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConvenings creates a convening, gives it a thread and a follow-up,
// lists and shows it, changes its state, and checks the refusals.
func TestConvenings(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	if r := mo.run("", "convenings", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No convenings.\n" {
		t.Errorf("convenings list with none: %v", r)
	}
	out := amina.ok("", "convenings", "create", "beijing-2015", "--title", "Beijing 2015", "--start", "2015-10-19", "--end", "2015-10-21",
		"--place", "Beijing", "--country", "cn", "--theme", "knowledge-exchange,joint-programmes", "--organizer", "users/1", "--description", "Three days.")
	if out != "Created convenings/beijing-2015: Beijing 2015\n" {
		t.Errorf("convenings create: %q", out)
	}
	amina.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Hosting", "--convening", "beijing-2015")
	amina.ok("", "threads", "follow-up", "1", "--title", "Follow-up: hosting")
	mo.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Unrelated")

	list := mo.ok("", "convenings", "list")
	if !strings.Contains(list, "beijing-2015") || !strings.Contains(list, "2015-10-19 – 2015-10-21") || !strings.Contains(list, "Beijing, CN") || !strings.Contains(list, "planned") {
		t.Errorf("convenings list:\n%s", list)
	}
	show := mo.ok("", "convenings", "show", "beijing-2015")
	for _, want := range []string{"Beijing 2015\n", "convenings/beijing-2015 · 2015-10-19 – 2015-10-21 · Beijing, CN · planned\n", "organised by ", "themes: themes/knowledge-exchange, themes/joint-programmes\n",
		"\nThree days.\n", "\nDiscussions (1)\n  threads/1 · open · 0 replies · Hosting\n", "\nFollow-ups (1)\n  threads/2 · open · 0 replies · Follow-up: hosting\n"} {
		if !strings.Contains(show, want) {
			t.Errorf("convenings show lacks %q:\n%s", want, show)
		}
	}
	var js struct {
		Convening struct {
			Name        string
			ThreadCount int
		}
		Threads []struct{ Name, Convening string }
	}
	if err := json.Unmarshal([]byte(mo.ok("", "convenings", "show", "convenings/beijing-2015", "-o", "json")), &js); err != nil || len(js.Threads) != 2 || js.Threads[0].Convening != "convenings/beijing-2015" || js.Convening.ThreadCount != 2 {
		t.Errorf("convenings show -o json: %+v (%v)", js, err)
	}
	if out := mo.ok("", "threads", "list", "--convening", "beijing-2015"); strings.Contains(out, "Unrelated") || !strings.Contains(out, "Hosting") {
		t.Errorf("threads list --convening:\n%s", out)
	}
	if out := amina.ok("", "convenings", "set", "beijing-2015", "--state", "held"); out != "Changed convenings/beijing-2015: Beijing 2015 (held)\n" {
		t.Errorf("convenings set: %q", out)
	}
	if r := mo.run("", "convenings", "list", "--state", "planned"); r.code != 0 || r.stdout != "" || r.stderr != "No convenings.\n" {
		t.Errorf("convenings list --state planned: %v", r)
	}
	checkRefusals(t, []refusal{
		{"a member creating one", mo, exitPermission, "", []string{"convenings", "create", "x", "--title", "X", "--start", "2026-01-01", "--end", "2026-01-02"}},
		{"an end before the start", amina, exitInvalid, "convening.end_date", []string{"convenings", "create", "x", "--title", "X", "--start", "2026-01-02", "--end", "2026-01-01"}},
		{"an organiser who is no one", amina, exitInvalid, "convening.organizers[0]", []string{"convenings", "create", "x", "--title", "X", "--start", "2026-01-01", "--end", "2026-01-02", "--organizer", "users/99"}},
		{"a state that is none", amina, exitUsage, "--state", []string{"convenings", "set", "beijing-2015", "--state", "over"}},
		{"nothing to set", amina, exitUsage, "nothing to change", []string{"convenings", "set", "beijing-2015"}},
		{"deleting one with threads", amina, exitConflict, "archive it", []string{"convenings", "delete", "beijing-2015"}},
		{"a missing one", mo, exitNotFound, "convenings/nope", []string{"convenings", "show", "nope"}},
		{"a thread of a convening that is none", mo, exitInvalid, "thread.convening", []string{"threads", "create", "--theme", "knowledge-exchange", "--title", "T", "--convening", "nope"}},
	})
}
