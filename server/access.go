package server

import (
	"slices"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// access is what a caller needs to call a method.
type access int

const (
	// public: anyone, with or without a token.
	public access = iota
	// reader: any logged-in user, with any API token scope (READ included).
	reader
	// member: any logged-in user (an API token needs the WRITE scope).
	member
	// session: a logged-in user calling with a login session, not an API
	// token: changing the password, minting tokens.
	session
	// moderator: a convener or an admin (an API token needs MODERATE).
	moderator
	// admin: an admin (an API token needs ADMIN).
	admin
)

// accessTable names, for every method of every forum.v1 service, what a
// caller needs. It is the one authorisation table: a method missing from it
// is refused (see authorize), and a test checks that every method in the
// service descriptors has an entry. Ownership (authors change their own
// posts) depends on stored data and is checked by the store.
var accessTable = map[string]access{
	forumv1.ThemeService_GetTheme_FullMethodName:    public,
	forumv1.ThemeService_ListThemes_FullMethodName:  public,
	forumv1.ThemeService_CreateTheme_FullMethodName: moderator,
	forumv1.ThemeService_UpdateTheme_FullMethodName: moderator,
	forumv1.ThemeService_DeleteTheme_FullMethodName: moderator,

	forumv1.ThreadService_GetThread_FullMethodName:      public,
	forumv1.ThreadService_ListThreads_FullMethodName:    public,
	forumv1.ThreadService_CreateThread_FullMethodName:   member,
	forumv1.ThreadService_UpdateThread_FullMethodName:   member,
	forumv1.ThreadService_DeleteThread_FullMethodName:   member,
	forumv1.ThreadService_UndeleteThread_FullMethodName: member,

	forumv1.ReplyService_GetReply_FullMethodName:    public,
	forumv1.ReplyService_ListReplies_FullMethodName: public,
	forumv1.ReplyService_CreateReply_FullMethodName: member,
	forumv1.ReplyService_UpdateReply_FullMethodName: member,
	forumv1.ReplyService_DeleteReply_FullMethodName: member,

	forumv1.AuthService_Login_FullMethodName:          public,
	forumv1.AuthService_Logout_FullMethodName:         session,
	forumv1.AuthService_Register_FullMethodName:       public,
	forumv1.AuthService_ChangePassword_FullMethodName: session,

	forumv1.ApiTokenService_CreateApiToken_FullMethodName: session,
	forumv1.ApiTokenService_ListApiTokens_FullMethodName:  member,
	forumv1.ApiTokenService_DeleteApiToken_FullMethodName: member,

	forumv1.GroupService_GetGroup_FullMethodName:    public,
	forumv1.GroupService_ListGroups_FullMethodName:  public,
	forumv1.GroupService_CreateGroup_FullMethodName: moderator,
	forumv1.GroupService_UpdateGroup_FullMethodName: moderator,
	forumv1.GroupService_DeleteGroup_FullMethodName: moderator,

	forumv1.InvitationService_CreateInvitation_FullMethodName: moderator,
	forumv1.InvitationService_ListInvitations_FullMethodName:  moderator,
	forumv1.InvitationService_DeleteInvitation_FullMethodName: moderator,

	forumv1.UserService_GetUser_FullMethodName:    public,
	forumv1.UserService_ListUsers_FullMethodName:  reader, // public with Config.PublicDirectory
	forumv1.UserService_CreateUser_FullMethodName: admin,
	forumv1.UserService_UpdateUser_FullMethodName: member,

	forumv1.OrganizationService_GetOrganization_FullMethodName:    public,
	forumv1.OrganizationService_ListOrganizations_FullMethodName:  public,
	forumv1.OrganizationService_CreateOrganization_FullMethodName: moderator,
	forumv1.OrganizationService_UpdateOrganization_FullMethodName: moderator,
	forumv1.OrganizationService_DeleteOrganization_FullMethodName: moderator,
}

// need returns what a caller needs to call method, and whether the table has
// it: accessTable's level, but for the settings that open a method to
// anyone (Config.PublicDirectory opens ListUsers).
func (s *Server) need(method string) (access, bool) {
	a, ok := accessTable[method]
	if method == forumv1.UserService_ListUsers_FullMethodName && s.publicDirectory {
		a = public
	}
	return a, ok
}

// allows reports whether a caller meets a: role is the caller's role
// (ROLE_UNSPECIFIED for anonymous callers), scopes an API token's scopes
// (nil for a login session). Scopes are ordered: READ < WRITE < MODERATE <
// ADMIN, and a token may do what its highest scope allows.
func (a access) allows(role forumv1.Role, scopes []forumv1.TokenScope) bool {
	isToken := scopes != nil
	scope := slices.Max(append([]forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_UNSPECIFIED}, scopes...))
	switch a {
	case public:
		return true
	case reader:
		return role != forumv1.Role_ROLE_UNSPECIFIED
	case member:
		return role != forumv1.Role_ROLE_UNSPECIFIED && (!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_WRITE)
	case session:
		return role != forumv1.Role_ROLE_UNSPECIFIED && !isToken
	case moderator:
		return (role == forumv1.Role_ROLE_CONVENER || role == forumv1.Role_ROLE_ADMIN) &&
			(!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_MODERATE)
	case admin:
		return role == forumv1.Role_ROLE_ADMIN && (!isToken || scope >= forumv1.TokenScope_TOKEN_SCOPE_ADMIN)
	}
	return false
}

// scopeRole is the highest role an API token with these scopes acts with.
func scopeRole(scopes []forumv1.TokenScope) forumv1.Role {
	switch slices.Max(append([]forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_UNSPECIFIED}, scopes...)) {
	case forumv1.TokenScope_TOKEN_SCOPE_ADMIN:
		return forumv1.Role_ROLE_ADMIN
	case forumv1.TokenScope_TOKEN_SCOPE_MODERATE:
		return forumv1.Role_ROLE_CONVENER
	}
	return forumv1.Role_ROLE_MEMBER
}

// maxScope is the highest scope a user with role may give a token.
func maxScope(role forumv1.Role) forumv1.TokenScope {
	switch role {
	case forumv1.Role_ROLE_ADMIN:
		return forumv1.TokenScope_TOKEN_SCOPE_ADMIN
	case forumv1.Role_ROLE_CONVENER:
		return forumv1.TokenScope_TOKEN_SCOPE_MODERATE
	}
	return forumv1.TokenScope_TOKEN_SCOPE_WRITE
}
