package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// searchNames returns the names of the hits of query (and filter) as u,
// and the total.
func searchNames(t *testing.T, e *testEnv, u testUser, query, filter string) ([]string, int64) {
	t.Helper()
	ctx := t.Context() // anonymous
	if u.token != "" {
		ctx = u.ctx(t)
	}
	res, err := forumv1.NewSearchServiceClient(e.conn).Search(ctx, &forumv1.SearchRequest{Query: query, Filter: filter, PageSize: 100})
	if err != nil {
		t.Fatalf("%q as %s: %v", query, u.name, err)
	}
	var names []string
	for _, h := range res.Hits {
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names, res.TotalSize
}

// TestSearch checks what a hit carries, the filter, and paging.
func TestSearch(t *testing.T) {
	e := newTestEnv(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Host families in Nairobi", Body: "Our *volunteers* stay with host families."})
	r := e.mustReply(t, e.bob, th.Name, "Volunteers in Mombasa too <b>bold</b>")
	e.indexed(t)

	res, err := forumv1.NewSearchServiceClient(e.conn).Search(e.bob.ctx(t), &forumv1.SearchRequest{Query: "volunteer"})
	if err != nil {
		t.Fatal(err)
	}
	if res.TotalSize != 2 || len(res.Hits) != 2 {
		t.Fatalf("%d hits, total %d; want 2", len(res.Hits), res.TotalSize)
	}
	for _, h := range res.Hits {
		if h.Thread != th.Name || h.ThreadTitle != th.Title || h.Theme != th.Theme || h.CreateTime == nil {
			t.Errorf("hit %v", h)
		}
		if !strings.Contains(h.SnippetHtml, "<mark>") || strings.Contains(h.SnippetHtml, "<b>") {
			t.Errorf("snippet %q", h.SnippetHtml)
		}
		switch h.Name {
		case th.Name:
			if h.Author != e.alice.name {
				t.Errorf("thread hit by %s", h.Author)
			}
		case r.Name:
			if h.Author != e.bob.name {
				t.Errorf("reply hit by %s", h.Author)
			}
		default:
			t.Errorf("hit %s", h.Name)
		}
	}
	if got, _ := searchNames(t, e, e.bob, "volunteer", "author = "+e.bob.name); !slices.Equal(got, []string{r.Name}) {
		t.Errorf("by author: %v", got)
	}
	if got, _ := searchNames(t, e, e.bob, "volunteer", `create_time > "2000-01-01"`); len(got) != 2 {
		t.Errorf("created after 2000: %v", got)
	}
	if got, _ := searchNames(t, e, e.bob, "volunteer", `create_time < "2000-01-01"`); len(got) != 0 {
		t.Errorf("created before 2000: %v", got)
	}

	// Paging: 25 replies, pages of 10, newest first.
	var want []string
	for i := range 25 {
		want = append(want, e.mustReply(t, e.alice, th.Name, fmt.Sprintf("Kisumu update %d", i)).Name)
	}
	e.indexed(t)
	var got []string
	req := &forumv1.SearchRequest{Query: "kisumu", PageSize: 10, OrderBy: "create_time desc"}
	for pages := 1; ; pages++ {
		res, err := forumv1.NewSearchServiceClient(e.conn).Search(e.bob.ctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.TotalSize != 25 {
			t.Errorf("page %d: total %d", pages, res.TotalSize)
		}
		for _, h := range res.Hits {
			got = append(got, h.Name)
		}
		if res.NextPageToken == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		req.PageToken = res.NextPageToken
	}
	slices.Reverse(want) // newest first
	if !slices.Equal(got, want) {
		t.Errorf("paged newest first: %v\nwant %v", got, want)
	}
}

// TestSearchPrivateTheme checks that a private group's posts are found by
// its members only, are not counted for others, and stop being found at
// once by a member who leaves.
func TestSearchPrivateTheme(t *testing.T) {
	e := newTestEnv(t)
	conv := e.convener.ctx(t)
	if _, err := forumv1.NewGroupServiceClient(e.conn).CreateGroup(conv, &forumv1.CreateGroupRequest{GroupId: "board", Group: &forumv1.Group{DisplayName: "Board", Members: []string{e.alice.name}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.themes.CreateTheme(conv, &forumv1.CreateThemeRequest{ThemeId: "board", Theme: &forumv1.Theme{DisplayName: "Board", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/board"}}}); err != nil {
		t.Fatal(err)
	}
	priv := e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/board", Title: "Budget of the board", Body: "Confidential budget lines."})
	pub := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Public budget", Body: "The budget everyone sees."})
	e.indexed(t)
	if got, total := searchNames(t, e, e.alice, "budget", ""); !slices.Equal(got, []string{priv.Name, pub.Name}) || total != 2 {
		t.Errorf("alice (a member): %v, total %d", got, total)
	}
	if got, total := searchNames(t, e, e.bob, "budget", ""); !slices.Equal(got, []string{pub.Name}) || total != 1 {
		t.Errorf("bob: %v, total %d", got, total)
	}
	anon := testUser{}
	if got, total := searchNames(t, e, anon, "confidential", ""); len(got) != 0 || total != 0 {
		t.Errorf("anonymous: %v, total %d", got, total)
	}
	// Alice leaves the board: at once, without the index changing.
	if _, err := forumv1.NewGroupServiceClient(e.conn).UpdateGroup(conv, &forumv1.UpdateGroupRequest{Group: &forumv1.Group{Name: "groups/board"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"members"}}}); err != nil {
		t.Fatal(err)
	}
	if got, total := searchNames(t, e, e.alice, "budget", ""); !slices.Equal(got, []string{pub.Name}) || total != 1 {
		t.Errorf("alice after leaving: %v, total %d", got, total)
	}
}

// TestSearchBadInputs: each bad input is INVALID_ARGUMENT naming its field.
func TestSearchBadInputs(t *testing.T) {
	e := newTestEnv(t)
	e.mustThread(t, e.alice, &forumv1.Thread{Title: "Volunteers"})
	e.indexed(t)
	c := forumv1.NewSearchServiceClient(e.conn)
	e.mustThread(t, e.alice, &forumv1.Thread{Title: "More volunteers"})
	e.indexed(t)
	first, err := c.Search(e.bob.ctx(t), &forumv1.SearchRequest{Query: "volunteers", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.NextPageToken == "" {
		t.Fatal("no next page token for 1 of 2 hits")
	}
	cases := []struct {
		name  string
		req   *forumv1.SearchRequest
		field string
		text  string
	}{
		{"empty query", &forumv1.SearchRequest{}, "query", "empty"},
		{"unterminated phrase", &forumv1.SearchRequest{Query: `host "famil`}, "query", "column 6"},
		{"only excluded", &forumv1.SearchRequest{Query: "-draft"}, "query", "leave out"},
		{"bad filter", &forumv1.SearchRequest{Query: "a", Filter: "colour = red"}, "filter", "colour"},
		{"a date the index cannot compare", &forumv1.SearchRequest{Query: "a", Filter: `create_time >= "2999-01-01"`}, "filter", "out of range"},
		{"bad order", &forumv1.SearchRequest{Query: "a", OrderBy: "title"}, "order_by", "relevance"},
		{"negative page size", &forumv1.SearchRequest{Query: "a", PageSize: -1}, "page_size", "negative"},
		{"not a token", &forumv1.SearchRequest{Query: "a", PageToken: "xyz"}, "page_token", "not a page token"},
		{"another query's token", &forumv1.SearchRequest{Query: "hosts", PageToken: first.NextPageToken}, "page_token", "another query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Search(e.bob.ctx(t), tc.req)
			if status.Code(err) != codes.InvalidArgument || fieldsOf(err) != tc.field || !strings.Contains(status.Convert(err).Message(), tc.text) {
				t.Errorf("%v (fields %q); want INVALID_ARGUMENT on %s mentioning %q", err, fieldsOf(err), tc.field, tc.text)
			}
		})
	}
}
