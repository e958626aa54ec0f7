package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Sizes and bounds of TestWebhookDeliveryAcrossKill. The bounds are
// generous (the default backoff after a failed attempt is 8-12 s, and the
// test sees at most two failures in a row); nothing about timing is
// asserted.
const (
	hookRepliesBefore = 40 // replies written before the kill
	hookRepliesAfter  = 10 // and after the restart
	hookUpFor         = 10 // deliveries the receiver takes before it goes down
	hookWait          = 90 * time.Second
	hookTimeout       = 4 * time.Minute
)

// hookRequest is one request the receiver got.
type hookRequest struct {
	delivery, event, signature string
	body                       []byte
	revision                   uint64 // of the event in the body
	ok                         bool   // the receiver answered 2xx
	afterRestart               bool
}

// hookReceiver is an httptest receiver on 127.0.0.1: it takes upFor
// deliveries, then answers 503 until it is brought up again. The first 503
// it holds until release is closed, so that forumd can be killed while that
// attempt is in flight.
type hookReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	got       []hookRequest
	upFor     int
	down      bool
	restarted bool
	wentDown  chan struct{} // closed at the first 503
	release   chan struct{} // the first 503 is answered when this is closed
	once      sync.Once
	arrived   chan struct{} // a token per request
}

func newHookReceiver(t *testing.T, upFor int) *hookReceiver {
	r := &hookReceiver{upFor: upFor, wentDown: make(chan struct{}), release: make(chan struct{}), arrived: make(chan struct{}, 100_000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		got := hookRequest{delivery: req.Header.Get("Forum-Delivery"), event: req.Header.Get("Forum-Event"), signature: req.Header.Get("Forum-Signature"), body: body}
		var ev forumv1.Event
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &ev); err == nil {
			got.revision = ev.GetRevision()
		}
		r.mu.Lock()
		if !r.down && r.upFor == 0 {
			r.down = true
		}
		down := r.down
		if !down {
			r.upFor--
		}
		got.ok, got.afterRestart = !down, r.restarted
		r.got = append(r.got, got)
		r.mu.Unlock()
		r.arrived <- struct{}{}
		if down {
			first := false
			r.once.Do(func() { first = true; close(r.wentDown) })
			if first {
				select {
				case <-r.release:
				case <-time.After(hookWait):
				}
			}
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(func() {
		r.once.Do(func() { close(r.wentDown) })
		r.Close()
	})
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// verifyHookSignature checks a Forum-Signature header ("t=…,v1=…", the
// HMAC-SHA256 of "t.body") as a receiver would.
func verifyHookSignature(secret, header string, body []byte) bool {
	return client.VerifyWebhookSignature([]byte(secret), header, body, time.Now(), time.Hour) == nil
}

// TestWebhookDeliveryAcrossKill: a webhook created over JSON on the real
// forumd (--webhook-allow-private, the receiver being on 127.0.0.1) gets
// replies as they are written; the receiver goes down, forumd is killed
// with SIGKILL while an attempt is in flight and restarted on the same
// data, the receiver comes back, and it then has every event after the
// webhook's creation that its owner may read, each at least once, in
// revision order (a revision sent again only with its Forum-Delivery id),
// each signed with the secret.
func TestWebhookDeliveryAcrossKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), hookTimeout)
	defer cancel()
	dataDir := t.TempDir()
	mustCreateUserCLI(t, dataDir, "integrator", "Integrator", "member", delegatePassword("integrator"))
	args := []string{noRateLimits, "--webhook-allow-private"}
	p := startForumd(t, dataDir, args...)
	g, h := p.dial(t), p.jsonAPI(t)
	u := loginGRPC(ctx, t, g, "integrator", delegatePassword("integrator"))
	thread := createThreadGRPC(ctx, t, g, u.token, &forumv1.Thread{Theme: demoThemes[0], Title: "Webhook thread", Body: "Replies land here."}, "")

	r := newHookReceiver(t, hookUpFor)
	body := h.must(t, "POST", "/v1/"+u.name+"/webhooks", u.token, map[string]any{"targetUrl": r.URL}, http.StatusOK)
	var hook forumv1.Webhook
	mustProtoJSON(t, body, &hook)
	if hook.GetSecret() == "" || !hook.GetActive() {
		t.Fatalf("the webhook created: %s", body)
	}
	created := webhookCreatedRevision(ctx, t, g, u.token, hook.GetName())

	// Replies, delivered as they come until the receiver goes down; then
	// forumd is killed while the first failing attempt is in flight.
	for i := range hookRepliesBefore {
		createReplyGRPC(ctx, t, g, u.token, thread.GetName(), &forumv1.Reply{Body: fmt.Sprintf("before the kill %d", i)}, "")
	}
	select {
	case <-r.wentDown:
	case <-time.After(hookWait):
		t.Fatalf("the receiver got %d requests in %v, and never went down after %d", len(r.requests()), hookWait, hookUpFor)
	}
	p.Kill()
	r.mu.Lock()
	r.restarted = true
	r.mu.Unlock()
	close(r.release)

	// Restarted on the same data, with the receiver still down: forumd
	// tries again (and fails) before the receiver comes back.
	p = startForumd(t, dataDir, args...)
	g = p.dial(t)
	u = loginGRPC(ctx, t, g, "integrator", delegatePassword("integrator"))
	for deadline := time.After(hookWait); ; {
		n := 0
		for _, q := range r.requests() {
			if q.afterRestart && !q.ok {
				n++
			}
		}
		if n > 0 {
			break
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("no attempt reached the receiver within %v of the restart", hookWait)
		}
	}
	r.mu.Lock()
	r.down = false
	r.upFor = -1 // up for good
	r.mu.Unlock()
	for i := range hookRepliesAfter {
		createReplyGRPC(ctx, t, g, u.token, thread.GetName(), &forumv1.Reply{Body: fmt.Sprintf("after the restart %d", i)}, "")
	}

	// What the owner may read after the webhook's creation.
	events, head := readEventLog(ctx, t, g, u.token)
	var want []uint64
	for _, ev := range events {
		if ev.GetRevision() > created {
			want = append(want, ev.GetRevision())
		}
	}
	if len(want) < hookRepliesBefore+hookRepliesAfter {
		t.Fatalf("the owner reads %d events after revision %d (head %d), want at least %d", len(want), created, head, hookRepliesBefore+hookRepliesAfter)
	}
	var got []hookRequest
	for deadline := time.After(hookWait); ; {
		got = r.requests()
		delivered := map[uint64]bool{}
		for _, q := range got {
			if q.ok {
				delivered[q.revision] = true
			}
		}
		missing := 0
		for _, rev := range want {
			if !delivered[rev] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("after %v, %d of the %d events after revision %d were never delivered (%d requests received)", hookWait, missing, len(want), created, len(got))
		}
	}
	p.Stop()

	// Every request: signed, one delivery id per revision, in revision
	// order, nothing the owner does not read.
	wanted := map[uint64]bool{}
	for _, rev := range want {
		wanted[rev] = true
	}
	ids := map[uint64]string{}
	var last uint64
	resent, failed := 0, 0
	for i, q := range got {
		if !verifyHookSignature(hook.GetSecret(), q.signature, q.body) {
			t.Errorf("request %d (revision %d): the signature %q does not verify", i, q.revision, q.signature)
		}
		if !wanted[q.revision] {
			t.Errorf("request %d: revision %d, not an event of the owner's after revision %d: %.500s", i, q.revision, created, q.body)
			continue
		}
		if q.revision < last {
			t.Errorf("request %d: revision %d after %d: out of order", i, q.revision, last)
		}
		if id, ok := ids[q.revision]; ok {
			resent++
			if id != q.delivery {
				t.Errorf("request %d: revision %d sent again with delivery id %q, first %q", i, q.revision, q.delivery, id)
			}
		} else {
			ids[q.revision] = q.delivery
		}
		if !q.ok {
			failed++
		}
		if q.event == "" {
			t.Errorf("request %d: no Forum-Event", i)
		}
		last = max(last, q.revision)
	}
	t.Logf("%d events after revision %d delivered in %d requests (%d refused with 503, %d sent again)", len(want), created, len(got), failed, resent)
}

// webhookCreatedRevision returns the revision of webhook name's creation
// event, as its owner (holding token) reads the log.
func webhookCreatedRevision(ctx context.Context, t *testing.T, g *api, token, name string) uint64 {
	t.Helper()
	events, _ := readEventLog(ctx, t, g, token)
	for _, ev := range events {
		if ev.GetType() == forumv1.EventType_EVENT_TYPE_WEBHOOK_CREATED && ev.GetResource() == name {
			return ev.GetRevision()
		}
	}
	t.Fatalf("the log has no creation event of %s", name)
	return 0
}
