package server

import (
	"context"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
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
		{"theme-visibility", forumv1.ThreadService_MarkThreadRead_FullMethodName, "thread in private theme marked read", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, _ := e.post(t, privateTheme)
			_, err := e.threads.MarkThreadRead(ctx, &forumv1.MarkThreadReadRequest{Name: th.Name})
			return err
		}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	}
}

func init() { ruleCases = append(ruleCases, notificationCases()...) }
