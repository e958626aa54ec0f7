package authz

import (
	"fmt"
	"slices"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
)

// Level is what a caller needs to call a method.
type Level int

const (
	// Public: anyone, with or without a token.
	Public Level = iota
	// Reader: any logged-in user, with any API token scope (READ included).
	Reader
	// Member: any logged-in user (an API token needs the WRITE scope).
	Member
	// Session: a logged-in user calling with a login session, not an API
	// token: changing the password, minting tokens.
	Session
	// Moderator: a convener or an admin (an API token needs MODERATE).
	Moderator
	// Admin: an admin (an API token needs ADMIN).
	Admin
)

// String returns the level's name in lower case ("moderator").
func (l Level) String() string {
	switch l {
	case Public:
		return "public"
	case Reader:
		return "reader"
	case Member:
		return "member"
	case Session:
		return "session"
	case Moderator:
		return "moderator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("authz.Level(%d)", int(l))
}

// table names, for every method of every forum.v1 service, what a caller
// needs. A method missing from it is refused (Call), and the server's
// authorisation matrix test checks that every method in the service
// descriptors has an entry. What depends on the resource (authors change
// their own posts) is in the rules of rules.go.
var table = map[string]Level{
	forumv1.ThemeService_GetTheme_FullMethodName:    Public,
	forumv1.ThemeService_ListThemes_FullMethodName:  Public,
	forumv1.ThemeService_CreateTheme_FullMethodName: Moderator,
	forumv1.ThemeService_UpdateTheme_FullMethodName: Moderator,
	forumv1.ThemeService_DeleteTheme_FullMethodName: Moderator,

	forumv1.ThreadService_GetThread_FullMethodName:      Public,
	forumv1.ThreadService_ListThreads_FullMethodName:    Public,
	forumv1.ThreadService_CreateThread_FullMethodName:   Member,
	forumv1.ThreadService_UpdateThread_FullMethodName:   Member,
	forumv1.ThreadService_DeleteThread_FullMethodName:   Member,
	forumv1.ThreadService_UndeleteThread_FullMethodName: Member,

	forumv1.ReplyService_GetReply_FullMethodName:    Public,
	forumv1.ReplyService_ListReplies_FullMethodName: Public,
	forumv1.ReplyService_CreateReply_FullMethodName: Member,
	forumv1.ReplyService_UpdateReply_FullMethodName: Member,
	forumv1.ReplyService_DeleteReply_FullMethodName: Member,

	forumv1.AuthService_Login_FullMethodName:          Public,
	forumv1.AuthService_Logout_FullMethodName:         Session,
	forumv1.AuthService_Register_FullMethodName:       Public,
	forumv1.AuthService_ChangePassword_FullMethodName: Session,

	forumv1.ApiTokenService_CreateApiToken_FullMethodName: Session,
	forumv1.ApiTokenService_ListApiTokens_FullMethodName:  Member,
	forumv1.ApiTokenService_DeleteApiToken_FullMethodName: Member,

	forumv1.GroupService_GetGroup_FullMethodName:    Public,
	forumv1.GroupService_ListGroups_FullMethodName:  Public,
	forumv1.GroupService_CreateGroup_FullMethodName: Moderator,
	forumv1.GroupService_UpdateGroup_FullMethodName: Moderator,
	forumv1.GroupService_DeleteGroup_FullMethodName: Moderator,

	forumv1.InvitationService_CreateInvitation_FullMethodName: Moderator,
	forumv1.InvitationService_ListInvitations_FullMethodName:  Moderator,
	forumv1.InvitationService_DeleteInvitation_FullMethodName: Moderator,

	forumv1.UserService_GetUser_FullMethodName:    Public,
	forumv1.UserService_ListUsers_FullMethodName:  Reader, // Public with Settings.PublicDirectory
	forumv1.UserService_CreateUser_FullMethodName: Admin,
	forumv1.UserService_UpdateUser_FullMethodName: Member,

	forumv1.OrganizationService_GetOrganization_FullMethodName:    Public,
	forumv1.OrganizationService_ListOrganizations_FullMethodName:  Public,
	forumv1.OrganizationService_CreateOrganization_FullMethodName: Moderator,
	forumv1.OrganizationService_UpdateOrganization_FullMethodName: Moderator,
	forumv1.OrganizationService_DeleteOrganization_FullMethodName: Moderator,

	// Anyone reads the event log: which events each reader sees is decided
	// per event (the event-visibility rule).
	forumv1.EventService_ListEvents_FullMethodName:   Public,
	forumv1.EventService_StreamEvents_FullMethodName: Public,

	// Anyone searches: what each caller finds is what they may read (the
	// theme-visibility rule, applied to the themes searched and to each
	// hit).
	forumv1.SearchService_Search_FullMethodName: Public,

	// Users manage their own webhooks (a WRITE token suffices), admins
	// anyone's (the webhook-owner rule).
	forumv1.WebhookService_CreateWebhook_FullMethodName:            Member,
	forumv1.WebhookService_GetWebhook_FullMethodName:               Member,
	forumv1.WebhookService_ListWebhooks_FullMethodName:             Member,
	forumv1.WebhookService_UpdateWebhook_FullMethodName:            Member,
	forumv1.WebhookService_DeleteWebhook_FullMethodName:            Member,
	forumv1.WebhookService_RotateWebhookSecret_FullMethodName:      Member,
	forumv1.WebhookService_ListWebhookDeliveries_FullMethodName:    Member,
	forumv1.WebhookService_RedeliverWebhookDelivery_FullMethodName: Member,
	forumv1.WebhookService_PingWebhook_FullMethodName:              Member,

	// Users read (a READ token suffices) and change (WRITE) their own
	// subscriptions and notifications; admins read anyone's (the
	// notification-owner rule).
	forumv1.NotificationService_GetSubscription_FullMethodName:            Reader,
	forumv1.NotificationService_ListSubscriptions_FullMethodName:          Reader,
	forumv1.NotificationService_UpdateSubscription_FullMethodName:         Member,
	forumv1.NotificationService_DeleteSubscription_FullMethodName:         Member,
	forumv1.NotificationService_ListNotifications_FullMethodName:          Reader,
	forumv1.NotificationService_MarkNotificationsRead_FullMethodName:      Member,
	forumv1.NotificationService_GetNotificationSettings_FullMethodName:    Reader,
	forumv1.NotificationService_UpdateNotificationSettings_FullMethodName: Member,
	// An e-mail's unsubscribe link works without signing in: its signed
	// token is the authority.
	forumv1.NotificationService_Unsubscribe_FullMethodName: Public,
	// A signed-in reader's own read position.
	forumv1.ThreadService_MarkThreadRead_FullMethodName:       Member,
	forumv1.ThreadService_AcceptAnswer_FullMethodName:         Member,
	forumv1.ConveningService_GetConvening_FullMethodName:      Public,
	forumv1.ActionItemService_GetActionItem_FullMethodName:    Public,
	forumv1.RevisionService_ListRevisions_FullMethodName:      Public,
	forumv1.RevisionService_GetRevision_FullMethodName:        Public,
	forumv1.ActionItemService_ListActionItems_FullMethodName:  Public,
	forumv1.ActionItemService_CreateActionItem_FullMethodName: Moderator,
	forumv1.ActionItemService_UpdateActionItem_FullMethodName: Member,
	forumv1.ConveningService_ListConvenings_FullMethodName:    Public,
	forumv1.ConveningService_CreateConvening_FullMethodName:   Moderator,
	forumv1.ConveningService_UpdateConvening_FullMethodName:   Moderator,
	forumv1.ConveningService_DeleteConvening_FullMethodName:   Moderator,
	forumv1.ThreadService_UnacceptAnswer_FullMethodName:       Member,
	forumv1.ThreadService_AddReaction_FullMethodName:          Member,
	forumv1.ThreadService_RemoveReaction_FullMethodName:       Member,
}

// Settings are the server's settings that change a decision.
type Settings struct {
	// PublicDirectory opens ListUsers, and users' profiles beyond their
	// names (UserView), to anonymous callers.
	PublicDirectory bool
	// SelfRegistration lets anyone register, without an invitation
	// (Register).
	SelfRegistration bool
}

// Need returns what a caller needs to call method (a full gRPC method name,
// "/forum.v1.ThreadService/GetThread"), and whether the table has it: the
// table's level, but for the settings that open a method to anyone.
func Need(method string, s Settings) (Level, bool) {
	l, ok := table[method]
	if method == forumv1.UserService_ListUsers_FullMethodName && s.PublicDirectory {
		l = Public
	}
	return l, ok
}

// Caller is who makes a call, as authentication found them.
type Caller struct {
	Actor Actor
	// Scopes are an API token's scopes; nil for a login session or an
	// anonymous call (an API token without scopes has an empty, non-nil
	// slice).
	Scopes []forumv1.TokenScope
	// Suspended is set for a valid credential of a suspended account:
	// such a caller acts as anonymous (Actor is zero), and only on public
	// methods.
	Suspended bool
}

// Call is the access rule: it refuses a call to method, which needs need
// (known is false when the table has no entry: such a method is refused),
// unless c meets it. Anonymous callers get UNAUTHENTICATED, known ones
// PERMISSION_DENIED.
func Call(method string, need Level, known bool, c Caller) error {
	if !known {
		return fmt.Errorf("%w: %s has no access rule", errs.PermissionDenied, method)
	}
	if c.Suspended && need != Public {
		return fmt.Errorf("%w: this account is suspended", errs.PermissionDenied)
	}
	if need.Allows(c.Actor.Role, c.Scopes) {
		return nil
	}
	switch {
	case c.Actor.User == "":
		return fmt.Errorf("%w: this call needs a bearer token (AuthService.Login)", errs.Unauthenticated)
	case c.Scopes != nil && need == Session:
		return fmt.Errorf("%w: %s needs a login session, not an API token", errs.PermissionDenied, method)
	case c.Scopes != nil:
		return fmt.Errorf("%w: the API token's scopes do not allow %s", errs.PermissionDenied, method)
	}
	return fmt.Errorf("%w: your role may not call %s", errs.PermissionDenied, method)
}

// Allows reports whether a caller meets l: role is the caller's role
// (ROLE_UNSPECIFIED for anonymous callers), scopes an API token's scopes
// (nil for a login session). Scopes are ordered: READ < WRITE < MODERATE <
// ADMIN, and a token may do what its highest scope allows.
func (l Level) Allows(role forumv1.Role, scopes []forumv1.TokenScope) bool {
	isToken := scopes != nil
	scope := maxOf(scopes)
	switch l {
	case Public:
		return true
	case Reader:
		return role != forumv1.Role_ROLE_UNSPECIFIED
	case Member:
		return role != forumv1.Role_ROLE_UNSPECIFIED && (!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_WRITE)
	case Session:
		return role != forumv1.Role_ROLE_UNSPECIFIED && !isToken
	case Moderator:
		return (role == forumv1.Role_ROLE_CONVENER || role == forumv1.Role_ROLE_ADMIN) &&
			(!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_MODERATE)
	case Admin:
		return role == forumv1.Role_ROLE_ADMIN && (!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_ADMIN)
	}
	return false
}

// maxOf returns the highest of scopes, or TOKEN_SCOPE_UNSPECIFIED.
func maxOf(scopes []forumv1.TokenScope) forumv1.TokenScope {
	m := forumv1.TokenScope_TOKEN_SCOPE_UNSPECIFIED
	for _, s := range scopes {
		m = max(m, s)
	}
	return m
}

// ScopeRole is the highest role an API token with these scopes acts with:
// authentication lowers the owner's role to it.
func ScopeRole(scopes []forumv1.TokenScope) forumv1.Role {
	switch maxOf(scopes) {
	case forumv1.TokenScope_TOKEN_SCOPE_ADMIN:
		return forumv1.Role_ROLE_ADMIN
	case forumv1.TokenScope_TOKEN_SCOPE_MODERATE:
		return forumv1.Role_ROLE_CONVENER
	}
	return forumv1.Role_ROLE_MEMBER
}

// MaxScope is the highest scope a user with role may give a token.
func MaxScope(role forumv1.Role) forumv1.TokenScope {
	switch role {
	case forumv1.Role_ROLE_ADMIN:
		return forumv1.TokenScope_TOKEN_SCOPE_ADMIN
	case forumv1.Role_ROLE_CONVENER:
		return forumv1.TokenScope_TOKEN_SCOPE_MODERATE
	}
	return forumv1.TokenScope_TOKEN_SCOPE_WRITE
}

// Methods returns the methods the access table has an entry for, sorted.
func Methods() []string {
	out := make([]string, 0, len(table))
	for m := range table {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
