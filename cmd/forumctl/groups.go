package main

import (
	"context"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "groups",
		Aliases: []string{"group"},
		Short:   "Manage private working groups (conveners and admins)",
		Long: `Private working groups: their members see the themes restricted to them.
Conveners and admins create and change groups and see them all; other users
see the groups they belong to. Groups are named by slug (nairobi-2026) or
name (groups/nairobi-2026), users by number (3), name (users/3), username,
or me.`,
		Example: `  forumctl groups create nairobi-2026 --name "Nairobi 2026 follow-up"
  forumctl groups add-member nairobi-2026 moses users/7
  forumctl groups show nairobi-2026`,
		Args: groupArgs,
		RunE: groupRun,
	}
	var etag string
	del := a.deleteCommand("delete GROUP", "Delete a group",
		`Delete GROUP (nairobi-2026 or groups/nairobi-2026). A group that a theme is
still restricted to cannot be deleted (exit status 6): change the theme
first. With --etag, it is deleted only if it has not changed since.`,
		`  forumctl groups delete nairobi-2026
  forumctl groups delete groups/nairobi-2026 --etag "$ETAG"`,
		groupName,
		func(ctx context.Context, c *client.Client, name string) (string, error) {
			_, err := c.GroupService().DeleteGroup(ctx, &forumv1.DeleteGroupRequest{Name: name, Etag: etag})
			return "Deleted " + name, err
		})
	del.Flags().StringVar(&etag, "etag", "", "delete only if the group's etag is still this one")
	del.ValidArgsFunction = a.completeGroups
	cmd.AddCommand(
		a.groupsListCommand(),
		a.groupsShowCommand(),
		a.groupsCreateCommand(),
		a.groupMembersCommand(true),
		a.groupMembersCommand(false),
		del,
	)
	return cmd
}

// groupSlug matches the slug of a group: lowercase letters and digits, in
// words joined by single hyphens.
var groupSlug = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// maxGroupSlug is the longest slug the server accepts.
const maxGroupSlug = 63

// groupName returns the resource name of a group given as a slug or as
// groups/slug.
func groupName(arg string) (string, error) {
	slug := strings.TrimPrefix(strings.TrimSpace(arg), "groups/")
	if len(slug) > maxGroupSlug || !groupSlug.MatchString(slug) {
		return "", usagef("%q is not a group: give its slug (nairobi-2026) or name (groups/nairobi-2026): lowercase letters, digits and single hyphens, at most %d characters", arg, maxGroupSlug)
	}
	return "groups/" + slug, nil
}

// completeGroups completes a command's first argument, a group, with the
// groups the caller may see.
func (a *app) completeGroups(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, _, err := a.dial(cmd, false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer c.Close()
	var out []string
	for g, err := range listGroups(cmd.Context(), c) {
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp // nothing rather than some
		}
		out = append(out, strings.TrimPrefix(g.GetName(), "groups/")+"\t"+g.GetDisplayName())
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// listGroups lists the groups the caller may see.
func listGroups(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.Group, error] {
	return c.Groups(ctx, &forumv1.ListGroupsRequest{PageSize: 100})
}

func (a *app) groupsListCommand() *cobra.Command {
	return listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List the groups you may see",
		Long: `List groups in name order: all of them for conveners and admins, the groups
you belong to for others.`,
		Example: `  forumctl groups list
  forumctl groups list -o json | jq -r '.groups[].name'`,
	}, listSpec[*forumv1.Group]{
		list: listGroups,
		response: func(groups []*forumv1.Group) proto.Message {
			return &forumv1.ListGroupsResponse{Groups: groups}
		},
		empty:  "No groups you may see.",
		header: []string{"GROUP", "NAME", "MEMBERS", "UPDATED"},
		row: func(_ context.Context, _ *names, g *forumv1.Group) []string {
			return []string{g.GetName(), g.GetDisplayName(), strconv.Itoa(len(g.GetMembers())), timeText(g.GetUpdateTime())}
		},
	})
}

func (a *app) groupsShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show GROUP",
		Short: "Show a group and its members",
		Long: `Show GROUP (nairobi-2026 or groups/nairobi-2026) and its members. -o json and
yaml give the group with the API's field names, its etag included.`,
		Example: `  forumctl groups show nairobi-2026
  forumctl groups show groups/nairobi-2026 -o json | jq -r .etag`,
		Args:              exactArgs("GROUP"),
		ValidArgsFunction: a.completeGroups,
		RunE: a.runNamed(groupName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.Group, error) {
				return c.GroupService().GetGroup(ctx, &forumv1.GetGroupRequest{Name: name})
			}, func(ctx context.Context, n *names, g *forumv1.Group) error {
				t := newTable(a.stdout)
				row(t, "Group:", g.GetName())
				row(t, "Name:", g.GetDisplayName())
				if g.GetDescription() != "" {
					row(t, "Description:", g.GetDescription())
				}
				row(t, "Created:", timeText(g.GetCreateTime()))
				row(t, "Updated:", timeText(g.GetUpdateTime()))
				row(t, "Members:", strconv.Itoa(len(g.GetMembers())))
				if err := t.Flush(); err != nil {
					return err
				}
				if len(g.GetMembers()) == 0 {
					return nil
				}
				a.printf("\n")
				t = newTable(a.stdout)
				row(t, "MEMBER", "NAME")
				for _, m := range g.GetMembers() {
					row(t, m, n.user(ctx, m))
				}
				return t.Flush()
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) groupsCreateCommand() *cobra.Command {
	var format, name, description string
	cmd := &cobra.Command{
		Use:   "create SLUG",
		Short: "Create a group",
		Long: `Create the group groups/SLUG, where SLUG is lowercase letters, digits and
single hyphens. Add members with 'forumctl groups add-member'.`,
		Example: `  forumctl groups create nairobi-2026 --name "Nairobi 2026 follow-up"
  forumctl groups create mentoring --name "Mentoring" --description "Hosts who mentor volunteers"`,
		Args:              exactArgs("SLUG"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(groupName, func(cmd *cobra.Command, group string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Group, error) {
				return c.GroupService().CreateGroup(ctx, &forumv1.CreateGroupRequest{
					GroupId: strings.TrimPrefix(group, "groups/"),
					Group:   &forumv1.Group{DisplayName: name, Description: description},
				})
			}, func(g *forumv1.Group) string { return fmt.Sprintf("Created %s: %s", g.GetName(), g.GetDisplayName()) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the group's display name; required")
	f.StringVar(&description, "description", "", "what the group works on")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("name", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("description", cobra.NoFileCompletions)
	return cmd
}

// setGroupMembers replaces the members of g, as read before, with members.
// It sends g's etag, so that a change made since g was read is refused
// (ABORTED, exit status 6) rather than overwritten.
func setGroupMembers(ctx context.Context, c *client.Client, g *forumv1.Group, members []string) (*forumv1.Group, error) {
	return c.GroupService().UpdateGroup(ctx, &forumv1.UpdateGroupRequest{
		Group:      &forumv1.Group{Name: g.GetName(), Members: members, Etag: g.GetEtag()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"members"}},
	})
}

// groupMembersCommand builds add-member (add) and remove-member.
func (a *app) groupMembersCommand(add bool) *cobra.Command {
	verb, short, done, noop, example := "add-member", "Add users to a group", "Added %s to %s.\n", "%s is already a member of %s: nothing to add.\n",
		`  forumctl groups add-member nairobi-2026 moses
  forumctl groups add-member groups/nairobi-2026 3 users/7 amina`
	if !add {
		verb, short, done, noop, example = "remove-member", "Remove users from a group", "Removed %s from %s.\n", "%s is not a member of %s: nothing to remove.\n",
			`  forumctl groups remove-member nairobi-2026 moses
  forumctl groups remove-member groups/nairobi-2026 3 users/7`
	}
	var format string
	cmd := &cobra.Command{
		Use:   verb + " GROUP USER...",
		Short: short,
		Long: short + `. GROUP is a slug or groups/slug; each USER a number (3),
name (users/3), username, or me. The group is read, its members changed and
written back with the etag read: if someone changed it meanwhile, nothing is
written (exit status 6) and you can run the command again. Users who need
no change are reported on standard error; that is not an error.`,
		Example:           example,
		Args:              repeatArgs("GROUP", "USER"),
		ValidArgsFunction: a.completeGroups,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			group, err := groupName(args[0])
			if err != nil {
				return err
			}
			users, err := userArgs(args[1:])
			if err != nil {
				return err
			}
			var changed []string
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.Group, error) {
				var who []string // the users, resolved, each once
				for _, u := range users {
					name, err := resolveUser(ctx, c, u)
					if err != nil {
						return nil, err
					}
					if !slices.Contains(who, name) {
						who = append(who, name)
					}
				}
				g, err := c.GroupService().GetGroup(ctx, &forumv1.GetGroupRequest{Name: group})
				if err != nil {
					return nil, err
				}
				members := slices.Clone(g.GetMembers())
				for _, u := range who {
					i := slices.Index(members, u)
					switch {
					case add && i < 0:
						members = append(members, u)
						changed = append(changed, u)
					case !add && i >= 0:
						members = slices.Delete(members, i, i+1)
						changed = append(changed, u)
					default:
						fmt.Fprintf(a.stderr, noop, u, g.GetName())
					}
				}
				if len(changed) == 0 {
					return g, nil
				}
				return setGroupMembers(ctx, c, g, members)
			}, func(ctx context.Context, n *names, g *forumv1.Group) error {
				for _, u := range changed {
					a.printf(done, userLabel(ctx, n, u), g.GetName())
				}
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
