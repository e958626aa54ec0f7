// Package authz holds every authorisation decision of the forum, for unary
// calls and streams alike: who may call each method (the access table,
// Need and Call, applied by the server's interceptors), and the rules that
// depend on who calls and on the resource (ownership, visibility, what a
// role may set), each a function of the facts it needs. Rules lists them
// all, with the methods each applies to, and the server's authorisation
// matrix test has a case for every rule and method.
//
// The server calls the rules whose facts are in the request (the fields a
// thread update sets, the owner of an API token). The store calls those
// that need stored data (the author of a post, who deleted it, a theme's
// groups and the actor's membership) inside the transaction that reads or
// changes the data, so that no change slips between the check and the
// write; it gathers the facts and asks, and decides nothing about actors
// itself. Rules return nil or an error of kind errs.PermissionDenied; the
// visibility rules answer yes or no, and the store turns no into NOT_FOUND
// (or leaves the resource out of a list), so that callers cannot tell what
// they may not see from what does not exist.
package authz

import forumv1 "github.com/forumhq/forum/gen/forum/v1"

// Actor is who makes a call.
type Actor struct {
	// User is the caller's resource name (`users/{id}`), empty if anonymous.
	User string
	// Role is the caller's role: a user's role, lowered to what an API
	// token's scopes allow (ScopeRole); ROLE_UNSPECIFIED if anonymous.
	Role forumv1.Role
}

// SystemActor is used by administrative commands run on the server itself
// (forumd's admin commands, tests that set up data): an admin without a
// user.
var SystemActor = Actor{Role: forumv1.Role_ROLE_ADMIN}

// Moderator reports whether the actor is a convener or an admin.
func (a Actor) Moderator() bool {
	return a.Role == forumv1.Role_ROLE_CONVENER || a.Role == forumv1.Role_ROLE_ADMIN
}

// admin reports whether the actor is an admin.
func (a Actor) admin() bool { return a.Role == forumv1.Role_ROLE_ADMIN }

// is reports whether the actor is the user named user (never for an
// anonymous actor or SystemActor).
func (a Actor) is(user string) bool { return a.User != "" && a.User == user }
