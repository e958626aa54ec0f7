package client

import (
	"context"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// A DeleteOption adds to the request of DeleteThread or DeleteReply.
type DeleteOption func(*deleteOptions)

type deleteOptions struct {
	etag, reason string
}

// WithReason gives the reason of a deletion: at most 500 characters on one
// line, without control characters. The deleted thread or the reply's
// tombstone shows it as delete_reason, beside deleted_by, to everyone who
// may read the post.
func WithReason(reason string) DeleteOption {
	return func(o *deleteOptions) { o.reason = reason }
}

// WithEtag makes a deletion conditional: it is made only while the post's
// etag is still etag, and otherwise fails with ErrConflict.
func WithEtag(etag string) DeleteOption {
	return func(o *deleteOptions) { o.etag = etag }
}

func deleteOpts(opts []DeleteOption) deleteOptions {
	var o deleteOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// DeleteThread soft-deletes the thread named name (`threads/{thread}`) and
// returns it, with deleted_by and delete_reason set. The author, conveners
// and admins may delete a thread; in a locked thread, only conveners and
// admins (else ErrFailedPrecondition). The author may undelete a thread they
// deleted themself, but only a convener or admin one that a convener or
// admin deleted (else ErrPermissionDenied).
//
// It is the ThreadService stub's DeleteThread with the request built from
// opts; a caller who builds a DeleteThreadRequest can call the stub.
func (c *Client) DeleteThread(ctx context.Context, name string, opts ...DeleteOption) (*forumv1.Thread, error) {
	o := deleteOpts(opts)
	return c.threads.DeleteThread(ctx, &forumv1.DeleteThreadRequest{Name: name, Etag: o.etag, Reason: o.reason})
}

// DeleteReply deletes the reply named name
// (`threads/{thread}/replies/{reply}`) and returns its tombstone, with
// deleted_by and delete_reason set. The author, conveners and admins may
// delete a reply; in a locked thread, only conveners and admins (else
// ErrFailedPrecondition).
func (c *Client) DeleteReply(ctx context.Context, name string, opts ...DeleteOption) (*forumv1.Reply, error) {
	o := deleteOpts(opts)
	return c.replies.DeleteReply(ctx, &forumv1.DeleteReplyRequest{Name: name, Etag: o.etag, Reason: o.reason})
}
