package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"google.golang.org/protobuf/proto"
)

// TestPagesBoundedByBytes: with posts that render large (the audit's 30
// replies of 575 KB made a page of 50 too large to send), a list page ends
// once its items reach MaxPageBytes, with a next page token, and paging
// still returns every item once, in order. Replies (listPage) and threads
// (ListThreads) alike.
func TestPagesBoundedByBytes(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	big := func(i int) string {
		return fmt.Sprintf("<p>%d</p>", i) + strings.Repeat("<a href=\"https://a.io\">a.io</a> ", 575<<10/32)
	}
	const n = 30
	var threads []string
	for i := range n {
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: fmt.Sprint("t", i), Body: "b", BodyHtml: big(i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, th.Name)
	}
	parent := threads[0]
	for i := range n {
		if _, err := s.CreateReply(ctx, a, resname.MustParseThread(parent), &forumv1.Reply{Body: "r", BodyHtml: big(i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	// checkPages pages through a list with page size 50 and checks each
	// page's size and the whole.
	checkPages := func(what string, list func(token string) ([]proto.Message, string, error), want []string) {
		t.Helper()
		var got []string
		token, pages := "", 0
		for {
			items, next, err := list(token)
			if err != nil {
				t.Fatalf("%s: page %d: %v", what, pages, err)
			}
			pages++
			size, biggest := 0, 0
			for _, m := range items {
				size += proto.Size(m)
				biggest = max(biggest, proto.Size(m))
				pm := m.ProtoReflect()
				got = append(got, pm.Get(pm.Descriptor().Fields().ByName("name")).String())
			}
			if size > MaxPageBytes && len(items) > 1 {
				t.Errorf("%s: page %d holds %d bytes in %d items, over %d", what, pages, size, len(items), MaxPageBytes)
			}
			if size+biggest <= MaxPageBytes && next != "" && len(items) < 50 {
				t.Errorf("%s: page %d ends at %d bytes with room for another item", what, pages, size)
			}
			if next == "" {
				break
			}
			if len(items) >= 50 {
				t.Fatalf("%s: a full page of %d items with a next page token", what, len(items))
			}
			token = next
		}
		if pages < 2 {
			t.Errorf("%s: %d page(s) of 50 for %d items of ~575 KB; want the bytes to end pages", what, pages, n)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: paged through %v, want %v", what, got, want)
		}
	}
	var replies []string
	for i := range n {
		replies = append(replies, fmt.Sprintf("%s/replies/%d", parent, i+1))
	}
	checkPages("replies", func(token string) ([]proto.Message, string, error) {
		rs, next, err := s.ListReplies(ctx, a, resname.MustParseThread(parent), 50, token)
		var ms []proto.Message
		for _, r := range rs {
			ms = append(ms, r)
		}
		return ms, next, err
	}, replies)
	newest := make([]string, n)
	for i, name := range threads {
		newest[n-1-i] = name
	}
	checkPages("threads", func(token string) ([]proto.Message, string, error) {
		ts, next, err := s.ListThreads(ctx, a, ThreadQuery{Order: ByCreation, PageSize: 50, PageToken: token})
		var ms []proto.Message
		for _, th := range ts {
			ms = append(ms, th)
		}
		return ms, next, err
	}, newest)
}
