package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// userNumber and username match the forms resolveUser takes besides me:
// 3 or users/3, and a username.
var (
	userNumber = regexp.MustCompile(`^(?:users/)?([1-9][0-9]*)$`)
	username   = regexp.MustCompile(`^[a-z][a-z0-9_.-]{2,31}$`)
)

// userArgs checks users given as 3, users/3, a username or me, before any
// call, and returns them with numbers made names (users/3) for resolveUser.
func userArgs(args []string) ([]string, error) {
	out := make([]string, len(args))
	for i, arg := range args {
		arg = strings.TrimSpace(arg)
		switch m := userNumber.FindStringSubmatch(arg); {
		case m != nil:
			out[i] = "users/" + m[1]
		case arg == "me" || username.MatchString(arg):
			out[i] = arg
		default:
			return nil, usagef("%q is not a user: give their number (3), name (users/3), username, or me", args[i])
		}
	}
	return out, nil
}

// resolveUser returns the resource name of a user given as users/N, N, me
// (the logged-in user) or a username.
func resolveUser(ctx context.Context, c *client.Client, who string) (string, error) {
	switch {
	case who == "me":
		u, err := c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
		if err != nil {
			return "", err
		}
		return u.GetName(), nil
	case strings.HasPrefix(who, "users/"):
		return who, nil
	case isDigits(who):
		return "users/" + who, nil
	}
	for u, err := range c.Users(ctx, &forumv1.ListUsersRequest{PageSize: 100}) {
		if err != nil {
			return "", err
		}
		if u.GetUsername() == who {
			return u.GetName(), nil
		}
	}
	return "", fmt.Errorf("%w: no user is called %q", client.ErrNotFound, who)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// names looks up and caches the display names of users.
type names struct {
	c     *client.Client
	users map[string]string
}

func newNames(c *client.Client) *names { return &names{c: c, users: map[string]string{}} }

// user returns the display name of the user called name, or name itself if
// it cannot be found.
func (n *names) user(ctx context.Context, name string) string {
	if name == "" {
		return "-"
	}
	if d, ok := n.users[name]; ok {
		return d
	}
	d := name
	if u, err := n.c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: name}); err == nil && u.GetDisplayName() != "" {
		d = u.GetDisplayName()
	}
	n.users[name] = d
	return d
}

// userLabel is a user's name with their display name, if known:
// "users/3 (Mo Member)".
func userLabel(ctx context.Context, n *names, name string) string {
	if d := n.user(ctx, name); d != name {
		return name + " (" + d + ")"
	}
	return name
}
