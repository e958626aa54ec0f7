package authz

import (
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
)

// The rules that depend on the actor and on the resource. Each is listed in
// Rules; the methods that call the access table's moderator or admin level
// need no rule of their own here (creating, changing and deleting themes,
// groups and organisations; listing invitations; creating users).

// moderator returns PermissionDenied unless a is a moderator; what names
// the action refused.
func moderator(a Actor, what string) error {
	if a.Moderator() {
		return nil
	}
	return fmt.Errorf("%w: only conveners and admins %s", errs.PermissionDenied, what)
}

// ThreadKind is the rule thread-kind: only moderators open follow-up
// threads and post announcements.
func ThreadKind(a Actor, kind forumv1.ThreadKind) error {
	switch kind {
	case forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP:
		return moderator(a, "open follow-up threads")
	case forumv1.ThreadKind_THREAD_KIND_ANNOUNCEMENT:
		return moderator(a, "post announcements")
	}
	return nil
}

// ThreadFields is the rule thread-fields: only moderators pin and unpin
// threads, move them to another theme and lock and unlock them. paths are
// the fields of t a call sets (UpdateThread's update mask; for
// CreateThread, pinned and locked when set).
func ThreadFields(a Actor, t *forumv1.Thread, paths []string) error {
	for _, p := range paths {
		var err error
		switch {
		case p == "pinned" && t.GetPinned():
			err = moderator(a, "pin threads")
		case p == "pinned":
			err = moderator(a, "unpin threads")
		case p == "theme":
			err = moderator(a, "move threads to another theme")
		case p == "locked" && t.GetLocked():
			err = moderator(a, "lock threads")
		case p == "locked":
			err = moderator(a, "unlock threads")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// PostOp is a change to a post (a thread or a reply).
type PostOp int

// The changes to a post.
const (
	EditPost PostOp = iota
	DeletePost
	UndeletePost
)

// verb is how the refusals of op name it.
func (op PostOp) verb() string {
	switch op {
	case DeletePost:
		return "delete"
	case UndeletePost:
		return "restore"
	}
	return "change"
}

// Post is what the rules on posts know of a thread or a reply.
type Post struct {
	Kind      string // "thread" or "reply"
	Name      string
	Author    string
	Deleted   bool
	DeletedBy string // who deleted it, while deleted; "" if not recorded
}

// RemovedByModerator reports whether a deleted post was deleted by someone
// other than its author, which only a moderator may do. A post deleted
// before deleted_by was recorded (DeletedBy empty) counts as removed by a
// moderator: whether its author or a moderator deleted it is unknown, and
// the safe side is to let only a moderator restore it. (Deletions by
// SystemActor, forumd's own admin commands, have no user and so count as a
// moderator's too, which they are.)
func (p Post) RemovedByModerator() bool {
	return p.Deleted && (p.DeletedBy == "" || p.DeletedBy != p.Author)
}

// ownsOrModerates reports whether a may change a post written by author:
// its author, or a moderator.
func ownsOrModerates(a Actor, author string) bool {
	return a.Moderator() || a.is(author)
}

// ChangePost is the rule post-author: only the author of a post and
// moderators edit, delete or restore it; and restoring it is subject to
// RestorePost.
func ChangePost(a Actor, op PostOp, p Post) error {
	if !ownsOrModerates(a, p.Author) {
		return fmt.Errorf("%w: only the author, conveners and admins %s %s %s", errs.PermissionDenied, op.verb(), p.Kind, p.Name)
	}
	if op == UndeletePost {
		return RestorePost(a, p)
	}
	return nil
}

// RestorePost is the rule post-restore: a post a moderator removed (see
// Post.RemovedByModerator) is restored only by a moderator.
func RestorePost(a Actor, p Post) error {
	if p.RemovedByModerator() && !a.Moderator() {
		return fmt.Errorf("%w: a moderator removed %s %s; only conveners and admins restore it", errs.PermissionDenied, p.Kind, p.Name)
	}
	return nil
}

// ChangeLocked is the rule locked-thread: moderators change the posts of a
// locked thread (edit, delete, restore, unlock), and the replies of a
// deleted thread; for anyone else the store refuses the change with
// FAILED_PRECONDITION, as it refuses any change the thread's state does
// not allow.
func ChangeLocked(a Actor) bool { return a.Moderator() }

// SeeDeleted is the rule deleted-posts: a deleted thread, with its replies,
// is seen only by its author and moderators (to anyone else it does not
// exist); a deleted reply is a tombstone that anyone who sees its thread
// sees.
func SeeDeleted(a Actor, author string) bool { return ownsOrModerates(a, author) }

// SeeTheme is the rule theme-visibility: whether a may see a theme, and so
// its threads and their replies. A theme of visibility MEMBERS is seen by
// logged-in users; one of visibility GROUPS by moderators and the members
// of one of its groups; any other by anyone. member reports whether a
// belongs to a group (a stored fact); SeeTheme asks it only for a GROUPS
// theme and a caller who is not a moderator, one group at a time.
func SeeTheme(a Actor, visibility forumv1.ThemeVisibility, groups []string, member func(group string) (bool, error)) (bool, error) {
	switch visibility {
	case forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS:
		return a.User != "", nil
	case forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS:
		if a.Moderator() {
			return true, nil
		}
		if a.User == "" {
			return false, nil
		}
		for _, g := range groups {
			if ok, err := member(g); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return true, nil
}

// SeeGroup is the rule group-visibility: moderators see every group, others
// the groups they belong to. member reports whether a belongs to the group
// (a stored fact); SeeGroup asks it only for a caller who is not a
// moderator.
func SeeGroup(a Actor, member func() (bool, error)) (bool, error) {
	if a.Moderator() {
		return true, nil
	}
	if a.User == "" {
		return false, nil
	}
	return member()
}

// Invite is the rule invitation-role: moderators invite members, only
// admins invite conveners, and no one invites an admin.
func Invite(a Actor, role forumv1.Role) error {
	if role != forumv1.Role_ROLE_MEMBER && !a.admin() || role == forumv1.Role_ROLE_ADMIN {
		return fmt.Errorf("%w: you may not invite a %s", errs.PermissionDenied, role)
	}
	return nil
}

// WithdrawInvitation is the rule invitation-withdraw: admins withdraw any
// invitation, conveners only those they created (a convener withdrawing an
// admin's invitation of a convener would undo what only an admin may do).
// creator is the invitation's creator, a stored fact.
func WithdrawInvitation(a Actor, name, creator string) error {
	if !a.admin() && !a.is(creator) {
		return fmt.Errorf("%w: conveners withdraw only the invitations they created; %s was created by %s", errs.PermissionDenied, name, creator)
	}
	return nil
}

// CreateToken is the rule token-create: users give a token no scope above
// their role's (MaxScope), and create tokens only for themselves (owner),
// admins included.
func CreateToken(a Actor, owner string, scopes []forumv1.TokenScope) error {
	for _, sc := range scopes {
		if sc > MaxScope(a.Role) {
			return fmt.Errorf("%w: a %s may not give a token the %s scope", errs.PermissionDenied, a.Role, sc)
		}
	}
	if !a.is(owner) {
		return fmt.Errorf("%w: users create tokens only for themselves", errs.PermissionDenied)
	}
	return nil
}

// TokenOwner is the rule token-owner: users list and revoke (verb) only
// their own tokens (owner is the user the tokens belong to); admins
// anyone's.
func TokenOwner(a Actor, owner, verb string) error {
	if !a.admin() && !a.is(owner) {
		return fmt.Errorf("%w: users %s only their own tokens", errs.PermissionDenied, verb)
	}
	return nil
}

// WebhookOwner is the rule webhook-owner: users create, read, change and
// delete (verb) only their own webhooks (owner is the user the webhooks
// belong to); admins anyone's.
func WebhookOwner(a Actor, owner, verb string) error {
	if !a.admin() && !a.is(owner) {
		return fmt.Errorf("%w: users %s only their own webhooks", errs.PermissionDenied, verb)
	}
	return nil
}

// Register is the rule registration: registering needs an invitation code
// (invited), unless the forum lets anyone register. Whether the code is
// valid, and the role it gives, is the store's to check.
func Register(s Settings, invited bool) error {
	if !invited && !s.SelfRegistration {
		return fmt.Errorf("%w: registration needs an invitation code", errs.PermissionDenied)
	}
	return nil
}

// UpdateUser is the rule user-update: only admins change roles and states
// (suspend users); users change only their own profile (user), admins
// anyone's. paths are the fields the call changes.
func UpdateUser(a Actor, user string, paths []string) error {
	for _, p := range paths {
		if (p == "role" || p == "state") && !a.admin() {
			return fmt.Errorf("%w: only admins change roles and suspend users", errs.PermissionDenied)
		}
	}
	if !a.admin() && !a.is(user) {
		return fmt.Errorf("%w: users change only their own profile", errs.PermissionDenied)
	}
	return nil
}

// UserView is the rule user-fields: it returns u as a may see it. The
// e-mail address is shown only to the user themself; and, to an anonymous
// caller unless the directory is public (Settings.PublicDirectory), only
// the name, username and display name (no organisation, country,
// languages, bio, role or times). u is changed in place, or replaced.
func UserView(a Actor, u *forumv1.User, s Settings) *forumv1.User {
	if u == nil {
		return u
	}
	if a.User == "" && !s.PublicDirectory {
		return &forumv1.User{Name: u.Name, Username: u.Username, DisplayName: u.DisplayName}
	}
	if u.Email != "" && a.User != u.Name {
		u.Email = ""
	}
	return u
}

// NotificationOwner is the rule notification-owner: users read and change
// (verb) only their own subscriptions, notifications and read positions
// (owner is the user they belong to); admins read anyone's, and change no
// one else's.
func NotificationOwner(a Actor, owner, verb string, change bool) error {
	if a.is(owner) || (a.admin() && !change) {
		return nil
	}
	return fmt.Errorf("%w: users %s only their own subscriptions and notifications", errs.PermissionDenied, verb)
}

// AssignActionItem is the rule action-item-owner for the fields of an
// action item that say what and who: only moderators set its title, owner
// and due date.
func AssignActionItem(a Actor, field string) error {
	return moderator(a, "change an action item's "+field)
}

// CloseActionItem is the rule action-item-owner for an item's state and
// closing note: its owner (owner is the user's name), a member of the
// owning organisation (inOwner), and moderators.
func CloseActionItem(a Actor, owner string, inOwner bool) error {
	if a.Moderator() || a.User == owner || inOwner {
		return nil
	}
	return fmt.Errorf("%w: only the owner of an action item (%s), a member of the owning organisation, conveners and admins change its state", errs.PermissionDenied, owner)
}
