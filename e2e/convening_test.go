package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestConveningStoryOverJSONAndGRPC drives issue 17's story through the
// real forumd, over JSON and gRPC in turn: a convener creates the 2015
// Beijing convening with its three themes; delegates from three countries
// post under it; a question gets an accepted answer; the convener opens
// two follow-ups (one in a private working group's theme) with four action
// items owned by two organisations; owners close some, and an owner of
// another organisation is refused; the counts and lists leave the private
// follow-up and its items out for a delegate outside the group; a resolved
// follow-up locked and unlocked stays resolved; and the bad inputs are
// refused with their fields.
func TestConveningStoryOverJSONAndGRPC(t *testing.T) {
	data := t.TempDir()
	const pw = "a long enough password"
	mustCreateUserCLI(t, data, "admin", "Admin", "admin", pw)
	p := startForumd(t, data, noRateLimits)
	h := p.jsonAPI(t)
	g := p.dial(t)
	convenings := forumv1.NewConveningServiceClient(g.conn)
	items := forumv1.NewActionItemServiceClient(g.conn)

	login := func(username string) string {
		var r struct{ Token string }
		if err := json.Unmarshal(h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": username, "password": pw}, 200), &r); err != nil || r.Token == "" {
			t.Fatalf("login %s: %v", username, err)
		}
		return r.Token
	}
	admin := login("admin")
	for _, o := range []struct{ slug, name, country string }{{"koica", "KOICA", "KR"}, {"vso-kenya", "VSO Kenya", "KE"}, {"cvda", "CVDA", "CN"}} {
		h.must(t, "POST", "/v1/organizations?organizationId="+o.slug, admin, map[string]string{"displayName": o.name, "country": o.country, "kind": "ORGANIZATION_KIND_NGO"}, 200)
	}
	users := map[string]string{}
	for _, u := range []struct{ name, role, org, country string }{
		{"conv", "ROLE_CONVENER", "", ""}, {"liwei", "ROLE_MEMBER", "cvda", "CN"}, {"kim", "ROLE_MEMBER", "koica", "KR"}, {"wanjiru", "ROLE_MEMBER", "vso-kenya", "KE"},
	} {
		var out struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/users", admin, map[string]any{"user": map[string]string{"username": u.name, "displayName": u.name, "role": u.role}, "password": pw}, 200), &out)
		users[u.name] = out.Name
		if u.org != "" {
			h.must(t, "PATCH", "/v1/"+out.Name+"?updateMask=organization,country", admin, map[string]string{"organization": "organizations/" + u.org, "country": u.country}, 200)
		}
	}
	conv, li, kim, wanjiru := login("conv"), login("liwei"), login("kim"), login("wanjiru")
	grpcCtx := func(token string) context.Context {
		c, cancel := callCtx(t.Context(), token)
		t.Cleanup(cancel)
		return c
	}
	h.must(t, "POST", "/v1/groups?groupId=koica-wg", conv, map[string]any{"displayName": "KOICA working group", "members": []string{users["kim"]}}, 200)
	h.must(t, "POST", "/v1/themes?themeId=koica-wg", conv, map[string]any{"displayName": "KOICA WG", "visibility": "THEME_VISIBILITY_GROUPS", "groups": []string{"groups/koica-wg"}}, 200)

	// The convening, over JSON; a bad one refused.
	h.must(t, "POST", "/v1/convenings?conveningId=beijing-2015", conv, map[string]any{
		"title": "Beijing 2015: volunteering for development", "startDate": "2015-10-19", "endDate": "2015-10-21", "place": "Beijing", "country": "CN",
		"organizers": []string{"organizations/koica"}, "themes": []string{"themes/knowledge-exchange", "themes/reciprocal-volunteering", "themes/joint-programmes"},
	}, 200)
	bad := h.must(t, "POST", "/v1/convenings?conveningId=x", conv, map[string]any{"title": "X", "startDate": "2015-10-21", "endDate": "2015-10-19"}, 400)
	if !jsonHasField(bad, "convening.end_date") {
		t.Errorf("an end before the start: %s", bad)
	}
	h.must(t, "POST", "/v1/convenings?conveningId=y", li, map[string]any{"title": "Y", "startDate": "2015-10-19", "endDate": "2015-10-19"}, 403)

	// Delegates from three countries post under it.
	var q, disc struct{ Name string }
	json.Unmarshal(h.must(t, "POST", "/v1/threads", li, map[string]any{"theme": "themes/knowledge-exchange", "kind": "THREAD_KIND_QUESTION", "title": "How do you match volunteers to host families?", "convening": "convenings/beijing-2015"}, 200), &q)
	d, err := g.threads.CreateThread(grpcCtx(kim), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/reciprocal-volunteering", Title: "Reciprocal placements", Convening: "convenings/beijing-2015"}})
	if err != nil {
		t.Fatal(err)
	}
	disc.Name = d.Name
	var ans struct{ Name string }
	json.Unmarshal(h.must(t, "POST", "/v1/"+q.Name+"/replies", wanjiru, map[string]string{"body": "A short interview, then a trial week."}, 200), &ans)
	other, err := g.replies.CreateReply(grpcCtx(wanjiru), &forumv1.CreateReplyRequest{Parent: disc.Name, Reply: &forumv1.Reply{Body: "Visas, mostly."}})
	if err != nil {
		t.Fatal(err)
	}
	// The asker accepts the answer over gRPC; a reply of another thread is refused.
	if _, err := g.threads.AcceptAnswer(grpcCtx(li), &forumv1.AcceptAnswerRequest{Name: q.Name, Reply: other.Name}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("accepting a reply of another thread: %v", err)
	}
	if th, err := g.threads.AcceptAnswer(grpcCtx(li), &forumv1.AcceptAnswerRequest{Name: q.Name, Reply: ans.Name}); err != nil || th.AcceptedAnswer != ans.Name {
		t.Fatalf("accepting the answer: %v, %v", th.GetAcceptedAnswer(), err)
	}
	h.must(t, "POST", "/v1/"+ans.Name+":addReaction", kim, map[string]string{"reaction": "REACTION_THANKS"}, 200)
	h.must(t, "POST", "/v1/"+ans.Name+":addReaction", kim, map[string]string{"reaction": "REACTION_LOVE"}, 400)

	// Two follow-ups, one in the private theme; four items of two organisations.
	var fu1, fu2 struct{ Name string }
	json.Unmarshal(h.must(t, "POST", "/v1/threads", conv, map[string]any{"theme": "themes/reciprocal-volunteering", "kind": "THREAD_KIND_FOLLOW_UP", "followUpOf": disc.Name, "title": "Follow-up: reciprocal placements"}, 200), &fu1)
	f2, err := g.threads.CreateThread(grpcCtx(conv), &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/koica-wg", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: q.Name, Title: "Follow-up: host matching (KOICA WG)"}})
	if err != nil || f2.Convening != "convenings/beijing-2015" {
		t.Fatalf("the private follow-up: %v, %v", f2.GetConvening(), err)
	}
	fu2.Name = f2.Name
	var vsoItem, koicaItem struct{ Name string }
	json.Unmarshal(h.must(t, "POST", "/v1/"+fu1.Name+"/actionItems", conv, map[string]string{"title": "Draft the visa guidance", "owner": "organizations/vso-kenya", "dueDate": "2016-01-31"}, 200), &vsoItem)
	json.Unmarshal(h.must(t, "POST", "/v1/"+fu1.Name+"/actionItems", conv, map[string]string{"title": "Name a focal point", "owner": "organizations/koica", "dueDate": "2015-12-01"}, 200), &koicaItem)
	for _, it := range []*forumv1.ActionItem{{Title: "Share the interview guide", Owner: "organizations/koica", DueDate: "2015-11-15"}, {Title: "Pilot the trial week", Owner: "organizations/vso-kenya"}} {
		if _, err := items.CreateActionItem(grpcCtx(conv), &forumv1.CreateActionItemRequest{Parent: fu2.Name, ActionItem: it}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := items.CreateActionItem(grpcCtx(conv), &forumv1.CreateActionItemRequest{Parent: fu1.Name, ActionItem: &forumv1.ActionItem{Title: "x", Owner: "organizations/nope"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("an owner that does not exist: %v", err)
	}
	h.must(t, "POST", "/v1/"+q.Name+"/actionItems", conv, map[string]string{"title": "x", "owner": "organizations/koica"}, 400) // not a follow-up

	// Owners close theirs; an owner of another organisation may not.
	h.must(t, "PATCH", "/v1/"+vsoItem.Name+"?updateMask=state,closingNote", wanjiru, map[string]string{"state": "ACTION_ITEM_STATE_DONE", "closingNote": "Sent to both ministries."}, 200)
	h.must(t, "PATCH", "/v1/"+koicaItem.Name+"?updateMask=state", wanjiru, map[string]string{"state": "ACTION_ITEM_STATE_DONE"}, 403)
	if _, err := items.UpdateActionItem(grpcCtx(kim), &forumv1.UpdateActionItemRequest{ActionItem: &forumv1.ActionItem{Name: koicaItem.Name, State: forumv1.ActionItemState_ACTION_ITEM_STATE_DROPPED, ClosingNote: "The country office will do it."}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "closing_note"}}}); err != nil {
		t.Fatalf("kim dropping KOICA's item: %v", err)
	}

	// What each may see: li is not in the working group.
	count := func(token string) int {
		var c struct{ ThreadCount int }
		json.Unmarshal(h.must(t, "GET", "/v1/convenings/beijing-2015", token, nil, 200), &c)
		return c.ThreadCount
	}
	if a, b := count(li), count(kim); a != 3 || b != 4 {
		t.Errorf("thread counts: li %d (want 3), kim %d (want 4)", a, b)
	}
	list := func(token, filter string) int {
		var l struct{ ActionItems []struct{ Name string } }
		json.Unmarshal(h.must(t, "GET", "/v1/threads/-/actionItems?filter="+url.QueryEscape(filter), token, nil, 200), &l)
		return len(l.ActionItems)
	}
	if a, b := list(li, `convening = "convenings/beijing-2015"`), list(kim, `convening = "convenings/beijing-2015"`); a != 2 || b != 4 {
		t.Errorf("the convening's items: li sees %d (want 2), kim %d (want 4)", a, b)
	}
	// Her organisation's open item is on the private follow-up, which she
	// may not read; its other item is done.
	if n := list(wanjiru, `owner = "me" AND state = OPEN`); n != 0 {
		t.Errorf("wanjiru's open items: %d, want 0", n)
	}
	if n := list(wanjiru, `owner = "me"`); n != 1 {
		t.Errorf("wanjiru's items: %d, want 1", n)
	}
	h.must(t, "GET", "/v1/"+fu2.Name+"/actionItems", li, nil, 404)

	// A resolved follow-up locked and unlocked stays resolved.
	h.must(t, "PATCH", "/v1/"+fu1.Name+"?updateMask=state", conv, map[string]string{"state": "THREAD_STATE_RESOLVED"}, 200)
	h.must(t, "PATCH", "/v1/"+fu1.Name+"?updateMask=locked", conv, map[string]bool{"locked": true}, 200)
	var after struct {
		State  string
		Locked bool
	}
	json.Unmarshal(h.must(t, "PATCH", "/v1/"+fu1.Name+"?updateMask=locked", conv, map[string]bool{"locked": false}, 200), &after)
	if after.State != "THREAD_STATE_RESOLVED" || after.Locked {
		t.Errorf("unlocked: %+v, want resolved and not locked", after)
	}
	if c, err := convenings.GetConvening(grpcCtx(kim), &forumv1.GetConveningRequest{Name: "convenings/beijing-2015"}); err != nil || c.ThreadCount != 4 {
		t.Errorf("over gRPC: %v, %v", c, err)
	}
}

// jsonHasField reports whether the error body names field in a
// BadRequest violation.
func jsonHasField(body []byte, field string) bool {
	var st struct {
		Details []struct {
			FieldViolations []struct{ Field string }
		}
	}
	if json.Unmarshal(body, &st) != nil {
		return false
	}
	for _, d := range st.Details {
		for _, v := range d.FieldViolations {
			if v.Field == field {
				return true
			}
		}
	}
	return false
}
