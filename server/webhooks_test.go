package server

import (
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// fieldOf returns the fields a status's BadRequest names.
func fieldsOf(err error) string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	return strings.Join(out, ",")
}

// TestWebhookBadInputs: each bad input gets a clear error and creates
// nothing.
func TestWebhookBadInputs(t *testing.T) {
	e := newTestEnv(t) // private addresses refused
	wh := forumv1.NewWebhookServiceClient(e.conn)
	ctx := e.alice.ctx(t)
	count := func() int {
		resp, err := wh.ListWebhooks(ctx, &forumv1.ListWebhooksRequest{Parent: "users/me"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Webhooks)
	}
	for _, c := range []struct {
		what  string
		hook  *forumv1.Webhook
		field string
	}{
		{"a bad URL", &forumv1.Webhook{TargetUrl: "not a url"}, "webhook.target_url"},
		{"no URL", &forumv1.Webhook{}, "webhook.target_url"},
		{"a loopback URL", &forumv1.Webhook{TargetUrl: "http://127.0.0.1:8080/hook"}, "webhook.target_url"},
		{"a private URL", &forumv1.Webhook{TargetUrl: "https://10.0.0.7/hook"}, "webhook.target_url"},
		{"a link-local URL", &forumv1.Webhook{TargetUrl: "http://169.254.169.254/latest/meta-data"}, "webhook.target_url"},
		{"an unknown event type", &forumv1.Webhook{TargetUrl: "https://203.0.113.5/", EventTypes: []string{"reply.exploded"}}, "webhook.event_types[0]"},
		{"a bad theme", &forumv1.Webhook{TargetUrl: "https://203.0.113.5/", Themes: []string{"nope"}}, "webhook.themes[0]"},
	} {
		_, err := wh.CreateWebhook(ctx, &forumv1.CreateWebhookRequest{Parent: "users/me", Webhook: c.hook})
		if status.Code(err) != codes.InvalidArgument || fieldsOf(err) != c.field {
			t.Errorf("%s: %v (fields %q); want INVALID_ARGUMENT naming %s", c.what, err, fieldsOf(err), c.field)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d webhooks after bad inputs", n)
	}

	// Bob's webhook, named under alice or under bob: NOT_FOUND or
	// PERMISSION_DENIED, nothing changed.
	bobs, err := wh.CreateWebhook(e.bob.ctx(t), &forumv1.CreateWebhookRequest{Parent: "users/me", Webhook: &forumv1.Webhook{TargetUrl: "https://203.0.113.5/bob", EventTypes: []string{"EVENT_TYPE_REPLY_CREATED"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bobs.Secret, "whsec_") || len(bobs.EventTypes) != 1 || bobs.EventTypes[0] != "reply.created" {
		t.Errorf("created: %v", bobs)
	}
	id := bobs.Name[strings.LastIndex(bobs.Name, "/")+1:]
	if _, err := wh.GetWebhook(ctx, &forumv1.GetWebhookRequest{Name: e.alice.name + "/webhooks/" + id}); status.Code(err) != codes.NotFound {
		t.Errorf("bob's webhook id under alice: %v; want NOT_FOUND", err)
	}
	if _, err := wh.DeleteWebhook(ctx, &forumv1.DeleteWebhookRequest{Name: bobs.Name}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("deleting bob's webhook as alice: %v; want PERMISSION_DENIED", err)
	}
	got, err := wh.GetWebhook(e.bob.ctx(t), &forumv1.GetWebhookRequest{Name: bobs.Name})
	if err != nil || got.Secret != "" {
		t.Fatalf("bob's webhook: %v, %v (the secret is never read back)", got, err)
	}

	// A stale etag.
	if _, err := wh.UpdateWebhook(e.bob.ctx(t), &forumv1.UpdateWebhookRequest{Webhook: &forumv1.Webhook{Name: bobs.Name, Active: false, Etag: `"stale"`}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"active"}}}); status.Code(err) != codes.Aborted {
		t.Errorf("stale etag: %v; want ABORTED", err)
	}
	if _, err := wh.UpdateWebhook(e.bob.ctx(t), &forumv1.UpdateWebhookRequest{Webhook: &forumv1.Webhook{Name: bobs.Name, TargetUrl: "http://127.0.0.1/x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"target_url"}}}); status.Code(err) != codes.InvalidArgument || fieldsOf(err) != "webhook.target_url" {
		t.Errorf("update to a loopback URL: %v", err)
	}
	after, err := wh.GetWebhook(e.bob.ctx(t), &forumv1.GetWebhookRequest{Name: bobs.Name})
	if err != nil || after.Etag != got.Etag || !after.Active {
		t.Errorf("bob's webhook changed: %v %v", after, err)
	}
	// Rotation gives a new secret once.
	rot, err := wh.RotateWebhookSecret(e.bob.ctx(t), &forumv1.RotateWebhookSecretRequest{Name: bobs.Name})
	if err != nil || rot.Secret == "" || rot.Secret == bobs.Secret {
		t.Errorf("rotate: %v %v", rot, err)
	}
}

// TestWebhookAllowPrivate: with the setting, loopback targets are
// accepted.
func TestWebhookAllowPrivate(t *testing.T) {
	e := newTestEnvWith(t, Config{WebhookAllowPrivate: true})
	if _, err := forumv1.NewWebhookServiceClient(e.conn).CreateWebhook(e.alice.ctx(t), &forumv1.CreateWebhookRequest{Parent: "users/me", Webhook: &forumv1.Webhook{TargetUrl: "http://127.0.0.1:8080/hook"}}); err != nil {
		t.Error(err)
	}
}
