package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/mail"
)

type notificationService struct {
	forumv1.UnsafeNotificationServiceServer
	s *Server
}

// meName is name with a leading `users/me/` read as the caller's own user.
func meName(name string, a authz.Actor) string {
	if rest, ok := strings.CutPrefix(name, "users/me/"); ok && a.User != "" {
		return a.User + "/" + rest
	}
	return name
}

// parseSubscription parses a subscription's name in field (`users/me/…`
// included) and checks the actor may act on it.
func parseSubscription(ctx context.Context, field, name, verb string, change bool) (resname.Subscription, error) {
	a := actorFrom(ctx)
	n, err := resname.ParseSubscription(meName(name, a))
	if err != nil {
		return n, errs.InvalidField(field, "%v", err)
	}
	return n, authz.NotificationOwner(a, n.User.String(), verb, change)
}

// checkLevel records a violation unless l is a level.
func checkLevel(v *errs.Violations, field string, l forumv1.SubscriptionLevel) {
	if _, ok := forumv1.SubscriptionLevel_name[int32(l)]; !ok || l == forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_UNSPECIFIED {
		v.Add(field, "must be WATCHING, TRACKING or MUTED")
	}
}

func (n *notificationService) GetSubscription(ctx context.Context, req *forumv1.GetSubscriptionRequest) (*forumv1.Subscription, error) {
	name, err := parseSubscription(ctx, "name", req.GetName(), "read", false)
	if err != nil {
		return nil, err
	}
	return n.s.store.GetSubscription(ctx, name)
}

func (n *notificationService) ListSubscriptions(ctx context.Context, req *forumv1.ListSubscriptionsRequest) (*forumv1.ListSubscriptionsResponse, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	size := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(a, parent.String(), "list", false); err != nil {
		return nil, err
	}
	subs, next, err := n.s.store.ListSubscriptions(ctx, parent, size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListSubscriptionsResponse{Subscriptions: subs, NextPageToken: next}, nil
}

func (n *notificationService) UpdateSubscription(ctx context.Context, req *forumv1.UpdateSubscriptionRequest) (*forumv1.Subscription, error) {
	var v errs.Violations
	sub := req.GetSubscription()
	if sub == nil {
		v.Add("subscription", "is required")
		return nil, v.Err()
	}
	if paths := req.GetUpdateMask().GetPaths(); len(paths) > 0 && !slices.Equal(paths, []string{"level"}) {
		v.Add("update_mask", "only level can be changed")
	}
	checkLevel(&v, "subscription.level", sub.GetLevel())
	name, err := resname.ParseSubscription(meName(sub.GetName(), actorFrom(ctx)))
	if err != nil {
		v.Add("subscription.name", "%v", err)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(actorFrom(ctx), name.User.String(), "change", true); err != nil {
		return nil, err
	}
	return n.s.store.SetSubscription(ctx, name, sub.GetLevel(), req.GetAllowMissing())
}

func (n *notificationService) DeleteSubscription(ctx context.Context, req *forumv1.DeleteSubscriptionRequest) (*forumv1.DeleteSubscriptionResponse, error) {
	name, err := parseSubscription(ctx, "name", req.GetName(), "delete", true)
	if err != nil {
		return nil, err
	}
	if err := n.s.store.DeleteSubscription(ctx, name, req.GetAllowMissing()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteSubscriptionResponse{}, nil
}

func (n *notificationService) ListNotifications(ctx context.Context, req *forumv1.ListNotificationsRequest) (*forumv1.ListNotificationsResponse, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	size := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(a, parent.String(), "list", false); err != nil {
		return nil, err
	}
	list, next, unread, err := n.s.store.ListNotifications(ctx, parent, size, req.GetPageToken(), req.GetUnreadOnly())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListNotificationsResponse{Notifications: list, NextPageToken: next, UnreadCount: unread}, nil
}

// maxMarkNames bounds MarkNotificationsRead's names.
const maxMarkNames = 100

func (n *notificationService) MarkNotificationsRead(ctx context.Context, req *forumv1.MarkNotificationsReadRequest) (*forumv1.MarkNotificationsReadResponse, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	names := make([]resname.Notification, 0, len(req.GetNames()))
	switch {
	case len(req.GetNames()) == 0 && req.GetBefore() == nil:
		v.Add("names", "name the notifications, or set before")
	case len(req.GetNames()) > 0 && req.GetBefore() != nil:
		v.Add("before", "either names or before, not both")
	case len(req.GetNames()) > maxMarkNames:
		v.Add("names", "at most %d", maxMarkNames)
	}
	if b := req.GetBefore(); b != nil && !b.IsValid() {
		v.Add("before", "is not a valid time")
	}
	for i, s := range req.GetNames() {
		nn, err := resname.ParseNotification(meName(s, a))
		switch {
		case err != nil:
			v.Add(fmt.Sprintf("names[%d]", i), "%v", err)
		case nn.User != parent:
			v.Add(fmt.Sprintf("names[%d]", i), "%s is not a notification of %s", s, parent)
		default:
			names = append(names, nn)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(a, parent.String(), "mark", true); err != nil {
		return nil, err
	}
	marked, unread, err := n.s.store.MarkNotificationsRead(ctx, parent, names, req.GetBefore())
	if err != nil {
		return nil, err
	}
	return &forumv1.MarkNotificationsReadResponse{Marked: marked, UnreadCount: unread}, nil
}

// MarkThreadRead is the thread service's: it records the caller's read
// position.
func (t *threadService) MarkThreadRead(ctx context.Context, req *forumv1.MarkThreadReadRequest) (*forumv1.MarkThreadReadResponse, error) {
	var v errs.Violations
	name := checkThreadName(&v, "name", req.GetName())
	var reply uint64
	if r := req.GetReply(); r != "" {
		rn, err := resname.ParseReply(r)
		switch {
		case err != nil:
			v.Add("reply", "%v", err)
		case rn.Thread != name:
			v.Add("reply", "must be a reply of %s", req.GetName())
		default:
			reply = rn.ID
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	n, err := t.s.store.MarkThreadRead(ctx, actorFrom(ctx), name, reply)
	if err != nil {
		return nil, err
	}
	return &forumv1.MarkThreadReadResponse{UnreadReplyCount: n}, nil
}

// settingsUpdatable are the fields UpdateNotificationSettings changes.
var settingsUpdatable = []string{"email_mentions", "email_replies", "email_digest"}

// parseSettings parses `users/{user}/notificationSettings` (`users/me/…`
// included) in field.
func parseSettings(v *errs.Violations, field, name string, a authz.Actor) resname.User {
	prefix, ok := strings.CutSuffix(name, "/notificationSettings")
	if !ok {
		v.Add(field, "%q is not a notification settings name (users/{user}/notificationSettings)", name)
		return resname.User{}
	}
	return resolveUser(v, field, prefix, a)
}

func (n *notificationService) GetNotificationSettings(ctx context.Context, req *forumv1.GetNotificationSettingsRequest) (*forumv1.NotificationSettings, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	user := parseSettings(&v, "name", req.GetName(), a)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(a, user.String(), "read", false); err != nil {
		return nil, err
	}
	return n.s.store.GetNotificationSettings(ctx, user)
}

func (n *notificationService) UpdateNotificationSettings(ctx context.Context, req *forumv1.UpdateNotificationSettingsRequest) (*forumv1.NotificationSettings, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	in := req.GetNotificationSettings()
	if in == nil {
		v.Add("notification_settings", "is required")
		return nil, v.Err()
	}
	user := parseSettings(&v, "notification_settings.name", in.GetName(), a)
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		v.Add("update_mask", "name the fields to change: %s", strings.Join(settingsUpdatable, ", "))
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if !slices.Contains(settingsUpdatable, p) {
			v.Add("update_mask", "%q cannot be changed (only %s)", p, strings.Join(settingsUpdatable, ", "))
		}
	}
	if slices.Contains(req.GetUpdateMask().GetPaths(), "email_digest") {
		if _, ok := forumv1.DigestFrequency_name[int32(in.GetEmailDigest())]; !ok || in.GetEmailDigest() == forumv1.DigestFrequency_DIGEST_FREQUENCY_UNSPECIFIED {
			v.Add("notification_settings.email_digest", "must be NEVER, DAILY or WEEKLY")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.NotificationOwner(a, user.String(), "change", true); err != nil {
		return nil, err
	}
	return n.s.store.UpdateNotificationSettings(ctx, user, in, req.GetUpdateMask().GetPaths())
}

// maxTokenBytes bounds an unsubscribe token.
const maxTokenBytes = 1024

func (n *notificationService) Unsubscribe(ctx context.Context, req *forumv1.UnsubscribeRequest) (*forumv1.UnsubscribeResponse, error) {
	token := req.GetToken()
	if token == "" {
		return nil, errs.InvalidField("token", "is required")
	}
	if len(token) > maxTokenBytes {
		return nil, errs.InvalidField("token", "is not an unsubscribe token")
	}
	signer, err := mail.NewSigner(n.s.store.MailKey())
	if err != nil {
		return nil, err
	}
	name, scope, err := signer.Verify(token, time.Now())
	if err != nil {
		return nil, err
	}
	user, err := resname.ParseUser(name)
	if err != nil {
		return nil, errs.InvalidField("token", "is not an unsubscribe token")
	}
	st, err := n.s.store.Unsubscribe(ctx, user, scope)
	if err != nil {
		return nil, err
	}
	return &forumv1.UnsubscribeResponse{NotificationSettings: st}, nil
}
