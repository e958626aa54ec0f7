package client_test

import (
	"errors"
	"testing"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestNotificationSettingsAndSubscriptions: the settings round trip, a
// subscription set and listed, and an unsubscribe token that is not one.
func TestNotificationSettingsAndSubscriptions(t *testing.T) {
	f := start(t)
	ctx := callCtx(t)
	s, err := f.member.NotificationSettings(ctx)
	if err != nil || !s.GetEmailMentions() || s.GetEmailDigest() != forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY {
		t.Fatalf("the defaults: %v, %v", s, err)
	}
	s, err = f.member.UpdateNotificationSettings(ctx, &forumv1.NotificationSettings{EmailDigest: forumv1.DigestFrequency_DIGEST_FREQUENCY_NEVER}, "email_digest")
	if err != nil || s.GetEmailDigest() != forumv1.DigestFrequency_DIGEST_FREQUENCY_NEVER || !s.GetEmailMentions() {
		t.Fatalf("after the update: %v, %v", s, err)
	}
	if _, err := f.member.Subscribe(ctx, "themes/knowledge-exchange", client.Watching); err != nil {
		t.Fatal(err)
	}
	var got []string
	for sub, err := range f.member.Subscriptions(ctx, "users/me") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sub.GetTarget()+" "+sub.GetLevel().String())
	}
	if len(got) != 1 || got[0] != "themes/knowledge-exchange SUBSCRIPTION_LEVEL_WATCHING" {
		t.Errorf("subscriptions: %v", got)
	}
	if sub, err := f.member.Subscription(ctx, "themes/knowledge-exchange"); err != nil || sub.GetLevel() != client.Watching {
		t.Errorf("Subscription: %v, %v", sub, err)
	}
	if err := f.member.Unsubscribe(ctx, "themes/knowledge-exchange"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.member.Subscription(ctx, "themes/knowledge-exchange"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Subscription after Unsubscribe: %v, want ErrNotFound", err)
	}
	if _, err := f.member.Subscribe(ctx, "groups/x", client.Muted); err == nil {
		t.Error("a subscription to a group was accepted")
	}
	if _, err := f.member.UnsubscribeByToken(ctx, "not-a-token"); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("a token that is not one: %v, want ErrInvalidArgument", err)
	}
}
