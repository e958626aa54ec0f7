package client_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// sign computes a Forum-Signature header here, independently of both the
// server's webhook.Sign and the code under test.
func sign(secret string, t int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10) + "." + body))
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// TestVerifyWebhookSignature: good signatures pass, in and at the edge of
// the tolerance; anything else is refused with ErrWebhookSignature.
func TestVerifyWebhookSignature(t *testing.T) {
	const (
		secret = "whsec_0123456789abcdef"
		body   = `{"name":"events/7","revision":"7","type":"EVENT_TYPE_REPLY_CREATED"}`
		ts     = 1767225600 // 2026-01-01T00:00:00Z
		// Computed with `printf '%s' "$ts.$body" | openssl dgst -sha256
		// -hmac "$secret"`, outside Go.
		opensslSig = "359517058bc153560a9996a72e1ace2695601a2a554fd7ebb8e5c287b981f899"
		emptySig   = "5aa8c8f74f0a8c5694701440a471939b9f31b001f4dd9fca474a0996c07a2e0a"
	)
	at := time.Unix(ts, 0)
	good := "t=1767225600,v1=" + opensslSig
	if got := sign(secret, ts, body); got != good {
		t.Fatalf("the test's own signature %q differs from openssl's %q", got, good)
	}
	other := strings.Repeat("ab", 32)
	cases := []struct {
		name      string
		secret    string
		header    string
		body      string
		now       time.Time
		tolerance time.Duration
		wantErr   string // "" for success
	}{
		{name: "openssl's signature", header: good, now: at},
		{name: "spaces after the comma", header: "t=1767225600, v1=" + opensslSig, now: at},
		{name: "upper-case hex", header: "t=1767225600,v1=" + strings.ToUpper(opensslSig), now: at},
		{name: "v1 before t", header: "v1=" + opensslSig + ",t=1767225600", now: at},
		{name: "a second v1 that matches", header: "t=1767225600,v1=" + other + ",v1=" + opensslSig, now: at},
		{name: "an unknown scheme beside", header: "t=1767225600,v0=zz,v1=" + opensslSig, now: at},
		{name: "empty body", header: "t=1767225600,v1=" + emptySig, body: "-", now: at},
		{name: "4m59s late", header: good, now: at.Add(4*time.Minute + 59*time.Second)},
		{name: "exactly the tolerance late", header: good, now: at.Add(time.Minute), tolerance: time.Minute},
		{name: "exactly the tolerance early", header: good, now: at.Add(-time.Minute), tolerance: time.Minute},
		{name: "a day late with a day's tolerance", header: good, now: at.Add(24 * time.Hour), tolerance: 24 * time.Hour},

		{name: "too old", header: good, now: at.Add(5*time.Minute + time.Second), wantErr: "more than 5m0s from now"},
		{name: "too far in the future", header: good, now: at.Add(-61 * time.Second), tolerance: time.Minute, wantErr: "more than 1m0s from now"},
		{name: "huge time", header: "t=9223372036854775807,v1=" + opensslSig, now: at, wantErr: "from now"},
		{name: "negative time", header: "t=-9223372036854775808,v1=" + opensslSig, now: at, wantErr: "from now"},
		{name: "body changed", header: good, body: body + " ", now: at, wantErr: "no v1 signature matches"},
		{name: "time changed", header: "t=1767225601,v1=" + opensslSig, now: at, wantErr: "no v1 signature matches"},
		{name: "wrong secret", secret: "whsec_0123456789abcdee", header: good, now: at, wantErr: "no v1 signature matches"},
		{name: "secret without its prefix", secret: "0123456789abcdef", header: good, now: at, wantErr: "no v1 signature matches"},
		{name: "no secret", secret: "-", header: good, now: at, wantErr: "no secret"},
		{name: "empty header", header: "", now: at, wantErr: "malformed"},
		{name: "no v1", header: "t=1767225600", now: at, wantErr: "lacks t= or v1="},
		{name: "no t", header: "v1=" + opensslSig, now: at, wantErr: "lacks t= or v1="},
		{name: "two times", header: good + ",t=1767225600", now: at, wantErr: "two times"},
		{name: "time not a number", header: "t=soon,v1=" + opensslSig, now: at, wantErr: "not a number"},
		{name: "v1 not hex", header: "t=1767225600,v1=xyz", now: at, wantErr: "not a hex SHA-256"},
		{name: "v1 too short", header: "t=1767225600,v1=" + opensslSig[:62], now: at, wantErr: "not a hex SHA-256"},
		{name: "only another v1", header: "t=1767225600,v1=" + other, now: at, wantErr: "no v1 signature matches"},
		{name: "a part without =", header: good + ",junk", now: at, wantErr: "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sec, b := secret, body
			switch c.secret {
			case "":
			case "-":
				sec = ""
			default:
				sec = c.secret
			}
			switch c.body {
			case "":
			case "-":
				b = ""
			default:
				b = c.body
			}
			err := client.VerifyWebhookSignature([]byte(sec), c.header, []byte(b), c.now, c.tolerance)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, client.ErrWebhookSignature) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want ErrWebhookSignature saying %q", err, c.wantErr)
			}
		})
	}
}

// delivery is one request a test receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP server on loopback that records what is POSTed to
// it and answers with status.
func receiver(t *testing.T, status int) (*httptest.Server, chan delivery) {
	t.Helper()
	got := make(chan delivery, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "thanks")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// next returns the next delivery, waiting for forumd's worker (which polls
// every 5 seconds for pings and redeliveries).
func next(t *testing.T, got chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(callTimeout):
		t.Fatal("no delivery in time")
	}
	return delivery{}
}

// TestWebhooks runs every WebhookService convenience method against forumd
// with a receiver on loopback (--webhook-allow-private), and checks a real
// delivery with VerifyWebhookSignature.
func TestWebhooks(t *testing.T) {
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "admin", "Ada Admin", "admin", adminPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "member", "Mo Member", "member", memberPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "other", "Oz Other", "member", memberPassword)
	srv := forumdtest.Start(t, forumdBin, data, "--webhook-allow-private")
	member := login(t, srv.GRPCAddr, "member", memberPassword)
	other := login(t, srv.GRPCAddr, "other", memberPassword)
	admin := login(t, srv.GRPCAddr, "admin", adminPassword)
	ctx := callCtx(t)
	recv, got := receiver(t, http.StatusOK)

	// Refused inputs.
	_, err := member.CreateWebhook(ctx, "users/me", &forumv1.Webhook{TargetUrl: "ftp://example.org/x"})
	if fv := client.FieldViolations(err); !errors.Is(err, client.ErrInvalidArgument) || len(fv) == 0 || fv[0].Field != "webhook.target_url" {
		t.Errorf("CreateWebhook with an ftp URL: %v", err)
	}
	_, err = member.CreateWebhook(ctx, "users/me", &forumv1.Webhook{TargetUrl: recv.URL, EventTypes: []string{"reply.exploded"}})
	if fv := client.FieldViolations(err); !errors.Is(err, client.ErrInvalidArgument) || len(fv) == 0 || fv[0].Field != "webhook.event_types[0]" {
		t.Errorf("CreateWebhook with an unknown type: %v", err)
	}

	hook, err := member.CreateWebhook(ctx, "users/me", &forumv1.Webhook{TargetUrl: recv.URL, EventTypes: []string{"thread.created"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hook.GetSecret(), "whsec_") || !hook.GetActive() || !strings.Contains(hook.GetName(), "/webhooks/") {
		t.Fatalf("created %v", hook)
	}
	secret := hook.GetSecret()

	if h, err := member.GetWebhook(ctx, hook.GetName()); err != nil || h.GetSecret() != "" || h.GetTargetUrl() != recv.URL {
		t.Errorf("GetWebhook: %v, %v", h, err)
	}
	if _, err := other.GetWebhook(ctx, hook.GetName()); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("GetWebhook of another user's: %v, want ErrPermissionDenied", err)
	}
	if _, err := admin.GetWebhook(ctx, hook.GetName()); err != nil {
		t.Errorf("GetWebhook as an admin: %v", err)
	}
	if _, err := member.GetWebhook(ctx, hook.GetName()+"0"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetWebhook of a missing one: %v, want ErrNotFound", err)
	}

	// Webhooks follows the pages.
	second, err := member.CreateWebhook(ctx, "users/me", &forumv1.Webhook{TargetUrl: recv.URL, Themes: []string{"themes/none-such"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for h, err := range member.Webhooks(ctx, &forumv1.ListWebhooksRequest{Parent: "users/me", PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if h.GetSecret() != "" {
			t.Errorf("listed with its secret: %v", h)
		}
		names = append(names, h.GetName())
	}
	if len(names) != 2 || names[0] != hook.GetName() || names[1] != second.GetName() {
		t.Errorf("Webhooks: %q, want %q and %q", names, hook.GetName(), second.GetName())
	}
	for _, err := range member.Webhooks(ctx, nil) {
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("Webhooks(nil): %v, want ErrInvalidArgument", err)
		}
	}
	if err := member.DeleteWebhook(ctx, second.GetName(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := member.GetWebhook(ctx, second.GetName()); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("GetWebhook after DeleteWebhook: %v", err)
	}

	// A ping arrives, signed.
	queued, err := member.PingWebhook(ctx, hook.GetName())
	if err != nil || queued.GetEventType() != "ping" || queued.GetDeliveryId() == "" {
		t.Fatalf("PingWebhook: %v, %v", queued, err)
	}
	d := next(t, got)
	if d.header.Get(client.WebhookEventHeader) != "ping" || d.header.Get(client.WebhookDeliveryHeader) != queued.GetDeliveryId() {
		t.Errorf("ping headers %v, want Forum-Event ping and Forum-Delivery %s", d.header, queued.GetDeliveryId())
	}
	if err := client.VerifyWebhookSignature([]byte(secret), d.header.Get(client.WebhookSignatureHeader), d.body, time.Now(), 0); err != nil {
		t.Errorf("the ping's signature: %v", err)
	}

	// An event of the chosen type arrives, as the event's JSON.
	if _, err := member.CreateThread(ctx, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hooked", Body: "Body."}); err != nil {
		t.Fatal(err)
	}
	d = next(t, got)
	ev := &forumv1.Event{}
	if err := protojson.Unmarshal(d.body, ev); err != nil || ev.GetType() != forumv1.EventType_EVENT_TYPE_THREAD_CREATED || ev.GetThreadResource().GetTitle() != "Hooked" {
		t.Errorf("delivered %s (%v)", d.body, err)
	}
	if d.header.Get(client.WebhookEventHeader) != "thread.created" {
		t.Errorf("Forum-Event %q", d.header.Get(client.WebhookEventHeader))
	}
	if err := client.VerifyWebhookSignature([]byte(secret), d.header.Get(client.WebhookSignatureHeader), d.body, time.Now(), 0); err != nil {
		t.Errorf("the event's signature: %v", err)
	}
	eventID := d.header.Get(client.WebhookDeliveryHeader)

	// The deliveries are listed, newest first; one is redelivered with its id.
	var deliveries []*forumv1.WebhookDelivery
	deadline := time.Now().Add(callTimeout)
	for len(deliveries) < 2 && time.Now().Before(deadline) {
		deliveries = deliveries[:0]
		for dl, err := range member.WebhookDeliveries(ctx, &forumv1.ListWebhookDeliveriesRequest{Parent: hook.GetName(), PageSize: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			deliveries = append(deliveries, dl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(deliveries) != 2 || deliveries[0].GetDeliveryId() != eventID || !deliveries[0].GetSuccess() || deliveries[0].GetStatusCode() != 200 ||
		deliveries[1].GetEventType() != "ping" || deliveries[0].GetName() == "" {
		t.Fatalf("WebhookDeliveries: %v", deliveries)
	}
	again, err := member.RedeliverWebhookDelivery(ctx, deliveries[0].GetName())
	if err != nil || again.GetDeliveryId() != eventID || again.GetAttempt() != 2 {
		t.Errorf("RedeliverWebhookDelivery: %v, %v", again, err)
	}
	if d := next(t, got); d.header.Get(client.WebhookDeliveryHeader) != eventID {
		t.Errorf("redelivered with Forum-Delivery %q, want %q", d.header.Get(client.WebhookDeliveryHeader), eventID)
	}

	// A new secret signs from then on; the old one no longer verifies.
	rotated, err := member.RotateWebhookSecret(ctx, hook.GetName())
	if err != nil || !strings.HasPrefix(rotated.GetSecret(), "whsec_") || rotated.GetSecret() == secret {
		t.Fatalf("RotateWebhookSecret: %v, %v", rotated, err)
	}
	if _, err := member.PingWebhook(ctx, hook.GetName()); err != nil {
		t.Fatal(err)
	}
	d = next(t, got)
	sig := d.header.Get(client.WebhookSignatureHeader)
	if err := client.VerifyWebhookSignature([]byte(rotated.GetSecret()), sig, d.body, time.Now(), 0); err != nil {
		t.Errorf("signature with the new secret: %v", err)
	}
	if err := client.VerifyWebhookSignature([]byte(secret), sig, d.body, time.Now(), 0); !errors.Is(err, client.ErrWebhookSignature) {
		t.Errorf("signature with the old secret: %v, want ErrWebhookSignature", err)
	}

	// UpdateWebhook changes only the paths named, and honours the etag.
	cur, err := member.GetWebhook(ctx, hook.GetName())
	if err != nil {
		t.Fatal(err)
	}
	upd, err := member.UpdateWebhook(ctx, &forumv1.Webhook{Name: hook.GetName(), Active: false, TargetUrl: "http://ignored.example", Etag: cur.GetEtag()}, "active")
	if err != nil || upd.GetActive() || upd.GetTargetUrl() != recv.URL || upd.GetEtag() == cur.GetEtag() {
		t.Errorf("UpdateWebhook active=false: %v, %v", upd, err)
	}
	if _, err := member.UpdateWebhook(ctx, &forumv1.Webhook{Name: hook.GetName(), Active: true, Etag: cur.GetEtag()}, "active"); !errors.Is(err, client.ErrConflict) {
		t.Errorf("UpdateWebhook with a stale etag: %v, want ErrConflict", err)
	}
	if _, err := other.UpdateWebhook(ctx, &forumv1.Webhook{Name: hook.GetName(), Active: true}, "active"); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("UpdateWebhook of another user's: %v, want ErrPermissionDenied", err)
	}
	if err := member.DeleteWebhook(ctx, hook.GetName(), cur.GetEtag()); !errors.Is(err, client.ErrConflict) {
		t.Errorf("DeleteWebhook with a stale etag: %v, want ErrConflict", err)
	}
	if err := other.DeleteWebhook(ctx, hook.GetName(), ""); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("DeleteWebhook of another user's: %v, want ErrPermissionDenied", err)
	}
	if err := member.DeleteWebhook(ctx, hook.GetName(), upd.GetEtag()); err != nil {
		t.Errorf("DeleteWebhook with its etag: %v", err)
	}
}
