package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The principals of the authorisation matrix.
const (
	pAnonymous = "anonymous"
	pAuthor    = "author"
	pMember    = "member"
	pConvener  = "convener"
	pAdmin     = "admin"
	pSuspended = "suspended"
	pTokRead   = "token:read"
	pTokWrite  = "token:write"
	pTokMod    = "token:moderate"
	pTokAdmin  = "token:admin"
)

var principals = []string{pAnonymous, pAuthor, pMember, pConvener, pAdmin, pSuspended, pTokRead, pTokWrite, pTokMod, pTokAdmin}

// Who passes each access level. This is written out by hand, apart from
// accessTable, so that a mistake in either shows up here.
var levelAllows = map[string][]string{
	"public":    principals,
	"reader":    {pAuthor, pMember, pConvener, pAdmin, pTokRead, pTokWrite, pTokMod, pTokAdmin},
	"member":    {pAuthor, pMember, pConvener, pAdmin, pTokWrite, pTokMod, pTokAdmin},
	"session":   {pAuthor, pMember, pConvener, pAdmin},
	"moderator": {pConvener, pAdmin, pTokMod, pTokAdmin},
	"admin":     {pAdmin, pTokAdmin},
}

// expectedLevel is what every RPC needs, by method name. A method of a
// forum.v1 service missing here fails TestAuthorizationMatrix.
var expectedLevel = map[string]string{
	"GetTheme": "public", "ListThemes": "public", "CreateTheme": "moderator", "UpdateTheme": "moderator", "DeleteTheme": "moderator",
	"GetThread": "public", "ListThreads": "public", "CreateThread": "member", "UpdateThread": "member", "DeleteThread": "member", "UndeleteThread": "member",
	"GetReply": "public", "ListReplies": "public", "CreateReply": "member", "UpdateReply": "member", "DeleteReply": "member",
	"Login": "public", "Logout": "session", "Register": "public", "ChangePassword": "session",
	"GetUser": "public", "ListUsers": "reader", "CreateUser": "admin", "UpdateUser": "member",
	"GetOrganization": "public", "ListOrganizations": "public", "CreateOrganization": "moderator", "UpdateOrganization": "moderator", "DeleteOrganization": "moderator",
	"CreateApiToken": "session", "ListApiTokens": "member", "DeleteApiToken": "member",
	"CreateInvitation": "moderator", "ListInvitations": "moderator", "DeleteInvitation": "moderator",
	"GetGroup": "public", "ListGroups": "public", "CreateGroup": "moderator", "UpdateGroup": "moderator", "DeleteGroup": "moderator",
}

// matrixEnv gives each principal a fresh credential per call, so that a call
// which revokes its own session (Logout) cannot disturb the next.
type matrixEnv struct {
	*testEnv
	suspended string
	tokens    map[string]string // principal → API token secret
}

func newMatrixEnv(t *testing.T) *matrixEnv {
	e := &matrixEnv{testEnv: newTestEnv(t), tokens: map[string]string{}}
	ctx := t.Context()
	u, err := e.store.CreateUser(ctx, store.SystemActor, &forumv1.User{Username: "suspended", DisplayName: "S", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	e.suspended = u.Name
	// Suspended now: suspension revokes sessions, so the sessions ctx makes
	// for this user afterwards stand for one that raced with it.
	if _, err := e.store.UpdateUser(ctx, store.SystemActor, &forumv1.User{Name: u.Name, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	// The tokens belong to the admin, so every scope is within the owner's role.
	admin := store.Actor{User: e.admin.name, Role: forumv1.Role_ROLE_ADMIN}
	for p, sc := range map[string]forumv1.TokenScope{pTokRead: forumv1.TokenScope_TOKEN_SCOPE_READ, pTokWrite: forumv1.TokenScope_TOKEN_SCOPE_WRITE,
		pTokMod: forumv1.TokenScope_TOKEN_SCOPE_MODERATE, pTokAdmin: forumv1.TokenScope_TOKEN_SCOPE_ADMIN} {
		secret, hash := auth.NewToken(auth.APITokenPrefix)
		if _, _, err := e.store.CreateAPIToken(ctx, admin, e.admin.name, &forumv1.ApiToken{DisplayName: p, Scopes: []forumv1.TokenScope{sc}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, hash, ""); err != nil {
			t.Fatal(err)
		}
		e.tokens[p] = secret
	}
	return e
}

// ctx returns a context carrying a new credential of principal p.
func (e *matrixEnv) ctx(t *testing.T, p string) context.Context {
	user := map[string]string{pAuthor: e.alice.name, pMember: e.bob.name, pConvener: e.convener.name, pAdmin: e.admin.name, pSuspended: e.suspended}[p]
	var token string
	switch {
	case p == pAnonymous:
		return t.Context()
	case user != "":
		var hash []byte
		token, hash = auth.NewToken(auth.SessionPrefix)
		if _, err := e.store.CreateSession(t.Context(), user, hash, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
	default:
		token = e.tokens[p]
	}
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
}

func denied(err error) bool {
	c := status.Code(err)
	return c == codes.Unauthenticated || c == codes.PermissionDenied
}

// TestAuthorizationMatrix calls every method of every forum.v1 service, found
// in the generated descriptors, as every principal with an empty request:
// a principal the method's access level allows gets past authorisation (any
// code but UNAUTHENTICATED or PERMISSION_DENIED, typically
// INVALID_ARGUMENT); any other is refused.
func TestAuthorizationMatrix(t *testing.T) {
	e := newMatrixEnv(t)
	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("forum.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				methods++
				level, ok := expectedLevel[string(md.Name())]
				if !ok {
					t.Errorf("%s has no expected access level in this test", md.FullName())
					continue
				}
				full := fmt.Sprintf("/%s/%s", sd.FullName(), md.Name())
				for _, p := range principals {
					in, _ := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
					out, _ := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
					err := e.conn.Invoke(e.ctx(t, p), full, in.New().Interface(), out.New().Interface())
					want := false
					for _, a := range levelAllows[level] {
						want = want || a == p
					}
					if want == denied(err) {
						t.Errorf("%s as %s: %v; want allowed=%v", md.Name(), p, err, want)
					}
				}
			}
		}
		return true
	})
	if methods != len(expectedLevel) {
		t.Errorf("%d methods in the descriptors, %d in expectedLevel", methods, len(expectedLevel))
	}
}

// TestOwnershipMatrix checks the methods that change a post: the author,
// conveners and admins (and their moderating tokens) may; another member, or
// a WRITE token that is not the author's, may not.
func TestOwnershipMatrix(t *testing.T) {
	e := newMatrixEnv(t)
	allowed := map[string]bool{pAuthor: true, pConvener: true, pAdmin: true, pTokMod: true, pTokAdmin: true}
	calls := map[string]func(ctx context.Context, thread *forumv1.Thread, reply *forumv1.Reply) error{
		"UpdateThread": func(ctx context.Context, th *forumv1.Thread, _ *forumv1.Reply) error {
			_, err := e.threads.UpdateThread(ctx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Title: "edited"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		},
		"DeleteThread": func(ctx context.Context, th *forumv1.Thread, _ *forumv1.Reply) error {
			_, err := e.threads.DeleteThread(ctx, &forumv1.DeleteThreadRequest{Name: th.Name})
			return err
		},
		"UpdateReply": func(ctx context.Context, _ *forumv1.Thread, r *forumv1.Reply) error {
			_, err := e.replies.UpdateReply(ctx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: r.Name, Body: "edited"}})
			return err
		},
		"DeleteReply": func(ctx context.Context, _ *forumv1.Thread, r *forumv1.Reply) error {
			_, err := e.replies.DeleteReply(ctx, &forumv1.DeleteReplyRequest{Name: r.Name})
			return err
		},
	}
	for name, call := range calls {
		for _, p := range principals {
			th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "owned"})
			r := e.mustReply(t, e.alice, th.Name, "owned")
			err := call(e.ctx(t, p), th, r)
			if allowed[p] != (err == nil) {
				t.Errorf("%s as %s: %v; want allowed=%v", name, p, err, allowed[p])
			}
			if !allowed[p] && !denied(err) {
				t.Errorf("%s as %s: %v; want UNAUTHENTICATED or PERMISSION_DENIED", name, p, err)
			}
		}
	}
	// Undelete: the author and moderators.
	for _, p := range principals {
		th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "to undelete"})
		if _, err := e.threads.DeleteThread(e.alice.ctx(t), &forumv1.DeleteThreadRequest{Name: th.Name}); err != nil {
			t.Fatal(err)
		}
		_, err := e.threads.UndeleteThread(e.ctx(t, p), &forumv1.UndeleteThreadRequest{Name: th.Name})
		// Others do not even see a deleted thread: NOT_FOUND.
		if allowed[p] != (err == nil) || (!allowed[p] && !denied(err) && status.Code(err) != codes.NotFound) {
			t.Errorf("UndeleteThread as %s: %v; want allowed=%v", p, err, allowed[p])
		}
	}
}

// TestSecretsAtRest opens the database file after a scenario with logins,
// registrations, API tokens and invitations, and finds none of the secrets
// in it: only hashes are stored.
func TestSecretsAtRest(t *testing.T) {
	e := newTestEnvWith(t, Config{SelfRegistration: true})
	ctx := t.Context()
	secrets := []string{testPassword}
	login, err := e.authc.Login(ctx, &forumv1.LoginRequest{Username: "alice", Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, login.Token)
	const regPassword = "registration password"
	reg, err := e.authc.Register(ctx, &forumv1.RegisterRequest{Username: "newbie", DisplayName: "N", Password: regPassword})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, regPassword, reg.Token)
	tok, err := forumv1.NewApiTokenServiceClient(e.conn).CreateApiToken(e.alice.ctx(t), &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := forumv1.NewInvitationServiceClient(e.conn).CreateInvitation(e.convener.ctx(t), &forumv1.CreateInvitationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, tok.Token, inv.Code, e.alice.token, e.bob.token)
	var buf strings.Builder
	if _, err := e.store.WriteTo(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	if !strings.Contains(file, "alice") {
		t.Fatal("the backup does not look like the database")
	}
	for _, s := range secrets {
		// A prefixed secret (fgs_…, fgt_…, fgi_…) must not be there even
		// without its prefix.
		if _, rest, ok := strings.Cut(s, "_"); ok && len(rest) >= 40 {
			s = rest
		}
		if strings.Contains(file, s) {
			t.Errorf("the database file holds the secret %.8s…", s)
		}
	}
}
