// Package e2e holds the end-to-end tests of forumd. TestMain builds the real
// binary once; each test runs it on ephemeral 127.0.0.1 ports with a
// temporary data directory and drives it over gRPC and HTTP/JSON, as
// integrators and browsers would, including graceful restarts (SIGTERM),
// crashes (SIGKILL), a log damaged after a crash that forumd must refuse
// or recover whole, and repair (TestCrashDamagedLog), and a full disk
// (diskfull_test.go, as root). Nothing leaves the loopback interface.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// TestMain builds forumd once for all tests. A failed build fails the run;
// it never skips the tests.
func TestMain(m *testing.M) {
	os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin}))
}

// storyTimeout bounds TestConferenceStory as a whole.
const storyTimeout = 5 * time.Minute

// Passwords of the story's users (the policy wants at least 10 bytes).
const (
	adminPassword    = "admin password 0001"
	convenerPassword = "convener password 0002"
)

// delegatePassword is the password of delegate username.
func delegatePassword(username string) string { return "delegate " + username + " pw" }

// user is a logged-in user of the story.
type user struct {
	username string
	name     string // users/{id}
	token    string
}

// TestConferenceStory plays a conference on one forumd: an admin created
// with the CLI creates a convener and three delegates, who post threads and
// replies over both doors; errors come back as google.rpc.Status JSON with
// the right HTTP codes; a follow-up thread links both ways; 1,000 replies are
// paged through while eight writers keep adding; and after a graceful restart
// everything is still there.
func TestConferenceStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), storyTimeout)
	defer cancel()
	dataDir := t.TempDir()

	t.Log("admin created with the CLI before the server starts")
	mustCreateUserCLI(t, dataDir, "admin", "Forum Admin", "admin", adminPassword)

	// The first run has rate limits off: 1,000 replies from three users
	// would exceed forumd's default per-user creation limit. The restart
	// runs with the defaults.
	p := startForumd(t, dataDir, noRateLimits)
	g, h := p.dial(t), p.jsonAPI(t)

	t.Log("the CLI refuses to write while forumd holds the database")
	if err := forumdtest.CreateUser(forumdBin, dataDir, "intruder", "Intruder", "member", "intruder password"); err == nil {
		t.Fatalf("forumd admin create-user succeeded while forumd runs")
	} else if !strings.Contains(err.Error(), "locked") {
		t.Errorf("forumd admin create-user while forumd runs: want a \"locked\" error, got %v", err)
	}

	checkServing(ctx, t, g, h)

	t.Log("the admin logs in over gRPC and creates a convener and three delegates")
	admin := loginGRPC(ctx, t, g, "admin", adminPassword)
	var convener user
	delegates := make([]user, 3)
	for i, u := range []struct {
		username, display string
		role              forumv1.Role
		password          string
	}{
		{"convener", "Clara Convener", forumv1.Role_ROLE_CONVENER, convenerPassword},
		{"amara", "Amara Diallo", forumv1.Role_ROLE_MEMBER, delegatePassword("amara")},
		{"bruno", "Bruno Costa", forumv1.Role_ROLE_MEMBER, delegatePassword("bruno")},
		{"chen", "Chen Wei", forumv1.Role_ROLE_MEMBER, delegatePassword("chen")},
	} {
		cctx, ccancel := callCtx(ctx, admin.token)
		created, err := g.users.CreateUser(cctx, &forumv1.CreateUserRequest{
			User:     &forumv1.User{Username: u.username, DisplayName: u.display, Role: u.role},
			Password: u.password,
		})
		ccancel()
		if err != nil {
			t.Fatalf("CreateUser %s: %v", u.username, err)
		}
		if created.GetRole() != u.role || created.GetUsername() != u.username || !strings.HasPrefix(created.GetName(), "users/") {
			t.Fatalf("CreateUser %s returned %v", u.username, created)
		}
		if i == 0 {
			convener = user{username: u.username, name: created.GetName()}
		} else {
			delegates[i-1] = user{username: u.username, name: created.GetName()}
		}
	}

	t.Log("delegates log in over JSON and gRPC")
	amara := loginJSON(t, h, "amara", delegatePassword("amara"))
	bruno := loginGRPC(ctx, t, g, "bruno", delegatePassword("bruno"))
	chen := loginJSON(t, h, "chen", delegatePassword("chen"))
	convener = loginGRPC(ctx, t, g, "convener", convenerPassword)
	for i, u := range []user{amara, bruno, chen} {
		if u.name != delegates[i].name {
			t.Fatalf("%s logged in as %s, was created as %s", u.username, u.name, delegates[i].name)
		}
	}
	// A delegate may not create users: 403 over JSON, PERMISSION_DENIED over gRPC.
	body := h.must(t, "POST", "/v1/users", bruno.token, map[string]any{
		"user": map[string]any{"username": "mallory", "displayName": "Mallory"}, "password": "mallory password",
	}, http.StatusForbidden)
	checkStatusJSON(t, body, codes.PermissionDenied)

	t.Log("threads under four themes, two over JSON and two over gRPC")
	t1 := createThreadJSON(t, h, amara.token, map[string]any{
		"theme": "themes/knowledge-exchange", "title": "How do you recognise returning volunteers?",
		"body": "We hand out **certificates**. What do you do?", "kind": "THREAD_KIND_QUESTION", "tags": []string{"recognition"},
	})
	if t1.GetAuthor() != amara.name || t1.GetKind() != forumv1.ThreadKind_THREAD_KIND_QUESTION || t1.GetState() != forumv1.ThreadState_THREAD_STATE_OPEN {
		t.Fatalf("thread created over JSON: %v", t1)
	}
	if !strings.Contains(t1.GetBodyHtml(), "<strong>certificates</strong>") {
		t.Errorf("bodyHtml %q does not render the Markdown", t1.GetBodyHtml())
	}
	t2 := createThreadGRPC(ctx, t, g, bruno.token, &forumv1.Thread{
		Theme: "themes/reciprocal-volunteering", Title: "Hosting volunteers from partner countries",
		Body: "Visas take *months*. Tips?",
	}, "")
	t3 := createThreadJSON(t, h, chen.token, map[string]any{
		"theme": "themes/joint-programmes", "title": "A joint programme on disaster preparedness", "body": "Who is in?",
	})
	t4 := createThreadGRPC(ctx, t, g, amara.token, &forumv1.Thread{
		Theme: "themes/south-south-cooperation", Title: "Peer learning between Dakar and Recife",
		Body: "Notes from the session.", Kind: forumv1.ThreadKind_THREAD_KIND_DISCUSSION,
	}, "")
	for _, th := range []*forumv1.Thread{t1, t2, t3, t4} {
		if !strings.HasPrefix(th.GetName(), "threads/") || th.GetEtag() == "" || th.GetCreateTime() == nil {
			t.Fatalf("created thread lacks output fields: %v", th)
		}
	}

	t.Log("replies over both doors")
	r1 := createReplyJSON(t, h, bruno.token, t1.GetName(), map[string]any{"body": "We run a *welcome back* day."}, "")
	r2 := createReplyGRPC(ctx, t, g, chen.token, t1.GetName(), &forumv1.Reply{Body: "Certificates, and a mentor role.", InReplyTo: r1.GetName()}, "")
	if r1.GetAuthor() != bruno.name || !strings.Contains(r1.GetBodyHtml(), "<em>welcome back</em>") || r2.GetInReplyTo() != r1.GetName() {
		t.Fatalf("replies: %v / %v", r1, r2)
	}
	createReplyJSON(t, h, amara.token, t2.GetName(), map[string]any{"body": "Start early with the consulate."}, "")
	createReplyGRPC(ctx, t, g, convener.token, t3.GetName(), &forumv1.Reply{Body: "Count the Red Cross in."}, "")

	// The JSON thread now counts its replies, in lowerCamelCase.
	body = h.must(t, "GET", "/v1/"+t1.GetName(), "", nil, http.StatusOK)
	checkCamelCase(t, "GET thread", body)
	m := jsonObject(t, body)
	if got := fmt.Sprint(m["replyCount"]); got != "2" {
		t.Errorf(`GET %s: "replyCount" = %v, want 2; body %s`, t1.GetName(), m["replyCount"], body)
	}
	for _, k := range []string{"bodyHtml", "createTime", "lastActivityTime", "updateTime"} {
		if _, ok := m[k]; !ok {
			t.Errorf("GET %s: no %q in %s", t1.GetName(), k, body)
		}
	}
	body = h.must(t, "GET", "/v1/"+t1.GetName()+"/replies", "", nil, http.StatusOK)
	checkCamelCase(t, "GET replies", body)
	var list forumv1.ListRepliesResponse
	mustProtoJSON(t, body, &list)
	if len(list.GetReplies()) != 2 || list.GetReplies()[0].GetName() != r1.GetName() || list.GetReplies()[1].GetName() != r2.GetName() {
		t.Fatalf("replies of %s over JSON: %v", t1.GetName(), &list)
	}
	if !strings.Contains(string(body), `"inReplyTo"`) || !strings.Contains(string(body), `"bodyHtml"`) {
		t.Errorf("replies JSON lacks inReplyTo or bodyHtml: %s", body)
	}

	t.Log("request_id makes CreateReply idempotent over both doors")
	a := createReplyGRPC(ctx, t, g, chen.token, t2.GetName(), &forumv1.Reply{Body: "Idempotent over gRPC"}, "e2e-idem-grpc")
	b := createReplyGRPC(ctx, t, g, chen.token, t2.GetName(), &forumv1.Reply{Body: "Idempotent over gRPC"}, "e2e-idem-grpc")
	if a.GetName() != b.GetName() {
		t.Errorf("gRPC retry with the same request_id created %s and %s", a.GetName(), b.GetName())
	}
	a = createReplyJSON(t, h, chen.token, t2.GetName(), map[string]any{"body": "Idempotent over JSON"}, "e2e-idem-json")
	b = createReplyJSON(t, h, chen.token, t2.GetName(), map[string]any{"body": "Idempotent over JSON"}, "e2e-idem-json")
	if a.GetName() != b.GetName() {
		t.Errorf("JSON retry with the same requestId created %s and %s", a.GetName(), b.GetName())
	}
	if got := getThreadGRPC(ctx, t, g, "", t2.GetName()).GetReplyCount(); got != 3 {
		t.Errorf("%s reply_count = %d after idempotent retries, want 3", t2.GetName(), got)
	}

	t.Log("errors are google.rpc.Status JSON with the right HTTP codes")
	body = h.must(t, "GET", "/v1/threads/999999", "", nil, http.StatusNotFound)
	checkStatusJSON(t, body, codes.NotFound)
	if _, err := g.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: "threads/999999"}); status.Code(err) != codes.NotFound {
		t.Errorf("gRPC GetThread of a missing thread: %v, want NOT_FOUND", err)
	}

	body = h.must(t, "POST", "/v1/threads", amara.token, map[string]any{"theme": "themes/knowledge-exchange", "title": "", "body": "no title"}, http.StatusBadRequest)
	st := checkStatusJSON(t, body, codes.InvalidArgument)
	if !hasFieldViolation(st, "thread.title") {
		t.Errorf("400 for an empty title has no field violation for thread.title: %s", body)
	}
	if !strings.Contains(string(body), `"fieldViolations"`) {
		t.Errorf("400 body does not spell fieldViolations in lowerCamelCase: %s", body)
	}

	body = h.must(t, "POST", "/v1/threads", "", map[string]any{"theme": "themes/knowledge-exchange", "title": "Anonymous"}, http.StatusUnauthorized)
	checkStatusJSON(t, body, codes.Unauthenticated)

	body = h.must(t, "PATCH", "/v1/"+t1.GetName(), bruno.token, map[string]any{"title": "Hijacked"}, http.StatusForbidden)
	checkStatusJSON(t, body, codes.PermissionDenied)

	staleEtag := getThreadGRPC(ctx, t, g, "", t1.GetName()).GetEtag()
	body = h.must(t, "PATCH", "/v1/"+t1.GetName(), amara.token, map[string]any{
		"title": "How do you recognise returning volunteers? (updated)", "etag": staleEtag,
	}, http.StatusOK)
	var updated forumv1.Thread
	mustProtoJSON(t, body, &updated)
	if updated.GetTitle() != "How do you recognise returning volunteers? (updated)" || updated.GetEtag() == staleEtag {
		t.Fatalf("PATCH with the current etag: %v (old etag %s)", &updated, staleEtag)
	}
	if updated.GetBody() != t1.GetBody() || updated.GetKind() != t1.GetKind() {
		t.Errorf("PATCH of the title changed other fields: %v", &updated)
	}
	body = h.must(t, "PATCH", "/v1/"+t1.GetName(), amara.token, map[string]any{"title": "Lost update", "etag": staleEtag}, http.StatusConflict)
	checkStatusJSON(t, body, codes.Aborted)

	huge := map[string]any{"body": strings.Repeat("x", 1<<20+1)}
	body = h.must(t, "POST", "/v1/"+t1.GetName()+"/replies", bruno.token, huge, http.StatusRequestEntityTooLarge)
	checkStatusJSON(t, body, codes.ResourceExhausted)
	{
		cctx, ccancel := callCtx(ctx, bruno.token)
		_, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: t1.GetName(), Reply: &forumv1.Reply{Body: strings.Repeat("x", 1<<20+1)}})
		ccancel()
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("gRPC CreateReply of more than 1 MiB: %v, want RESOURCE_EXHAUSTED", err)
		}
	}
	if got := getThreadGRPC(ctx, t, g, "", t1.GetName()).GetReplyCount(); got != 2 {
		t.Errorf("%s reply_count = %d after refused writes, want 2", t1.GetName(), got)
	}

	t.Log("soft delete and undelete over JSON")
	body = h.must(t, "DELETE", "/v1/"+t3.GetName(), chen.token, nil, http.StatusOK)
	if !strings.Contains(string(body), `"deleteTime"`) {
		t.Errorf("DELETE %s returned no deleteTime: %s", t3.GetName(), body)
	}
	checkStatusJSON(t, h.must(t, "GET", "/v1/"+t3.GetName(), "", nil, http.StatusNotFound), codes.NotFound)
	body = h.must(t, "POST", "/v1/"+t3.GetName()+":undelete", chen.token, map[string]any{}, http.StatusOK)
	if strings.Contains(string(body), `"deleteTime"`) {
		t.Errorf("undeleted %s still has a deleteTime: %s", t3.GetName(), body)
	}

	t.Log("the convener opens a follow-up; both threads link to each other")
	body = h.must(t, "POST", "/v1/threads", bruno.token, map[string]any{
		"theme": "themes/joint-programmes", "title": "Not a convener", "kind": "THREAD_KIND_FOLLOW_UP", "followUpOf": t1.GetName(),
	}, http.StatusForbidden)
	checkStatusJSON(t, body, codes.PermissionDenied)
	fu := createThreadGRPC(ctx, t, g, convener.token, &forumv1.Thread{
		Theme: "themes/joint-programmes", Title: "Follow-up: recognising returning volunteers",
		Body: "Agreed at the closing plenary.", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: t1.GetName(),
	}, "")
	if fu.GetFollowUpOf() != t1.GetName() || fu.GetKind() != forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP {
		t.Fatalf("follow-up: %v", fu)
	}
	checkFollowUpLinks(ctx, t, g, h, t1.GetName(), fu.GetName())

	t.Log("1,000 replies into one thread, then paging while 8 writers add more")
	big := createThreadGRPC(ctx, t, g, chen.token, &forumv1.Thread{
		Theme: "themes/knowledge-exchange", Title: "Open floor: one thousand voices", Body: "Say anything.",
	}, "")
	bigReplies := pagingUnderLoad(ctx, t, g, h, big.GetName(), []user{amara, bruno, chen})

	t.Log("snapshot, graceful stop (SIGTERM, exit 0) and restart on the same data directory")
	snap := takeSnapshot(ctx, t, g, h, chen.token)
	if _, ok := snap.threads[big.GetName()]; !ok || len(snap.threads) != 6 {
		t.Fatalf("before restart: %d threads (%v), want 6 including %s", len(snap.threads), slices.Sorted(maps.Keys(snap.threads)), big.GetName())
	}
	p.Stop()

	p2 := startForumd(t, dataDir)
	g2, h2 := p2.dial(t), p2.jsonAPI(t)
	checkServing(ctx, t, g2, h2)
	snap2 := takeSnapshot(ctx, t, g2, h2, chen.token)
	compareSnapshots(t, snap, snap2)
	checkFollowUpLinks(ctx, t, g2, h2, t1.GetName(), fu.GetName())
	after := listAllReplies(ctx, t, g2, big.GetName(), 100)
	if len(after) != len(bigReplies) {
		t.Fatalf("after restart %s has %d replies, want %d", big.GetName(), len(after), len(bigReplies))
	}
	for i, r := range after {
		if r.GetName() != bigReplies[i].GetName() || r.GetBody() != bigReplies[i].GetBody() || r.GetAuthor() != bigReplies[i].GetAuthor() {
			t.Fatalf("after restart reply %d is %v, want %v", i, r, bigReplies[i])
		}
	}

	t.Log("old passwords and old tokens still work after the restart")
	loginJSON(t, h2, "amara", delegatePassword("amara"))
	loginGRPC(ctx, t, g2, "admin", adminPassword)
	{
		cctx, ccancel := callCtx(ctx, bruno.token)
		me, err := g2.users.GetUser(cctx, &forumv1.GetUserRequest{Name: "users/me"})
		ccancel()
		if err != nil || me.GetName() != bruno.name {
			t.Errorf("users/me with a token issued before the restart: %v, %v", me, err)
		}
	}
	createReplyJSON(t, h2, amara.token, big.GetName(), map[string]any{"body": "Still here after the restart."}, "")
	if got := getThreadGRPC(ctx, t, g2, "", big.GetName()).GetReplyCount(); got != int64(len(bigReplies)+1) {
		t.Errorf("%s reply_count = %d after one more reply, want %d", big.GetName(), got, len(bigReplies)+1)
	}

	t.Log("with the default rate limits, a burst of replies is refused with 429 and Retry-After")
	checkCreateRateLimit(ctx, t, g2, h2, chen, t2.GetName())
	p2.Stop()
}

// maxBurstTries bounds the replies checkCreateRateLimit sends before it
// expects a refusal; forumd's default creation burst is far smaller.
const maxBurstTries = 200

// checkCreateRateLimit posts replies to thread as u over JSON until one is
// refused, then checks the refusal: HTTP 429, Retry-After, and a
// google.rpc.Status RESOURCE_EXHAUSTED with RetryInfo; gRPC refuses too,
// and the refused calls wrote nothing.
func checkCreateRateLimit(ctx context.Context, t *testing.T, g *api, h *httpAPI, u user, thread string) {
	t.Helper()
	before := getThreadGRPC(ctx, t, g, "", thread).GetReplyCount()
	created := int64(0)
	for i := range maxBurstTries {
		data, _ := json.Marshal(map[string]string{"body": fmt.Sprintf("burst reply %d", i)})
		req, err := http.NewRequestWithContext(ctx, "POST", h.base+"/v1/"+thread+"/replies", strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+u.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.c.Do(req)
		if err != nil {
			t.Fatalf("burst reply %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("burst reply %d: %v", i, err)
		}
		if resp.StatusCode == http.StatusOK {
			created++
			continue
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("burst reply %d: status %d, want 200 or 429: %s", i, resp.StatusCode, body)
		}
		st := checkStatusJSON(t, body, codes.ResourceExhausted)
		hasRetry := false
		for _, d := range status.FromProto(st).Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				hasRetry = true
			}
		}
		if !hasRetry {
			t.Errorf("429 without a RetryInfo detail: %s", body)
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" {
			t.Errorf("429 without Retry-After")
		} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
			t.Errorf("429 with Retry-After %q, want whole seconds >= 1", ra)
		}
		cctx, cancel := callCtx(ctx, u.token)
		_, err = g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: "over gRPC, also refused"}})
		cancel()
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("gRPC CreateReply right after a 429: %v, want RESOURCE_EXHAUSTED", err)
		}
		if got := getThreadGRPC(ctx, t, g, "", thread).GetReplyCount(); got != before+created {
			t.Errorf("%s reply_count = %d after %d accepted and some refused replies, want %d", thread, got, created, before+created)
		}
		t.Logf("the creation limit refused reply %d (after %d accepted)", i+1, created)
		return
	}
	t.Errorf("%d replies in a burst were all accepted; the default rate limits are not applied", maxBurstTries)
}

// checkServing checks /healthz, /openapi.json, the gRPC health service and
// gRPC reflection (v1).
func checkServing(ctx context.Context, t *testing.T, g *api, h *httpAPI) {
	t.Helper()
	body := h.must(t, "GET", "/healthz", "", nil, http.StatusOK)
	if m := jsonObject(t, body); m["status"] != "SERVING" {
		t.Errorf("/healthz: %s", body)
	}
	body = h.must(t, "GET", "/openapi.json", "", nil, http.StatusOK)
	var doc struct {
		Swagger string                    `json:"swagger"`
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if doc.Swagger == "" && doc.OpenAPI == "" {
		t.Errorf("/openapi.json has neither a swagger nor an openapi version")
	}
	for _, path := range []string{"/v1/threads", "/v1/auth:login"} {
		if _, ok := doc.Paths[path]; !ok {
			t.Errorf("/openapi.json has no path %s (has %d paths)", path, len(doc.Paths))
		}
	}

	hc := healthpb.NewHealthClient(g.conn)
	for _, svc := range []string{"", "forum.v1.ThreadService"} {
		cctx, cancel := callCtx(ctx, "")
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: svc})
		cancel()
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("grpc health Check(%q): %v, %v", svc, resp, err)
		}
	}

	cctx, cancel := callCtx(ctx, "")
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(g.conn).ServerReflectionInfo(cctx)
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("reflection list services: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection list services: %v", err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"forum.v1.ThreadService", "forum.v1.ReplyService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v, missing %s", services, want)
		}
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "forum.v1.ThreadService"}}); err != nil {
		t.Fatalf("reflection file containing symbol: %v", err)
	}
	resp, err = stream.Recv()
	if err != nil {
		t.Fatalf("reflection file containing symbol: %v", err)
	}
	if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("reflection has no file descriptor for forum.v1.ThreadService: %v", resp)
	}
	_ = stream.CloseSend()
}

// loginGRPC logs in over gRPC.
func loginGRPC(ctx context.Context, t *testing.T, g *api, username, password string) user {
	t.Helper()
	cctx, cancel := callCtx(ctx, "")
	defer cancel()
	resp, err := g.auth.Login(cctx, &forumv1.LoginRequest{Username: username, Password: password})
	if err != nil {
		t.Fatalf("gRPC Login %s: %v", username, err)
	}
	if resp.GetToken() == "" || resp.GetUser().GetUsername() != username || resp.GetExpireTime() == nil {
		t.Fatalf("gRPC Login %s: %v", username, resp)
	}
	return user{username: username, name: resp.GetUser().GetName(), token: resp.GetToken()}
}

// loginJSON logs in over JSON.
func loginJSON(t *testing.T, h *httpAPI, username, password string) user {
	t.Helper()
	body := h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": username, "password": password}, http.StatusOK)
	checkCamelCase(t, "login", body)
	if !strings.Contains(string(body), `"expireTime"`) {
		t.Errorf("login JSON has no expireTime: %s", body)
	}
	var resp forumv1.LoginResponse
	mustProtoJSON(t, body, &resp)
	if resp.GetToken() == "" || resp.GetUser().GetUsername() != username {
		t.Fatalf("JSON login %s: %s", username, body)
	}
	// The same wrong password is refused with 401.
	bad := h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": username, "password": password + "x"}, http.StatusUnauthorized)
	checkStatusJSON(t, bad, codes.Unauthenticated)
	return user{username: username, name: resp.GetUser().GetName(), token: resp.GetToken()}
}

// createThreadJSON posts a thread over JSON.
func createThreadJSON(t *testing.T, h *httpAPI, token string, thread map[string]any) *forumv1.Thread {
	t.Helper()
	body := h.must(t, "POST", "/v1/threads", token, thread, http.StatusOK)
	checkCamelCase(t, "POST /v1/threads", body)
	var out forumv1.Thread
	mustProtoJSON(t, body, &out)
	if _, ok := jsonObject(t, body)["bodyHtml"]; !ok && thread["body"] != nil {
		t.Errorf("POST /v1/threads response has no bodyHtml: %s", body)
	}
	return &out
}

// createThreadGRPC creates a thread over gRPC.
func createThreadGRPC(ctx context.Context, t *testing.T, g *api, token string, th *forumv1.Thread, requestID string) *forumv1.Thread {
	t.Helper()
	cctx, cancel := callCtx(ctx, token)
	defer cancel()
	out, err := g.threads.CreateThread(cctx, &forumv1.CreateThreadRequest{Thread: th, RequestId: requestID})
	if err != nil {
		t.Fatalf("gRPC CreateThread %q: %v", th.GetTitle(), err)
	}
	return out
}

// createReplyJSON posts a reply over JSON, with ?requestId= if requestID is
// set.
func createReplyJSON(t *testing.T, h *httpAPI, token, thread string, reply map[string]any, requestID string) *forumv1.Reply {
	t.Helper()
	path := "/v1/" + thread + "/replies"
	if requestID != "" {
		path += "?requestId=" + requestID
	}
	body := h.must(t, "POST", path, token, reply, http.StatusOK)
	checkCamelCase(t, "POST replies", body)
	var out forumv1.Reply
	mustProtoJSON(t, body, &out)
	if !strings.Contains(string(body), `"bodyHtml"`) {
		t.Errorf("POST %s response has no bodyHtml: %s", path, body)
	}
	return &out
}

// createReplyGRPC creates a reply over gRPC.
func createReplyGRPC(ctx context.Context, t *testing.T, g *api, token, thread string, r *forumv1.Reply, requestID string) *forumv1.Reply {
	t.Helper()
	cctx, cancel := callCtx(ctx, token)
	defer cancel()
	out, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: thread, Reply: r, RequestId: requestID})
	if err != nil {
		t.Fatalf("gRPC CreateReply in %s: %v", thread, err)
	}
	return out
}

// getThreadGRPC gets a thread over gRPC.
func getThreadGRPC(ctx context.Context, t *testing.T, g *api, token, name string) *forumv1.Thread {
	t.Helper()
	cctx, cancel := callCtx(ctx, token)
	defer cancel()
	out, err := g.threads.GetThread(cctx, &forumv1.GetThreadRequest{Name: name})
	if err != nil {
		t.Fatalf("gRPC GetThread %s: %v", name, err)
	}
	return out
}

// listAllReplies pages through the replies of thread over gRPC.
func listAllReplies(ctx context.Context, t testing.TB, g *api, thread string, pageSize int32) []*forumv1.Reply {
	t.Helper()
	out, err := listAllRepliesErr(ctx, g, thread, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// listAllRepliesErr pages through the replies of thread over gRPC.
func listAllRepliesErr(ctx context.Context, g *api, thread string, pageSize int32) ([]*forumv1.Reply, error) {
	var out []*forumv1.Reply
	token := ""
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			return nil, fmt.Errorf("ListReplies %s: more than a million pages; is next_page_token stuck?", thread)
		}
		cctx, cancel := callCtx(ctx, "")
		resp, err := g.replies.ListReplies(cctx, &forumv1.ListRepliesRequest{Parent: thread, PageSize: pageSize, PageToken: token})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("ListReplies %s (page %d): %w", thread, pages, err)
		}
		out = append(out, resp.GetReplies()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// listAllThreads pages through every thread (not deleted) over gRPC.
func listAllThreads(ctx context.Context, t testing.TB, g *api) []*forumv1.Thread {
	t.Helper()
	var out []*forumv1.Thread
	token := ""
	for pages := 0; ; pages++ {
		if pages > 100_000 {
			t.Fatalf("ListThreads: more than 100,000 pages; is next_page_token stuck?")
		}
		cctx, cancel := callCtx(ctx, "")
		resp, err := g.threads.ListThreads(cctx, &forumv1.ListThreadsRequest{PageSize: 100, PageToken: token})
		cancel()
		if err != nil {
			t.Fatalf("ListThreads: %v", err)
		}
		out = append(out, resp.GetThreads()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// replyID returns the number at the end of a reply name.
func replyID(t testing.TB, name string) uint64 {
	t.Helper()
	i := strings.LastIndexByte(name, '/')
	id, err := strconv.ParseUint(name[i+1:], 10, 64)
	if i < 0 || err != nil || !strings.Contains(name, "/replies/") {
		t.Fatalf("reply name %q does not end in a number", name)
	}
	return id
}

// checkFollowUpLinks checks that parent lists child among its follow_ups and
// child names parent as follow_up_of, over gRPC and JSON, and that the
// follow_up_of filter of ListThreads finds it.
func checkFollowUpLinks(ctx context.Context, t *testing.T, g *api, h *httpAPI, parent, child string) {
	t.Helper()
	if p := getThreadGRPC(ctx, t, g, "", parent); !slices.Equal(p.GetFollowUps(), []string{child}) {
		t.Errorf("%s follow_ups = %v, want [%s]", parent, p.GetFollowUps(), child)
	}
	if c := getThreadGRPC(ctx, t, g, "", child); c.GetFollowUpOf() != parent {
		t.Errorf("%s follow_up_of = %q, want %s", child, c.GetFollowUpOf(), parent)
	}
	body := h.must(t, "GET", "/v1/"+parent, "", nil, http.StatusOK)
	var fu struct {
		FollowUps []string `json:"followUps"`
	}
	if err := json.Unmarshal(body, &fu); err != nil || !slices.Equal(fu.FollowUps, []string{child}) {
		t.Errorf("GET %s: followUps %v (%v), want [%s]; body %s", parent, fu.FollowUps, err, child, body)
	}
	body = h.must(t, "GET", "/v1/"+child, "", nil, http.StatusOK)
	if m := jsonObject(t, body); m["followUpOf"] != parent {
		t.Errorf("GET %s: followUpOf %v, want %s", child, m["followUpOf"], parent)
	}
	cctx, cancel := callCtx(ctx, "")
	defer cancel()
	resp, err := g.threads.ListThreads(cctx, &forumv1.ListThreadsRequest{Filter: fmt.Sprintf("follow_up_of = %q", parent)})
	if err != nil {
		t.Errorf("ListThreads filter follow_up_of: %v", err)
	} else if len(resp.GetThreads()) != 1 || resp.GetThreads()[0].GetName() != child {
		t.Errorf("ListThreads filter follow_up_of = %s: %v, want just %s", parent, resp.GetThreads(), child)
	}
}

// Sizes of the paging test.
const (
	initialReplies    = 1000
	initialWriters    = 8
	concurrentWriters = 8
	jsonWriters       = 2   // of concurrentWriters, these post over JSON
	maxConcurrentEach = 100 // writes per concurrent writer, at most
	pagingPageSize    = 50
)

// written is a reply a writer got acknowledged.
type written struct {
	name, body string
	writer     int
}

// pagingUnderLoad writes 1,000 replies into thread with 8 writers, then pages
// through the thread with page_size 50 while 8 other writers keep adding
// replies, and checks that the pages skip and repeat nothing and follow
// creation order. It returns the thread's final replies.
func pagingUnderLoad(ctx context.Context, t *testing.T, g *api, h *httpAPI, thread string, authors []user) []*forumv1.Reply {
	t.Helper()
	var (
		mu      sync.Mutex
		acked   []written
		errOnce sync.Once
		werr    error
		failed  = make(chan struct{})
	)
	fail := func(err error) {
		errOnce.Do(func() {
			werr = err
			close(failed)
		})
	}

	// Phase 1: 1,000 replies from 8 gRPC writers.
	var wg sync.WaitGroup
	for w := range initialWriters {
		wg.Go(func() {
			u := authors[w%len(authors)]
			for i := w; i < initialReplies; i += initialWriters {
				body := fmt.Sprintf("initial reply %04d by writer %d", i, w)
				cctx, cancel := callCtx(ctx, u.token)
				r, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{
					Parent: thread, Reply: &forumv1.Reply{Body: body}, RequestId: fmt.Sprintf("big-initial-%d", i),
				})
				cancel()
				if err != nil {
					fail(fmt.Errorf("initial CreateReply %d: %w", i, err))
					return
				}
				mu.Lock()
				acked = append(acked, written{r.GetName(), body, w})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	if got := getThreadGRPC(ctx, t, g, "", thread).GetReplyCount(); got != initialReplies {
		t.Fatalf("%s reply_count = %d after %d replies", thread, got, initialReplies)
	}

	// Phase 2: 8 writers (2 of them over JSON) keep adding while a reader
	// pages through with page_size 50.
	stop := make(chan struct{})
	started := make(chan struct{}, concurrentWriters)
	var concurrent sync.WaitGroup
	for w := range concurrentWriters {
		writer := initialWriters + w
		concurrent.Go(func() {
			u := authors[w%len(authors)]
			for i := range maxConcurrentEach {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("concurrent reply %03d by writer %d", i, writer)
				var name string
				if w < jsonWriters {
					data, _ := json.Marshal(map[string]string{"body": body})
					cctx, cancel := context.WithTimeout(ctx, httpTimeout)
					code, resp, err := h.do(cctx, "POST", "/v1/"+thread+"/replies", u.token, data)
					cancel()
					if err != nil || code != http.StatusOK {
						fail(fmt.Errorf("concurrent JSON CreateReply: %d %v %s", code, err, resp))
						return
					}
					var r forumv1.Reply
					if err := protojson.Unmarshal(resp, &r); err != nil {
						fail(fmt.Errorf("concurrent JSON CreateReply response %s: %w", resp, err))
						return
					}
					name = r.GetName()
				} else {
					cctx, cancel := callCtx(ctx, u.token)
					r, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: body}})
					cancel()
					if err != nil {
						fail(fmt.Errorf("concurrent CreateReply: %w", err))
						return
					}
					name = r.GetName()
				}
				mu.Lock()
				acked = append(acked, written{name, body, writer})
				mu.Unlock()
				if i == 0 {
					started <- struct{}{}
				}
			}
		})
	}
	// Start reading once every writer has landed a write.
	for range concurrentWriters {
		select {
		case <-started:
		case <-failed:
			close(stop)
			concurrent.Wait()
			t.Fatal(werr)
		case <-ctx.Done():
			t.Fatalf("concurrent writers did not start: %v", ctx.Err())
		}
	}
	mu.Lock()
	ackedBeforePaging := len(acked)
	mu.Unlock()

	var paged []*forumv1.Reply
	pageToken, pages := "", 0
	for {
		cctx, cancel := callCtx(ctx, "")
		resp, err := g.replies.ListReplies(cctx, &forumv1.ListRepliesRequest{Parent: thread, PageSize: pagingPageSize, PageToken: pageToken})
		cancel()
		if err != nil {
			close(stop)
			concurrent.Wait()
			t.Fatalf("ListReplies page %d: %v", pages, err)
		}
		pages++
		if n := len(resp.GetReplies()); n > pagingPageSize {
			t.Errorf("ListReplies page %d holds %d replies, more than page_size %d", pages, n, pagingPageSize)
		}
		paged = append(paged, resp.GetReplies()...)
		if pageToken = resp.GetNextPageToken(); pageToken == "" {
			break
		}
		time.Sleep(5 * time.Millisecond) // leave the writers room between pages
	}
	close(stop)
	concurrent.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("paged %d replies in %d pages; %d writes acknowledged before paging began, %d by the end",
		len(paged), pages, ackedBeforePaging, len(acked))

	// No repeats, creation order (ascending ids) within the pages.
	seen := make(map[string]bool, len(paged))
	for i, r := range paged {
		if seen[r.GetName()] {
			t.Fatalf("paging repeated %s (position %d)", r.GetName(), i)
		}
		seen[r.GetName()] = true
		if i > 0 && replyID(t, r.GetName()) <= replyID(t, paged[i-1].GetName()) {
			t.Fatalf("paging out of order at %d: %s after %s", i, r.GetName(), paged[i-1].GetName())
		}
	}
	// Everything, listed afterwards, in creation order.
	all := listAllReplies(ctx, t, g, thread, 100)
	if len(all) != len(acked) {
		t.Fatalf("%s lists %d replies, %d were acknowledged", thread, len(all), len(acked))
	}
	byName := make(map[string]*forumv1.Reply, len(all))
	for i, r := range all {
		byName[r.GetName()] = r
		if i > 0 && replyID(t, r.GetName()) <= replyID(t, all[i-1].GetName()) {
			t.Fatalf("full listing out of order at %d: %s after %s", i, r.GetName(), all[i-1].GetName())
		}
	}
	for _, w := range acked {
		if r, ok := byName[w.name]; !ok || r.GetBody() != w.body {
			t.Fatalf("acknowledged reply %s (%q) is listed as %v", w.name, w.body, r)
		}
	}
	// No skips: the pages are exactly the start of the full listing, and
	// hold at least every reply acknowledged before paging began.
	if len(paged) < ackedBeforePaging {
		t.Fatalf("paging saw %d replies, but %d were acknowledged before it began", len(paged), ackedBeforePaging)
	}
	for i, r := range paged {
		if all[i].GetName() != r.GetName() {
			t.Fatalf("paging skipped %s: position %d of the pages is %s", all[i].GetName(), i, r.GetName())
		}
	}
	// Each writer's replies appear in the order it wrote them.
	pos := make(map[string]int, len(all))
	for i, r := range all {
		pos[r.GetName()] = i
	}
	last := make(map[int]int)
	for _, w := range acked {
		p := pos[w.name]
		if prev, ok := last[w.writer]; ok && p < prev {
			t.Fatalf("writer %d's reply %s is listed before its earlier write", w.writer, w.name)
		}
		last[w.writer] = p
	}
	if got := getThreadGRPC(ctx, t, g, "", thread).GetReplyCount(); got != int64(len(all)) {
		t.Errorf("%s reply_count = %d, lists %d replies", thread, got, len(all))
	}

	// The JSON door lists the same replies.
	var jsonNames []string
	for token := ""; ; {
		path := "/v1/" + thread + "/replies?pageSize=100"
		if token != "" {
			path += "&pageToken=" + token
		}
		var resp forumv1.ListRepliesResponse
		mustProtoJSON(t, h.must(t, "GET", path, "", nil, http.StatusOK), &resp)
		for _, r := range resp.GetReplies() {
			jsonNames = append(jsonNames, r.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if len(jsonNames) > 10*len(all) {
			t.Fatal("JSON paging does not end")
		}
	}
	if len(jsonNames) != len(all) {
		t.Fatalf("JSON lists %d replies of %s, gRPC %d", len(jsonNames), thread, len(all))
	}
	for i, n := range jsonNames {
		if n != all[i].GetName() {
			t.Fatalf("JSON listing differs from gRPC at %d: %s vs %s", i, n, all[i].GetName())
		}
	}
	return all
}

// snapshot is what a restart must keep.
type snapshot struct {
	threads map[string]*forumv1.Thread // with reply_count and follow-up links
	themes  map[string]int64           // theme name -> thread_count
	users   int
}

// takeSnapshot records every thread, theme and user, checks the theme
// counts against the threads, and checks each thread's reply_count against
// its listed replies. The user directory is read with token (a member's).
func takeSnapshot(ctx context.Context, t *testing.T, g *api, h *httpAPI, token string) snapshot {
	t.Helper()
	s := snapshot{threads: map[string]*forumv1.Thread{}, themes: map[string]int64{}}
	perTheme := map[string]int64{}
	for _, th := range listAllThreads(ctx, t, g) {
		if _, dup := s.threads[th.GetName()]; dup {
			t.Fatalf("ListThreads lists %s twice", th.GetName())
		}
		s.threads[th.GetName()] = th
		perTheme[th.GetTheme()]++
		live := int64(0)
		for _, r := range listAllReplies(ctx, t, g, th.GetName(), 100) {
			if r.GetDeleteTime() == nil {
				live++
			}
		}
		if live != th.GetReplyCount() {
			t.Errorf("%s reply_count = %d, but %d replies are listed", th.GetName(), th.GetReplyCount(), live)
		}
	}
	cctx, cancel := callCtx(ctx, "")
	defer cancel()
	themes, err := g.themes.ListThemes(cctx, &forumv1.ListThemesRequest{PageSize: 100})
	if err != nil {
		t.Fatalf("ListThemes: %v", err)
	}
	for _, th := range themes.GetThemes() {
		s.themes[th.GetName()] = th.GetThreadCount()
		if th.GetThreadCount() != perTheme[th.GetName()] {
			t.Errorf("%s thread_count = %d, but %d threads are listed in it", th.GetName(), th.GetThreadCount(), perTheme[th.GetName()])
		}
	}
	var users forumv1.ListUsersResponse
	mustProtoJSON(t, h.must(t, "GET", "/v1/users?pageSize=100", token, nil, http.StatusOK), &users)
	s.users = len(users.GetUsers())
	return s
}

// compareSnapshots checks that nothing changed between before and after.
func compareSnapshots(t *testing.T, before, after snapshot) {
	t.Helper()
	if len(after.threads) != len(before.threads) {
		t.Errorf("%d threads after the restart, %d before", len(after.threads), len(before.threads))
	}
	for name, b := range before.threads {
		a, ok := after.threads[name]
		switch {
		case !ok:
			t.Errorf("%s is gone after the restart", name)
		case !proto.Equal(a, b):
			t.Errorf("%s changed across the restart:\nbefore %v\nafter  %v", name, b, a)
		}
	}
	if !maps.Equal(before.themes, after.themes) {
		t.Errorf("theme thread counts changed across the restart: %v -> %v", before.themes, after.themes)
	}
	if before.users != after.users || before.users != 5 {
		t.Errorf("%d users before the restart, %d after, want 5", before.users, after.users)
	}
}

// checkStatusJSON checks that body is a google.rpc.Status JSON object with
// code want and a message, and returns it.
func checkStatusJSON(t *testing.T, body []byte, want codes.Code) *spb.Status {
	t.Helper()
	st := new(spb.Status)
	if err := protojson.Unmarshal(body, st); err != nil {
		t.Fatalf("error body is not google.rpc.Status JSON (%v): %s", err, body)
	}
	if codes.Code(st.GetCode()) != want {
		t.Errorf("error code %v, want %v: %s", codes.Code(st.GetCode()), want, body)
	}
	if st.GetMessage() == "" {
		t.Errorf("error without a message: %s", body)
	}
	checkCamelCase(t, "error", body)
	return st
}

// hasFieldViolation reports whether st carries a BadRequest detail with a
// violation of field.
func hasFieldViolation(st *spb.Status, field string) bool {
	for _, d := range status.FromProto(st).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

// checkCamelCase checks that every object key in the JSON body is
// lowerCamelCase (or "@type").
func checkCamelCase(t *testing.T, what string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: not JSON (%v): %.500s", what, err, body)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if k != "@type" && (k == "" || strings.ContainsAny(k, "_-") || k[0] < 'a' || k[0] > 'z') {
					t.Errorf("%s: key %q is not lowerCamelCase: %.500s", what, k, body)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}

// jsonObject decodes a JSON object.
func jsonObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object (%v): %.500s", err, body)
	}
	return m
}

// mustProtoJSON decodes proto3 JSON strictly (unknown fields are errors).
func mustProtoJSON(t *testing.T, body []byte, m proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal(body, m); err != nil {
		t.Fatalf("decode %T from JSON: %v: %.500s", m, err, body)
	}
}
