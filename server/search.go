package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/search"
)

// searchService finds posts (proto/forum/v1/search_service.proto) in the
// search index (server/search), which the Indexer keeps from the event
// log. Anyone may call it (the access table); what a caller finds is
// decided at query time: the index is asked for the themes the caller may
// see now (store.VisibleThemes), and the page's hits are read from the
// store as the caller (store.PostSummaries), so a post the index has not
// caught up with (deleted, moved) is left out too. The index's query sits
// between the two store reads, so a call makes two read transactions.
type searchService struct {
	forumv1.UnsafeSearchServiceServer
	s *Server
}

// Page sizes and the deepest offset of Search.
const (
	defaultSearchPageSize = 20
	maxSearchPageSize     = 100
	maxSearchOffset       = 10000
)

// Search implements SearchService.Search.
func (ss *searchService) Search(ctx context.Context, req *forumv1.SearchRequest) (*forumv1.SearchResponse, error) {
	var v errs.Violations
	q, qerr := search.ParseQuery(req.GetQuery())
	if qerr != nil {
		var pe *search.ParseError
		if errors.As(qerr, &pe) {
			v.Add("query", "column %d: %s", pe.Col, pe.Msg)
		} else {
			v.Add("query", "%v", qerr)
		}
	}
	f, ferr := filter.ParseSearch(req.GetFilter())
	if ferr != nil {
		v.Add("filter", "%v", ferr)
	}
	newest := false
	switch req.GetOrderBy() {
	case "", "relevance":
	case "create_time desc":
		newest = true
	default:
		v.Add("order_by", "must be relevance (the default) or create_time desc, not %q", req.GetOrderBy())
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		v.Add("page_size", "must not be negative (0 means %d, the most is %d)", defaultSearchPageSize, maxSearchPageSize)
	case size == 0:
		size = defaultSearchPageSize
	case size > maxSearchPageSize:
		size = maxSearchPageSize
	}
	from := 0
	if req.GetPageToken() != "" && qerr == nil && ferr == nil {
		from = decodeSearchToken(&v, req.GetPageToken(), searchKey(q, f, newest))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if ss.s.search == nil {
		return nil, fmt.Errorf("%w: search is not enabled on this server", errs.FailedPrecondition)
	}
	actor := actorFrom(ctx)
	themes, err := ss.s.store.VisibleThemes(ctx, actor)
	if err != nil {
		return nil, err
	}
	res, err := ss.s.search.Search(search.Request{Query: q, Themes: themes, Filter: searchFilter(f), Newest: newest, From: from, Size: size})
	if err != nil {
		return nil, err
	}
	// Each hit as the caller may read it now: a post the index has not
	// caught up with (deleted, moved) is left out.
	names := make([]string, len(res.Hits))
	snippets := make(map[string]string, len(res.Hits))
	for i, h := range res.Hits {
		names[i], snippets[h.Name] = h.Name, h.Snippet
	}
	posts, err := ss.s.store.PostSummaries(ctx, actor, names)
	if err != nil {
		return nil, err
	}
	out := &forumv1.SearchResponse{TotalSize: int64(res.Total)}
	for _, p := range posts {
		out.Hits = append(out.Hits, &forumv1.SearchHit{
			Name: p.Name, Thread: p.Thread, ThreadTitle: p.ThreadTitle, Theme: p.Theme,
			Author: p.Author, CreateTime: p.CreateTime, SnippetHtml: snippets[p.Name],
		})
	}
	if next := from + len(res.Hits); len(res.Hits) == size && uint64(next) < res.Total && next < maxSearchOffset {
		out.NextPageToken = encodeSearchToken(next, searchKey(q, f, newest))
	}
	return out, nil
}

// searchFilter is f as the index takes it.
func searchFilter(f *filter.Search) search.Filter {
	out := search.Filter{After: f.After, Before: f.Before, AfterInclusive: f.AfterInclusive, BeforeInclusive: f.BeforeInclusive}
	fields := map[string]string{
		"theme": search.FieldTheme, "author": search.FieldAuthor, "author.organization": search.FieldOrganization,
		"author.country": search.FieldCountry, "kind": search.FieldKind, "state": search.FieldState, "tag": search.FieldTag,
	}
	for _, c := range f.Conds {
		out.Conds = append(out.Conds, search.Cond{Field: fields[c.Field], Value: c.Value, Not: c.Not})
	}
	return out
}

// searchKey is what a page token of Search is bound to: the query, the
// filter and the order, canonical.
func searchKey(q *search.Query, f *filter.Search, newest bool) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "forum.v1.SearchService/Search\x00%s\x00%s\x00%t", q.String(), f.String(), newest))
	return h[:searchTokenHash]
}

const (
	searchTokenVersion = 1
	searchTokenHash    = 8
)

// encodeSearchToken returns the page token that resumes a search bound to
// key at offset from.
func encodeSearchToken(from int, key []byte) string {
	b := []byte{searchTokenVersion}
	b = binary.AppendUvarint(b, uint64(from))
	return base64.RawURLEncoding.EncodeToString(append(b, key...))
}

// decodeSearchToken returns the offset tok resumes at, or records a
// violation of page_token.
func decodeSearchToken(v *errs.Violations, tok string, key []byte) int {
	const bad = "is not a page token of Search; pass the next_page_token of a previous call, or search again without it"
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(tok) > 64 || len(raw) < 1+1+searchTokenHash || raw[0] != searchTokenVersion {
		v.Add("page_token", bad)
		return 0
	}
	from, n := binary.Uvarint(raw[1:])
	if n <= 0 || 1+n+searchTokenHash != len(raw) || from == 0 || from >= maxSearchOffset {
		v.Add("page_token", bad)
		return 0
	}
	if string(raw[1+n:]) != string(key) {
		v.Add("page_token", "was made for another query, filter or order; pass those of the call that returned it, or search again without it")
		return 0
	}
	return int(from)
}
