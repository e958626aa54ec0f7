package main

import (
	"context"
	"iter"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) invitationsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "invitations",
		Aliases: []string{"invitation", "invites"},
		Short:   "Invite people to register (conveners and admins)",
		Long: `Invitations are single-use registration codes, for when self-registration is
off. Conveners invite members; admins also invite conveners. The code is
shown once, when the invitation is created, and can never be read again.`,
		Example: `  forumctl invitations create --expires 7d
  forumctl invitations list
  forumctl invitations delete 3`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(
		a.invitationsCreateCommand(),
		a.invitationsListCommand(),
		a.deleteCommand("delete INVITATION", "Withdraw an unused invitation",
			`Withdraw INVITATION (its number, 3, or name, invitations/3): its code stops
working at once. It stays in the list, expired, as the record of who invited.
An invitation someone has registered with cannot be withdrawn (exit status 6).`,
			`  forumctl invitations delete 3
  forumctl invitations delete invitations/3`,
			invitationName,
			func(ctx context.Context, c *client.Client, name string) (string, error) {
				_, err := c.InvitationService().DeleteInvitation(ctx, &forumv1.DeleteInvitationRequest{Name: name})
				return "Withdrew " + name, err
			}),
	)
	return cmd
}

// invitationName returns the resource name of an invitation given as 3 or
// invitations/3.
func invitationName(arg string) (string, error) {
	return prefixedID(arg, "invitations", "an invitation")
}

// inviteRoleWords are the roles --role accepts. The server never issues an
// invitation for an admin, so admin is refused apart, with the reason.
var inviteRoleWords = map[string]string{"member": "MEMBER", "convener": "CONVENER"}

func (a *app) invitationsCreateCommand() *cobra.Command {
	var format, role, expires string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an invitation and show its code, once",
		Long: `Create an invitation and print its name and its code. The code is shown only
this once: the server keeps only its hash, so pass it on now. The new user
gets --role: member (the default), or convener when an admin invites. The
code works until --expires from now (default 14 days, at most 90).
-o json and yaml print the whole invitation, code included.`,
		Example: `  forumctl invitations create
  forumctl invitations create --expires 7d
  forumctl invitations create --role convener --expires 72h -o json | jq -r .code`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if strings.EqualFold(role, "admin") {
				return usagef("--role admin: the server issues no admin invitations; use member or convener, and have an admin change the role later")
			}
			r, err := enumFlag("role", role, inviteRoleWords)
			if err != nil {
				return err
			}
			inv := &forumv1.Invitation{Role: forumv1.Role(forumv1.Role_value["ROLE_"+r])}
			if inv.ExpireTime, err = expireTime("expires", expires); err != nil {
				return err
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.Invitation, error) {
				return c.InvitationService().CreateInvitation(ctx, &forumv1.CreateInvitationRequest{Invitation: inv})
			}, func(_ context.Context, _ *names, out *forumv1.Invitation) error {
				a.printf("Created %s: a %s may register with it until %s.\n", out.GetName(), roleWord(out.GetRole()), timeZoneText(out.GetExpireTime()))
				a.showSecret("Code", out.GetCode(), "code", "invitation")
				return nil
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "member", "the role the new user gets: member, or convener (admins only)")
	f.StringVar(&expires, "expires", "", "how long the code works, e.g. 72h or 30d (default 14 days, at most 90)")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"member", "convener"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("expires", cobra.NoFileCompletions)
	return cmd
}

// showSecret prints a secret the server returns only on create (label:
// value), with the warning that it cannot be shown again; what and kind
// name it in the messages.
func (a *app) showSecret(label, value, what, kind string) {
	if value == "" {
		// A create replayed from its request_id returns no secret.
		a.printf("The server did not return the %s (a repeated request): delete this %s and create another.\n", what, kind)
		return
	}
	a.printf("%s: %s\n", label, value)
	a.printf("The %s is shown only this once and cannot be shown again: keep it now.\n", what)
}

func (a *app) invitationsListCommand() *cobra.Command {
	return listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List invitations, newest first",
		Long: `List every invitation, newest first, without codes. Withdrawn and lapsed ones
show as expired; USED BY is who registered with one.`,
		Example: `  forumctl invitations list
  forumctl invitations list -o json | jq '.invitations[] | select(.usedBy == null) | .name'`,
	}, listSpec[*forumv1.Invitation]{
		needToken: true,
		list: func(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.Invitation, error] {
			return c.Invitations(ctx, &forumv1.ListInvitationsRequest{PageSize: 100})
		},
		response: func(invs []*forumv1.Invitation) proto.Message {
			return &forumv1.ListInvitationsResponse{Invitations: invs}
		},
		empty:  "No invitations.",
		header: []string{"NAME", "ROLE", "EXPIRES", "CREATOR", "USED BY"},
		row: func(ctx context.Context, n *names, inv *forumv1.Invitation) []string {
			return []string{inv.GetName(), roleWord(inv.GetRole()), expiryText(inv.GetExpireTime()),
				n.user(ctx, inv.GetCreator()), n.user(ctx, inv.GetUsedBy())}
		},
	})
}
