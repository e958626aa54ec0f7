package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestAccessTableCoversEveryMethod walks the service descriptors of package
// forum.v1: a method without an entry in authz's access table fails here.
func TestAccessTableCoversEveryMethod(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("forum.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				full := fmt.Sprintf("/%s/%s", sd.FullName(), sd.Methods().Get(j).Name())
				n++
				if _, ok := authz.Need(full, authz.Settings{}); !ok {
					t.Errorf("%s has no entry in the access table", full)
				}
			}
		}
		return true
	})
	if table := len(authz.Methods()); n != table || n < 20 {
		t.Errorf("descriptors have %d methods, the access table %d entries", n, table)
	}
}

func TestThreadLifecycle(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	alice, conv := e.alice.ctx(t), e.convener.ctx(t)

	th, err := e.threads.CreateThread(alice, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{
		Theme: "themes/reciprocal-volunteering", Title: "Hosting volunteers", Body: "We host **twelve** volunteers.\n\n<script>alert(1)</script>",
		Kind: forumv1.ThreadKind_THREAD_KIND_QUESTION, Tags: []string{"hosting", "health"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if th.Author != e.alice.name || th.State != forumv1.ThreadState_THREAD_STATE_OPEN || th.Etag == "" || th.CreateTime == nil {
		t.Fatalf("created thread %v", th)
	}
	if !strings.Contains(th.BodyHtml, "<strong>twelve</strong>") || strings.Contains(th.BodyHtml, "<script") {
		t.Fatalf("body_html %q", th.BodyHtml)
	}

	// The convener opens a follow-up; both threads link to each other.
	fu, err := e.threads.CreateThread(conv, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{
		Theme: "themes/reciprocal-volunteering", Title: "Follow-up: hosting", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.Name, Pinned: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: th.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.FollowUps) != 1 || got.FollowUps[0] != fu.Name || fu.FollowUpOf != th.Name {
		t.Fatalf("follow-ups %v, follow_up_of %q", got.FollowUps, fu.FollowUpOf)
	}

	// Filters and order: the pinned follow-up comes first.
	list, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{Filter: `theme = "themes/reciprocal-volunteering"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Threads) != 2 || list.Threads[0].Name != fu.Name {
		t.Fatalf("list %v", names(list.Threads))
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"kind = FOLLOW_UP", []string{fu.Name}},
		{"follow_up_of = " + `"` + th.Name + `"`, []string{fu.Name}},
		{`tag = "health"`, []string{th.Name}},
		{`author = "` + e.alice.name + `"`, []string{th.Name}},
		{"state = RESOLVED", nil},
		{"theme = joint-programmes", nil},
	} {
		l, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{Filter: tc.filter})
		if err != nil {
			t.Fatalf("filter %q: %v", tc.filter, err)
		}
		if fmt.Sprint(names(l.Threads)) != fmt.Sprint(tc.want) {
			t.Errorf("filter %q: %v, want %v", tc.filter, names(l.Threads), tc.want)
		}
	}

	// Update with the right etag, then the old etag is stale.
	upd, err := e.threads.UpdateThread(alice, &forumv1.UpdateThreadRequest{
		Thread:     &forumv1.Thread{Name: th.Name, State: forumv1.ThreadState_THREAD_STATE_RESOLVED, Title: "Hosting volunteers (solved)", Etag: th.Etag},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state", "title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.State != forumv1.ThreadState_THREAD_STATE_RESOLVED || upd.Etag == th.Etag || upd.Tags[1] != "health" {
		t.Fatalf("updated %v", upd)
	}
	_, err = e.threads.UpdateThread(alice, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Title: "x", Etag: th.Etag}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("stale etag: %v", err)
	}

	// Soft delete hides the thread from others and from lists; undelete
	// brings it back.
	if _, err := e.threads.DeleteThread(alice, &forumv1.DeleteThreadRequest{Name: th.Name}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.threads.GetThread(e.bob.ctx(t), &forumv1.GetThreadRequest{Name: th.Name}); status.Code(err) != codes.NotFound {
		t.Fatalf("bob sees a deleted thread: %v", err)
	}
	if d, err := e.threads.GetThread(alice, &forumv1.GetThreadRequest{Name: th.Name}); err != nil || d.DeleteTime == nil {
		t.Fatalf("author's view of the deleted thread: %v %v", d, err)
	}
	l, _ := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{})
	if containsString(names(l.Threads), th.Name) {
		t.Fatal("deleted thread listed")
	}
	l, _ = e.threads.ListThreads(conv, &forumv1.ListThreadsRequest{ShowDeleted: true})
	if !containsString(names(l.Threads), th.Name) {
		t.Fatal("show_deleted hides the deleted thread from a convener")
	}
	l, _ = e.threads.ListThreads(e.bob.ctx(t), &forumv1.ListThreadsRequest{ShowDeleted: true})
	if containsString(names(l.Threads), th.Name) {
		t.Fatal("show_deleted shows alice's deleted thread to bob")
	}
	theme, _ := e.themes.GetTheme(ctx, &forumv1.GetThemeRequest{Name: "themes/reciprocal-volunteering"})
	if theme.ThreadCount != 1 {
		t.Fatalf("thread_count %d after delete, want 1", theme.ThreadCount)
	}
	if _, err := e.threads.UndeleteThread(alice, &forumv1.UndeleteThreadRequest{Name: th.Name}); err != nil {
		t.Fatal(err)
	}
	theme, _ = e.themes.GetTheme(ctx, &forumv1.GetThemeRequest{Name: "themes/reciprocal-volunteering"})
	if theme.ThreadCount != 2 {
		t.Fatalf("thread_count %d after undelete, want 2", theme.ThreadCount)
	}
}

func names(ts []*forumv1.Thread) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestReplies(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	alice, bob := e.alice.ctx(t), e.bob.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Replies"})
	first := e.mustReply(t, e.alice, th.Name, "first")
	second, err := e.replies.CreateReply(bob, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "> first\n\nsecond", InReplyTo: first.Name}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: th.Name})
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplyCount != 2 || !got.LastActivityTime.AsTime().After(th.LastActivityTime.AsTime()) {
		t.Fatalf("reply_count %d, last activity %v (created %v)", got.ReplyCount, got.LastActivityTime.AsTime(), th.LastActivityTime.AsTime())
	}
	// Edit, then delete: the tombstone keeps its place without its body.
	ed, err := e.replies.UpdateReply(alice, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: first.Name, Body: "first, edited", Etag: first.Etag}})
	if err != nil || ed.EditCount != 1 || ed.Body != "first, edited" {
		t.Fatalf("edit: %v %v", ed, err)
	}
	del, err := e.replies.DeleteReply(alice, &forumv1.DeleteReplyRequest{Name: first.Name})
	if err != nil || del.Body != "" || del.BodyHtml != "" || del.DeleteTime == nil {
		t.Fatalf("delete: %v %v", del, err)
	}
	l, err := e.replies.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: th.Name})
	if err != nil || len(l.Replies) != 2 || l.Replies[0].Name != first.Name || l.Replies[0].DeleteTime == nil || l.Replies[1].InReplyTo != first.Name {
		t.Fatalf("list after delete: %v %v", l, err)
	}
	got, _ = e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: th.Name})
	if got.ReplyCount != 1 {
		t.Fatalf("reply_count %d after delete, want 1", got.ReplyCount)
	}
	_ = second
}

// TestListRepliesWhileWriting pages through a thread while writers add
// replies: no reply is skipped or repeated.
func TestListRepliesWhileWriting(t *testing.T) {
	e := newTestEnv(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Busy"})
	for i := range 120 {
		e.mustReply(t, e.alice, th.Name, fmt.Sprint("seed ", i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.replies.CreateReply(e.bob.ctx(t), &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: fmt.Sprint("w", w, " ", i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[uint64]bool{}
	var maxID uint64
	token := ""
	for pages := 0; pages < 60; pages++ {
		r, err := e.replies.ListReplies(t.Context(), &forumv1.ListRepliesRequest{Parent: th.Name, PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range r.Replies {
			id := replyID(t, rep.Name)
			if seen[id] {
				t.Fatalf("reply %s repeated", rep.Name)
			}
			if id <= maxID {
				t.Fatalf("reply %s out of order after id %d", rep.Name, maxID)
			}
			seen[id], maxID = true, id
		}
		if r.NextPageToken == "" {
			break
		}
		token = r.NextPageToken
	}
	close(stop)
	wg.Wait()
	// Every reply up to the last one seen was listed.
	n := 0
	for token = ""; ; {
		r, err := e.replies.ListReplies(t.Context(), &forumv1.ListRepliesRequest{Parent: th.Name, PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, rep := range r.Replies {
			if id := replyID(t, rep.Name); id <= maxID {
				n++
				if !seen[id] {
					t.Fatalf("reply %s skipped", rep.Name)
				}
			}
		}
		if token = r.NextPageToken; token == "" {
			break
		}
	}
	if n != len(seen) || n < 120 {
		t.Fatalf("listed %d replies up to the last seen, saw %d", n, len(seen))
	}
}

func replyID(t *testing.T, name string) uint64 {
	t.Helper()
	r, err := resname.ParseReply(name)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}
