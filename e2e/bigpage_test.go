package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestBigRepliesPage is the audit's unreadable thread (issue 12): 30
// replies of 64 KiB that render large. A page of 50 answered 429
// RESOURCE_EXHAUSTED ("trying to send message larger than max") over both
// doors. Now pages end at the store's byte bound, with a next page token,
// and paging returns every reply; and a body whose HTML would be too large
// for its size (64 KiB of short bare URLs) is refused as INVALID_ARGUMENT
// on reply.body, over both doors.
func TestBigRepliesPage(t *testing.T) {
	data := t.TempDir()
	const pw = "a long enough password"
	mustCreateUserCLI(t, data, "amina", "Amina", "member", pw)
	p := startForumd(t, data, noRateLimits)
	h := p.jsonAPI(t)
	g := p.dial(t)
	var login struct{ Token string }
	if err := json.Unmarshal(h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": "amina", "password": pw}, 200), &login); err != nil {
		t.Fatal(err)
	}
	tok := login.Token
	var th struct{ Name string }
	json.Unmarshal(h.must(t, "POST", "/v1/threads", tok, map[string]string{"theme": "themes/knowledge-exchange", "title": "Links"}, 200), &th)

	// The audit's body: short bare URLs, 64 KiB, refused on both doors.
	bomb := strings.Repeat("http://a.io ", (64<<10)/12)
	body := h.must(t, "POST", "/v1/"+th.Name+"/replies", tok, map[string]string{"body": bomb}, 400)
	if !strings.Contains(string(body), "reply.body") || !strings.Contains(string(body), "too much HTML") {
		t.Errorf("the refusal does not name reply.body and the HTML's size: %.500s", body)
	}
	ctx, cancel := callCtx(t.Context(), tok)
	defer cancel()
	if _, err := g.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: bomb}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("gRPC: %v, want INVALID_ARGUMENT", err)
	}

	// Replies that render large but within the bound: ~64 KiB of https
	// links, ~360 KB of HTML each, ~11 MB for the 30.
	const n = 30
	for i := range n {
		big := fmt.Sprintf("Reply %d. ", i) + strings.Repeat("https://a.io/x ", (64<<10-20)/15)
		h.must(t, "POST", "/v1/"+th.Name+"/replies", tok, map[string]string{"body": big}, 200)
	}
	// JSON: pages of 50 come back, smaller, until every reply is seen.
	seen, pages, token := 0, 0, ""
	for {
		var page struct {
			Replies       []struct{ Name, Body string }
			NextPageToken string
		}
		path := "/v1/" + th.Name + "/replies?pageSize=50"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		if err := json.Unmarshal(h.must(t, "GET", path, tok, nil, 200), &page); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Replies {
			if !strings.HasPrefix(r.Body, fmt.Sprintf("Reply %d. ", seen)) {
				t.Fatalf("reply %d of the thread is %s, %.20q", seen, r.Name, r.Body)
			}
			seen++
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if seen != n || pages < 2 {
		t.Errorf("JSON: %d replies in %d pages, want %d in at least 2", seen, pages, n)
	}
	// gRPC: the same.
	seen, pages, token = 0, 0, ""
	for {
		resp, err := g.replies.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: th.Name, PageSize: 50, PageToken: token})
		if err != nil {
			t.Fatalf("gRPC page %d: %v", pages, err)
		}
		pages++
		seen += len(resp.GetReplies())
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if seen != n || pages < 2 {
		t.Errorf("gRPC: %d replies in %d pages, want %d in at least 2", seen, pages, n)
	}
}
