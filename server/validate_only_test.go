package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestValidateOnly checks AIP-163 validate_only on CreateThread and
// CreateReply: a validate-only call answers exactly what the real call
// would (the same error code, or the resource with body_html rendered),
// writes nothing, and leaves out what only a create assigns (name, times,
// etag).
func TestValidateOnly(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	parent := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Parent", Body: "p"})
	other := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Other"})
	otherReply := e.mustReply(t, e.bob, other.Name, "elsewhere")
	locked := e.mustThread(t, e.convener, &forumv1.Thread{Title: "Locked", State: stateLockedLegacy})
	aliceCtx, convCtx := e.alice.ctx(t), e.convener.ctx(t)
	thread := func(mod func(*forumv1.Thread)) *forumv1.Thread {
		th := &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "A title", Body: "**bold** and <script>x</script> [link](javascript:alert(1)) https://example.org"}
		mod(th)
		return th
	}
	threadCases := []struct {
		name   string
		who    string
		thread *forumv1.Thread
		code   codes.Code
	}{
		{"valid", "alice", thread(func(*forumv1.Thread) {}), codes.OK},
		{"follow-up by a convener", "convener", thread(func(th *forumv1.Thread) {
			th.Kind, th.FollowUpOf = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, parent.Name
		}), codes.OK},
		{"follow-up by a member", "alice", thread(func(th *forumv1.Thread) {
			th.Kind, th.FollowUpOf = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, parent.Name
		}), codes.PermissionDenied},
		{"follow-up of a missing thread", "convener", thread(func(th *forumv1.Thread) {
			th.Kind, th.FollowUpOf = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, "threads/999999"
		}), codes.InvalidArgument},
		{"unknown theme", "alice", thread(func(th *forumv1.Thread) { th.Theme = "themes/nowhere" }), codes.InvalidArgument},
		{"empty title", "alice", thread(func(th *forumv1.Thread) { th.Title = "" }), codes.InvalidArgument},
		{"anonymous", "", thread(func(*forumv1.Thread) {}), codes.Unauthenticated},
	}
	for _, tt := range threadCases {
		t.Run("thread/"+tt.name, func(t *testing.T) {
			c := ctx
			switch tt.who {
			case "alice":
				c = aliceCtx
			case "convener":
				c = convCtx
			}
			before := digest(t, e)
			got, err := e.threads.CreateThread(c, &forumv1.CreateThreadRequest{Thread: proto.CloneOf(tt.thread), ValidateOnly: true})
			if code := status.Code(err); code != tt.code {
				t.Fatalf("validate only: %v, want %v", err, tt.code)
			}
			if after := digest(t, e); after != before {
				t.Fatal("a validate-only call changed the database")
			}
			created, err := e.threads.CreateThread(c, &forumv1.CreateThreadRequest{Thread: proto.CloneOf(tt.thread)})
			if code := status.Code(err); code != tt.code {
				t.Fatalf("the real call: %v, want %v like the validate-only one", err, tt.code)
			}
			if tt.code != codes.OK {
				return
			}
			if got.Name != "" || got.CreateTime != nil || got.Etag != "" || got.LastActivityTime != nil {
				t.Errorf("validate-only answer has fields only a create assigns: %v", got)
			}
			if got.BodyHtml == "" || strings.Contains(got.BodyHtml, "<script") || strings.Contains(got.BodyHtml, "javascript:") {
				t.Errorf("body_html %q: not rendered and sanitised", got.BodyHtml)
			}
			want := proto.CloneOf(created)
			want.Name, want.CreateTime, want.UpdateTime, want.LastActivityTime, want.Etag = "", nil, nil, nil, ""
			if !proto.Equal(got, want) {
				t.Errorf("validate-only answer\n %v\ndiffers from what was created (less name, times, etag)\n %v", got, want)
			}
		})
	}

	replyCases := []struct {
		name   string
		parent string
		reply  *forumv1.Reply
		code   codes.Code
	}{
		{"valid", parent.Name, &forumv1.Reply{Body: "| a | b |\n|---|---|\n| 1 | 2 |"}, codes.OK},
		{"in reply to a reply", parent.Name, &forumv1.Reply{Body: "quoting", InReplyTo: e.mustReply(t, e.bob, parent.Name, "first").Name}, codes.OK},
		{"locked thread", locked.Name, &forumv1.Reply{Body: "let me in"}, codes.FailedPrecondition},
		{"in reply to another thread's reply", parent.Name, &forumv1.Reply{Body: "x", InReplyTo: otherReply.Name}, codes.InvalidArgument},
		{"missing thread", "threads/999999", &forumv1.Reply{Body: "x"}, codes.NotFound},
		{"empty body", parent.Name, &forumv1.Reply{Body: ""}, codes.InvalidArgument},
	}
	for _, tt := range replyCases {
		t.Run("reply/"+tt.name, func(t *testing.T) {
			before := digest(t, e)
			got, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: tt.parent, Reply: proto.CloneOf(tt.reply), ValidateOnly: true})
			if code := status.Code(err); code != tt.code {
				t.Fatalf("validate only: %v, want %v", err, tt.code)
			}
			if after := digest(t, e); after != before {
				t.Fatal("a validate-only call changed the database")
			}
			created, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: tt.parent, Reply: proto.CloneOf(tt.reply)})
			if code := status.Code(err); code != tt.code {
				t.Fatalf("the real call: %v, want %v like the validate-only one", err, tt.code)
			}
			if tt.code != codes.OK {
				return
			}
			want := proto.CloneOf(created)
			want.Name, want.CreateTime, want.UpdateTime, want.Etag = "", nil, nil, ""
			if !proto.Equal(got, want) {
				t.Errorf("validate-only answer\n %v\ndiffers from what was created (less name, times, etag)\n %v", got, want)
			}
		})
	}
}

// TestValidateOnlyNotChargedAsCreate: previews are charged to the caller's
// bucket, not to the create bucket, so a delegate previewing a long post
// can still publish it.
func TestValidateOnlyNotChargedAsCreate(t *testing.T) {
	limits := DefaultRateLimits()
	limits.Create = Per(1, time.Hour, 1)
	e := newLimitedEnv(t, limits)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Previews"}) // through the unlimited server
	ctx := from(e.alice.ctx(t), "203.0.113.7")
	for i := range 5 {
		if _, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: fmt.Sprintf("draft %d", i)}, ValidateOnly: true}); err != nil {
			t.Fatalf("preview %d: %v", i, err)
		}
	}
	if _, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "final"}}); err != nil {
		t.Fatalf("publishing after previews: %v", err)
	}
	_, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "one more"}})
	wantRateLimited(t, err, "create", time.Hour)
}

func digest(t *testing.T, e *testEnv) string {
	t.Helper()
	d, err := e.store.Digest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
