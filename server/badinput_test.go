package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/gateway"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// badInputCase is a bad request of TestBadInput: call makes it and returns
// its error (nil on success); code is the status expected and, for
// INVALID_ARGUMENT, field the field violation expected ("" for none).
type badInputCase struct {
	name  string
	call  func() error
	code  codes.Code
	field string
}

// rawCodec sends pre-encoded bytes, so a test can put on the wire what the
// Go protobuf library refuses to marshal (invalid UTF-8).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

var _ encoding.CodecV2 = rawCodec{}

// TestBadInput sends every kind of bad request the API must refuse, checks
// the status code and the field named, and checks that the database is
// byte-for-byte the same logical content afterwards.
func TestBadInput(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	thread := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Placements in 2027", Body: "What worked?"})
	other := e.mustThread(t, e.bob, &forumv1.Thread{Title: "Another thread"})
	reply := e.mustReply(t, e.alice, thread.Name, "first")
	otherReply := e.mustReply(t, e.bob, other.Name, "elsewhere")
	locked := e.mustThread(t, e.convener, &forumv1.Thread{Title: "Closed topic", State: stateLockedLegacy})
	themesPage, err := e.themes.ListThemes(ctx, &forumv1.ListThemesRequest{PageSize: 1})
	if err != nil || themesPage.NextPageToken == "" {
		t.Fatalf("ListThemes: %v, token %q", err, themesPage.GetNextPageToken())
	}
	for range 3 {
		e.mustThread(t, e.alice, &forumv1.Thread{Title: "filler"})
	}
	threadsPage, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageSize: 1})
	if err != nil || threadsPage.NextPageToken == "" {
		t.Fatalf("ListThreads: %v, token %q", err, threadsPage.GetNextPageToken())
	}
	tampered := []byte(threadsPage.NextPageToken)
	tampered[0] ^= 1
	if tampered[0] == '-' || tampered[0] == '_' {
		tampered[0] = 'A'
	}
	expired, expiredHash := auth.NewToken(auth.SessionPrefix)
	if _, err := e.store.CreateSession(ctx, resname.MustParseUser(e.alice.name), expiredHash, time.Hour, -time.Minute); err != nil {
		t.Fatal(err)
	}
	withToken := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	// invalidUTF8 encodes a CreateThreadRequest whose title holds the byte 0xff.
	invalidUTF8 := func() []byte {
		var th []byte
		th = protowire.AppendTag(th, 2, protowire.BytesType)
		th = protowire.AppendString(th, "themes/knowledge-exchange")
		th = protowire.AppendTag(th, 3, protowire.BytesType)
		th = protowire.AppendBytes(th, []byte("bad \xff title"))
		var req []byte
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		return protowire.AppendBytes(req, th)
	}()

	aliceCtx, bobCtx, convCtx := e.alice.ctx(t), e.bob.ctx(t), e.convener.ctx(t)
	newThread := func(mod func(*forumv1.Thread)) *forumv1.CreateThreadRequest {
		th := &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "A title", Body: "body"}
		mod(th)
		return &forumv1.CreateThreadRequest{Thread: th}
	}
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }

	tests := []badInputCase{
		{"empty title", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Title = "" }))
			return err
		}, codes.InvalidArgument, "thread.title"},
		{"blank title", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Title = "   " }))
			return err
		}, codes.InvalidArgument, "thread.title"},
		{"301-character title", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Title = strings.Repeat("é", 301) }))
			return err
		}, codes.InvalidArgument, "thread.title"},
		{"NUL in title", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Title = "a\x00b" }))
			return err
		}, codes.InvalidArgument, "thread.title"},
		{"invalid UTF-8 on the wire", func() error {
			var out forumv1.Thread
			return e.conn.Invoke(aliceCtx, forumv1.ThreadService_CreateThread_FullMethodName, invalidUTF8, &out, grpc.ForceCodecV2(rawCodec{}))
		}, codes.InvalidArgument, ""},
		{"unknown theme", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Theme = "themes/no-such-theme" }))
			return err
		}, codes.InvalidArgument, "thread.theme"},
		{"malformed theme", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Theme = "themes/Bad Slug" }))
			return err
		}, codes.InvalidArgument, "thread.theme"},
		{"follow_up_of a missing thread", func() error {
			_, err := e.threads.CreateThread(convCtx, newThread(func(th *forumv1.Thread) {
				th.Kind, th.FollowUpOf = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, "threads/999999"
			}))
			return err
		}, codes.InvalidArgument, "thread.follow_up_of"},
		{"FOLLOW_UP without follow_up_of", func() error {
			_, err := e.threads.CreateThread(convCtx, newThread(func(th *forumv1.Thread) { th.Kind = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP }))
			return err
		}, codes.InvalidArgument, "thread.follow_up_of"},
		{"follow_up_of on a discussion", func() error {
			_, err := e.threads.CreateThread(convCtx, newThread(func(th *forumv1.Thread) { th.FollowUpOf = thread.Name }))
			return err
		}, codes.InvalidArgument, "thread.follow_up_of"},
		{"unknown kind", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Kind = 42 }))
			return err
		}, codes.InvalidArgument, "thread.kind"},
		{"eleven tags", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) {
				for i := range 11 {
					th.Tags = append(th.Tags, fmt.Sprintf("t%d", i))
				}
			}))
			return err
		}, codes.InvalidArgument, "thread.tags"},
		{"uppercase tag", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Tags = []string{"Health"} }))
			return err
		}, codes.InvalidArgument, "thread.tags[0]"},
		{"duplicate tag", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Tags = []string{"a", "a"} }))
			return err
		}, codes.InvalidArgument, "thread.tags[1]"},
		{"64 KiB + 1 thread body", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) { th.Body = strings.Repeat("x", 64<<10+1) }))
			return err
		}, codes.InvalidArgument, "thread.body"},
		{"64 KiB + 1 reply body", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: thread.Name, Reply: &forumv1.Reply{Body: strings.Repeat("x", 64<<10+1)}})
			return err
		}, codes.InvalidArgument, "reply.body"},
		{"empty reply", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: thread.Name, Reply: &forumv1.Reply{Body: " \n"}})
			return err
		}, codes.InvalidArgument, "reply.body"},
		{"message over 1 MiB", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: thread.Name, Reply: &forumv1.Reply{Body: strings.Repeat("x", 2<<20)}})
			return err
		}, codes.ResourceExhausted, ""},
		{"in_reply_to from another thread", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: thread.Name, Reply: &forumv1.Reply{Body: "x", InReplyTo: otherReply.Name}})
			return err
		}, codes.InvalidArgument, "reply.in_reply_to"},
		{"in_reply_to a missing reply", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: thread.Name, Reply: &forumv1.Reply{Body: "x", InReplyTo: thread.Name + "/replies/999999"}})
			return err
		}, codes.InvalidArgument, "reply.in_reply_to"},
		{"reply to a missing thread", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: "threads/999999", Reply: &forumv1.Reply{Body: "x"}})
			return err
		}, codes.NotFound, ""},
		{"reply to a locked thread", func() error {
			_, err := e.replies.CreateReply(aliceCtx, &forumv1.CreateReplyRequest{Parent: locked.Name, Reply: &forumv1.Reply{Body: "x"}})
			return err
		}, codes.FailedPrecondition, ""},
		{"tampered page token", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageToken: string(tampered)})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"foreign page token", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageToken: themesPage.NextPageToken})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"page token with another filter", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageToken: threadsPage.NextPageToken, Filter: "state = OPEN"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"page token of another thread's replies", func() error {
			p, err := e.replies.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: thread.Name, PageSize: 1})
			if err != nil {
				return err
			}
			_, err = e.replies.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: other.Name, PageToken: p.NextPageToken + "x"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"garbage page token", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageToken: strings.Repeat("%", 2000)})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"negative page size", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"huge page size is lowered to 100", func() error {
			r, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{PageSize: 1 << 30})
			if err == nil && len(r.Threads) > 100 {
				return fmt.Errorf("got %d threads", len(r.Threads))
			}
			return err
		}, codes.OK, ""},
		{"bad filter", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{Filter: "colour = red"})
			return err
		}, codes.InvalidArgument, "filter"},
		{"bad order_by", func() error {
			_, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{OrderBy: "title"})
			return err
		}, codes.InvalidArgument, "order_by"},
		{"unknown update_mask path", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, Title: "x"}, UpdateMask: mask("colour")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update_mask author", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, Author: e.bob.name}, UpdateMask: mask("author")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update_mask reply_count", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, ReplyCount: 9}, UpdateMask: mask("reply_count")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update_mask create_time", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name}, UpdateMask: mask("title", "create_time")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"update_mask name", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name}, UpdateMask: mask("name")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"reply update_mask author", func() error {
			_, err := e.replies.UpdateReply(aliceCtx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: reply.Name, Body: "x"}, UpdateMask: mask("author")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"user update_mask username", func() error {
			_, err := e.users.UpdateUser(aliceCtx, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.alice.name, Username: "root"}, UpdateMask: mask("username")})
			return err
		}, codes.InvalidArgument, "update_mask"},
		{"stale thread etag", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, Title: "new", Etag: `"stale"`}, UpdateMask: mask("title")})
			return err
		}, codes.Aborted, ""},
		{"stale reply etag", func() error {
			_, err := e.replies.DeleteReply(aliceCtx, &forumv1.DeleteReplyRequest{Name: reply.Name, Etag: `"stale"`})
			return err
		}, codes.Aborted, ""},
		{"no token on a write", func() error {
			_, err := e.threads.CreateThread(ctx, newThread(func(*forumv1.Thread) {}))
			return err
		}, codes.Unauthenticated, ""},
		{"unknown token", func() error {
			_, err := e.threads.CreateThread(withToken("not-a-token"), newThread(func(*forumv1.Thread) {}))
			return err
		}, codes.Unauthenticated, ""},
		{"expired token", func() error {
			_, err := e.threads.CreateThread(withToken(expired), newThread(func(*forumv1.Thread) {}))
			return err
		}, codes.Unauthenticated, ""},
		{"malformed authorization header", func() error {
			_, err := e.threads.CreateThread(metadata.AppendToOutgoingContext(ctx, "authorization", "Basic abc"), newThread(func(*forumv1.Thread) {}))
			return err
		}, codes.Unauthenticated, ""},
		{"two authorization headers", func() error {
			c := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.alice.token, "authorization", "Bearer "+e.bob.token)
			_, err := e.threads.CreateThread(c, newThread(func(*forumv1.Thread) {}))
			return err
		}, codes.Unauthenticated, ""},
		{"edit someone else's thread", func() error {
			_, err := e.threads.UpdateThread(bobCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, Title: "mine now"}, UpdateMask: mask("title")})
			return err
		}, codes.PermissionDenied, ""},
		{"edit someone else's reply", func() error {
			_, err := e.replies.UpdateReply(bobCtx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: reply.Name, Body: "mine now"}})
			return err
		}, codes.PermissionDenied, ""},
		{"delete someone else's reply", func() error {
			_, err := e.replies.DeleteReply(bobCtx, &forumv1.DeleteReplyRequest{Name: reply.Name})
			return err
		}, codes.PermissionDenied, ""},
		{"delete someone else's thread", func() error {
			_, err := e.threads.DeleteThread(bobCtx, &forumv1.DeleteThreadRequest{Name: thread.Name})
			return err
		}, codes.PermissionDenied, ""},
		{"member pins a thread", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, Pinned: true}, UpdateMask: mask("pinned")})
			return err
		}, codes.PermissionDenied, ""},
		{"member locks a thread", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: thread.Name, State: stateLockedLegacy}, UpdateMask: mask("state")})
			return err
		}, codes.PermissionDenied, ""},
		{"member unlocks a locked thread", func() error {
			_, err := e.threads.UpdateThread(aliceCtx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: locked.Name, State: forumv1.ThreadState_THREAD_STATE_OPEN}, UpdateMask: mask("state")})
			return err
		}, codes.PermissionDenied, ""},
		{"member opens a follow-up", func() error {
			_, err := e.threads.CreateThread(aliceCtx, newThread(func(th *forumv1.Thread) {
				th.Kind, th.FollowUpOf = forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, thread.Name
			}))
			return err
		}, codes.PermissionDenied, ""},
		{"member creates a theme", func() error {
			_, err := e.themes.CreateTheme(aliceCtx, &forumv1.CreateThemeRequest{ThemeId: "mine", Theme: &forumv1.Theme{DisplayName: "Mine"}})
			return err
		}, codes.PermissionDenied, ""},
		{"member creates a user", func() error {
			_, err := e.users.CreateUser(aliceCtx, &forumv1.CreateUserRequest{User: &forumv1.User{Username: "eve", DisplayName: "Eve"}, Password: testPassword})
			return err
		}, codes.PermissionDenied, ""},
		{"member makes themselves admin", func() error {
			_, err := e.users.UpdateUser(aliceCtx, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.alice.name, Role: forumv1.Role_ROLE_ADMIN}, UpdateMask: mask("role")})
			return err
		}, codes.PermissionDenied, ""},
		{"member renames another user", func() error {
			_, err := e.users.UpdateUser(aliceCtx, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.bob.name, DisplayName: "Bobby"}, UpdateMask: mask("display_name")})
			return err
		}, codes.PermissionDenied, ""},
		{"duplicate theme", func() error {
			_, err := e.themes.CreateTheme(convCtx, &forumv1.CreateThemeRequest{ThemeId: "joint-programmes", Theme: &forumv1.Theme{DisplayName: "Again"}})
			return err
		}, codes.AlreadyExists, ""},
		{"bad theme id", func() error {
			_, err := e.themes.CreateTheme(convCtx, &forumv1.CreateThemeRequest{ThemeId: "Not A Slug", Theme: &forumv1.Theme{DisplayName: "x"}})
			return err
		}, codes.InvalidArgument, "theme_id"},
		{"delete a theme with threads", func() error {
			_, err := e.themes.DeleteTheme(convCtx, &forumv1.DeleteThemeRequest{Name: "themes/knowledge-exchange"})
			return err
		}, codes.FailedPrecondition, ""},
		{"missing thread", func() error {
			_, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: "threads/999999"})
			return err
		}, codes.NotFound, ""},
		{"malformed thread names", func() error {
			for _, n := range []string{"threads/abc", "threads/-1", "threads/01", "threads/../1", "threads/", "thread/1", "threads/99999999999999999999999"} {
				_, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: n})
				if status.Code(err) != codes.InvalidArgument {
					return fmt.Errorf("GetThread(%q) = %v", n, err)
				}
			}
			return status.Error(codes.InvalidArgument, "all refused")
		}, codes.InvalidArgument, ""},
		{"undelete a live thread", func() error {
			_, err := e.threads.UndeleteThread(aliceCtx, &forumv1.UndeleteThreadRequest{Name: thread.Name})
			return err
		}, codes.FailedPrecondition, ""},
		{"bad request_id", func() error {
			r := newThread(func(*forumv1.Thread) {})
			r.RequestId = "no spaces allowed"
			_, err := e.threads.CreateThread(aliceCtx, r)
			return err
		}, codes.InvalidArgument, "request_id"},
		{"wrong password", func() error {
			_, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: "alice", Password: "wrong password!"})
			return err
		}, codes.Unauthenticated, ""},
		{"unknown user", func() error {
			_, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: "mallory", Password: testPassword})
			return err
		}, codes.Unauthenticated, ""},
	}
	// Invalid UTF-8 in every path and query parameter of every HTTP route,
	// and in a JSON string of every body, over the HTTP door, with the same
	// strings over the gRPC door: generated from forum_http.yaml.
	tests = append(tests, invalidUTF8Cases(t, e)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := e.store.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call()
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tt.code)
			}
			if tt.code == codes.InvalidArgument && tt.field != "" {
				var fields []string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.FieldViolations {
							fields = append(fields, v.Field)
						}
					}
				}
				if !containsString(fields, tt.field) {
					t.Errorf("field violations %v (%v), want one for %q", fields, err, tt.field)
				}
			}
			if tt.code != codes.OK && !strings.Contains(st.Message(), " ") {
				t.Errorf("message %q does not explain the error", st.Message())
			}
			after, err := e.store.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if before != after {
				t.Errorf("the database changed")
			}
		})
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// httpRule is a rule of proto/forum/v1/forum_http.yaml (google.api.HttpRule).
type httpRule struct {
	Selector           string     `yaml:"selector"`
	Get                string     `yaml:"get"`
	Put                string     `yaml:"put"`
	Post               string     `yaml:"post"`
	Delete             string     `yaml:"delete"`
	Patch              string     `yaml:"patch"`
	Body               string     `yaml:"body"`
	AdditionalBindings []httpRule `yaml:"additional_bindings"`
}

// httpRoute is one HTTP binding of a gRPC method.
type httpRoute struct {
	rpc    protoreflect.MethodDescriptor
	method string     // HTTP method
	path   []pathPart // the path template, split
	body   string     // "", "*" or the request field the body binds
}

// pathPart is literal text of a path template, or, when field is set, a
// variable {field=pattern}.
type pathPart struct {
	literal        string
	field, pattern string
}

// loadHTTPRoutes parses forum_http.yaml into routes, with their request
// messages found in the proto registry, so that a new route is covered as
// soon as it is mapped.
func loadHTTPRoutes(t testing.TB) []httpRoute {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "proto", "forum", "v1", "forum_http.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		HTTP struct {
			Rules []httpRule `yaml:"rules"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("forum_http.yaml: %v", err)
	}
	var routes []httpRoute
	var add func(selector string, r httpRule)
	add = func(selector string, r httpRule) {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(selector))
		if err != nil {
			t.Fatalf("forum_http.yaml: selector %s: %v", selector, err)
		}
		rpc, ok := d.(protoreflect.MethodDescriptor)
		if !ok {
			t.Fatalf("forum_http.yaml: selector %s is not a method", selector)
		}
		var bindings []httpRoute
		for method, tmpl := range map[string]string{http.MethodGet: r.Get, http.MethodPut: r.Put, http.MethodPost: r.Post, http.MethodDelete: r.Delete, http.MethodPatch: r.Patch} {
			if tmpl != "" {
				bindings = append(bindings, httpRoute{rpc: rpc, method: method, path: parsePathTemplate(t, tmpl), body: r.Body})
			}
		}
		if len(bindings) != 1 {
			t.Fatalf("forum_http.yaml: %s has %d HTTP methods, want 1 (a kind this test does not know?)", selector, len(bindings))
		}
		routes = append(routes, bindings[0])
		for _, ab := range r.AdditionalBindings {
			add(selector, ab)
		}
	}
	for _, r := range cfg.HTTP.Rules {
		add(r.Selector, r)
	}
	if len(routes) == 0 {
		t.Fatal("forum_http.yaml: no routes")
	}
	return routes
}

// parsePathTemplate splits a path template ("/v1/{name=threads/*}:undelete")
// into literal text and variables; a variable without a pattern is "*".
func parsePathTemplate(t testing.TB, tmpl string) []pathPart {
	var parts []pathPart
	for rest := tmpl; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			parts = append(parts, pathPart{literal: rest})
			break
		}
		end := strings.IndexByte(rest, '}')
		if end < open {
			t.Fatalf("path template %q: unbalanced braces", tmpl)
		}
		if open > 0 {
			parts = append(parts, pathPart{literal: rest[:open]})
		}
		field, pattern, _ := strings.Cut(rest[open+1:end], "=")
		if pattern == "" {
			pattern = "*"
		}
		if !strings.Contains(pattern, "*") {
			t.Fatalf("path template %q: variable %s has no wildcard", tmpl, field)
		}
		parts = append(parts, pathPart{field: field, pattern: pattern})
		rest = rest[end+1:]
	}
	return parts
}

// url returns the route's path with every variable's wildcards filled with
// "1", except the last wildcard of variable bad, which gets badValue (an
// escaped path segment).
func (r httpRoute) url(bad, badValue string) string {
	var b strings.Builder
	for _, p := range r.path {
		if p.field == "" {
			b.WriteString(p.literal)
			continue
		}
		segs := strings.Split(p.pattern, "/")
		last := -1
		for i, s := range segs {
			if s == "*" || s == "**" {
				segs[i], last = "1", i
			}
		}
		if p.field == bad {
			segs[last] = badValue
		}
		b.WriteString(strings.Join(segs, "/"))
	}
	return b.String()
}

// pathFields returns the field paths of the route's path variables.
func (r httpRoute) pathFields() []string {
	var fields []string
	for _, p := range r.path {
		if p.field != "" {
			fields = append(fields, p.field)
		}
	}
	return fields
}

// queryParam is a query parameter of a route: a request field by its proto
// path (dotted) and its JSON path, both of which grpc-gateway accepts.
type queryParam struct {
	protoPath, jsonPath string
	field               protoreflect.FieldDescriptor
}

// queryParams returns the query parameters of a route: the fields of its
// request message that neither the path nor the body binds, recursing into
// message fields (grpc-gateway accepts "thread.title"); well-known types
// (FieldMask, Timestamp, ...) are single parameters, as grpc-gateway parses
// them from a string. Repeated messages and maps, which grpc-gateway does
// not take from a query, are left out. A body of "*" leaves none.
func (r httpRoute) queryParams() []queryParam {
	if r.body == "*" {
		return nil
	}
	bound := map[string]bool{}
	for _, f := range r.pathFields() {
		bound[f] = true
	}
	if r.body != "" {
		bound[r.body] = true
	}
	var params []queryParam
	var walk func(md protoreflect.MessageDescriptor, protoPrefix, jsonPrefix string, depth int)
	walk = func(md protoreflect.MessageDescriptor, protoPrefix, jsonPrefix string, depth int) {
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			p := queryParam{protoPath: protoPrefix + string(fd.Name()), jsonPath: jsonPrefix + fd.JSONName(), field: fd}
			switch {
			case bound[p.protoPath], fd.IsMap():
			case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
				params = append(params, p)
			case fd.IsList():
			case strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf."):
				params = append(params, p)
			case depth < 3:
				walk(fd.Message(), p.protoPath+".", p.jsonPath+".", depth+1)
			}
		}
	}
	walk(r.rpc.Input(), "", "", 0)
	return params
}

// bodyStringField returns the proto path, within the request message, and
// the JSON name, within the body, of the first singular string field the
// route's body sets and its path does not, or ok false if there is none.
func (r httpRoute) bodyStringField() (protoPath, jsonName string, ok bool) {
	md, prefix := r.rpc.Input(), ""
	switch r.body {
	case "":
		return "", "", false
	case "*":
	default:
		fd := md.Fields().ByName(protoreflect.Name(r.body))
		if fd == nil || fd.Message() == nil {
			return "", "", false
		}
		md, prefix = fd.Message(), r.body+"."
	}
	bound := map[string]bool{}
	for _, f := range r.pathFields() {
		bound[f] = true
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() == protoreflect.StringKind && !fd.IsList() && !bound[prefix+string(fd.Name())] {
			return prefix + string(fd.Name()), fd.JSONName(), true
		}
	}
	return "", "", false
}

// encodeField encodes a request message that sets only the string field at
// path (through its enclosing messages) to value, which may be invalid
// UTF-8: what the Go protobuf library refuses to marshal.
func encodeField(md protoreflect.MessageDescriptor, path []string, value []byte) []byte {
	fd := md.Fields().ByName(protoreflect.Name(path[0]))
	inner := value
	if len(path) > 1 {
		inner = encodeField(fd.Message(), path[1:], value)
	}
	b := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
	return protowire.AppendBytes(b, inner)
}

// invalidUTF8Cases returns, for every route of forum_http.yaml, the
// requests over the gateway (gateway.New over the test server's own
// connection, as forumd builds it) that put invalid UTF-8 in each path
// parameter, each query parameter (under its JSON and its proto name) and
// a string of the JSON body: each must be 400 INVALID_ARGUMENT naming the
// parameter (the body's: no field), never 500. For every string among
// them, the same bytes over gRPC (raw protobuf) must be INVALID_ARGUMENT
// too, so both doors give the same code.
func invalidUTF8Cases(t *testing.T, e *testEnv) []badInputCase {
	t.Helper()
	gw, err := gateway.New(t.Context(), e.conn, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const escaped, raw = "%C0%AF", "\xc0\xaf" // an overlong "/"
	viaHTTP := func(method, target, body string) func() error {
		return func() error {
			req := httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.alice.token)
			rec := httptest.NewRecorder()
			gw.ServeHTTP(rec, req)
			var p spb.Status
			if err := protojson.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				return fmt.Errorf("HTTP %d, body %q is not google.rpc.Status JSON: %w", rec.Code, rec.Body.String(), err)
			}
			err := status.FromProto(&p).Err()
			if rec.Code != http.StatusBadRequest {
				return fmt.Errorf("HTTP %d, want 400: %w", rec.Code, err)
			}
			return err
		}
	}
	viaGRPC := func(rpc protoreflect.MethodDescriptor, path string) func() error {
		return func() error {
			in := encodeField(rpc.Input(), strings.Split(path, "."), []byte(raw))
			out := dynamicpb.NewMessage(rpc.Output())
			full := "/" + string(rpc.Parent().FullName()) + "/" + string(rpc.Name())
			return e.conn.Invoke(e.alice.ctx(t), full, in, out, grpc.ForceCodecV2(rawCodec{}))
		}
	}

	var cases []badInputCase
	for _, r := range loadHTTPRoutes(t) {
		rpc, emptyBody := r.rpc.Name(), ""
		if r.body != "" {
			emptyBody = "{}"
		}
		for _, f := range r.pathFields() {
			cases = append(cases,
				badInputCase{fmt.Sprintf("HTTP %s: invalid UTF-8 in path parameter %s", rpc, f), viaHTTP(r.method, r.url(f, escaped), emptyBody), codes.InvalidArgument, f},
				badInputCase{fmt.Sprintf("gRPC %s: invalid UTF-8 in %s", rpc, f), viaGRPC(r.rpc, f), codes.InvalidArgument, ""})
		}
		for _, q := range r.queryParams() {
			names := []string{q.jsonPath}
			if q.protoPath != q.jsonPath {
				names = append(names, q.protoPath)
			}
			for _, name := range names {
				cases = append(cases, badInputCase{fmt.Sprintf("HTTP %s: invalid UTF-8 in query parameter %s", rpc, name),
					viaHTTP(r.method, r.url("", "")+"?"+name+"="+escaped, emptyBody), codes.InvalidArgument, name})
			}
			if q.field.Kind() == protoreflect.StringKind {
				cases = append(cases, badInputCase{fmt.Sprintf("gRPC %s: invalid UTF-8 in %s", rpc, q.protoPath), viaGRPC(r.rpc, q.protoPath), codes.InvalidArgument, ""})
			}
		}
		if path, jsonName, ok := r.bodyStringField(); ok {
			cases = append(cases,
				badInputCase{fmt.Sprintf("HTTP %s: invalid UTF-8 in body field %s", rpc, path), viaHTTP(r.method, r.url("", ""), `{"`+jsonName+`":"`+raw+`"}`), codes.InvalidArgument, ""},
				badInputCase{fmt.Sprintf("gRPC %s: invalid UTF-8 in %s", rpc, path), viaGRPC(r.rpc, path), codes.InvalidArgument, ""})
		}
	}
	return cases
}
