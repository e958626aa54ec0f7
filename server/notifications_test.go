package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// aliceSubscription gives alice a subscription to the public theme and
// returns its name.
func (e *matrixEnv) aliceSubscription(t *testing.T) string {
	t.Helper()
	n, err := resname.SubscriptionTo(resname.MustParseUser(e.alice.name), publicTheme)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SetSubscription(t.Context(), n, forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING, true); err != nil {
		t.Fatal(err)
	}
	return n.String()
}

// notificationOwnerOutcomes: alice reads and changes her own; admins (and
// an ADMIN token) read them (readOK) but change nothing.
func notificationOwnerOutcomes(change bool) outcomes {
	admin := ok
	if change {
		admin = denied
	}
	return outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: admin, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: admin}
}

// notificationCases are the cases of rule notification-owner, one per
// method, and of theme-visibility for MarkThreadRead.
func notificationCases() []ruleCase {
	ns := func(e *matrixEnv) forumv1.NotificationServiceClient {
		return forumv1.NewNotificationServiceClient(e.conn)
	}
	return []ruleCase{
		{"notification-owner", forumv1.NotificationService_GetSubscription_FullMethodName, "alice's subscription", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).GetSubscription(ctx, &forumv1.GetSubscriptionRequest{Name: e.aliceSubscription(t)})
			return err
		}, notificationOwnerOutcomes(false)},
		{"notification-owner", forumv1.NotificationService_ListSubscriptions_FullMethodName, "alice's subscriptions", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).ListSubscriptions(ctx, &forumv1.ListSubscriptionsRequest{Parent: e.alice.name})
			return err
		}, notificationOwnerOutcomes(false)},
		{"notification-owner", forumv1.NotificationService_UpdateSubscription_FullMethodName, "alice's subscription muted", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).UpdateSubscription(ctx, &forumv1.UpdateSubscriptionRequest{Subscription: &forumv1.Subscription{Name: e.aliceSubscription(t), Level: forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED}})
			return err
		}, notificationOwnerOutcomes(true)},
		{"notification-owner", forumv1.NotificationService_DeleteSubscription_FullMethodName, "alice's subscription", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).DeleteSubscription(ctx, &forumv1.DeleteSubscriptionRequest{Name: e.aliceSubscription(t)})
			return err
		}, notificationOwnerOutcomes(true)},
		{"notification-owner", forumv1.NotificationService_ListNotifications_FullMethodName, "alice's notifications", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).ListNotifications(ctx, &forumv1.ListNotificationsRequest{Parent: e.alice.name})
			return err
		}, notificationOwnerOutcomes(false)},
		{"notification-owner", forumv1.NotificationService_MarkNotificationsRead_FullMethodName, "alice's notifications read", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).MarkNotificationsRead(ctx, &forumv1.MarkNotificationsReadRequest{Parent: e.alice.name, Before: timestamppb.New(time.Now())})
			return err
		}, notificationOwnerOutcomes(true)},
		{"notification-owner", forumv1.NotificationService_GetNotificationSettings_FullMethodName, "alice's settings", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).GetNotificationSettings(ctx, &forumv1.GetNotificationSettingsRequest{Name: e.alice.name + "/notificationSettings"})
			return err
		}, notificationOwnerOutcomes(false)},
		{"notification-owner", forumv1.NotificationService_UpdateNotificationSettings_FullMethodName, "alice's settings changed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := ns(e).UpdateNotificationSettings(ctx, &forumv1.UpdateNotificationSettingsRequest{NotificationSettings: &forumv1.NotificationSettings{Name: e.alice.name + "/notificationSettings", EmailDigest: forumv1.DigestFrequency_DIGEST_FREQUENCY_DAILY}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email_digest"}}})
			return err
		}, notificationOwnerOutcomes(true)},
		{"theme-visibility", forumv1.ThreadService_MarkThreadRead_FullMethodName, "thread in private theme marked read", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, _ := e.post(t, privateTheme)
			_, err := e.threads.MarkThreadRead(ctx, &forumv1.MarkThreadReadRequest{Name: th.Name})
			return err
		}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	}
}

func init() { ruleCases = append(ruleCases, notificationCases()...) }

// TestNotificationBadInputs checks that each bad input gets a clear error
// (its code, the field) and changes nothing.
func TestNotificationBadInputs(t *testing.T) {
	e := newTestEnv(t)
	ns := forumv1.NewNotificationServiceClient(e.conn)
	actx := e.alice.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "T", Body: "b"})
	other := e.mustThread(t, e.bob, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "U", Body: "c"})
	r, err := e.replies.CreateReply(e.bob.ctx(t), &forumv1.CreateReplyRequest{Parent: other.Name, Reply: &forumv1.Reply{Body: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(name string, level forumv1.SubscriptionLevel) error {
		_, err := ns.UpdateSubscription(actx, &forumv1.UpdateSubscriptionRequest{Subscription: &forumv1.Subscription{Name: name, Level: level}, AllowMissing: true})
		return err
	}
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "@user%04d ", i)
		}
		return b.String()
	}
	for _, c := range []struct {
		what  string
		err   error
		code  codes.Code
		field string
	}{
		{"a subscription to a missing thread", sub("users/me/subscriptions/thread-99999", forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING), codes.NotFound, ""},
		{"a subscription to a missing theme", sub("users/me/subscriptions/theme-nope", forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING), codes.NotFound, ""},
		{"a subscription name of no kind", sub("users/me/subscriptions/groups-x", forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING), codes.InvalidArgument, "subscription.name"},
		{"no level", sub("users/me/subscriptions/"+strings.Replace(th.Name, "threads/", "thread-", 1), 0), codes.InvalidArgument, "subscription.level"},
		{"a level out of range", sub("users/me/subscriptions/"+strings.Replace(th.Name, "threads/", "thread-", 1), 9), codes.InvalidArgument, "subscription.level"},
		{"changing without allow_missing", func() error {
			_, err := ns.UpdateSubscription(actx, &forumv1.UpdateSubscriptionRequest{Subscription: &forumv1.Subscription{Name: "users/me/subscriptions/" + strings.Replace(th.Name, "threads/", "thread-", 1), Level: forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED}})
			return err
		}(), codes.NotFound, ""},
		{"a mask of another field", func() error {
			_, err := ns.UpdateSubscription(actx, &forumv1.UpdateSubscriptionRequest{Subscription: &forumv1.Subscription{Name: "users/me/subscriptions/theme-knowledge-exchange", Level: forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"target"}}, AllowMissing: true})
			return err
		}(), codes.InvalidArgument, "update_mask"},
		{"another user's notifications", func() error {
			_, err := ns.ListNotifications(actx, &forumv1.ListNotificationsRequest{Parent: e.bob.name})
			return err
		}(), codes.PermissionDenied, ""},
		{"another user's subscription", func() error {
			_, err := ns.DeleteSubscription(actx, &forumv1.DeleteSubscriptionRequest{Name: e.bob.name + "/subscriptions/theme-knowledge-exchange", AllowMissing: true})
			return err
		}(), codes.PermissionDenied, ""},
		{"marking nothing", func() error {
			_, err := ns.MarkNotificationsRead(actx, &forumv1.MarkNotificationsReadRequest{Parent: "users/me"})
			return err
		}(), codes.InvalidArgument, "names"},
		{"marking another user's notification", func() error {
			_, err := ns.MarkNotificationsRead(actx, &forumv1.MarkNotificationsReadRequest{Parent: "users/me", Names: []string{e.bob.name + "/notifications/1"}})
			return err
		}(), codes.InvalidArgument, "names[0]"},
		{"marking by names and time", func() error {
			_, err := ns.MarkNotificationsRead(actx, &forumv1.MarkNotificationsReadRequest{Parent: "users/me", Names: []string{"users/me/notifications/1"}, Before: timestamppb.Now()})
			return err
		}(), codes.InvalidArgument, "before"},
		{"a read position in another thread", func() error {
			_, err := e.threads.MarkThreadRead(actx, &forumv1.MarkThreadReadRequest{Name: th.Name, Reply: r.Name})
			return err
		}(), codes.InvalidArgument, "reply"},
		{"51 mentions", func() error {
			_, err := e.replies.CreateReply(actx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: many(51)}})
			return err
		}(), codes.InvalidArgument, "reply.body"},
		{"10,000 mentions", func() error {
			_, err := e.replies.CreateReply(actx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: many(10000)}})
			return err
		}(), codes.InvalidArgument, "reply.body"},
		{"a username filter of another form", func() error {
			_, err := e.users.ListUsers(actx, &forumv1.ListUsersRequest{Filter: `display_name = "x"`})
			return err
		}(), codes.InvalidArgument, "filter"},
	} {
		if status.Code(c.err) != c.code {
			t.Errorf("%s: %v, want %s", c.what, c.err, c.code)
		} else if c.field != "" && !slices.Contains(violatedFields(c.err), c.field) {
			t.Errorf("%s: %v, want a violation of %s", c.what, c.err, c.field)
		}
	}
	// Nothing changed: no subscription of alice's, the thread without a
	// reply.
	if subs, err := ns.ListSubscriptions(actx, &forumv1.ListSubscriptionsRequest{Parent: "users/me"}); err != nil || len(subs.Subscriptions) != 0 {
		t.Errorf("alice's subscriptions after the bad calls: %v, %v", subs, err)
	}
	if got, err := e.threads.GetThread(actx, &forumv1.GetThreadRequest{Name: th.Name}); err != nil || got.ReplyCount != 0 {
		t.Errorf("the thread after the refused replies: %v, %v", got, err)
	}
	// 50 mentions are accepted.
	if _, err := e.replies.CreateReply(actx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: many(50)}}); err != nil {
		t.Errorf("50 mentions: %v", err)
	}
}

// TestListUsersByUsername checks ListUsers' username filter, exact and by
// prefix.
func TestListUsersByUsername(t *testing.T) {
	e := newTestEnv(t)
	ctx := e.alice.ctx(t)
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{`username = "alice"`, []string{"alice"}},
		{`username = "Alice"`, []string{"alice"}},
		{`username="al*"`, []string{"alice"}},
		{`username = "a*"`, []string{"admin", "alice"}},
		{`username = "ali"`, nil},
		{`username = "zz*"`, nil},
	} {
		resp, err := e.users.ListUsers(ctx, &forumv1.ListUsersRequest{Filter: c.filter})
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		var got []string
		for _, u := range resp.Users {
			got = append(got, u.Username)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.filter, got, c.want)
		}
	}
	// Paging by prefix.
	resp, err := e.users.ListUsers(ctx, &forumv1.ListUsersRequest{Filter: `username = "a*"`, PageSize: 1})
	if err != nil || len(resp.Users) != 1 || resp.NextPageToken == "" {
		t.Fatalf("page 1: %v, %v", resp, err)
	}
	resp, err = e.users.ListUsers(ctx, &forumv1.ListUsersRequest{Filter: `username = "a*"`, PageSize: 1, PageToken: resp.NextPageToken})
	if err != nil || len(resp.Users) != 1 || resp.Users[0].Username != "alice" {
		t.Fatalf("page 2: %v, %v", resp, err)
	}
}
