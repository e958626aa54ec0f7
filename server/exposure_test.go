package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

type recorded struct {
	method, caller, json string
}

// TestNoSecretsInResponses runs a scenario and scans every response: no
// password hash, no token hash, no secret outside the response that
// issues it, and no e-mail address but the caller's own.
func TestNoSecretsInResponses(t *testing.T) {
	e := newTestEnvWith(t, Config{SelfRegistration: true})
	var log []recorded
	// call invokes a method on the test server and records its response.
	call := func(ctx context.Context, method string, req, reply proto.Message) {
		t.Helper()
		if err := e.conn.Invoke(ctx, method, req, reply); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		md, _ := metadata.FromOutgoingContext(ctx)
		b, _ := protojson.Marshal(reply)
		log = append(log, recorded{method, strings.Join(md.Get("authorization"), ""), string(b)})
	}
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	emails := map[string]string{} // user name → e-mail
	for _, u := range []testUser{e.alice, e.bob, e.convener, e.admin} {
		addr := strings.TrimPrefix(u.name, "users/") + "-person@example.org"
		emails[u.name] = addr
		call(u.ctx(t), forumv1.UserService_UpdateUser_FullMethodName, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: u.name, Email: addr}, UpdateMask: mask("email")}, &forumv1.User{})
	}
	var secrets []string
	var lr forumv1.LoginResponse
	call(t.Context(), forumv1.AuthService_Login_FullMethodName, &forumv1.LoginRequest{Username: "alice", Password: testPassword}, &lr)
	secrets = append(secrets, lr.Token)
	var reg forumv1.LoginResponse
	call(t.Context(), forumv1.AuthService_Register_FullMethodName, &forumv1.RegisterRequest{Username: "newbie", DisplayName: "N", Password: testPassword, Email: "newbie@example.org"}, &reg)
	emails[reg.User.Name] = "newbie@example.org"
	secrets = append(secrets, reg.Token)
	var tok forumv1.ApiToken
	call(e.alice.ctx(t), forumv1.ApiTokenService_CreateApiToken_FullMethodName, &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_WRITE}}}, &tok)
	var inv forumv1.Invitation
	call(e.convener.ctx(t), forumv1.InvitationService_CreateInvitation_FullMethodName, &forumv1.CreateInvitationRequest{}, &inv)
	secrets = append(secrets, tok.Token, inv.Code, e.alice.token, e.bob.token, e.convener.token, e.admin.token)

	var th forumv1.Thread
	call(e.alice.ctx(t), forumv1.ThreadService_CreateThread_FullMethodName, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "t"}}, &th)
	call(e.bob.ctx(t), forumv1.ReplyService_CreateReply_FullMethodName, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "r"}}, &forumv1.Reply{})
	for _, u := range []testUser{e.alice, e.bob, e.convener, e.admin, {}} {
		ctx := t.Context()
		if u.token != "" {
			ctx = u.ctx(t)
		}
		if u.token != "" { // the directory is for members (Config.PublicDirectory)
			call(ctx, forumv1.UserService_ListUsers_FullMethodName, &forumv1.ListUsersRequest{}, &forumv1.ListUsersResponse{})
		}
		for name := range emails {
			call(ctx, forumv1.UserService_GetUser_FullMethodName, &forumv1.GetUserRequest{Name: name}, &forumv1.User{})
		}
		call(ctx, forumv1.ThreadService_ListThreads_FullMethodName, &forumv1.ListThreadsRequest{}, &forumv1.ListThreadsResponse{})
		call(ctx, forumv1.ReplyService_ListReplies_FullMethodName, &forumv1.ListRepliesRequest{Parent: th.Name}, &forumv1.ListRepliesResponse{})
	}
	call(e.alice.ctx(t), forumv1.ApiTokenService_ListApiTokens_FullMethodName, &forumv1.ListApiTokensRequest{Parent: "users/me"}, &forumv1.ListApiTokensResponse{})
	call(e.convener.ctx(t), forumv1.InvitationService_ListInvitations_FullMethodName, &forumv1.ListInvitationsRequest{}, &forumv1.ListInvitationsResponse{})

	issuing := map[string]bool{
		forumv1.AuthService_Login_FullMethodName: true, forumv1.AuthService_Register_FullMethodName: true,
		forumv1.ApiTokenService_CreateApiToken_FullMethodName: true, forumv1.InvitationService_CreateInvitation_FullMethodName: true,
	}
	emailRE := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}`)
	callerOf := map[string]string{"Bearer " + e.alice.token: e.alice.name, "Bearer " + e.bob.token: e.bob.name, "Bearer " + e.convener.token: e.convener.name, "Bearer " + e.admin.token: e.admin.name}
	for _, r := range log {
		if strings.Contains(r.json, "argon2") {
			t.Errorf("%s returns a password hash: %s", r.method, r.json)
		}
		for _, s := range secrets {
			sum := sha256.Sum256([]byte(s))
			for _, h := range []string{hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]), base64.RawURLEncoding.EncodeToString(sum[:])} {
				if strings.Contains(r.json, h) {
					t.Errorf("%s returns a token hash", r.method)
				}
			}
			if strings.Contains(r.json, s) && !issuing[r.method] {
				t.Errorf("%s returns a secret %.8s…", r.method, s)
			}
		}
		for _, addr := range emailRE.FindAllString(r.json, -1) {
			owner := ""
			for name, a := range emails {
				if a == addr {
					owner = name
				}
			}
			selfService := r.method == forumv1.AuthService_Register_FullMethodName || r.method == forumv1.AuthService_Login_FullMethodName
			if owner == "" || (callerOf[r.caller] != owner && !selfService) {
				t.Errorf("%s as %q returns the e-mail address %s of %s", r.method, callerOf[r.caller], addr, owner)
			}
		}
	}
	if len(log) < 30 {
		t.Fatalf("only %d responses recorded", len(log))
	}
}
