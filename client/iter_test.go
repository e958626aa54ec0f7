package client_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestIterators lists themes, users, threads and replies in small pages
// while writers add items between and during page fetches, and checks that
// every item is seen exactly once and in order.
func TestIterators(t *testing.T) {
	f := start(t)

	if _, err := f.convener.CreateTheme(callCtx(t), "paging", &forumv1.Theme{DisplayName: "Paging"}); err != nil {
		t.Fatalf("create theme: %v", err)
	}
	const theme = "themes/paging"

	t.Run("themes", func(t *testing.T) {
		var got []string
		for th, err := range f.anonymous.Themes(callCtx(t), &forumv1.ListThemesRequest{PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, th.GetName())
		}
		want := []string{"themes/joint-programmes", "themes/knowledge-exchange", "themes/paging",
			"themes/reciprocal-volunteering", "themes/south-south-cooperation"}
		if !slices.Equal(got, want) {
			t.Errorf("themes = %v, want %v", got, want)
		}
	})

	t.Run("users", func(t *testing.T) {
		var got []string
		// The directory is for members: anonymous callers are refused.
		for _, err := range f.anonymous.Users(callCtx(t), &forumv1.ListUsersRequest{PageSize: 2}) {
			if !errors.Is(err, client.ErrUnauthenticated) {
				t.Errorf("anonymous Users: %v, want ErrUnauthenticated", err)
			}
			break
		}
		for u, err := range f.member.Users(callCtx(t), &forumv1.ListUsersRequest{PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, u.GetUsername())
		}
		if want := []string{"admin", "convener", "member"}; !slices.Equal(got, want) {
			t.Errorf("users = %v, want %v", got, want)
		}
		// nil request: every user, default page size.
		n := 0
		for _, err := range f.member.Users(callCtx(t), nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 3 {
			t.Errorf("Users(nil) yielded %d users, want 3", n)
		}
	})

	t.Run("threads while creating", func(t *testing.T) {
		var initial []string // newest first
		for i := range 8 {
			initial = append([]string{mustThread(t, f.member, theme, fmt.Sprintf("Initial %d", i)).GetName()}, initial...)
		}
		req := &forumv1.ListThreadsRequest{
			Filter:   fmt.Sprintf("theme = %q", theme),
			OrderBy:  "create_time desc",
			PageSize: 3,
		}
		var got []string
		for th, err := range f.anonymous.Threads(callCtx(t), req) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, th.GetName())
			// A writer adds a thread after every item: newer threads sort
			// before the cursor, so they must not disturb the listing.
			mustThread(t, f.convener, theme, fmt.Sprintf("Added after %s", th.GetName()))
		}
		if !slices.Equal(got, initial) {
			t.Errorf("listed %v, want exactly the threads that existed when the listing started, newest first: %v", got, initial)
		}
		if req.GetPageToken() != "" {
			t.Errorf("the iterator changed the caller's request: page_token %q", req.GetPageToken())
		}
	})

	t.Run("replies while replying", func(t *testing.T) {
		thread := mustThread(t, f.member, theme, "Many replies").GetName()
		var want []string
		for i := range 7 {
			want = append(want, mustReply(t, f.member, thread, fmt.Sprintf("Reply %d", i)).GetName())
		}

		// One writer replies between items (so writes land between page
		// fetches for sure) and another concurrently.
		var (
			mu    sync.Mutex
			added []string
			wg    sync.WaitGroup
			stop  = make(chan struct{})
		)
		record := func(r *forumv1.Reply) {
			mu.Lock()
			added = append(added, r.GetName())
			mu.Unlock()
		}
		wg.Go(func() {
			for i := 0; i < 20; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := f.convener.CreateReply(callCtx(t), thread, &forumv1.Reply{Body: fmt.Sprintf("Concurrent %d", i)})
				if err != nil {
					t.Errorf("concurrent reply: %v", err)
					return
				}
				record(r)
			}
		})

		var got []string
		for r, err := range f.anonymous.Replies(callCtx(t), &forumv1.ListRepliesRequest{Parent: thread, PageSize: 3}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.GetName())
			if len(got) <= 5 {
				record(mustReply(t, f.member, thread, fmt.Sprintf("Between %d", len(got))))
			}
		}
		close(stop)
		wg.Wait()

		// Oldest first, no repeats, no gaps among what existed before.
		seen := map[string]bool{}
		for _, name := range got {
			if seen[name] {
				t.Errorf("reply %s listed twice", name)
			}
			seen[name] = true
		}
		for _, name := range want {
			if !seen[name] {
				t.Errorf("reply %s, which existed before the listing, was not listed", name)
			}
		}
		// Everything written before the last page was read is in the list:
		// the listing is a prefix of the final one.
		var final []string
		for r, err := range f.anonymous.Replies(callCtx(t), &forumv1.ListRepliesRequest{Parent: thread, PageSize: 100}) {
			if err != nil {
				t.Fatal(err)
			}
			final = append(final, r.GetName())
		}
		if len(final) != len(want)+len(added) {
			t.Errorf("thread has %d replies, want %d", len(final), len(want)+len(added))
		}
		if len(got) < len(want)+5 || !slices.Equal(got, final[:len(got)]) {
			t.Errorf("listing %v is not a prefix of the thread's replies %v holding the 5 added between pages", got, final)
		}
	})

	t.Run("early break", func(t *testing.T) {
		n := 0
		for _, err := range f.anonymous.Threads(callCtx(t), &forumv1.ListThreadsRequest{PageSize: 2}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Errorf("got %d threads before break, want 3", n)
		}
	})

	t.Run("stops at the first error", func(t *testing.T) {
		var errs []error
		items := 0
		for th, err := range f.anonymous.Threads(callCtx(t), &forumv1.ListThreadsRequest{Filter: "colour = blue"}) {
			if err != nil {
				errs = append(errs, err)
				if th != nil {
					t.Errorf("error yielded with thread %v, want nil", th)
				}
				continue // the iterator must stop by itself
			}
			items++
		}
		if len(errs) != 1 || items != 0 {
			t.Fatalf("yielded %d items and errors %v, want one error only", items, errs)
		}
		if !errors.Is(errs[0], client.ErrInvalidArgument) {
			t.Errorf("error %v is not ErrInvalidArgument", errs[0])
		}
		if v := client.FieldViolations(errs[0]); len(v) == 0 || v[0].Field != "filter" {
			t.Errorf("field violations %v, want one on filter", v)
		}
	})
}
