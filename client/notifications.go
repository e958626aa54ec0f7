package client

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Notifications and subscriptions: forumd tells users of replies to their
// posts, mentions (`@username`), new posts in what they watch, follow-ups
// opened on their threads and threads resolved. Each notification also
// comes on its recipient's event stream (Events, type
// "notification.created").
//
// Subscription names say what they are on:
// `users/{user}/subscriptions/thread-{id}` or
// `users/{user}/subscriptions/theme-{slug}`; `users/me` names the Client's
// user.

// Levels of a subscription.
const (
	Watching = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING
	Tracking = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_TRACKING
	Muted    = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED
)

// SubscriptionName returns the name of the Client user's subscription to
// target, a thread (`threads/7`) or a theme (`themes/knowledge-exchange`).
func SubscriptionName(target string) (string, error) {
	if id, ok := strings.CutPrefix(target, "threads/"); ok && id != "" && !strings.Contains(id, "/") {
		return "users/me/subscriptions/thread-" + id, nil
	}
	if slug, ok := strings.CutPrefix(target, "themes/"); ok && slug != "" && !strings.Contains(slug, "/") {
		return "users/me/subscriptions/theme-" + slug, nil
	}
	return "", fmt.Errorf("client: %q is neither a thread (threads/{id}) nor a theme (themes/{slug})", target)
}

// Subscribe sets the Client user's level on target, a thread or a theme
// name (Watching, Tracking or Muted), creating the subscription if there
// is none. A target that does not exist, or that the user may not see, is
// ErrNotFound.
func (c *Client) Subscribe(ctx context.Context, target string, level forumv1.SubscriptionLevel) (*forumv1.Subscription, error) {
	name, err := SubscriptionName(target)
	if err != nil {
		return nil, err
	}
	return c.notes.UpdateSubscription(ctx, &forumv1.UpdateSubscriptionRequest{
		Subscription: &forumv1.Subscription{Name: name, Level: level}, AllowMissing: true,
	})
}

// Subscription returns the Client user's subscription to target, a thread
// or a theme name: ErrNotFound when there is none (the default level:
// replies to the user and mentions).
func (c *Client) Subscription(ctx context.Context, target string) (*forumv1.Subscription, error) {
	name, err := SubscriptionName(target)
	if err != nil {
		return nil, err
	}
	return c.notes.GetSubscription(ctx, &forumv1.GetSubscriptionRequest{Name: name})
}

// Unsubscribe removes the Client user's subscription to target, if any:
// the thread or theme goes back to the default (replies to the user and
// mentions only).
func (c *Client) Unsubscribe(ctx context.Context, target string) error {
	name, err := SubscriptionName(target)
	if err != nil {
		return err
	}
	_, err = c.notes.DeleteSubscription(ctx, &forumv1.DeleteSubscriptionRequest{Name: name, AllowMissing: true})
	return err
}

// Subscriptions returns the subscriptions of the user named parent
// (`users/{user}` or `users/me`), page after page. Iteration stops at the
// first error, yielded with a nil subscription.
func (c *Client) Subscriptions(ctx context.Context, parent string) iter.Seq2[*forumv1.Subscription, error] {
	return paginate("", func(token string) ([]*forumv1.Subscription, string, error) {
		resp, err := c.notes.ListSubscriptions(ctx, &forumv1.ListSubscriptionsRequest{Parent: parent, PageToken: token})
		return resp.GetSubscriptions(), resp.GetNextPageToken(), err
	})
}

// Notifications returns the notifications of the user named by req's
// parent (`users/me` when req is nil or its parent empty), unread first,
// newest first within each, page after page; req is not changed.
// Iteration stops at the first error, yielded with a nil notification.
func (c *Client) Notifications(ctx context.Context, req *forumv1.ListNotificationsRequest) iter.Seq2[*forumv1.Notification, error] {
	base := cloneOr(req)
	if base.Parent == "" {
		base.Parent = "users/me"
	}
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Notification, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.notes.ListNotifications(ctx, r)
		return resp.GetNotifications(), resp.GetNextPageToken(), err
	})
}

// UnreadNotifications returns how many of the Client user's notifications
// are unread (at most 1,000 are counted).
func (c *Client) UnreadNotifications(ctx context.Context) (int64, error) {
	resp, err := c.notes.ListNotifications(ctx, &forumv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1, UnreadOnly: true})
	return resp.GetUnreadCount(), err
}

// MarkNotificationsRead marks the Client user's notifications named read
// (at most 100) and returns how many remain unread.
func (c *Client) MarkNotificationsRead(ctx context.Context, names ...string) (int64, error) {
	resp, err := c.notes.MarkNotificationsRead(ctx, &forumv1.MarkNotificationsReadRequest{Parent: "users/me", Names: names})
	return resp.GetUnreadCount(), err
}

// MarkAllNotificationsRead marks read every notification of the Client
// user's made at or before before, and returns how many remain unread.
func (c *Client) MarkAllNotificationsRead(ctx context.Context, before time.Time) (int64, error) {
	resp, err := c.notes.MarkNotificationsRead(ctx, &forumv1.MarkNotificationsReadRequest{Parent: "users/me", Before: timestamppb.New(before)})
	return resp.GetUnreadCount(), err
}

// MarkThreadRead records that the Client user has read thread up to reply
// (a reply name of that thread; "" for its last reply), and returns how
// many replies remain unread after it. The position only moves forward.
func (c *Client) MarkThreadRead(ctx context.Context, thread, reply string) (int32, error) {
	resp, err := c.threads.MarkThreadRead(ctx, &forumv1.MarkThreadReadRequest{Name: thread, Reply: reply})
	return resp.GetUnreadReplyCount(), err
}

// NotificationSettings returns what the Client user is mailed: mentions
// and replies at once, and the digest's frequency.
func (c *Client) NotificationSettings(ctx context.Context) (*forumv1.NotificationSettings, error) {
	return c.notes.GetNotificationSettings(ctx, &forumv1.GetNotificationSettingsRequest{Name: "users/me/notificationSettings"})
}

// UpdateNotificationSettings sets the fields paths ("email_mentions",
// "email_replies", "email_digest") of the Client user's settings to
// settings' and returns the settings after the change.
func (c *Client) UpdateNotificationSettings(ctx context.Context, settings *forumv1.NotificationSettings, paths ...string) (*forumv1.NotificationSettings, error) {
	s := proto.CloneOf(settings)
	s.Name = "users/me/notificationSettings"
	return c.notes.UpdateNotificationSettings(ctx, &forumv1.UpdateNotificationSettingsRequest{
		NotificationSettings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	})
}

// UnsubscribeByToken follows an e-mail's unsubscribe link, given its
// token: the mail it names stops, without signing in. A forged token is
// ErrInvalidArgument, an expired one ErrFailedPrecondition.
func (c *Client) UnsubscribeByToken(ctx context.Context, token string) (*forumv1.NotificationSettings, error) {
	resp, err := c.notes.Unsubscribe(ctx, &forumv1.UnsubscribeRequest{Token: token})
	return resp.GetNotificationSettings(), err
}
