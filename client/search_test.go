package client_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// indexWait bounds how long a test waits for forumd's indexer to make new
// posts findable.
const indexWait = 10 * time.Second

// waitIndexed polls Search until query finds want posts in all (its
// total_size), and fails the test if that does not happen in indexWait.
func waitIndexed(t *testing.T, c *client.Client, query string, want int64) {
	t.Helper()
	deadline := time.Now().Add(indexWait)
	for {
		resp, err := c.SearchService().Search(callCtx(t), &forumv1.SearchRequest{Query: query})
		if err != nil {
			t.Fatalf("Search(%q): %v", query, err)
		}
		if resp.GetTotalSize() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Search(%q) finds %d posts after %v, want %d", query, resp.GetTotalSize(), indexWait, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSearch searches seven posts in pages of three: the hits, their
// order, that every page token was followed, errors yielded once with a
// nil hit, and that breaking out of the loop fetches no further page.
func TestSearch(t *testing.T) {
	f := start(t)
	rec := &pageRecorder{}
	member := login(t, f.srv.GRPCAddr, "member", memberPassword, client.WithDialOptions(grpc.WithChainUnaryInterceptor(rec.intercept)))
	const (
		theme = "themes/knowledge-exchange"
		word  = "quokkafest" // in no other post
	)

	// Five threads and two replies hold the word, one thread does not.
	var posts []string // oldest first
	var threads []string
	for i := range 5 {
		th, err := f.member.CreateThread(callCtx(t), &forumv1.Thread{
			Theme: theme,
			Title: fmt.Sprintf("Search thread %d", i),
			Body:  fmt.Sprintf("Notes %d on the %s <planning> & logistics.", i, word),
		})
		if err != nil {
			t.Fatalf("create thread %d: %v", i, err)
		}
		posts = append(posts, th.GetName())
		threads = append(threads, th.GetName())
		time.Sleep(2 * time.Millisecond) // distinct creation times, for the order
	}
	for i := range 2 {
		r := mustReply(t, f.convener, threads[0], fmt.Sprintf("Reply %d about the %s.", i, word))
		posts = append(posts, r.GetName())
		time.Sleep(2 * time.Millisecond)
	}
	mustThread(t, f.member, theme, "Unrelated thread")
	waitIndexed(t, f.anonymous, word, int64(len(posts)))

	newestFirst := slices.Clone(posts)
	slices.Reverse(newestFirst)

	t.Run("pages of three, newest first", func(t *testing.T) {
		rec.take()
		opts := &client.SearchOptions{OrderBy: "create_time desc", PageSize: 3}
		var got []string
		for hit, err := range member.Search(callCtx(t), word, opts) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, hit.GetName())
			if snip := hit.GetSnippetHtml(); !strings.Contains(snip, "<mark>"+word+"</mark>") || strings.Contains(snip, "<planning>") {
				t.Errorf("hit %s: snippet %q does not mark %q, or carries the post's text unescaped", hit.GetName(), snip, word)
			}
			if hit.GetTheme() != theme || !slices.Contains(threads, hit.GetThread()) ||
				!strings.HasPrefix(hit.GetThreadTitle(), "Search thread ") || hit.GetAuthor() == "" || hit.GetCreateTime() == nil {
				t.Errorf("hit %v lacks its thread, theme, author or time", hit)
			}
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("hits %v, want %v", got, newestFirst)
		}
		calls := rec.take()
		if len(calls) != 3 {
			t.Fatalf("%d Search calls for %d hits in pages of 3, want 3: %+v", len(calls), len(posts), calls)
		}
		token := ""
		for i, c := range calls {
			if c.method != "Search" || c.pageSize != 3 || c.pageToken != token {
				t.Errorf("call %d: %+v, want Search with page_size 3 and page_token %q", i, c, token)
			}
			token = c.next
		}
		if token != "" {
			t.Errorf("the listing stopped at next_page_token %q", token)
		}
		if *opts != (client.SearchOptions{OrderBy: "create_time desc", PageSize: 3}) {
			t.Errorf("Search changed the caller's options: %+v", *opts)
		}
	})

	t.Run("relevance, nil options, filter", func(t *testing.T) {
		var got []string
		for hit, err := range f.anonymous.Search(callCtx(t), word, nil) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, hit.GetName())
		}
		if !sameSet(got, posts) {
			t.Errorf("hits %v, want %v in any order", got, posts)
		}

		got = nil
		filter := fmt.Sprintf("theme = %q AND author = %q", theme, userName(t, f.convener))
		for hit, err := range f.anonymous.Search(callCtx(t), word, &client.SearchOptions{Filter: filter, PageSize: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, hit.GetName())
		}
		if !sameSet(got, posts[5:]) {
			t.Errorf("filter %s: hits %v, want the convener's replies %v", filter, got, posts[5:])
		}
	})

	t.Run("break stops fetching", func(t *testing.T) {
		for _, stop := range []int{1, 3, 4} {
			rec.take()
			n := 0
			for _, err := range member.Search(callCtx(t), word, &client.SearchOptions{PageSize: 3}) {
				if err != nil {
					t.Fatal(err)
				}
				if n++; n == stop {
					break
				}
			}
			if n != stop {
				t.Errorf("got %d hits before break, want %d", n, stop)
			}
			if calls, want := len(rec.take()), (stop+2)/3; calls != want {
				t.Errorf("break after %d hits: %d Search calls, want %d", stop, calls, want)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, query string
			opts        *client.SearchOptions
			field       string
		}{
			{"unterminated phrase", `"host family`, nil, "query"},
			{"empty query", "", nil, "query"},
			{"bad filter", word, &client.SearchOptions{Filter: "colour = blue"}, "filter"},
			{"bad order", word, &client.SearchOptions{OrderBy: "title"}, "order_by"},
			{"negative page size", word, &client.SearchOptions{PageSize: -1}, "page_size"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec.take()
				var errs []error
				items := 0
				for hit, err := range member.Search(callCtx(t), tc.query, tc.opts) {
					if err != nil {
						errs = append(errs, err)
						if hit != nil {
							t.Errorf("error yielded with hit %v, want nil", hit)
						}
						continue // the iterator must stop by itself
					}
					items++
				}
				if len(errs) != 1 || items != 0 {
					t.Fatalf("yielded %d hits and errors %v, want one error only", items, errs)
				}
				if !errors.Is(errs[0], client.ErrInvalidArgument) {
					t.Errorf("error %v is not ErrInvalidArgument", errs[0])
				}
				if v := client.FieldViolations(errs[0]); len(v) == 0 || v[0].Field != tc.field {
					t.Errorf("field violations %v, want one on %s", v, tc.field)
				}
				if calls := rec.take(); len(calls) != 1 {
					t.Errorf("%d Search calls, want 1 (INVALID_ARGUMENT is not retried)", len(calls))
				}
			})
		}
	})
}

// userName returns the name (users/N) of c's user.
func userName(t *testing.T, c *client.Client) string {
	t.Helper()
	u, err := c.UserService().GetUser(callCtx(t), &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatalf("get users/me: %v", err)
	}
	return u.GetName()
}

// sameSet reports whether a and b hold the same names, each once.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
