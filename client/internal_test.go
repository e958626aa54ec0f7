package client

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func TestIsLoopback(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:7070":             true,
		"127.9.8.7:1":                true,
		"[::1]:7070":                 true,
		"localhost:7070":             true,
		"LOCALHOST":                  true,
		"dns:///localhost:7070":      true,
		"dns://8.8.8.8/127.0.0.1:1":  true,
		"passthrough:///[::1]:7070":  true,
		"unix:///run/forum.sock":     true,
		"forum.example.org:443":      false,
		"10.0.0.1:7070":              false,
		"[2001:db8::1]:443":          false,
		"dns:///forum.example.org:1": false,
		"xds:///localhost:1":         false,
		"localhost.example.org:1":    false,
	} {
		if got := isLoopback(target); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", target, got, want)
		}
	}
}

// TestRetryPolicy checks which methods the retry policy repeats, and the
// service config built from it.
func TestRetryPolicy(t *testing.T) {
	retried := retriedMethods()
	for _, m := range []string{
		forumv1.ThemeService_GetTheme_FullMethodName,
		forumv1.ThemeService_ListThemes_FullMethodName,
		forumv1.ThemeService_CreateTheme_FullMethodName,
		forumv1.ThreadService_GetThread_FullMethodName,
		forumv1.ThreadService_ListThreads_FullMethodName,
		forumv1.ThreadService_CreateThread_FullMethodName,
		forumv1.ReplyService_GetReply_FullMethodName,
		forumv1.ReplyService_ListReplies_FullMethodName,
		forumv1.ReplyService_CreateReply_FullMethodName,
		forumv1.UserService_GetUser_FullMethodName,
		forumv1.UserService_ListUsers_FullMethodName,
		forumv1.UserService_CreateUser_FullMethodName,
		forumv1.OrganizationService_CreateOrganization_FullMethodName,
		forumv1.AuthService_Login_FullMethodName,
		forumv1.SearchService_Search_FullMethodName,
	} {
		if !slices.Contains(retried, m) {
			t.Errorf("%s is not retried", m)
		}
	}
	for _, m := range []string{
		forumv1.ThemeService_UpdateTheme_FullMethodName,
		forumv1.ThemeService_DeleteTheme_FullMethodName,
		forumv1.ThreadService_UpdateThread_FullMethodName,
		forumv1.ThreadService_DeleteThread_FullMethodName,
		forumv1.ThreadService_UndeleteThread_FullMethodName,
		forumv1.ReplyService_UpdateReply_FullMethodName,
		forumv1.ReplyService_DeleteReply_FullMethodName,
		forumv1.UserService_UpdateUser_FullMethodName,
		forumv1.OrganizationService_DeleteOrganization_FullMethodName,
		forumv1.AuthService_Logout_FullMethodName,
	} {
		if slices.Contains(retried, m) {
			t.Errorf("%s is retried", m)
		}
	}
	for _, m := range []string{"/forum.v1.ApiTokenService/CreateApiToken", "/forum.v1.InvitationService/CreateInvitation"} {
		if slices.Contains(retried, m) {
			t.Errorf("%s, whose secret a replay does not return, is retried", m)
		}
	}
	// Every create of the API is idempotent through request_id, or else
	// not retried; say which, so a missing request_id is noticed.
	protoregistry.GlobalFiles.RangeFilesByPackage("forum.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			for j := range fd.Services().Get(i).Methods().Len() {
				m := fd.Services().Get(i).Methods().Get(j)
				if strings.HasPrefix(string(m.Name()), "Create") && !hasRequestID(m.Input()) {
					t.Logf("%s has no request_id, so it is not retried", m.FullName())
				}
			}
		}
		return true
	})

	var sc struct {
		MethodConfig []struct {
			Name        []map[string]string
			RetryPolicy struct {
				MaxAttempts          int
				RetryableStatusCodes []string
			}
		}
	}
	if err := json.Unmarshal([]byte(serviceConfig), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.MethodConfig) != 1 || len(sc.MethodConfig[0].Name) != len(retried) ||
		sc.MethodConfig[0].RetryPolicy.MaxAttempts != 4 ||
		!slices.Equal(sc.MethodConfig[0].RetryPolicy.RetryableStatusCodes, []string{"UNAVAILABLE"}) {
		t.Errorf("service config %s", serviceConfig)
	}
	for _, n := range sc.MethodConfig[0].Name {
		if full := "/" + n["service"] + "/" + n["method"]; !slices.Contains(retried, full) {
			t.Errorf("service config names %s", full)
		}
	}
}

func TestRequestID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewRequestID()
		if !uuid.MatchString(id) || seen[id] {
			t.Fatalf("NewRequestID() = %q: not a fresh UUIDv7", id)
		}
		seen[id] = true
	}
	// The first 48 bits are the Unix time in milliseconds, so ids of
	// different milliseconds sort in time order.
	at := time.UnixMilli(0x0190_1234_5678)
	if id := newUUIDv7(at); !strings.HasPrefix(id, "01901234-5678-7") {
		t.Errorf("newUUIDv7(%v) = %q, want the time 0x019012345678 first", at, id)
	}
	prev := ""
	for i := range 50 {
		id := newUUIDv7(at.Add(time.Duration(i) * time.Millisecond))
		if id <= prev {
			t.Errorf("ids out of time order: %q after %q", id, prev)
		}
		prev = id
	}

	req := &forumv1.CreateReplyRequest{Parent: "threads/1"}
	got := withRequestID(req).(*forumv1.CreateReplyRequest)
	if req.RequestId != "" || !uuid.MatchString(got.RequestId) || got.Parent != "threads/1" {
		t.Errorf("withRequestID: caller's %q, sent %v", req.RequestId, got)
	}
	set := &forumv1.CreateReplyRequest{RequestId: "mine"}
	if withRequestID(set) != any(set) {
		t.Error("withRequestID replaced a set request id")
	}
	get := &forumv1.GetThreadRequest{Name: "threads/1"}
	if withRequestID(get) != any(get) {
		t.Error("withRequestID changed a request without request_id")
	}
}
