package server

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The principals of the authorisation matrix. The tokens belong to the
// admin, so that every scope is within the owner's role: a token acts with
// the lower of the admin's role and its scopes' (authz.ScopeRole), and as a
// user who is in no group.
const (
	pAnonymous = "anonymous"
	pAuthor    = "author"   // alice, a member, in the private group; she wrote the posts
	pMember    = "member"   // bob, another member, in the private group
	pOutsider  = "outsider" // carol, a member who is not in the private group
	pConvener  = "convener" // in no group
	pAdmin     = "admin"    // in no group
	pSuspended = "suspended"
	pTokRead   = "token:read"
	pTokWrite  = "token:write"
	pTokMod    = "token:moderate"
	pTokAdmin  = "token:admin"
)

var principals = []string{pAnonymous, pAuthor, pMember, pOutsider, pConvener, pAdmin, pSuspended, pTokRead, pTokWrite, pTokMod, pTokAdmin}

// Who passes each access level. This is written out by hand, apart from
// authz's access table, so that a mistake in either shows up here.
var levelAllows = map[string][]string{
	"public":    principals,
	"reader":    {pAuthor, pMember, pOutsider, pConvener, pAdmin, pTokRead, pTokWrite, pTokMod, pTokAdmin},
	"member":    {pAuthor, pMember, pOutsider, pConvener, pAdmin, pTokWrite, pTokMod, pTokAdmin},
	"session":   {pAuthor, pMember, pOutsider, pConvener, pAdmin},
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
	"ListEvents": "public", "StreamEvents": "public",
	"Search":        "public",
	"CreateWebhook": "member", "GetWebhook": "member", "ListWebhooks": "member", "UpdateWebhook": "member", "DeleteWebhook": "member",
	"RotateWebhookSecret": "member", "ListWebhookDeliveries": "member", "RedeliverWebhookDelivery": "member", "PingWebhook": "member",
	"GetSubscription": "reader", "ListSubscriptions": "reader", "UpdateSubscription": "member", "DeleteSubscription": "member",
	"ListNotifications": "reader", "MarkNotificationsRead": "member", "MarkThreadRead": "member",
	"AcceptAnswer": "member", "UnacceptAnswer": "member", "AddReaction": "member", "RemoveReaction": "member",
	"ListRevisions": "public", "GetRevision": "public",
	"GetActionItem": "public", "ListActionItems": "public", "CreateActionItem": "moderator", "UpdateActionItem": "member",
	"GetConvening": "public", "ListConvenings": "public", "CreateConvening": "moderator", "UpdateConvening": "moderator", "DeleteConvening": "moderator",
	"GetNotificationSettings": "reader", "UpdateNotificationSettings": "member", "Unsubscribe": "public",
}

// The themes and the group of the matrix.
const (
	publicTheme  = "themes/knowledge-exchange"
	privateTheme = "themes/private" // THEME_VISIBILITY_GROUPS, for privateGroup
	membersTheme = "themes/members" // THEME_VISIBILITY_MEMBERS
	privateGroup = "groups/team"    // alice and bob
	aliceEmail   = "alice@example.org"
)

// matrixEnv gives each principal a fresh credential per call, so that a call
// which revokes its own session (Logout) cannot disturb the next. Its store
// does not sync: the matrices make many writes, none of which needs to be
// durable.
type matrixEnv struct {
	*testEnv
	carol, suspended string
	tokens           map[string]string // principal → API token secret
	convener2        testUser          // another convener (otherConvener)
	made             int               // users and invitations made so far (unique names)
}

func newMatrixEnv(t *testing.T) *matrixEnv {
	st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	// Short heartbeats: a stream that has nothing to send says so soon.
	e := &matrixEnv{testEnv: newTestEnvWith(t, Config{Store: st, EventHeartbeat: 10 * time.Millisecond}), tokens: map[string]string{}}
	ctx := t.Context()
	e.carol = e.user(t, "carol", forumv1.Role_ROLE_MEMBER)
	e.suspended = e.user(t, "suspended", forumv1.Role_ROLE_MEMBER)
	// Suspended now: suspension revokes sessions, so the sessions ctx makes
	// for this user afterwards stand for one that raced with it.
	if _, err := e.store.UpdateUser(ctx, authz.SystemActor, resname.MustParseUser(e.suspended), &forumv1.User{Name: e.suspended, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	admin := authz.Actor{User: e.admin.name, Role: forumv1.Role_ROLE_ADMIN}
	for p, sc := range map[string]forumv1.TokenScope{pTokRead: forumv1.TokenScope_TOKEN_SCOPE_READ, pTokWrite: forumv1.TokenScope_TOKEN_SCOPE_WRITE,
		pTokMod: forumv1.TokenScope_TOKEN_SCOPE_MODERATE, pTokAdmin: forumv1.TokenScope_TOKEN_SCOPE_ADMIN} {
		secret, hash := auth.NewToken(auth.APITokenPrefix)
		if _, _, err := e.store.CreateAPIToken(ctx, admin, resname.MustParseUser(e.admin.name), &forumv1.ApiToken{DisplayName: p, Scopes: []forumv1.TokenScope{sc}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, hash, ""); err != nil {
			t.Fatal(err)
		}
		e.tokens[p] = secret
	}
	conv := e.convener.ctx(t)
	if _, err := forumv1.NewGroupServiceClient(e.conn).CreateGroup(conv, &forumv1.CreateGroupRequest{GroupId: "team", Group: &forumv1.Group{DisplayName: "Team", Members: []string{e.alice.name, e.bob.name}}}); err != nil {
		t.Fatal(err)
	}
	for id, th := range map[string]*forumv1.Theme{
		"private": {DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{privateGroup}},
		"members": {DisplayName: "Members", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS},
	} {
		if _, err := e.themes.CreateTheme(conv, &forumv1.CreateThemeRequest{ThemeId: id, Theme: th}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.users.UpdateUser(e.alice.ctx(t), &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.alice.name, Email: aliceEmail}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// user creates a user with role, straight in the store (no password to
// hash), and returns its name.
func (e *matrixEnv) user(t *testing.T, username string, role forumv1.Role) string {
	t.Helper()
	u, err := e.store.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: username, DisplayName: username, Role: role}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	return u.Name
}

// ctx returns a context carrying a new credential of principal p.
func (e *matrixEnv) ctx(t *testing.T, p string) context.Context {
	user := map[string]string{pAuthor: e.alice.name, pMember: e.bob.name, pOutsider: e.carol, pConvener: e.convener.name, pAdmin: e.admin.name, pSuspended: e.suspended}[p]
	var token string
	switch {
	case p == pAnonymous:
		return t.Context()
	case user != "":
		token = e.session(t, user)
	default:
		token = e.tokens[p]
	}
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
}

// session returns the token of a new login session of user.
func (e *matrixEnv) session(t *testing.T, user string) string {
	token, hash := auth.NewToken(auth.SessionPrefix)
	if _, err := e.store.CreateSession(t.Context(), resname.MustParseUser(user), hash, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	return token
}

func refused(err error) bool {
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
					var err error
					if md.IsStreamingServer() {
						err = firstMessage(e.ctx(t, p), e, full, in.New().Interface(), out.New().Interface())
					} else {
						err = e.conn.Invoke(e.ctx(t, p), full, in.New().Interface(), out.New().Interface())
					}
					want := false
					for _, a := range levelAllows[level] {
						want = want || a == p
					}
					if want == refused(err) {
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

// firstMessage opens the server stream method with req and receives its
// first message into out: nil once one comes, or the call's error.
func firstMessage(ctx context.Context, e *matrixEnv, method string, req, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cs, err := e.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(req); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	return cs.RecvMsg(out)
}

// The methods, as the rule cases name them.
const (
	mGetTheme         = forumv1.ThemeService_GetTheme_FullMethodName
	mListThemes       = forumv1.ThemeService_ListThemes_FullMethodName
	mGetThread        = forumv1.ThreadService_GetThread_FullMethodName
	mListThreads      = forumv1.ThreadService_ListThreads_FullMethodName
	mCreateThread     = forumv1.ThreadService_CreateThread_FullMethodName
	mUpdateThread     = forumv1.ThreadService_UpdateThread_FullMethodName
	mDeleteThread     = forumv1.ThreadService_DeleteThread_FullMethodName
	mUndeleteThread   = forumv1.ThreadService_UndeleteThread_FullMethodName
	mGetReply         = forumv1.ReplyService_GetReply_FullMethodName
	mListReplies      = forumv1.ReplyService_ListReplies_FullMethodName
	mCreateReply      = forumv1.ReplyService_CreateReply_FullMethodName
	mUpdateReply      = forumv1.ReplyService_UpdateReply_FullMethodName
	mDeleteReply      = forumv1.ReplyService_DeleteReply_FullMethodName
	mGetGroup         = forumv1.GroupService_GetGroup_FullMethodName
	mListGroups       = forumv1.GroupService_ListGroups_FullMethodName
	mCreateInvitation = forumv1.InvitationService_CreateInvitation_FullMethodName
	mDeleteInvitation = forumv1.InvitationService_DeleteInvitation_FullMethodName
	mCreateApiToken   = forumv1.ApiTokenService_CreateApiToken_FullMethodName
	mListApiTokens    = forumv1.ApiTokenService_ListApiTokens_FullMethodName
	mDeleteApiToken   = forumv1.ApiTokenService_DeleteApiToken_FullMethodName
	mRegister         = forumv1.AuthService_Register_FullMethodName
	mGetUser          = forumv1.UserService_GetUser_FullMethodName
	mListUsers        = forumv1.UserService_ListUsers_FullMethodName
	mCreateUser       = forumv1.UserService_CreateUser_FullMethodName
	mUpdateUser       = forumv1.UserService_UpdateUser_FullMethodName
	mListEvents       = forumv1.EventService_ListEvents_FullMethodName
	mSearch           = forumv1.SearchService_Search_FullMethodName
	mStreamEvents     = forumv1.EventService_StreamEvents_FullMethodName
)

// outcome is what a call gets, as the rule matrix names it.
type outcome string

const (
	ok       outcome = "OK"
	unauth   outcome = "UNAUTHENTICATED"
	denied   outcome = "PERMISSION_DENIED"
	notFound outcome = "NOT_FOUND"
	failed   outcome = "FAILED_PRECONDITION"
	invalid  outcome = "INVALID_ARGUMENT"
	hidden   outcome = "hidden" // the call succeeds, but what the case probes is not shown
)

// outcomes are the expected outcome of a call for every principal.
type outcomes map[string]outcome

// errHidden is what a case's call returns when the call succeeded but what
// the case probes (a thread in a list, an e-mail address) was not shown.
var errHidden = errors.New("not shown")

// shown returns nil if what a case probes was shown, else errHidden.
func shown(ok bool) error {
	if ok {
		return nil
	}
	return errHidden
}

func outcomeOf(err error) outcome {
	if err == nil {
		return ok
	}
	if errors.Is(err, errHidden) {
		return hidden
	}
	switch status.Code(err) {
	case codes.Unauthenticated:
		return unauth
	case codes.PermissionDenied:
		return denied
	case codes.NotFound:
		return notFound
	case codes.FailedPrecondition:
		return failed
	case codes.InvalidArgument:
		return invalid
	}
	return outcome(status.Code(err).String())
}

// ruleCase is one case of the rule matrix: call, as each principal (ctx),
// gets want's outcome. call makes its own fixtures, as other users, before
// the call it probes, so that one principal's call cannot change what the
// next finds.
type ruleCase struct {
	rule   string // a name in authz.Rules
	method string // one of the methods the rule names
	what   string
	call   func(t *testing.T, e *matrixEnv, ctx context.Context) error
	want   outcomes
}

// post creates a thread of alice's in theme, with a reply of hers.
func (e *matrixEnv) post(t *testing.T, theme string) (*forumv1.Thread, *forumv1.Reply) {
	t.Helper()
	th := e.mustThread(t, e.alice, &forumv1.Thread{Theme: theme, Title: "alice's thread"})
	return th, e.mustReply(t, e.alice, th.Name, "alice's reply")
}

// deleted is post, with the thread then deleted by u.
func (e *matrixEnv) deleted(t *testing.T, theme string, u testUser) (*forumv1.Thread, *forumv1.Reply) {
	t.Helper()
	th, r := e.post(t, theme)
	if _, err := e.threads.DeleteThread(u.ctx(t), &forumv1.DeleteThreadRequest{Name: th.Name}); err != nil {
		t.Fatal(err)
	}
	return th, r
}

// locked is post, with the thread then locked by the convener.
func (e *matrixEnv) locked(t *testing.T, theme string) (*forumv1.Thread, *forumv1.Reply) {
	t.Helper()
	th, r := e.post(t, theme)
	if err := e.updateThread(e.convener.ctx(t), &forumv1.Thread{Name: th.Name, State: stateLockedLegacy}, "state"); err != nil {
		t.Fatal(err)
	}
	return th, r
}

func (e *matrixEnv) updateThread(ctx context.Context, th *forumv1.Thread, paths ...string) error {
	_, err := e.threads.UpdateThread(ctx, &forumv1.UpdateThreadRequest{Thread: th, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	return err
}

func (e *matrixEnv) retitle(ctx context.Context, th *forumv1.Thread) error {
	return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, Title: "retitled"}, "title")
}

func (e *matrixEnv) deleteThread(ctx context.Context, th *forumv1.Thread) error {
	_, err := e.threads.DeleteThread(ctx, &forumv1.DeleteThreadRequest{Name: th.Name})
	return err
}

func (e *matrixEnv) undeleteThread(ctx context.Context, th *forumv1.Thread) error {
	_, err := e.threads.UndeleteThread(ctx, &forumv1.UndeleteThreadRequest{Name: th.Name})
	return err
}

func (e *matrixEnv) getThread(ctx context.Context, th *forumv1.Thread) error {
	_, err := e.threads.GetThread(ctx, &forumv1.GetThreadRequest{Name: th.Name})
	return err
}

// listsThread lists theme's threads, newest first (deleted ones too with
// showDeleted), and reports whether th is among them.
func (e *matrixEnv) listsThread(ctx context.Context, theme string, th *forumv1.Thread, showDeleted bool) error {
	resp, err := e.threads.ListThreads(ctx, &forumv1.ListThreadsRequest{Filter: fmt.Sprintf("theme = %q", theme), OrderBy: "create_time desc", ShowDeleted: showDeleted, PageSize: 50})
	if err != nil {
		return err
	}
	return shown(slices.ContainsFunc(resp.Threads, func(x *forumv1.Thread) bool { return x.Name == th.Name }))
}

func (e *matrixEnv) createThread(ctx context.Context, th *forumv1.Thread) error {
	if th.Title == "" {
		th.Title = "new thread"
	}
	_, err := e.threads.CreateThread(ctx, &forumv1.CreateThreadRequest{Thread: th})
	return err
}

func (e *matrixEnv) getReply(ctx context.Context, r *forumv1.Reply) error {
	_, err := e.replies.GetReply(ctx, &forumv1.GetReplyRequest{Name: r.Name})
	return err
}

// listsReply lists the replies of th and reports whether r is among them.
func (e *matrixEnv) listsReply(ctx context.Context, th *forumv1.Thread, r *forumv1.Reply) error {
	resp, err := e.replies.ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: th.Name, PageSize: 50})
	if err != nil {
		return err
	}
	return shown(slices.ContainsFunc(resp.Replies, func(x *forumv1.Reply) bool { return x.Name == r.Name }))
}

func (e *matrixEnv) createReply(ctx context.Context, th *forumv1.Thread) error {
	_, err := e.replies.CreateReply(ctx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "a reply"}})
	return err
}

func (e *matrixEnv) updateReply(ctx context.Context, r *forumv1.Reply) error {
	_, err := e.replies.UpdateReply(ctx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: r.Name, Body: "edited"}})
	return err
}

func (e *matrixEnv) deleteReply(ctx context.Context, r *forumv1.Reply) error {
	_, err := e.replies.DeleteReply(ctx, &forumv1.DeleteReplyRequest{Name: r.Name})
	return err
}

// otherConvener returns a second convener, made on first use.
func (e *matrixEnv) otherConvener(t *testing.T) testUser {
	if e.convener2.name == "" {
		name := e.user(t, "convener2", forumv1.Role_ROLE_CONVENER)
		e.convener2 = testUser{name: name, token: e.session(t, name)}
	}
	return e.convener2
}

// invitation returns an invitation u creates.
func (e *matrixEnv) invitation(t *testing.T, u testUser) *forumv1.Invitation {
	t.Helper()
	inv, err := forumv1.NewInvitationServiceClient(e.conn).CreateInvitation(u.ctx(t), &forumv1.CreateInvitationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (e *matrixEnv) withdraw(ctx context.Context, inv *forumv1.Invitation) error {
	_, err := forumv1.NewInvitationServiceClient(e.conn).DeleteInvitation(ctx, &forumv1.DeleteInvitationRequest{Name: inv.Name})
	return err
}

// unique returns prefix with a number no earlier call returned.
func (e *matrixEnv) unique(prefix string) string {
	e.made++
	return fmt.Sprintf("%s%d", prefix, e.made)
}

func (e *matrixEnv) register(ctx context.Context, code string) error {
	_, err := e.authc.Register(ctx, &forumv1.RegisterRequest{Username: e.unique("newcomer"), DisplayName: "N", Password: testPassword, InvitationCode: code})
	return err
}

func (e *matrixEnv) updateUser(ctx context.Context, u *forumv1.User, paths ...string) (*forumv1.User, error) {
	return e.users.UpdateUser(ctx, &forumv1.UpdateUserRequest{User: u, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
}

// postEvents posts alice's thread in theme, with a reply, then a thread of
// hers in the public theme (a marker everyone sees), and returns both and
// the revision before them.
func (e *matrixEnv) postEvents(t *testing.T, theme string) (th, marker *forumv1.Thread, before uint64) {
	t.Helper()
	before, err := e.store.EventHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	th, _ = e.post(t, theme)
	marker = e.mustThread(t, e.alice, &forumv1.Thread{Theme: publicTheme, Title: "marker"})
	return th, marker, before
}

// listsEvent lists the events of th from revision from, and reports
// whether its thread.created event is among them.
func (e *matrixEnv) listsEvent(ctx context.Context, th *forumv1.Thread, from uint64) error {
	resp, err := forumv1.NewEventServiceClient(e.conn).ListEvents(ctx, &forumv1.ListEventsRequest{StartRevision: from, Filter: "thread = " + th.Name, PageSize: 100})
	if err != nil {
		return err
	}
	return shown(slices.ContainsFunc(resp.Events, func(ev *forumv1.Event) bool {
		return ev.Resource == th.Name && ev.Type == forumv1.EventType_EVENT_TYPE_THREAD_CREATED
	}))
}

// streamsEvent streams the events of alice's threads from revision from
// until th's thread.created event comes (shown) or marker's, which comes
// after it, does first (hidden).
func (e *matrixEnv) streamsEvent(ctx context.Context, th, marker *forumv1.Thread, from uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cs, err := forumv1.NewEventServiceClient(e.conn).StreamEvents(ctx, &forumv1.StreamEventsRequest{StartRevision: from, Filter: "type = thread.created AND actor = " + e.alice.name})
	if err != nil {
		return err
	}
	for {
		m, err := cs.Recv()
		if err != nil {
			return err
		}
		for _, ev := range m.GetEvents() { // none in a heartbeat
			switch ev.Resource {
			case th.Name:
				return nil
			case marker.Name:
				return errHidden
			}
		}
	}
}

// ruleCases are the cases of the rule matrix: every rule of authz.Rules but
// access (TestAuthorizationMatrix's) has one for each method it names, with
// the outcome of every principal written out by hand. Posts are alice's
// (the author's); the private theme is bob's and hers, through their group.
var ruleCases = []ruleCase{
	// theme-visibility: a GROUPS theme, its threads and replies are seen by
	// its group's members and moderators; a MEMBERS theme by users.
	{"theme-visibility", mGetTheme, "private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := e.themes.GetTheme(ctx, &forumv1.GetThemeRequest{Name: privateTheme})
		return err
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mGetTheme, "members-only theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := e.themes.GetTheme(ctx, &forumv1.GetThemeRequest{Name: membersTheme})
		return err
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: ok, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: ok, pTokWrite: ok, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mListThemes, "private theme listed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		resp, err := e.themes.ListThemes(ctx, &forumv1.ListThemesRequest{PageSize: 100})
		if err != nil {
			return err
		}
		return shown(slices.ContainsFunc(resp.Themes, func(x *forumv1.Theme) bool { return x.Name == privateTheme }))
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mGetThread, "thread in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, privateTheme)
		return e.getThread(ctx, th)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mSearch, "reply in private theme found", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, r := e.post(t, privateTheme)
		e.indexed(t)
		resp, err := forumv1.NewSearchServiceClient(e.conn).Search(ctx, &forumv1.SearchRequest{Query: "reply", Filter: "theme = " + privateTheme, PageSize: 100})
		if err != nil {
			return err
		}
		found := slices.ContainsFunc(resp.Hits, func(h *forumv1.SearchHit) bool { return h.Name == r.Name && h.Thread == th.Name })
		if found != (resp.TotalSize > 0) {
			return fmt.Errorf("found %v, but total %d", found, resp.TotalSize)
		}
		return shown(found)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mListThreads, "thread in private theme listed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, privateTheme)
		return e.listsThread(ctx, privateTheme, th, false)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mCreateThread, "thread in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.createThread(ctx, &forumv1.Thread{Theme: privateTheme})
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: ok, pOutsider: invalid, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: invalid, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mUpdateThread, "thread in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, privateTheme)
		return e.retitle(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mDeleteThread, "thread in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, privateTheme)
		return e.deleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mUndeleteThread, "thread in private theme deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, privateTheme, e.alice)
		return e.undeleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mGetReply, "reply in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, privateTheme)
		return e.getReply(ctx, r)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mListReplies, "replies in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, r := e.post(t, privateTheme)
		return e.listsReply(ctx, th, r)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mCreateReply, "reply in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, privateTheme)
		return e.createReply(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mUpdateReply, "reply in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, privateTheme)
		return e.updateReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"theme-visibility", mDeleteReply, "reply in private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, privateTheme)
		return e.deleteReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},

	// deleted-posts: a deleted thread, and its replies, are its author's
	// and moderators' to see; a deleted reply is a tombstone for all.
	{"deleted-posts", mGetThread, "thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.getThread(ctx, th)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mListThreads, "thread deleted by its author, listed with show_deleted", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.listsThread(ctx, publicTheme, th, true)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: hidden, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mCreateThread, "follow-up of a deleted thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.createThread(ctx, &forumv1.Thread{Theme: publicTheme, Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.Name})
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: invalid, pAdmin: invalid, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: invalid, pTokAdmin: invalid}},
	{"deleted-posts", mUpdateThread, "thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.retitle(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: notFound, pOutsider: notFound, pConvener: failed, pAdmin: failed, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: failed, pTokAdmin: failed}},
	{"deleted-posts", mDeleteThread, "thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.deleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: notFound, pOutsider: notFound, pConvener: failed, pAdmin: failed, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: failed, pTokAdmin: failed}},
	{"deleted-posts", mUndeleteThread, "thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.undeleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mGetReply, "reply in a thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.deleted(t, publicTheme, e.alice)
		return e.getReply(ctx, r)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mGetReply, "deleted reply (a tombstone)", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, publicTheme)
		if err := e.deleteReply(e.alice.ctx(t), r); err != nil {
			t.Fatal(err)
		}
		return e.getReply(ctx, r)
	}, outcomes{pAnonymous: ok, pAuthor: ok, pMember: ok, pOutsider: ok, pConvener: ok, pAdmin: ok, pSuspended: ok, pTokRead: ok, pTokWrite: ok, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mListReplies, "replies of a thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, r := e.deleted(t, publicTheme, e.alice)
		return e.listsReply(ctx, th, r)
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mCreateReply, "reply to a thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.createReply(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: notFound, pOutsider: notFound, pConvener: failed, pAdmin: failed, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: failed, pTokAdmin: failed}},
	{"deleted-posts", mUpdateReply, "reply in a thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.deleted(t, publicTheme, e.alice)
		return e.updateReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"deleted-posts", mDeleteReply, "reply in a thread deleted by its author", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.deleted(t, publicTheme, e.alice)
		return e.deleteReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},

	// post-author: the author and moderators change a post; a token acts
	// as its owner (the admin), not as the author.
	{"post-author", mUpdateThread, "alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.retitle(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"post-author", mDeleteThread, "alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.deleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"post-author", mUndeleteThread, "alice's thread, deleted by her", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.alice)
		return e.undeleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"post-author", mUpdateReply, "alice's reply", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, publicTheme)
		return e.updateReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"post-author", mDeleteReply, "alice's reply", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.post(t, publicTheme)
		return e.deleteReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},

	// post-restore: a moderator's removal is undone only by a moderator.
	{"post-restore", mUndeleteThread, "alice's thread, deleted by the convener", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.deleted(t, publicTheme, e.convener)
		return e.undeleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},

	// locked-thread: only moderators change the posts of a locked thread.
	{"locked-thread", mUpdateThread, "locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.locked(t, publicTheme)
		return e.retitle(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"locked-thread", mDeleteThread, "locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.locked(t, publicTheme)
		return e.deleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"locked-thread", mUndeleteThread, "locked thread deleted by the convener", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.locked(t, publicTheme)
		if err := e.deleteThread(e.convener.ctx(t), th); err != nil {
			t.Fatal(err)
		}
		return e.undeleteThread(ctx, th)
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"locked-thread", mUpdateReply, "reply in a locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.locked(t, publicTheme)
		return e.updateReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"locked-thread", mDeleteReply, "reply in a locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, r := e.locked(t, publicTheme)
		return e.deleteReply(ctx, r)
	}, outcomes{pAnonymous: unauth, pAuthor: failed, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},

	// thread-kind and thread-fields: what only moderators create or set.
	{"thread-kind", mCreateThread, "follow-up", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.createThread(ctx, &forumv1.Thread{Theme: publicTheme, Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.Name})
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-kind", mCreateThread, "announcement", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.createThread(ctx, &forumv1.Thread{Theme: publicTheme, Kind: forumv1.ThreadKind_THREAD_KIND_ANNOUNCEMENT})
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mCreateThread, "pinned", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.createThread(ctx, &forumv1.Thread{Theme: publicTheme, Pinned: true})
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mCreateThread, "locked", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.createThread(ctx, &forumv1.Thread{Theme: publicTheme, State: stateLockedLegacy})
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mUpdateThread, "pin alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, Pinned: true}, "pinned")
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mUpdateThread, "unpin alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		if err := e.updateThread(e.convener.ctx(t), &forumv1.Thread{Name: th.Name, Pinned: true}, "pinned"); err != nil {
			t.Fatal(err)
		}
		return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, Pinned: false}, "pinned")
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mUpdateThread, "move alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, Theme: "themes/reciprocal-volunteering"}, "theme")
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mUpdateThread, "lock alice's thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, State: stateLockedLegacy}, "state")
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"thread-fields", mUpdateThread, "resolve alice's thread (not moderators' only)", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _ := e.post(t, publicTheme)
		return e.updateThread(ctx, &forumv1.Thread{Name: th.Name, State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, "state")
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},

	// group-visibility: moderators see every group, users their own.
	{"group-visibility", mGetGroup, "the private group", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewGroupServiceClient(e.conn).GetGroup(ctx, &forumv1.GetGroupRequest{Name: privateGroup})
		return err
	}, outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}},
	{"group-visibility", mListGroups, "the private group listed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		resp, err := forumv1.NewGroupServiceClient(e.conn).ListGroups(ctx, &forumv1.ListGroupsRequest{PageSize: 100})
		if err != nil {
			return err
		}
		return shown(slices.ContainsFunc(resp.Groups, func(x *forumv1.Group) bool { return x.Name == privateGroup }))
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},

	// invitation-role and invitation-withdraw.
	{"invitation-role", mCreateInvitation, "invite a convener", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewInvitationServiceClient(e.conn).CreateInvitation(ctx, &forumv1.CreateInvitationRequest{Invitation: &forumv1.Invitation{Role: forumv1.Role_ROLE_CONVENER}})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"invitation-role", mCreateInvitation, "invite a member", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewInvitationServiceClient(e.conn).CreateInvitation(ctx, &forumv1.CreateInvitationRequest{Invitation: &forumv1.Invitation{Role: forumv1.Role_ROLE_MEMBER}})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},
	{"invitation-withdraw", mDeleteInvitation, "another convener's invitation", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.withdraw(ctx, e.invitation(t, e.otherConvener(t)))
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"invitation-withdraw", mDeleteInvitation, "the convener's own invitation", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.withdraw(ctx, e.invitation(t, e.convener))
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"invitation-withdraw", mDeleteInvitation, "the admin's invitation (a MODERATE token of the admin's withdraws its owner's)", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.withdraw(ctx, e.invitation(t, e.admin))
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}},

	// token-create and token-owner.
	{"token-create", mCreateApiToken, "own token with the MODERATE scope", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewApiTokenServiceClient(e.conn).CreateApiToken(ctx, &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_MODERATE}}})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: denied}},
	{"token-create", mCreateApiToken, "a READ token for alice", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewApiTokenServiceClient(e.conn).CreateApiToken(ctx, &forumv1.CreateApiTokenRequest{Parent: e.alice.name, ApiToken: &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: denied, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: denied}},
	{"token-owner", mListApiTokens, "alice's tokens", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := forumv1.NewApiTokenServiceClient(e.conn).ListApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: e.alice.name})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"token-owner", mDeleteApiToken, "alice's token", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		tokens := forumv1.NewApiTokenServiceClient(e.conn)
		tok, err := tokens.CreateApiToken(e.alice.ctx(t), &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{DisplayName: "t", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tokens.DeleteApiToken(ctx, &forumv1.DeleteApiTokenRequest{Name: tok.Name})
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},

	// registration: an invitation, unless anyone may register (not here).
	{"registration", mRegister, "without an invitation", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.register(ctx, "")
	}, outcomes{pAnonymous: denied, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: denied, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: denied}},
	{"registration", mRegister, "with the convener's invitation", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		return e.register(ctx, e.invitation(t, e.convener).Code)
	}, outcomes{pAnonymous: ok, pAuthor: ok, pMember: ok, pOutsider: ok, pConvener: ok, pAdmin: ok, pSuspended: ok, pTokRead: ok, pTokWrite: ok, pTokMod: ok, pTokAdmin: ok}},

	// user-update: own profile; admins anyone's, and only they change roles
	// and states.
	{"user-update", mUpdateUser, "alice's display name", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := e.updateUser(ctx, &forumv1.User{Name: e.alice.name, DisplayName: "Alice"}, "display_name")
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"user-update", mUpdateUser, "another user's role", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := e.updateUser(ctx, &forumv1.User{Name: e.user(t, e.unique("target"), forumv1.Role_ROLE_MEMBER), Role: forumv1.Role_ROLE_CONVENER}, "role")
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"user-update", mUpdateUser, "suspend another user", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		_, err := e.updateUser(ctx, &forumv1.User{Name: e.user(t, e.unique("target"), forumv1.Role_ROLE_MEMBER), State: forumv1.UserState_USER_STATE_SUSPENDED}, "state")
		return err
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},

	// user-fields: the e-mail address only to its user; anonymous callers
	// see names only (the directory is not public here).
	{"user-fields", mGetUser, "alice's e-mail address shown", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		u, err := e.users.GetUser(ctx, &forumv1.GetUserRequest{Name: e.alice.name})
		if err != nil {
			return err
		}
		return shown(u.Email == aliceEmail)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: hidden, pOutsider: hidden, pConvener: hidden, pAdmin: hidden, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: hidden, pTokAdmin: hidden}},
	{"user-fields", mGetUser, "alice's role shown", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		u, err := e.users.GetUser(ctx, &forumv1.GetUserRequest{Name: e.alice.name})
		if err != nil {
			return err
		}
		return shown(u.Role == forumv1.Role_ROLE_MEMBER)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: ok, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: ok, pTokWrite: ok, pTokMod: ok, pTokAdmin: ok}},
	{"user-fields", mListUsers, "alice's e-mail address shown", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		resp, err := e.users.ListUsers(ctx, &forumv1.ListUsersRequest{PageSize: 100})
		if err != nil {
			return err
		}
		return shown(slices.ContainsFunc(resp.Users, func(u *forumv1.User) bool { return u.Email == aliceEmail }))
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: hidden, pOutsider: hidden, pConvener: hidden, pAdmin: hidden, pSuspended: denied, pTokRead: hidden, pTokWrite: hidden, pTokMod: hidden, pTokAdmin: hidden}},
	{"user-fields", mCreateUser, "the new user's role shown", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		u, err := e.users.CreateUser(ctx, &forumv1.CreateUserRequest{User: &forumv1.User{Username: e.unique("created"), DisplayName: "C"}, Password: testPassword})
		if err != nil {
			return err
		}
		return shown(u.Role == forumv1.Role_ROLE_MEMBER)
	}, outcomes{pAnonymous: unauth, pAuthor: denied, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: ok}},
	{"user-fields", mUpdateUser, "alice's e-mail address shown", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		u, err := e.updateUser(ctx, &forumv1.User{Name: e.alice.name, DisplayName: "Alice"}, "display_name")
		if err != nil {
			return err
		}
		return shown(u.Email == aliceEmail)
	}, outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: hidden, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: hidden}},

	// event-visibility: an event is seen by who may read its resource
	// now; here, a thread of the private GROUPS theme.
	{"event-visibility", mListEvents, "event of a thread in the private theme listed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _, before := e.postEvents(t, privateTheme)
		return e.listsEvent(ctx, th, before+1)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"event-visibility", mStreamEvents, "event of a thread in the private theme streamed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, marker, before := e.postEvents(t, privateTheme)
		return e.streamsEvent(ctx, th, marker, before+1)
	}, outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}},
	{"event-visibility", mListEvents, "event of a thread in the public theme listed", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
		th, _, before := e.postEvents(t, publicTheme)
		return e.listsEvent(ctx, th, before+1)
	}, outcomes{pAnonymous: ok, pAuthor: ok, pMember: ok, pOutsider: ok, pConvener: ok, pAdmin: ok, pSuspended: ok, pTokRead: ok, pTokWrite: ok, pTokMod: ok, pTokAdmin: ok}},
}

// aliceWebhook creates a webhook of alice's.
func (e *matrixEnv) aliceWebhook(t *testing.T) *forumv1.Webhook {
	t.Helper()
	w, err := forumv1.NewWebhookServiceClient(e.conn).CreateWebhook(e.alice.ctx(t), &forumv1.CreateWebhookRequest{Parent: "users/me", Webhook: &forumv1.Webhook{TargetUrl: "https://203.0.113.5/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// webhookOwnerOutcomes: alice and admins (and an ADMIN token) act on
// alice's webhooks; no one else.
func webhookOwnerOutcomes(owner outcome) outcomes {
	return outcomes{pAnonymous: unauth, pAuthor: owner, pMember: denied, pOutsider: denied, pConvener: denied, pAdmin: owner, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: denied, pTokAdmin: owner}
}

// webhookCases are the cases of rule webhook-owner, one per method.
func webhookCases() []ruleCase {
	wh := func(e *matrixEnv) forumv1.WebhookServiceClient { return forumv1.NewWebhookServiceClient(e.conn) }
	return []ruleCase{
		{"webhook-owner", forumv1.WebhookService_CreateWebhook_FullMethodName, "a webhook for alice", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).CreateWebhook(ctx, &forumv1.CreateWebhookRequest{Parent: e.alice.name, Webhook: &forumv1.Webhook{TargetUrl: "https://203.0.113.5/hook"}})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_GetWebhook_FullMethodName, "alice's webhook", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).GetWebhook(ctx, &forumv1.GetWebhookRequest{Name: e.aliceWebhook(t).Name})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_ListWebhooks_FullMethodName, "alice's webhooks", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).ListWebhooks(ctx, &forumv1.ListWebhooksRequest{Parent: e.alice.name})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_UpdateWebhook_FullMethodName, "alice's webhook deactivated", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).UpdateWebhook(ctx, &forumv1.UpdateWebhookRequest{Webhook: &forumv1.Webhook{Name: e.aliceWebhook(t).Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"active"}}})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_DeleteWebhook_FullMethodName, "alice's webhook", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).DeleteWebhook(ctx, &forumv1.DeleteWebhookRequest{Name: e.aliceWebhook(t).Name})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_RotateWebhookSecret_FullMethodName, "alice's webhook", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).RotateWebhookSecret(ctx, &forumv1.RotateWebhookSecretRequest{Name: e.aliceWebhook(t).Name})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_ListWebhookDeliveries_FullMethodName, "alice's webhook's deliveries", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).ListWebhookDeliveries(ctx, &forumv1.ListWebhookDeliveriesRequest{Parent: e.aliceWebhook(t).Name})
			return err
		}, webhookOwnerOutcomes(ok)},
		{"webhook-owner", forumv1.WebhookService_RedeliverWebhookDelivery_FullMethodName, "a delivery of alice's webhook not in its log", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).RedeliverWebhookDelivery(ctx, &forumv1.RedeliverWebhookDeliveryRequest{Name: e.aliceWebhook(t).Name + "/deliveries/999999"})
			return err
		}, webhookOwnerOutcomes(notFound)},
		{"webhook-owner", forumv1.WebhookService_PingWebhook_FullMethodName, "alice's webhook", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, err := wh(e).PingWebhook(ctx, &forumv1.PingWebhookRequest{Name: e.aliceWebhook(t).Name})
			return err
		}, webhookOwnerOutcomes(ok)},
	}
}

func init() { ruleCases = append(ruleCases, webhookCases()...) }

// TestRuleMatrix runs every case of ruleCases as every principal, and
// fails when a rule of authz.Rules, or a method a rule names, has no case
// (access's cases are TestAuthorizationMatrix's expectedLevel).
func TestRuleMatrix(t *testing.T) {
	rules := map[string]authz.Rule{}
	for _, r := range authz.Rules {
		if _, dup := rules[r.Name]; dup {
			t.Errorf("authz.Rules names %s twice", r.Name)
		}
		rules[r.Name] = r
	}
	covered := map[string]bool{} // rule + " " + method
	for _, c := range ruleCases {
		if r, found := rules[c.rule]; !found {
			t.Errorf("a case names rule %s, which authz.Rules lacks", c.rule)
		} else if !slices.Contains(r.Methods, c.method) {
			t.Errorf("a case of rule %s calls %s, which the rule does not name", c.rule, c.method)
		}
		covered[c.rule+" "+c.method] = true
	}
	for _, r := range authz.Rules {
		for _, m := range r.Methods {
			if _, inTable := authz.Need(m, authz.Settings{}); !inTable {
				t.Errorf("rule %s names %s, which the access table lacks", r.Name, m)
			}
			switch {
			case r.Name == "access":
				if _, ok := expectedLevel[path.Base(m)]; !ok {
					t.Errorf("%s has no expected level in expectedLevel", m)
				}
			case !covered[r.Name+" "+m]:
				t.Errorf("rule %s has no case for %s in ruleCases", r.Name, m)
			}
		}
	}
	e := newMatrixEnv(t)
	for _, c := range ruleCases {
		t.Run(c.rule+"/"+path.Base(c.method)+"/"+c.what, func(t *testing.T) {
			for _, p := range principals {
				want, listed := c.want[p]
				if !listed {
					t.Errorf("no outcome written down for %s", p)
					continue
				}
				err := c.call(t, e, e.ctx(t, p))
				if got := outcomeOf(err); got != want {
					t.Errorf("as %s: %s (%v); want %s", p, got, err, want)
				}
			}
			if len(c.want) != len(principals) {
				t.Errorf("outcomes for %d principals; there are %d", len(c.want), len(principals))
			}
		})
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
