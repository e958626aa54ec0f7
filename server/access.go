package server

import (
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// access is what a caller needs to call a method.
type access int

const (
	// public: anyone, with or without a token.
	public access = iota
	// member: any logged-in user.
	member
	// moderator: a convener or an admin.
	moderator
	// admin: an admin.
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

	forumv1.AuthService_Login_FullMethodName:  public,
	forumv1.AuthService_Logout_FullMethodName: member,

	forumv1.UserService_GetUser_FullMethodName:    public,
	forumv1.UserService_ListUsers_FullMethodName:  public,
	forumv1.UserService_CreateUser_FullMethodName: admin,
	forumv1.UserService_UpdateUser_FullMethodName: member,

	forumv1.OrganizationService_GetOrganization_FullMethodName:    public,
	forumv1.OrganizationService_ListOrganizations_FullMethodName:  public,
	forumv1.OrganizationService_CreateOrganization_FullMethodName: moderator,
	forumv1.OrganizationService_UpdateOrganization_FullMethodName: moderator,
	forumv1.OrganizationService_DeleteOrganization_FullMethodName: moderator,
}

// allows reports whether a caller with role (ROLE_UNSPECIFIED for anonymous)
// meets a.
func (a access) allows(role forumv1.Role) bool {
	switch a {
	case public:
		return true
	case member:
		return role != forumv1.Role_ROLE_UNSPECIFIED
	case moderator:
		return role == forumv1.Role_ROLE_CONVENER || role == forumv1.Role_ROLE_ADMIN
	case admin:
		return role == forumv1.Role_ROLE_ADMIN
	}
	return false
}
