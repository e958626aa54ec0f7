package client

import (
	"context"
	"iter"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// SearchOptions are the optional parts of a Search. A nil *SearchOptions,
// like the zero value, searches every post the caller may read, the best
// matches first, 20 hits a page.
type SearchOptions struct {
	// Filter is an AIP-160 filter, comparisons joined by AND, as
	// SearchRequest.filter takes it: theme, author, author.organization,
	// author.country, kind, state and tag with = or !=, and create_time
	// with >, >=, < or <= and an RFC 3339 time or a date, e.g.
	// `theme = "themes/joint-programmes" AND create_time > "2026-01-01"`.
	// "" selects every post.
	Filter string
	// OrderBy is "relevance" (the best matches first; "" means it too) or
	// "create_time desc" (the newest first).
	OrderBy string
	// PageSize is how many hits each call asks the server for: 0 means
	// the server's default (20), values over 100 are lowered to 100, and
	// a negative value fails with ErrInvalidArgument. It does not bound
	// the hits Search yields: break out of the loop for that.
	PageSize int32
}

// Search returns the posts (threads and replies) that query finds, among
// those the caller may read, page after page, following next_page_token:
// the best matches first, or the newest first with OrderBy "create_time
// desc". query is what a delegate types in the search box: words (all of
// them must be in a post), "phrases", -excluded words or phrases, and OR
// between two terms, e.g. `volunteer OR bénévole "host family" -draft`.
// opts may be nil; it is read when Search is called, not when the
// iteration runs.
//
// Each hit names the post, its thread, the thread's title and theme, the
// author and the post's creation time, and carries snippet_html: an
// extract of the post as escaped HTML, with what matched in
// <mark>…</mark>.
//
// A page may hold fewer hits than PageSize while more follow (the server
// leaves out posts the caller may no longer read); the listing ends at the
// page without a next_page_token. The server pages by offset into the
// results, so a post written, edited or deleted while the listing runs can
// move the others, and a hit may then be yielded twice or not at all; the
// server may also stop paging before the last hit of a very large result
// (forumd stops after 10,000). For the total number of matches, call the
// SearchService stub, whose response has total_size.
//
// Iteration stops at the first error, yielded with a nil hit:
// ErrInvalidArgument for a query, filter or order_by that does not parse
// (FieldViolations names the field, and for a query the column),
// ErrFailedPrecondition if the server has no search index. Breaking out
// of the loop fetches no further page.
func (c *Client) Search(ctx context.Context, query string, opts *SearchOptions) iter.Seq2[*forumv1.SearchHit, error] {
	var o SearchOptions
	if opts != nil {
		o = *opts
	}
	return paginate("", func(token string) ([]*forumv1.SearchHit, string, error) {
		resp, err := c.search.Search(ctx, &forumv1.SearchRequest{
			Query:     query,
			Filter:    o.Filter,
			OrderBy:   o.OrderBy,
			PageSize:  o.PageSize,
			PageToken: token,
		})
		return resp.GetHits(), resp.GetNextPageToken(), err
	})
}
