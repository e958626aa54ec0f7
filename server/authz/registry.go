package authz

import forumv1 "github.com/forumhq/forum/gen/forum/v1"

// Rule describes one authorisation rule: its name, the methods it applies
// to (full gRPC method names) and what it says. The server's authorisation
// matrix test needs a case for every rule and every method it names, so a
// rule added here without one fails it.
type Rule struct {
	Name    string
	Methods []string
	Doc     string
}

// The methods that read or change what is in a theme: each checks the
// theme's visibility, and each that reaches a thread checks whether the
// actor may see it if deleted.
var (
	threadMethods = []string{
		forumv1.ThreadService_GetThread_FullMethodName,
		forumv1.ThreadService_ListThreads_FullMethodName,
		forumv1.ThreadService_CreateThread_FullMethodName,
		forumv1.ThreadService_UpdateThread_FullMethodName,
		forumv1.ThreadService_DeleteThread_FullMethodName,
		forumv1.ThreadService_UndeleteThread_FullMethodName,
		forumv1.ReplyService_GetReply_FullMethodName,
		forumv1.ReplyService_ListReplies_FullMethodName,
		forumv1.ReplyService_CreateReply_FullMethodName,
		forumv1.ReplyService_UpdateReply_FullMethodName,
		forumv1.ReplyService_DeleteReply_FullMethodName,
	}
	// answerMethods accept and unaccept a question's answer.
	answerMethods = []string{
		forumv1.ThreadService_AcceptAnswer_FullMethodName,
		forumv1.ThreadService_UnacceptAnswer_FullMethodName,
	}
	// reactionMethods give and withdraw reactions.
	reactionMethods = []string{
		forumv1.ThreadService_AddReaction_FullMethodName,
		forumv1.ThreadService_RemoveReaction_FullMethodName,
	}
	// webhookMethods are the methods of WebhookService.
	webhookMethods = []string{
		forumv1.WebhookService_CreateWebhook_FullMethodName,
		forumv1.WebhookService_GetWebhook_FullMethodName,
		forumv1.WebhookService_ListWebhooks_FullMethodName,
		forumv1.WebhookService_UpdateWebhook_FullMethodName,
		forumv1.WebhookService_DeleteWebhook_FullMethodName,
		forumv1.WebhookService_RotateWebhookSecret_FullMethodName,
		forumv1.WebhookService_ListWebhookDeliveries_FullMethodName,
		forumv1.WebhookService_RedeliverWebhookDelivery_FullMethodName,
		forumv1.WebhookService_PingWebhook_FullMethodName,
	}
	// notificationMethods are the methods of NotificationService.
	notificationMethods = []string{
		forumv1.NotificationService_GetSubscription_FullMethodName,
		forumv1.NotificationService_ListSubscriptions_FullMethodName,
		forumv1.NotificationService_UpdateSubscription_FullMethodName,
		forumv1.NotificationService_DeleteSubscription_FullMethodName,
		forumv1.NotificationService_ListNotifications_FullMethodName,
		forumv1.NotificationService_MarkNotificationsRead_FullMethodName,
		forumv1.NotificationService_GetNotificationSettings_FullMethodName,
		forumv1.NotificationService_UpdateNotificationSettings_FullMethodName,
	}
	// postChanges are the methods that change a post.
	postChanges = []string{
		forumv1.ThreadService_UpdateThread_FullMethodName,
		forumv1.ThreadService_DeleteThread_FullMethodName,
		forumv1.ThreadService_UndeleteThread_FullMethodName,
		forumv1.ReplyService_UpdateReply_FullMethodName,
		forumv1.ReplyService_DeleteReply_FullMethodName,
	}
)

// Rules lists every authorisation rule.
var Rules = []Rule{
	{"access", Methods(),
		"Call: the access table's level of each method (public, reader, member, session, moderator, admin, and the API token scopes); a method without an entry, or a suspended account on a non-public method, is refused"},
	{"thread-kind", []string{forumv1.ThreadService_CreateThread_FullMethodName},
		"ThreadKind: only moderators open follow-up threads and post announcements"},
	{"thread-fields", []string{forumv1.ThreadService_CreateThread_FullMethodName, forumv1.ThreadService_UpdateThread_FullMethodName},
		"ThreadFields: only moderators pin, unpin, move (theme) and lock threads"},
	{"post-author", postChanges,
		"ChangePost: only the author and moderators edit, delete and restore a post"},
	{"post-restore", []string{forumv1.ThreadService_UndeleteThread_FullMethodName},
		"RestorePost: only moderators restore a post a moderator removed"},
	{"locked-thread", postChanges,
		"ChangeLocked: only moderators change the posts of a locked thread, and the replies of a deleted one (FAILED_PRECONDITION for others)"},
	{"deleted-posts", threadMethods,
		"SeeDeleted: a deleted thread and its replies are seen only by its author and moderators (NOT_FOUND for others)"},
	{"action-item-owner", []string{forumv1.ActionItemService_UpdateActionItem_FullMethodName},
		"AssignActionItem, CloseActionItem: moderators set an action item's title, owner and due date; its owner (the user, or a member of the owning organisation) and moderators its state and closing note"},
	{"deleted-history", []string{forumv1.RevisionService_ListRevisions_FullMethodName, forumv1.RevisionService_GetRevision_FullMethodName},
		"the history of a deleted post (a deleted reply, or any post of a deleted thread) is seen only by moderators (NOT_FOUND for others, its author included)"},
	{"answer-author", answerMethods,
		"ChangePost (as an edit): only a question's author and moderators accept and unaccept its answer; in a locked thread only moderators (FAILED_PRECONDITION)"},
	{"reaction-locked", reactionMethods,
		"ChangeLocked: members do not react in a locked thread (FAILED_PRECONDITION); moderators do"},
	{"theme-visibility", append(append(append([]string{forumv1.ThemeService_GetTheme_FullMethodName, forumv1.ThemeService_ListThemes_FullMethodName, forumv1.SearchService_Search_FullMethodName, forumv1.ThreadService_MarkThreadRead_FullMethodName,
		forumv1.ConveningService_GetConvening_FullMethodName, forumv1.ConveningService_ListConvenings_FullMethodName,
		forumv1.ActionItemService_GetActionItem_FullMethodName, forumv1.ActionItemService_ListActionItems_FullMethodName,
		forumv1.ActionItemService_CreateActionItem_FullMethodName, forumv1.ActionItemService_UpdateActionItem_FullMethodName,
		forumv1.RevisionService_ListRevisions_FullMethodName, forumv1.RevisionService_GetRevision_FullMethodName}, threadMethods...), answerMethods...), reactionMethods...),
		"SeeTheme: a MEMBERS theme is seen by logged-in users, a GROUPS theme by moderators and its groups' members; with its threads and replies (NOT_FOUND for others), and in the themes of a convening"},
	{"group-visibility", []string{forumv1.GroupService_GetGroup_FullMethodName, forumv1.GroupService_ListGroups_FullMethodName},
		"SeeGroup: moderators see every group, others the groups they belong to"},
	{"invitation-role", []string{forumv1.InvitationService_CreateInvitation_FullMethodName},
		"Invite: moderators invite members, only admins invite conveners"},
	{"invitation-withdraw", []string{forumv1.InvitationService_DeleteInvitation_FullMethodName},
		"WithdrawInvitation: admins withdraw any invitation, conveners only their own"},
	{"token-create", []string{forumv1.ApiTokenService_CreateApiToken_FullMethodName},
		"CreateToken: users create tokens only for themselves, with scopes within their role"},
	{"token-owner", []string{forumv1.ApiTokenService_ListApiTokens_FullMethodName, forumv1.ApiTokenService_DeleteApiToken_FullMethodName},
		"TokenOwner: users list and revoke only their own tokens, admins anyone's"},
	{"webhook-owner", webhookMethods,
		"WebhookOwner: users create, read, change, delete, ping and redeliver only their own webhooks, admins anyone's"},
	{"notification-owner", notificationMethods,
		"NotificationOwner: users read and change only their own subscriptions and notifications; admins read anyone's and change no one else's"},
	{"registration", []string{forumv1.AuthService_Register_FullMethodName},
		"Register: registering needs an invitation code, unless the forum lets anyone register (Settings.SelfRegistration)"},
	{"user-update", []string{forumv1.UserService_UpdateUser_FullMethodName},
		"UpdateUser: users change only their own profile, admins anyone's; only admins change roles and suspend"},
	{"user-fields", []string{forumv1.UserService_GetUser_FullMethodName, forumv1.UserService_ListUsers_FullMethodName,
		forumv1.UserService_CreateUser_FullMethodName, forumv1.UserService_UpdateUser_FullMethodName},
		"UserView: the e-mail address only to the user themself; to anonymous callers only names, unless the directory is public"},
	{"event-visibility", []string{forumv1.EventService_ListEvents_FullMethodName, forumv1.EventService_StreamEvents_FullMethodName},
		"events are seen by who may read the resource now, when the event is read or delivered (SeeTheme, SeeDeleted, SeeGroup, TokenOwner; invitations by moderators, users' public profiles by logged-in users); the store's eventVisibility applies it, so a reader removed from a group stops receiving its theme's events"},
}
