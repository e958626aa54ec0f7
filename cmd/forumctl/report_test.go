package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestConveningReport runs the story of a convening with forumctl: a
// convener creates the 2015 Beijing convening with its three themes,
// delegates post under it, a question gets an accepted answer, the
// convener opens two follow-ups with four action items owned by two
// organisations, owners close some, and the exported report lists every
// item with its state and owner, as testdata/beijing-2015.md holds it (go
// test -run TestConveningReport -update rewrites it).
func TestConveningReport(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	ctx, aminaC := loggedInClient(t, server, "amina", convenerPassword)
	_, moC := loggedInClient(t, server, "moses", memberPassword)
	for _, o := range []struct{ slug, name, country string }{{"vso-kenya", "VSO Kenya", "KE"}, {"koica", "KOICA", "KR"}} {
		if _, err := aminaC.OrganizationService().CreateOrganization(ctx, &forumv1.CreateOrganizationRequest{OrganizationId: o.slug, Organization: &forumv1.Organization{DisplayName: o.name, Country: o.country, Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}}); err != nil {
			t.Fatal(err)
		}
	}
	me, err := moC.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := moC.UserService().UpdateUser(ctx, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: me.GetName(), Organization: "organizations/vso-kenya", Country: "KE"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"organization", "country"}}}); err != nil {
		t.Fatal(err)
	}

	amina.ok("", "convenings", "create", "beijing-2015", "--title", "Beijing 2015: volunteering for development", "--start", "2015-10-19", "--end", "2015-10-21",
		"--place", "Beijing", "--country", "CN", "--organizer", "koica", "--theme", "knowledge-exchange,reciprocal-volunteering,joint-programmes",
		"--description", "Three days on how volunteering serves development.")
	mo.ok("", "threads", "create", "--convening", "beijing-2015", "--theme", "knowledge-exchange", "--kind", "question", "--title", "How do you match volunteers to host families?", "--body", "Our matching is slow.")
	answer := posted(t, amina.ok("", "reply", "1", "--body", "A short interview, then a trial week."), "threads/1")
	mo.ok("", "threads", "accept", "1", answer)
	amina.ok("", "threads", "create", "--convening", "beijing-2015", "--theme", "reciprocal-volunteering", "--title", "Reciprocal placements between Kenya and Korea", "--body", "What would it take?")
	mo.ok("", "reply", "2", "--body", "Visas, mostly.")
	mo.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Not part of it", "--body", "-")

	amina.ok("", "threads", "follow-up", "2", "--title", "Follow-up: reciprocal placements", "--body", "Actions agreed.")
	amina.ok("", "threads", "follow-up", "1", "--title", "Follow-up: host matching", "--body", "Actions agreed.")
	for _, it := range []struct{ thread, title, owner, due string }{
		{"4", "Draft the visa guidance", "vso-kenya", "2016-01-31"},
		{"4", "Name a focal point", "koica", "2015-12-01"},
		{"5", "Share the interview guide", "vso-kenya", "2015-11-15"},
		{"5", "Pilot the trial week", "koica", ""},
	} {
		args := []string{"items", "create", it.thread, "--title", it.title, "--owner", it.owner}
		if it.due != "" {
			args = append(args, "--due", it.due)
		}
		amina.ok("", args...)
	}
	mo.ok("", "items", "done", "5/items/3", "--note", "Shared with all members.")
	amina.ok("", "items", "drop", "4/items/2", "--note", "KOICA named its country office instead.")
	mo.fails(exitPermission, "only the owner", "items", "done", "4/items/2")
	amina.ok("", "threads", "resolve", "5")
	amina.ok("", "convenings", "set", "beijing-2015", "--state", "held")

	report := amina.ok("", "convenings", "export", "beijing-2015", "--format", "markdown")
	golden := filepath.Join("testdata", "beijing-2015.md")
	if *update {
		if err := os.WriteFile(golden, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if report != string(want) {
		t.Errorf("convenings export --format markdown:\n%s\nwant (%s):\n%s", report, golden, want)
	}

	var js struct {
		Convening   struct{ Name, State string }
		Themes      []struct{ Name string }
		Discussions []struct{ Name string }
		FollowUps   []struct {
			Thread      struct{ Name string }
			ActionItems []struct{ Name, State, Owner string }
		}
		ActionItemsByOwner []struct {
			Owner, OwnerName string
			ActionItems      []struct{ Name string }
		}
	}
	if err := json.Unmarshal([]byte(mo.ok("", "convenings", "export", "beijing-2015", "--format", "json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Convening.State != "CONVENING_STATE_HELD" || len(js.Themes) != 3 || len(js.Discussions) != 2 || len(js.FollowUps) != 2 ||
		len(js.FollowUps[1].ActionItems) != 2 || js.FollowUps[1].ActionItems[0].State != "ACTION_ITEM_STATE_DONE" ||
		len(js.ActionItemsByOwner) != 2 || js.ActionItemsByOwner[0].OwnerName != "KOICA" || len(js.ActionItemsByOwner[1].ActionItems) != 2 {
		t.Errorf("convenings export --format json: %+v", js)
	}
	if r := mo.run("", "convenings", "export", "beijing-2015", "--format", "pdf"); r.code != exitUsage {
		t.Errorf("--format pdf: %v", r)
	}
}
