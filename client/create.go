package client

import (
	"context"
	"errors"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// The creates below give every request a new request_id (NewRequestID), so
// the retry policy can repeat them after an UNAVAILABLE status and the
// server still creates one resource. To choose the id yourself, call the
// stub with request_id set.

// CreateThread creates a thread. Set its theme and title, and optionally
// body, kind, follow_up_of, tags, state and, for conveners and admins,
// pinned.
func (c *Client) CreateThread(ctx context.Context, thread *forumv1.Thread) (*forumv1.Thread, error) {
	return c.threads.CreateThread(ctx, &forumv1.CreateThreadRequest{Thread: thread, RequestId: NewRequestID()})
}

// CreateFollowUp opens a follow-up thread of the thread named of
// (`threads/{thread}`): thread needs a title and may have a body and tags;
// its kind and follow_up_of are set here, and an empty theme becomes the
// theme of the thread followed up. Only conveners and admins open
// follow-ups. thread is not changed.
func (c *Client) CreateFollowUp(ctx context.Context, of string, thread *forumv1.Thread) (*forumv1.Thread, error) {
	if thread == nil {
		return nil, errors.New("client: CreateFollowUp: nil thread")
	}
	t := cloneOr(thread)
	t.Kind = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP
	t.FollowUpOf = of
	if t.Theme == "" {
		parent, err := c.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: of})
		if err != nil {
			return nil, err
		}
		t.Theme = parent.GetTheme()
	}
	return c.CreateThread(ctx, t)
}

// CreateReply adds a reply to the thread named parent (`threads/{thread}`).
// Set its body and optionally in_reply_to.
func (c *Client) CreateReply(ctx context.Context, parent string, reply *forumv1.Reply) (*forumv1.Reply, error) {
	return c.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: parent, Reply: reply, RequestId: NewRequestID()})
}

// CreateTheme creates the theme `themes/{id}`, where id is a lowercase slug.
// Set its display name and optionally its description. Conveners and admins
// only.
func (c *Client) CreateTheme(ctx context.Context, id string, theme *forumv1.Theme) (*forumv1.Theme, error) {
	return c.themes.CreateTheme(ctx, &forumv1.CreateThemeRequest{ThemeId: id, Theme: theme, RequestId: NewRequestID()})
}

// CreateUser creates a user with a password of 10 to 256 bytes. Set the
// user's username, display name and role. Admins only.
func (c *Client) CreateUser(ctx context.Context, user *forumv1.User, password string) (*forumv1.User, error) {
	return c.users.CreateUser(ctx, &forumv1.CreateUserRequest{User: user, Password: password, RequestId: NewRequestID()})
}

// CreateOrganization creates the organisation `organizations/{id}`, where id
// is a lowercase slug. Set its display name, country and kind. Conveners and
// admins only.
func (c *Client) CreateOrganization(ctx context.Context, id string, org *forumv1.Organization) (*forumv1.Organization, error) {
	return c.orgs.CreateOrganization(ctx, &forumv1.CreateOrganizationRequest{OrganizationId: id, Organization: org, RequestId: NewRequestID()})
}
