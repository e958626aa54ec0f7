package client

import (
	"context"
	"fmt"
	"iter"

	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// paginate yields the items of the pages fetch returns, following page
// tokens from start ("" for the first page) until a page has no next token. It
// stops at the first error, which it yields once with a nil item. A page
// may be empty while more follow (the server bounds the work per page); a
// server that returned the token it was sent would loop forever, so that is
// an error too.
func paginate[T any](start string, fetch func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		token := start
		for {
			items, next, err := fetch(token)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if next == token {
				yield(zero, fmt.Errorf("client: the server returned the same page token twice (%q)", next))
				return
			}
			token = next
		}
	}
}

// Threads returns the threads that req selects (its filter, order_by,
// show_deleted and page_size), page after page, following next_page_token.
// req may be nil (all threads, most recently active first) and is not
// changed; its page_token, if set, is where the listing starts. Iteration
// stops at the first error, yielded with a nil thread.
//
// A thread that becomes active while the listing runs moves to the front of
// the default order and may then be seen twice or not at all; order_by
// "create_time desc" lists every thread that existed when the listing
// started exactly once, whatever is created meanwhile.
func (c *Client) Threads(ctx context.Context, req *forumv1.ListThreadsRequest) iter.Seq2[*forumv1.Thread, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Thread, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.threads.ListThreads(ctx, r)
		return resp.GetThreads(), resp.GetNextPageToken(), err
	})
}

// Replies returns the replies of a thread, oldest first, tombstones
// included, following next_page_token; replies added while the listing runs
// are listed too once their page is reached, and none is skipped or seen
// twice. req names the thread in parent and may set page_size; it is not
// changed. Iteration stops at the first error, yielded with a nil reply.
func (c *Client) Replies(ctx context.Context, req *forumv1.ListRepliesRequest) iter.Seq2[*forumv1.Reply, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Reply, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.replies.ListReplies(ctx, r)
		return resp.GetReplies(), resp.GetNextPageToken(), err
	})
}

// Themes returns every theme, in name order, following next_page_token.
// req may be nil, or set page_size; it is not changed. Iteration stops at
// the first error, yielded with a nil theme.
func (c *Client) Themes(ctx context.Context, req *forumv1.ListThemesRequest) iter.Seq2[*forumv1.Theme, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Theme, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.themes.ListThemes(ctx, r)
		return resp.GetThemes(), resp.GetNextPageToken(), err
	})
}

// Users returns every user, in creation order, following next_page_token.
// req may be nil, or set page_size; it is not changed. Iteration stops at
// the first error, yielded with a nil user.
func (c *Client) Users(ctx context.Context, req *forumv1.ListUsersRequest) iter.Seq2[*forumv1.User, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.User, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.users.ListUsers(ctx, r)
		return resp.GetUsers(), resp.GetNextPageToken(), err
	})
}

// Organizations returns every organisation, in name order, following
// next_page_token. req may be nil, or set page_size; it is not changed.
// Iteration stops at the first error, yielded with a nil organisation.
func (c *Client) Organizations(ctx context.Context, req *forumv1.ListOrganizationsRequest) iter.Seq2[*forumv1.Organization, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Organization, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.orgs.ListOrganizations(ctx, r)
		return resp.GetOrganizations(), resp.GetNextPageToken(), err
	})
}

// Convenings returns the convenings, the most recent start first,
// following next_page_token. req may be nil, or set page_size and filter
// (`state = HELD`); it is not changed. Iteration stops at the first error.
func (c *Client) Convenings(ctx context.Context, req *forumv1.ListConveningsRequest) iter.Seq2[*forumv1.Convening, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Convening, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.convs.ListConvenings(ctx, r)
		return resp.GetConvenings(), resp.GetNextPageToken(), err
	})
}

// ActionItems returns the action items of req's parent (`threads/{id}`,
// or `threads/-` for every thread the caller may read), the earliest due
// first, following next_page_token; req sets the parent and may set
// page_size and filter (`state = OPEN AND owner = me`). It is not changed.
// Iteration stops at the first error.
func (c *Client) ActionItems(ctx context.Context, req *forumv1.ListActionItemsRequest) iter.Seq2[*forumv1.ActionItem, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.ActionItem, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.items.ListActionItems(ctx, r)
		return resp.GetActionItems(), resp.GetNextPageToken(), err
	})
}

// Revisions returns the edit history of post (`threads/{id}` or
// `threads/{id}/replies/{r}`), the newest version first, following
// next_page_token. Iteration stops at the first error.
func (c *Client) Revisions(ctx context.Context, post string) iter.Seq2[*forumv1.Revision, error] {
	return paginate("", func(token string) ([]*forumv1.Revision, string, error) {
		resp, err := c.revs.ListRevisions(ctx, &forumv1.ListRevisionsRequest{Parent: post, PageSize: 100, PageToken: token})
		return resp.GetRevisions(), resp.GetNextPageToken(), err
	})
}

// Groups returns the private working groups the caller may see, in name
// order, following next_page_token: all of them for conveners and admins,
// the groups they belong to for other users. req may be nil, or set
// page_size; it is not changed. Iteration stops at the first error, yielded
// with a nil group.
func (c *Client) Groups(ctx context.Context, req *forumv1.ListGroupsRequest) iter.Seq2[*forumv1.Group, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Group, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.groups.ListGroups(ctx, r)
		return resp.GetGroups(), resp.GetNextPageToken(), err
	})
}

// Invitations returns every invitation, newest first, without their codes,
// following next_page_token. Only conveners and admins may list them; other
// callers get ErrPermissionDenied. req may be nil, or set page_size; it is
// not changed. Iteration stops at the first error, yielded with a nil
// invitation.
func (c *Client) Invitations(ctx context.Context, req *forumv1.ListInvitationsRequest) iter.Seq2[*forumv1.Invitation, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Invitation, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.invites.ListInvitations(ctx, r)
		return resp.GetInvitations(), resp.GetNextPageToken(), err
	})
}

// ApiTokens returns the API tokens of a user, newest first, without their
// secrets, following next_page_token. req names the user in parent,
// users/{user} or users/me for the caller, and may set page_size; it is not
// changed. parent is required: a nil req or an empty parent fails with
// ErrInvalidArgument. Users list their own tokens, admins anyone's; other
// callers get ErrPermissionDenied. Iteration stops at the first error,
// yielded with a nil token.
func (c *Client) ApiTokens(ctx context.Context, req *forumv1.ListApiTokensRequest) iter.Seq2[*forumv1.ApiToken, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.ApiToken, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.tokens.ListApiTokens(ctx, r)
		return resp.GetApiTokens(), resp.GetNextPageToken(), err
	})
}

// cloneOr returns a copy of req, or a new message if req is nil.
func cloneOr[M any, P interface {
	*M
	proto.Message
}](req P) P {
	if req == nil {
		return P(new(M))
	}
	return proto.Clone(req).(P)
}
