// Package resname holds forum's resource names (AIP-122) as typed ids: each
// name is parsed once, where a request enters the server, into the id of
// its kind, and the layers below take the typed id, never the string. A
// typed id's String gives the name back.
//
//	themes/{slug}                       Theme
//	threads/{id}                        Thread
//	threads/{thread}/replies/{id}       Reply
//	users/{id}                          User
//	users/{user}/tokens/{id}            APIToken
//	groups/{slug}                       Group
//	organizations/{slug}                Organization
//	invitations/{id}                    Invitation
//
// Ids are positive decimal numbers without sign, leading zeros or spaces;
// slugs are lower-case `[a-z0-9]+(-[a-z0-9]+)*` of at most MaxSlugLen
// bytes. A parse error says which name was expected, in words a client
// developer can act on.
package resname

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxSlugLen bounds the slug of a theme, a group or an organization.
const MaxSlugLen = 63

// Theme is `themes/{slug}`.
type Theme struct{ Slug string }

// Thread is `threads/{id}`.
type Thread struct{ ID uint64 }

// Reply is `threads/{thread}/replies/{id}`.
type Reply struct {
	Thread Thread
	ID     uint64
}

// User is `users/{id}`.
type User struct{ ID uint64 }

// APIToken is `users/{user}/tokens/{id}`.
type APIToken struct {
	User User
	ID   uint64
}

// Group is `groups/{slug}`.
type Group struct{ Slug string }

// Organization is `organizations/{slug}`.
type Organization struct{ Slug string }

// Convening is `convenings/{slug}`.
type Convening struct{ Slug string }

func (n Convening) String() string { return "convenings/" + n.Slug }

// ParseConvening parses `convenings/{slug}`.
func ParseConvening(name string) (Convening, error) {
	slug, err := parseSlug(name, "convenings/", "a convening name (convenings/{slug})")
	return Convening{slug}, err
}

// Invitation is `invitations/{id}`.
type Invitation struct{ ID uint64 }

func (n Theme) String() string        { return "themes/" + n.Slug }
func (n Thread) String() string       { return "threads/" + strconv.FormatUint(n.ID, 10) }
func (n Reply) String() string        { return n.Thread.String() + "/replies/" + strconv.FormatUint(n.ID, 10) }
func (n User) String() string         { return "users/" + strconv.FormatUint(n.ID, 10) }
func (n APIToken) String() string     { return n.User.String() + "/tokens/" + strconv.FormatUint(n.ID, 10) }
func (n Group) String() string        { return "groups/" + n.Slug }
func (n Organization) String() string { return "organizations/" + n.Slug }
func (n Invitation) String() string   { return "invitations/" + strconv.FormatUint(n.ID, 10) }

// AppendText appends the name, as String gives it, to b
// (encoding.TextAppender): with room in b, it does not allocate, for the
// hot paths that hash or write a thread's name.
func (n Thread) AppendText(b []byte) ([]byte, error) {
	return strconv.AppendUint(append(b, "threads/"...), n.ID, 10), nil
}

// ParseTheme parses `themes/{slug}`.
func ParseTheme(name string) (Theme, error) {
	slug, err := parseSlug(name, "themes/", "a theme name (themes/{slug})")
	return Theme{slug}, err
}

// ParseGroup parses `groups/{slug}`.
func ParseGroup(name string) (Group, error) {
	slug, err := parseSlug(name, "groups/", "a group name (groups/{slug})")
	return Group{slug}, err
}

// ParseOrganization parses `organizations/{slug}`.
func ParseOrganization(name string) (Organization, error) {
	slug, err := parseSlug(name, "organizations/", "an organization name (organizations/{slug})")
	return Organization{slug}, err
}

// ParseThread parses `threads/{id}`.
func ParseThread(name string) (Thread, error) {
	id, err := parseID(name, "threads/", "a thread name (threads/{id})")
	return Thread{id}, err
}

// ParseUser parses `users/{id}`.
func ParseUser(name string) (User, error) {
	id, err := parseID(name, "users/", "a user name (users/{id})")
	return User{id}, err
}

// ParseInvitation parses `invitations/{id}`.
func ParseInvitation(name string) (Invitation, error) {
	id, err := parseID(name, "invitations/", "an invitation name (invitations/{id})")
	return Invitation{id}, err
}

// ParseReply parses `threads/{thread}/replies/{id}`.
func ParseReply(name string) (Reply, error) {
	t, r, ok := strings.Cut(name, "/replies/")
	if ok {
		if th, err := ParseThread(t); err == nil {
			if id, ok := id(r); ok {
				return Reply{th, id}, nil
			}
		}
	}
	return Reply{}, fmt.Errorf("%q is not a reply name (threads/{thread}/replies/{reply})", name)
}

// ActionItem is `threads/{thread}/actionItems/{id}`.
type ActionItem struct {
	Thread Thread
	ID     uint64
}

func (n ActionItem) String() string {
	return n.Thread.String() + "/actionItems/" + strconv.FormatUint(n.ID, 10)
}

// ParseActionItem parses `threads/{thread}/actionItems/{id}`.
func ParseActionItem(name string) (ActionItem, error) {
	t, r, ok := strings.Cut(name, "/actionItems/")
	if ok {
		if th, err := ParseThread(t); err == nil {
			if id, ok := id(r); ok {
				return ActionItem{th, id}, nil
			}
		}
	}
	return ActionItem{}, fmt.Errorf("%q is not an action item name (threads/{thread}/actionItems/{item})", name)
}

// ParseAPIToken parses `users/{user}/tokens/{id}`.
func ParseAPIToken(name string) (APIToken, error) {
	u, t, ok := strings.Cut(name, "/tokens/")
	if ok {
		if user, err := ParseUser(u); err == nil {
			if id, ok := id(t); ok {
				return APIToken{user, id}, nil
			}
		}
	}
	return APIToken{}, fmt.Errorf("%q is not an API token name (users/{user}/tokens/{token})", name)
}

// ValidSlug reports whether s is a lower-case slug of at most max bytes:
// `[a-z0-9]+(-[a-z0-9]+)*`.
func ValidSlug(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

func parseSlug(name, prefix, what string) (string, error) {
	slug, ok := strings.CutPrefix(name, prefix)
	if !ok || !ValidSlug(slug, MaxSlugLen) {
		return "", fmt.Errorf("%q is not %s", name, what)
	}
	return slug, nil
}

func parseID(name, prefix, what string) (uint64, error) {
	s, ok := strings.CutPrefix(name, prefix)
	if ok {
		if id, ok := id(s); ok {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%q is not %s", name, what)
}

// id parses a positive decimal id without sign, leading zeros or spaces.
func id(s string) (uint64, bool) {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// MustParseThread is ParseThread for names known to be good (tests,
// constants); it panics on a bad one.
func MustParseThread(name string) Thread { return must(ParseThread(name)) }

// MustParseReply is ParseReply for names known to be good; it panics on a
// bad one.
func MustParseReply(name string) Reply { return must(ParseReply(name)) }

// MustParseUser is ParseUser for names known to be good; it panics on a
// bad one.
func MustParseUser(name string) User { return must(ParseUser(name)) }

// MustParseTheme is ParseTheme for names known to be good; it panics on a
// bad one.
func MustParseTheme(name string) Theme { return must(ParseTheme(name)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic("resname: " + err.Error())
	}
	return v
}

// Webhook is `users/{user}/webhooks/{id}`.
type Webhook struct {
	User User
	ID   uint64
}

// WebhookDelivery is `users/{user}/webhooks/{webhook}/deliveries/{id}`.
type WebhookDelivery struct {
	Webhook Webhook
	ID      uint64
}

func (n Webhook) String() string {
	return n.User.String() + "/webhooks/" + strconv.FormatUint(n.ID, 10)
}
func (n WebhookDelivery) String() string {
	return n.Webhook.String() + "/deliveries/" + strconv.FormatUint(n.ID, 10)
}

// ParseWebhook parses `users/{user}/webhooks/{id}`.
func ParseWebhook(name string) (Webhook, error) {
	u, w, ok := strings.Cut(name, "/webhooks/")
	if ok {
		if user, err := ParseUser(u); err == nil {
			if id, ok := id(w); ok {
				return Webhook{user, id}, nil
			}
		}
	}
	return Webhook{}, fmt.Errorf("%q is not a webhook name (users/{user}/webhooks/{webhook})", name)
}

// ParseWebhookDelivery parses `users/{user}/webhooks/{webhook}/deliveries/{id}`.
func ParseWebhookDelivery(name string) (WebhookDelivery, error) {
	w, d, ok := strings.Cut(name, "/deliveries/")
	if ok {
		if wh, err := ParseWebhook(w); err == nil {
			if id, ok := id(d); ok {
				return WebhookDelivery{wh, id}, nil
			}
		}
	}
	return WebhookDelivery{}, fmt.Errorf("%q is not a webhook delivery name (users/{user}/webhooks/{webhook}/deliveries/{delivery})", name)
}

// Subscription is `users/{user}/subscriptions/thread-{id}` or
// `users/{user}/subscriptions/theme-{slug}`: a user's subscription to one
// thread or one theme, named after it. Exactly one of Thread and Theme is
// set (Thread.ID != 0 or Theme.Slug != "").
type Subscription struct {
	User   User
	Thread Thread
	Theme  Theme
}

// SubscriptionTo returns the name of user's subscription to target, a
// thread or a theme name.
func SubscriptionTo(user User, target string) (Subscription, error) {
	if t, err := ParseThread(target); err == nil {
		return Subscription{User: user, Thread: t}, nil
	}
	if t, err := ParseTheme(target); err == nil {
		return Subscription{User: user, Theme: t}, nil
	}
	return Subscription{}, fmt.Errorf("%q is neither a thread (threads/{id}) nor a theme (themes/{slug})", target)
}

// Target is the name of what the subscription is on.
func (n Subscription) Target() string {
	if n.Thread.ID != 0 {
		return n.Thread.String()
	}
	return n.Theme.String()
}

func (n Subscription) String() string {
	if n.Thread.ID != 0 {
		return n.User.String() + "/subscriptions/thread-" + strconv.FormatUint(n.Thread.ID, 10)
	}
	return n.User.String() + "/subscriptions/theme-" + n.Theme.Slug
}

// ParseSubscription parses `users/{user}/subscriptions/thread-{id}` and
// `users/{user}/subscriptions/theme-{slug}`.
func ParseSubscription(name string) (Subscription, error) {
	u, s, ok := strings.Cut(name, "/subscriptions/")
	if ok {
		if user, err := ParseUser(u); err == nil {
			if rest, ok := strings.CutPrefix(s, "thread-"); ok {
				if id, ok := id(rest); ok {
					return Subscription{User: user, Thread: Thread{id}}, nil
				}
			} else if rest, ok := strings.CutPrefix(s, "theme-"); ok && ValidSlug(rest, MaxSlugLen) {
				return Subscription{User: user, Theme: Theme{rest}}, nil
			}
		}
	}
	return Subscription{}, fmt.Errorf("%q is not a subscription name (users/{user}/subscriptions/thread-{id} or users/{user}/subscriptions/theme-{slug})", name)
}

// Notification is `users/{user}/notifications/{id}`.
type Notification struct {
	User User
	ID   uint64
}

func (n Notification) String() string {
	return n.User.String() + "/notifications/" + strconv.FormatUint(n.ID, 10)
}

// ParseNotification parses `users/{user}/notifications/{id}`.
func ParseNotification(name string) (Notification, error) {
	u, s, ok := strings.Cut(name, "/notifications/")
	if ok {
		if user, err := ParseUser(u); err == nil {
			if id, ok := id(s); ok {
				return Notification{user, id}, nil
			}
		}
	}
	return Notification{}, fmt.Errorf("%q is not a notification name (users/{user}/notifications/{id})", name)
}
