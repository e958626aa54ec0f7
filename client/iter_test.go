package client_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"

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

// pageCall is one List call a pageRecorder saw: the page it asked for and
// the next_page_token it got.
type pageCall struct {
	method    string
	pageSize  int32
	pageToken string
	next      string
}

// pageRecorder is a client interceptor that records the List calls made
// through it, to check that an iterator fetched several pages and followed
// the tokens.
type pageRecorder struct {
	mu    sync.Mutex
	calls []pageCall
}

func (p *pageRecorder) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	r, ok := req.(interface {
		GetPageSize() int32
		GetPageToken() string
	})
	if !ok {
		return err
	}
	call := pageCall{method: path.Base(method), pageSize: r.GetPageSize(), pageToken: r.GetPageToken()}
	if resp, ok := reply.(interface{ GetNextPageToken() string }); ok && err == nil {
		call.next = resp.GetNextPageToken()
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
	return err
}

// take returns the calls recorded since the last take.
func (p *pageRecorder) take() []pageCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := p.calls
	p.calls = nil
	return calls
}

// listing is what an iterator yielded: the names of the items, the errors,
// and whether every error came with a nil item.
type listing struct {
	names      []string
	errs       []error
	nilWithErr bool
}

// collectNames runs seq to its end, past errors too (the iterator must stop
// by itself), and returns what it yielded.
func collectNames[T interface {
	comparable
	GetName() string
}](seq iter.Seq2[T, error]) listing {
	var (
		zero T
		l    = listing{nilWithErr: true}
	)
	for item, err := range seq {
		if err != nil {
			l.errs = append(l.errs, err)
			l.nilWithErr = l.nilWithErr && item == zero
			continue
		}
		l.names = append(l.names, item.GetName())
	}
	return l
}

// TestManageIterators lists groups, invitations and API tokens in pages of
// two, checking the items, their order, that every page token was
// followed, and that errors are yielded once, with a nil item.
func TestManageIterators(t *testing.T) {
	f := start(t)
	rec := &pageRecorder{}
	intercept := client.WithDialOptions(grpc.WithChainUnaryInterceptor(rec.intercept))
	admin := login(t, f.srv.GRPCAddr, "admin", adminPassword, intercept)
	convener := login(t, f.srv.GRPCAddr, "convener", convenerPassword, intercept)
	member := login(t, f.srv.GRPCAddr, "member", memberPassword, intercept)

	userName := func(c *client.Client) string {
		u, err := c.UserService().GetUser(callCtx(t), &forumv1.GetUserRequest{Name: "users/me"})
		if err != nil {
			t.Fatalf("get users/me: %v", err)
		}
		return u.GetName()
	}
	adminName, memberName := userName(f.admin), userName(f.member)

	// Five groups, created out of name order; the member is in two.
	for _, slug := range []string{"echo", "alpha", "delta", "charlie", "bravo"} {
		g := &forumv1.Group{DisplayName: "Group " + slug}
		if slug == "alpha" || slug == "delta" {
			g.Members = []string{memberName}
		}
		if _, err := f.convener.GroupService().CreateGroup(callCtx(t), &forumv1.CreateGroupRequest{GroupId: slug, Group: g}); err != nil {
			t.Fatalf("create group %s: %v", slug, err)
		}
	}
	allGroups := []string{"groups/alpha", "groups/bravo", "groups/charlie", "groups/delta", "groups/echo"}
	memberGroups := []string{"groups/alpha", "groups/delta"}

	// Five invitations by two moderators; listed newest first.
	var invitations []string
	for i := range 5 {
		by := f.admin
		if i%2 == 1 {
			by = f.convener
		}
		inv, err := by.InvitationService().CreateInvitation(callCtx(t), &forumv1.CreateInvitationRequest{Invitation: &forumv1.Invitation{}})
		if err != nil {
			t.Fatalf("create invitation %d: %v", i, err)
		}
		invitations = append([]string{inv.GetName()}, invitations...)
	}

	// Five API tokens of the member, one of the admin; listed newest first.
	var memberTokens []string
	for i := range 5 {
		tok, err := f.member.ApiTokenService().CreateApiToken(callCtx(t), &forumv1.CreateApiTokenRequest{
			Parent:   "users/me",
			ApiToken: &forumv1.ApiToken{DisplayName: fmt.Sprintf("job %d", i), Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}},
		})
		if err != nil {
			t.Fatalf("create API token %d: %v", i, err)
		}
		memberTokens = append([]string{tok.GetName()}, memberTokens...)
	}
	if _, err := f.admin.ApiTokenService().CreateApiToken(callCtx(t), &forumv1.CreateApiTokenRequest{
		Parent:   "users/me",
		ApiToken: &forumv1.ApiToken{DisplayName: "admin job", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}},
	}); err != nil {
		t.Fatalf("create the admin's API token: %v", err)
	}

	// The token of the member's second page, to start a listing there.
	first, err := f.member.ApiTokenService().ListApiTokens(callCtx(t), &forumv1.ListApiTokensRequest{Parent: "users/me", PageSize: 2})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("ListApiTokens: %v, next_page_token %q", err, first.GetNextPageToken())
	}

	cases := []struct {
		name   string
		method string // the List method called
		size   int32  // the page_size every call sends
		list   func(ctx context.Context) listing
		start  string // the page token the listing starts from
		want   []string
		// wantErr, if set, is the one error the listing yields, after want;
		// wantField is the field it names.
		wantErr   error
		wantField string
	}{
		{
			name: "groups, convener", method: "ListGroups", size: 2, want: allGroups,
			list: func(ctx context.Context) listing {
				return collectNames(convener.Groups(ctx, &forumv1.ListGroupsRequest{PageSize: 2}))
			},
		},
		{
			name: "groups, member", method: "ListGroups", size: 2, want: memberGroups,
			list: func(ctx context.Context) listing {
				return collectNames(member.Groups(ctx, &forumv1.ListGroupsRequest{PageSize: 2}))
			},
		},
		{
			name: "groups, nil request", method: "ListGroups", want: allGroups,
			list: func(ctx context.Context) listing { return collectNames(admin.Groups(ctx, nil)) },
		},
		{
			name: "groups, bad page size", method: "ListGroups", size: -1, wantErr: client.ErrInvalidArgument, wantField: "page_size",
			list: func(ctx context.Context) listing {
				return collectNames(admin.Groups(ctx, &forumv1.ListGroupsRequest{PageSize: -1}))
			},
		},
		{
			name: "invitations, admin", method: "ListInvitations", size: 2, want: invitations,
			list: func(ctx context.Context) listing {
				return collectNames(admin.Invitations(ctx, &forumv1.ListInvitationsRequest{PageSize: 2}))
			},
		},
		{
			name: "invitations, convener", method: "ListInvitations", size: 2, want: invitations,
			list: func(ctx context.Context) listing {
				return collectNames(convener.Invitations(ctx, &forumv1.ListInvitationsRequest{PageSize: 2}))
			},
		},
		{
			name: "invitations, member", method: "ListInvitations", size: 2, wantErr: client.ErrPermissionDenied,
			list: func(ctx context.Context) listing {
				return collectNames(member.Invitations(ctx, &forumv1.ListInvitationsRequest{PageSize: 2}))
			},
		},
		{
			name: "API tokens, own", method: "ListApiTokens", size: 2, want: memberTokens,
			list: func(ctx context.Context) listing {
				return collectNames(member.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: "users/me", PageSize: 2}))
			},
		},
		{
			name: "API tokens, admin lists the member's", method: "ListApiTokens", size: 2, want: memberTokens,
			list: func(ctx context.Context) listing {
				return collectNames(admin.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: memberName, PageSize: 2}))
			},
		},
		{
			name: "API tokens, from a page token", method: "ListApiTokens", size: 2, want: memberTokens[2:], start: first.GetNextPageToken(),
			list: func(ctx context.Context) listing {
				return collectNames(member.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: "users/me", PageSize: 2, PageToken: first.GetNextPageToken()}))
			},
		},
		{
			name: "API tokens, member lists the admin's", method: "ListApiTokens", size: 2, wantErr: client.ErrPermissionDenied,
			list: func(ctx context.Context) listing {
				return collectNames(member.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: adminName, PageSize: 2}))
			},
		},
		{
			name: "API tokens, nil request", method: "ListApiTokens", wantErr: client.ErrInvalidArgument, wantField: "parent",
			list: func(ctx context.Context) listing { return collectNames(member.ApiTokens(ctx, nil)) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.take()
			got := tc.list(callCtx(t))
			calls := rec.take()

			if !slices.Equal(got.names, tc.want) {
				t.Errorf("listed %v, want %v", got.names, tc.want)
			}
			if tc.wantErr == nil {
				if len(got.errs) != 0 {
					t.Fatalf("errors %v, want none", got.errs)
				}
			} else {
				if len(got.errs) != 1 {
					t.Fatalf("errors %v, want exactly one", got.errs)
				}
				if !errors.Is(got.errs[0], tc.wantErr) {
					t.Errorf("error %v, want %v", got.errs[0], tc.wantErr)
				}
				if !got.nilWithErr {
					t.Errorf("error yielded with an item, want nil")
				}
				if tc.wantField != "" {
					if v := client.FieldViolations(got.errs[0]); len(v) == 0 || v[0].Field != tc.wantField {
						t.Errorf("field violations %v, want one on %s", v, tc.wantField)
					}
				}
			}

			// The pages: the first from start, each next from the token
			// the one before returned, until one returned none (or failed).
			if len(calls) == 0 {
				t.Fatalf("no %s call recorded", tc.method)
			}
			if n := int(tc.size); n > 0 && len(calls) < (len(tc.want)+n-1)/n {
				t.Errorf("%d items in %d page(s) of size %d", len(tc.want), len(calls), n)
			}
			token := tc.start
			for i, c := range calls {
				if c.method != tc.method {
					t.Errorf("call %d is %s, want %s", i, c.method, tc.method)
				}
				if c.pageSize != tc.size {
					t.Errorf("call %d sent page_size %d, want %d", i, c.pageSize, tc.size)
				}
				if c.pageToken != token {
					t.Errorf("call %d sent page_token %q, want %q", i, c.pageToken, token)
				}
				token = c.next
			}
			if token != "" {
				t.Errorf("the listing stopped at next_page_token %q", token)
			}
		})
	}
}
