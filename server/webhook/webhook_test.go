package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"github.com/forumhq/forum/server/webhook"
	"google.golang.org/protobuf/encoding/protojson"
)

// received is one request a receiver got.
type received struct {
	delivery, event, signature string
	body                       []byte
}

// receiver is an httptest server on 127.0.0.1 that fails the first
// failures requests.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	got      []received
	ch       chan struct{}
}

func newReceiver(t *testing.T, failures int) *receiver {
	r := &receiver{failures: failures, ch: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Get("Forum-Delivery"), req.Header.Get("Forum-Event"), req.Header.Get("Forum-Signature"), body})
		fail := r.failures > 0
		r.failures--
		r.mu.Unlock()
		if fail {
			http.Error(w, "not now", http.StatusServiceUnavailable)
		} else {
			io.WriteString(w, "thanks")
		}
		r.ch <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// waitFor waits until the receiver has got n requests.
func (r *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		got := append([]received(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("the receiver got %d requests, want %d", len(got), n)
		}
	}
}

// verify checks a Forum-Signature as a receiver would.
func verify(secret, header string, body []byte) bool {
	return client.VerifyWebhookSignature([]byte(secret), header, body, time.Now(), time.Hour) == nil
}

type fixture struct {
	path  string
	st    *store.Store
	owner authz.Actor
	user  resname.User
}

func open(t testing.TB, path string) *store.Store {
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{path: filepath.Join(t.TempDir(), "forum.db")}
	f.st = open(t, f.path)
	u, err := f.st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: "integrator", DisplayName: "I", Email: "i@example.org", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	f.user = resname.MustParseUser(u.Name)
	f.owner = authz.Actor{User: u.Name, Role: u.Role}
	return f
}

// start runs a worker on f's store with fast retries until the test ends
// (or the returned stop is called).
func (f *fixture) start(t testing.TB) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w := webhook.New(f.st, webhook.Options{AllowPrivate: true, Backoff: func(int) time.Duration { return time.Millisecond }, Poll: 20 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// org makes one event, visible to everyone: an organisation created.
func (f *fixture) org(t *testing.T, i int) {
	if _, err := f.st.CreateOrganization(t.Context(), authz.SystemActor, fmt.Sprintf("org-%d", i), &forumv1.Organization{DisplayName: fmt.Sprintf("Org %d", i)}, ""); err != nil {
		t.Fatal(err)
	}
}

func TestRetriedUntilDelivered(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 3)
	hook, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL, EventTypes: []string{"organization.created"}}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	f.start(t)
	f.org(t, 1)
	got := r.waitFor(t, 4)
	for i, g := range got {
		if g.delivery != got[0].delivery {
			t.Errorf("attempt %d has delivery id %q, the first %q", i+1, g.delivery, got[0].delivery)
		}
		if !verify("whsec_test", g.signature, g.body) {
			t.Errorf("attempt %d: the signature %q does not verify", i+1, g.signature)
		}
		if g.event != "organization.created" {
			t.Errorf("Forum-Event %q", g.event)
		}
	}
	var ev forumv1.Event
	if err := protojson.Unmarshal(got[3].body, &ev); err != nil || ev.GetOrganization().GetDisplayName() != "Org 1" {
		t.Errorf("the body is not the event: %v %s", err, got[3].body)
	}
	// The log shows the four attempts, the last a success.
	n, _ := resname.ParseWebhook(hook.Name)
	var ds []*forumv1.WebhookDelivery
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ds, _, err = f.st.ListWebhookDeliveries(t.Context(), n, 100, ""); err == nil && len(ds) == 4 {
			break
		}
	}
	if len(ds) != 4 || !ds[0].Success || ds[0].Attempt != 4 || ds[1].Success || ds[1].StatusCode != 503 || ds[0].ResponseBody != "thanks" {
		t.Errorf("delivery log: %v", ds)
	}
	if s := got[0].delivery; s != store.WebhookDeliveryID(n, ev.Revision) {
		t.Errorf("delivery id %q", s)
	}
}

func TestOrderAndRestart(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	if _, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL, EventTypes: []string{"organization.created"}}, "whsec_test"); err != nil {
		t.Fatal(err)
	}
	stop := f.start(t)
	for i := range 10 {
		f.org(t, i)
	}
	r.waitFor(t, 10)
	stop()
	// While no worker runs, more changes; then the store is closed and
	// opened again, as after a restart, and a new worker resumes from the
	// durable cursor.
	for i := 10; i < 20; i++ {
		f.org(t, i)
	}
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	f.st = open(t, f.path)
	t.Cleanup(func() { f.st.Close() })
	f.start(t)
	r.waitFor(t, 20)
	time.Sleep(50 * time.Millisecond) // nothing more should come
	r.mu.Lock()
	got := append([]received(nil), r.got...)
	r.mu.Unlock()
	if len(got) != 20 {
		t.Errorf("%d deliveries, want 20 (none twice)", len(got))
	}
	var last uint64
	for i, g := range got {
		var ev forumv1.Event
		if err := protojson.Unmarshal(g.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Revision <= last {
			t.Errorf("delivery %d: revision %d after %d", i, ev.Revision, last)
		}
		last = ev.Revision
		if want := fmt.Sprintf("Org %d", i); ev.GetOrganization().GetDisplayName() != want {
			t.Errorf("delivery %d is %q, want %q", i, ev.GetOrganization().GetDisplayName(), want)
		}
	}
}

// TestOwnerVisibility: an event the owner may not read (another user's
// API token) is never sent, while the owner's own webhook events are.
func TestOwnerVisibility(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	if _, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL}, "whsec_test"); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	other, err := f.st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: "other", DisplayName: "O", Email: "o@example.org", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateAPIToken(t.Context(), authz.Actor{User: other.Name, Role: other.Role}, resname.MustParseUser(other.Name), &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: nil}, []byte("hash-of-other"), ""); err != nil {
		t.Fatal(err)
	}
	f.org(t, 1) // a marker after it
	got := r.waitFor(t, 2)
	for _, g := range got {
		if g.event == "api_token.created" {
			t.Errorf("another user's token event was sent: %s", g.body)
		}
	}
	if got[len(got)-1].event != "organization.created" {
		t.Errorf("events: %v", got)
	}
}

func TestPrivateAddressesRefused(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://[::1]/x", "http://localhost/x", "http://192.168.0.1/x"} {
		if err := webhook.CheckURL(t.Context(), u, false); err == nil {
			t.Errorf("CheckURL(%s) allowed it", u)
		}
		if err := webhook.CheckURL(t.Context(), u, true); err != nil {
			t.Errorf("CheckURL(%s) with private allowed: %v", u, err)
		}
	}
	for _, u := range []string{"ftp://203.0.113.5/x", "https://user:pw@203.0.113.5/", "not a url", "https:///x"} {
		if err := webhook.CheckURL(t.Context(), u, true); err == nil {
			t.Errorf("CheckURL(%s) allowed it", u)
		}
	}
	if !webhook.Blocked(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("an IPv4-mapped loopback address is not blocked")
	}
	// At delivery, the dialer refuses the address it resolved.
	r := newReceiver(t, 0)
	_, err := webhook.Dialer(false).DialContext(t.Context(), "tcp", r.Listener.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("dialling %s: %v", r.Listener.Addr(), err)
	}
}

// TestDisabledAfterRetryFor: a webhook that keeps failing past RetryFor
// is disabled, with an event saying so.
func TestDisabledAfterRetryFor(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 1<<30)
	hook, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL, EventTypes: []string{"organization.created"}}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := webhook.New(f.st, webhook.Options{AllowPrivate: true, RetryFor: 30 * time.Millisecond, Backoff: func(int) time.Duration { return 5 * time.Millisecond }, Poll: 10 * time.Millisecond})
	go w.Run(ctx)
	f.org(t, 1)
	n, _ := resname.ParseWebhook(hook.Name)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		h, err := f.st.GetWebhook(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Active {
			if h.DisabledReason == "" {
				t.Error("no reason given")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never disabled")
		}
	}
	page, err := f.st.ReadEvents(t.Context(), f.owner, store.EventQuery{Match: func(ev *forumv1.Event) bool { return ev.Type == forumv1.EventType_EVENT_TYPE_WEBHOOK_DISABLED }})
	if err != nil || len(page.Events) != 1 {
		t.Errorf("WEBHOOK_DISABLED events: %v %v", page.Events, err)
	}
}

// startIdle runs a worker on f's store whose poll is an hour: past its
// first pass, only the store wakes it (a new event, a queued delivery).
func (f *fixture) startIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := webhook.New(f.st, webhook.Options{AllowPrivate: true, Backoff: func(int) time.Duration { return time.Millisecond }, Poll: time.Hour})
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestPingAndRedeliveryWakeTheWorker: a ping and a redelivery, queued
// while the worker waits with nothing due, reach the receiver without
// waiting for a poll (the worker's is an hour), the redelivery with the
// delivery id of the attempt it repeats.
func TestPingAndRedeliveryWakeTheWorker(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	hook, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL, EventTypes: []string{"organization.created"}}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := resname.ParseWebhook(hook.Name)
	f.startIdle(t)
	f.org(t, 1) // a new event wakes it through the feed
	got := r.waitFor(t, 1)
	var first forumv1.Event
	if err := protojson.Unmarshal(got[0].body, &first); err != nil {
		t.Fatal(err)
	}

	// A ping.
	ping, err := f.st.QueueWebhookDelivery(t.Context(), n, nil)
	if err != nil {
		t.Fatal(err)
	}
	got = r.waitFor(t, 2)
	if g := got[1]; g.event != "ping" || g.delivery != ping.DeliveryId || !verify("whsec_test", g.signature, g.body) {
		t.Errorf("the ping: event %q, delivery %q (queued as %q), signature verifies: %v", g.event, g.delivery, ping.DeliveryId, verify("whsec_test", g.signature, g.body))
	}
	var pev forumv1.Event
	if err := protojson.Unmarshal(got[1].body, &pev); err != nil || pev.Resource != hook.Name {
		t.Errorf("the ping's body: %v %s", err, got[1].body)
	}

	// The redelivery of the first event's attempt.
	var orig *forumv1.WebhookDelivery
	for deadline := time.Now().Add(20 * time.Second); orig == nil; time.Sleep(10 * time.Millisecond) {
		ds, _, err := f.st.ListWebhookDeliveries(t.Context(), n, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Revision == first.Revision && d.Success {
				orig = d
			}
		}
		if orig == nil && time.Now().After(deadline) {
			t.Fatalf("the delivery log has no attempt at revision %d: %v", first.Revision, ds)
		}
	}
	dn, err := resname.ParseWebhookDelivery(orig.Name)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := f.st.QueueWebhookDelivery(t.Context(), n, &dn)
	if err != nil {
		t.Fatal(err)
	}
	if queued.DeliveryId != got[0].delivery {
		t.Errorf("the redelivery was queued as %q, the original was %q", queued.DeliveryId, got[0].delivery)
	}
	got = r.waitFor(t, 3)
	g := got[2]
	if g.delivery != got[0].delivery || g.event != "organization.created" || !verify("whsec_test", g.signature, g.body) {
		t.Errorf("the redelivery: delivery %q (the original %q), event %q, signature verifies: %v", g.delivery, got[0].delivery, g.event, verify("whsec_test", g.signature, g.body))
	}
	var rev forumv1.Event
	if err := protojson.Unmarshal(g.body, &rev); err != nil || rev.Revision != first.Revision || rev.GetOrganization().GetDisplayName() != "Org 1" {
		t.Errorf("the redelivery's body: %v %s, want revision %d", err, g.body, first.Revision)
	}
}

// TestDisabledBehindRetention: a webhook whose cursor the retention has
// passed (the events after it swept before they were delivered) is
// disabled, with a reason and an event, not left silent; activated again,
// it resumes from the oldest event kept.
func TestDisabledBehindRetention(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	hook, err := f.st.CreateWebhook(t.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: r.URL, EventTypes: []string{"organization.created"}}, "whsec_test")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := resname.ParseWebhook(hook.Name)
	// No worker runs while three events are written and the whole log is
	// swept.
	for i := range 3 {
		f.org(t, i)
	}
	if _, err := f.st.SweepEvents(t.Context(), time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	var h *forumv1.Webhook
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if h, err = f.st.GetWebhook(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		if !h.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook behind the log's retention was never disabled")
		}
	}
	if !strings.Contains(h.DisabledReason, "retention") {
		t.Errorf("disabled with the reason %q; want one naming the retention", h.DisabledReason)
	}
	page, err := f.st.ReadEvents(t.Context(), f.owner, store.EventQuery{Match: func(ev *forumv1.Event) bool { return ev.Type == forumv1.EventType_EVENT_TYPE_WEBHOOK_DISABLED }})
	if err != nil || len(page.Events) != 1 || page.Events[0].GetWebhook().GetDisabledReason() != h.DisabledReason {
		t.Errorf("WEBHOOK_DISABLED events: %v %v", page.Events, err)
	}
	// Activated again, it delivers what comes next.
	if _, err := f.st.UpdateWebhook(t.Context(), f.owner, n, &forumv1.Webhook{Active: true}, []string{"active"}); err != nil {
		t.Fatal(err)
	}
	f.org(t, 10)
	got := r.waitFor(t, 1)
	var ev forumv1.Event
	if err := protojson.Unmarshal(got[0].body, &ev); err != nil || ev.GetOrganization().GetDisplayName() != "Org 10" {
		t.Errorf("after activating it again: %v %s, want Org 10", err, got[0].body)
	}
	if h, err := f.st.GetWebhook(t.Context(), n); err != nil || !h.Active || h.DisabledReason != "" {
		t.Errorf("after activating it again: %v %v", h, err)
	}
}
