package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// hookRequest is one request a test receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
}

// startReceiver starts an HTTP server on loopback that records what is
// POSTed to it and answers 200.
func startReceiver(t *testing.T) (*httptest.Server, chan hookRequest) {
	t.Helper()
	got := make(chan hookRequest, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- hookRequest{r.Header.Clone(), body}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// nextHook returns the next request the receiver got.
func nextHook(t *testing.T, got chan hookRequest) hookRequest {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(cliTimeout):
		t.Fatal("no delivery in time")
	}
	return hookRequest{}
}

// checkSigned fails the test unless r is signed with secret.
func checkSigned(t *testing.T, r hookRequest, secret string) {
	t.Helper()
	if err := client.VerifyWebhookSignature([]byte(secret), r.header.Get("Forum-Signature"), r.body, time.Now(), time.Minute); err != nil {
		t.Errorf("delivery %s: %v", r.header.Get("Forum-Delivery"), err)
	}
}

// secretLine finds the secret that create and rotate-secret print.
var secretLine = regexp.MustCompile(`(?m)^Secret: (whsec_[0-9a-f]+)$`)

// startWebhookForum starts forumd allowing webhooks to loopback, with
// amina (a convener) and moses (a member); it returns the gRPC address.
func startWebhookForum(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "amina", "Amina Convener", "convener", convenerPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "moses", "Mo Member", "member", memberPassword)
	return forumdtest.Start(t, forumdBin, data, "--webhook-allow-private").GRPCAddr
}

// TestWebhooks runs every webhooks command on its good path: create (the
// secret shown once), list, get, ping and a real event (both signed),
// deliveries, redeliver (by name and by short form), update, rotate-secret
// and delete.
func TestWebhooks(t *testing.T) {
	server := startWebhookForum(t)
	recv, got := startReceiver(t)
	amina := newUser(t)
	amina.login(server, "amina", convenerPassword)
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	me, err := c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	name := me.GetName() + "/webhooks/1"

	// create: the name, the filters, the secret once.
	out := amina.ok("", "webhooks", "create", "--url", recv.URL, "--type", "thread.created", "--type", "reply.created", "--theme", "joint-programmes")
	if !strings.Contains(out, "Created "+name+" for "+recv.URL+" (types: thread.created,reply.created; themes: themes/joint-programmes).") ||
		!strings.Contains(out, "shown only this once") {
		t.Fatalf("webhooks create:\n%s", out)
	}
	m := secretLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("webhooks create prints no secret:\n%s", out)
	}
	secret := m[1]

	// list and get, as a table and as the API's JSON, never with the secret.
	out = amina.ok("", "webhooks", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], name) || !strings.Contains(lines[1], recv.URL) || !strings.Contains(lines[1], "yes") {
		t.Errorf("webhooks list:\n%s", out)
	}
	want, err := c.GetWebhook(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var listed struct{ Webhooks []json.RawMessage }
	if err := json.Unmarshal([]byte(amina.ok("", "webhooks", "list", "-o", "json")), &listed); err != nil || len(listed.Webhooks) != 1 {
		t.Fatalf("webhooks list -o json: %v %v", listed, err)
	}
	apiObject(t, "listed webhook", listed.Webhooks[0], &forumv1.Webhook{}, want)
	apiObject(t, "webhook", json.RawMessage(amina.ok("", "webhooks", "get", "1", "-o", "json")), &forumv1.Webhook{}, want)
	out = amina.ok("", "webhooks", "get", name)
	for _, w := range []string{"Name:", name, "URL:", recv.URL, "Active:", "yes", "Types:", "thread.created,reply.created", "Themes:", "themes/joint-programmes"} {
		if !strings.Contains(out, w) {
			t.Errorf("webhooks get lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "whsec_") {
		t.Errorf("webhooks get shows the secret:\n%s", out)
	}

	// ping: queued, then delivered, signed with the secret.
	out = amina.ok("", "webhooks", "ping", "1")
	if !strings.HasPrefix(out, "Queued a ping of "+name+": delivery ") {
		t.Errorf("webhooks ping: %q", out)
	}
	r := nextHook(t, got)
	if r.header.Get("Forum-Event") != "ping" || !strings.Contains(out, r.header.Get("Forum-Delivery")) {
		t.Errorf("ping delivered with headers %v; ping printed %q", r.header, out)
	}
	checkSigned(t, r, secret)

	// An event of the theme and type chosen is delivered as its JSON.
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Hooked", "--body", "Body.")
	r = nextHook(t, got)
	ev := &forumv1.Event{}
	if err := protojson.Unmarshal(r.body, ev); err != nil || ev.GetType() != forumv1.EventType_EVENT_TYPE_THREAD_CREATED || r.header.Get("Forum-Event") != "thread.created" {
		t.Errorf("delivered %s, Forum-Event %q (%v)", r.body, r.header.Get("Forum-Event"), err)
	}
	checkSigned(t, r, secret)
	eventID := r.header.Get("Forum-Delivery")

	// deliveries: newest first, once both attempts are recorded.
	var resp struct{ Deliveries []json.RawMessage }
	var ds []*forumv1.WebhookDelivery
	deadline := time.Now().Add(cliTimeout)
	for len(ds) < 2 && time.Now().Before(deadline) {
		if err := json.Unmarshal([]byte(amina.ok("", "webhooks", "deliveries", "1", "-o", "json")), &resp); err != nil {
			t.Fatal(err)
		}
		ds = ds[:0]
		for _, raw := range resp.Deliveries {
			d := &forumv1.WebhookDelivery{}
			if err := protojson.Unmarshal(raw, d); err != nil {
				t.Fatalf("delivery %s: %v", raw, err)
			}
			ds = append(ds, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(ds) != 2 || ds[0].GetDeliveryId() != eventID || !ds[0].GetSuccess() || ds[1].GetEventType() != "ping" {
		t.Fatalf("webhooks deliveries -o json: %v", ds)
	}
	out = amina.ok("", "webhooks", "deliveries", "1")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], eventID) || !strings.Contains(lines[1], "thread.created") || !strings.Contains(lines[1], " 200 ") ||
		!strings.HasSuffix(lines[1], "ok") || !strings.Contains(lines[2], "ping") {
		t.Errorf("webhooks deliveries:\n%s", out)
	}

	// redeliver, by name and by WEBHOOK/DELIVERY: the same delivery id.
	out = amina.ok("", "webhooks", "redeliver", ds[0].GetName())
	if out != "Queued delivery "+eventID+" (thread.created) again, as attempt 2.\n" {
		t.Errorf("webhooks redeliver: %q", out)
	}
	if r := nextHook(t, got); r.header.Get("Forum-Delivery") != eventID {
		t.Errorf("redelivered as %q, want %q", r.header.Get("Forum-Delivery"), eventID)
	}
	short := "1/" + ds[0].GetName()[strings.LastIndex(ds[0].GetName(), "/")+1:]
	amina.ok("", "webhooks", "redeliver", short)
	if r := nextHook(t, got); r.header.Get("Forum-Delivery") != eventID {
		t.Errorf("redelivered as %q, want %q", r.header.Get("Forum-Delivery"), eventID)
	}

	// update: only the flags given; --type '' clears the filter.
	out = amina.ok("", "webhooks", "update", "1", "--active=false", "--type", "")
	if !strings.HasPrefix(out, "Updated "+name+".\n") || !strings.Contains(out, "Active:") || !regexp.MustCompile(`Active:\s+no\n`).MatchString(out) ||
		!regexp.MustCompile(`Types:\s+all\n`).MatchString(out) || !strings.Contains(out, "themes/joint-programmes") || !strings.Contains(out, recv.URL) {
		t.Errorf("webhooks update:\n%s", out)
	}
	out = amina.ok("", "webhooks", "update", name, "--active", "--url", recv.URL+"/v2", "-o", "json")
	upd := &forumv1.Webhook{}
	if err := protojson.Unmarshal([]byte(out), upd); err != nil || !upd.GetActive() || upd.GetTargetUrl() != recv.URL+"/v2" || len(upd.GetEventTypes()) != 0 {
		t.Errorf("webhooks update -o json: %s (%v)", out, err)
	}

	// rotate-secret: a new secret signs from then on.
	out = amina.ok("", "webhooks", "rotate-secret", "1")
	m = secretLine.FindStringSubmatch(out)
	if m == nil || m[1] == secret || !strings.HasPrefix(out, "Rotated the secret of "+name+".\n") {
		t.Fatalf("webhooks rotate-secret:\n%s", out)
	}
	amina.ok("", "webhooks", "ping", "1")
	r = nextHook(t, got)
	checkSigned(t, r, m[1])
	if client.VerifyWebhookSignature([]byte(secret), r.header.Get("Forum-Signature"), r.body, time.Now(), time.Minute) == nil {
		t.Error("the old secret still verifies after rotate-secret")
	}

	// delete, then it is gone.
	if out := amina.ok("", "webhooks", "delete", "1"); out != "Deleted "+name+"\n" {
		t.Errorf("webhooks delete: %q", out)
	}
	amina.fails(exitNotFound, name, "webhooks", "get", "1")
	if r := amina.run("", "webhooks", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No webhooks.\n" {
		t.Errorf("webhooks list after delete: %v", r)
	}
}

// TestWebhooksRefusals: bad inputs get a clear message and the right exit
// status, before any call where forumctl can tell.
func TestWebhooksRefusals(t *testing.T) {
	server := startWebhookForum(t)
	recv, _ := startReceiver(t)
	amina, moses := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	moses.login(server, "moses", memberPassword)
	ctx, c := loggedInClient(t, server, "amina", convenerPassword)
	hook, err := c.CreateWebhook(ctx, "users/me", &forumv1.Webhook{TargetUrl: recv.URL})
	if err != nil {
		t.Fatal(err)
	}
	foreign := hook.GetName()
	nobody := newUser(t, "FORUM_SERVER="+server)
	checkRefusals(t, []refusal{
		{"no url", amina, exitUsage, `required flag(s) "url" not set`, []string{"webhooks", "create"}},
		{"bad url", amina, exitInvalid, "webhook.target_url", []string{"webhooks", "create", "--url", "ftp://example.org/hook"}},
		{"url without a host", amina, exitInvalid, "webhook.target_url", []string{"webhooks", "create", "--url", "http:///hook"}},
		{"unknown type", amina, exitInvalid, `"reply.exploded" is not an event type`, []string{"webhooks", "create", "--url", recv.URL, "--type", "reply.exploded"}},
		{"bad theme", amina, exitInvalid, "webhook.themes[0]", []string{"webhooks", "create", "--url", recv.URL, "--theme", "Not A Slug"}},
		{"unknown type, update", amina, exitInvalid, `"reply.exploded" is not an event type`, []string{"webhooks", "update", "1", "--type", "reply.exploded"}},
		{"bad url, update", amina, exitInvalid, "webhook.target_url", []string{"webhooks", "update", "1", "--url", "gopher://example.org"}},
		{"nothing to update", amina, exitUsage, "nothing to change", []string{"webhooks", "update", "1"}},
		{"bad id", amina, exitUsage, `"abc" is not a webhook`, []string{"webhooks", "get", "abc"}},
		{"id zero", amina, exitUsage, `"0" is not a webhook`, []string{"webhooks", "ping", "0"}},
		{"bad delivery", amina, exitUsage, `"17" is not a webhook delivery`, []string{"webhooks", "redeliver", "17"}},
		{"no id", amina, exitUsage, "takes WEBHOOK", []string{"webhooks", "deliveries"}},
		{"an argument to list", amina, exitUsage, "takes no arguments", []string{"webhooks", "list", "1"}},
		{"unknown format", amina, exitUsage, "unknown output format", []string{"webhooks", "list", "-o", "xml"}},
		{"missing webhook", amina, exitNotFound, "webhooks/99", []string{"webhooks", "get", "99"}},
		{"missing delivery", amina, exitNotFound, "deliveries/99", []string{"webhooks", "redeliver", "1/99"}},
		{"foreign get", moses, exitPermission, "only their own webhooks", []string{"webhooks", "get", foreign}},
		{"foreign update", moses, exitPermission, "only their own webhooks", []string{"webhooks", "update", foreign, "--active=false"}},
		{"foreign delete", moses, exitPermission, "only their own webhooks", []string{"webhooks", "delete", foreign}},
		{"foreign rotate", moses, exitPermission, "only their own webhooks", []string{"webhooks", "rotate-secret", foreign}},
		{"foreign deliveries", moses, exitPermission, "only their own webhooks", []string{"webhooks", "deliveries", foreign}},
		{"foreign ping", moses, exitPermission, "only their own webhooks", []string{"webhooks", "ping", foreign}},
		{"foreign redeliver", moses, exitPermission, "only their own webhooks", []string{"webhooks", "redeliver", foreign + "/deliveries/1"}},
		{"own number, not theirs", moses, exitNotFound, "webhooks/1", []string{"webhooks", "get", "1"}},
		{"not logged in", nobody, exitUnauth, "not logged in", []string{"webhooks", "list"}},
	})
	// Without --webhook-allow-private, forumd refuses loopback targets.
	strict := newUser(t)
	strict.login(startForum(t), "amina", convenerPassword)
	msg := strict.fails(exitInvalid, "webhook.target_url", "webhooks", "create", "--url", recv.URL)
	t.Log(msg)

	// Nothing was created by the refusals.
	n := 0
	for _, err := range c.Webhooks(ctx, &forumv1.ListWebhooksRequest{Parent: "users/me"}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("amina has %d webhooks after the refusals, want 1", n)
	}
}
