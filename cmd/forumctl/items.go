package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// itemNumber matches the forms an action item can be named in:
// threads/12/actionItems/3, or 12/items/3.
var itemNumber = regexp.MustCompile(`^(?:threads/([1-9][0-9]*)/actionItems/([1-9][0-9]*)|([1-9][0-9]*)/items/([1-9][0-9]*))$`)

// itemName returns the resource name of an action item given as
// threads/12/actionItems/3 or 12/items/3.
func itemName(arg string) (string, error) {
	m := itemNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not an action item: give its name (threads/12/actionItems/3) or THREAD/items/ITEM (12/items/3)", arg)
	}
	if m[1] != "" {
		return "threads/" + m[1] + "/actionItems/" + m[2], nil
	}
	return "threads/" + m[3] + "/actionItems/" + m[4], nil
}

// ownerName returns the resource name of an owner given as users/N,
// organizations/slug, or an organisation's slug.
func ownerName(arg string) string { return organizerName(strings.TrimSpace(arg)) }

// itemStateWord is an item's state in words: "open", "done", "dropped".
func itemStateWord(s forumv1.ActionItemState) string {
	return enumWord(s.String(), "ACTION_ITEM_STATE_")
}

// ownerText is an owner's display name.
func (n *names) owner(ctx context.Context, owner string) string {
	if strings.HasPrefix(owner, "users/") {
		return n.user(ctx, owner)
	}
	if d, ok := n.users[owner]; ok {
		return d
	}
	d := strings.TrimPrefix(owner, "organizations/")
	if o, err := n.c.OrganizationService().GetOrganization(ctx, &forumv1.GetOrganizationRequest{Name: owner}); err == nil && o.GetDisplayName() != "" {
		d = o.GetDisplayName()
	}
	n.users[owner] = d
	return d
}

func (a *app) itemsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "items",
		Aliases: []string{"item", "action-items"},
		Short:   "Work with the action items of follow-up threads",
		Example: `  forumctl items list --owner me --state open
  forumctl items list --overdue
  forumctl items create 13 --title "Share the mentoring guide" --owner vso-kenya --due 2026-12-31
  forumctl items done 13/items/1 --note "Shared with all members."`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.itemsListCommand(), a.itemsShowCommand(), a.itemsCreateCommand(), a.itemsAssignCommand(),
		a.itemStateCommand("done", forumv1.ActionItemState_ACTION_ITEM_STATE_DONE, "Mark an action item done"),
		a.itemStateCommand("drop", forumv1.ActionItemState_ACTION_ITEM_STATE_DROPPED, "Drop an action item: not to be done after all"),
		a.itemStateCommand("reopen", forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN, "Open a done or dropped action item again"))
	return cmd
}

func (a *app) itemsListCommand() *cobra.Command {
	var format, thread, owner, state, convening, theme string
	var overdue bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List action items, the earliest due first",
		Long: `List the action items of one thread (--thread) or of every thread you may
read, the earliest due first, with their owner, state and due date. The
filters combine. --owner me is yours and your organisation's. --overdue is
the open items due before today (UTC). -o json and yaml give
{"actionItems": [...]} with the API's field names.`,
		Example: `  forumctl items list --owner me
  forumctl items list --convening beijing-2015 --state open
  forumctl items list --overdue -o json`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			req := &forumv1.ListActionItemsRequest{Parent: "threads/-", PageSize: 100}
			if thread != "" {
				t, err := threadName(thread)
				if err != nil {
					return err
				}
				req.Parent = t
			}
			var filters []string
			if owner != "" {
				o := "me"
				if owner != "me" {
					o = ownerName(owner)
				}
				filters = append(filters, fmt.Sprintf("owner = %q", o))
			}
			if state != "" {
				s, err := enumFlag("state", state, map[string]string{"open": "OPEN", "done": "DONE", "dropped": "DROPPED"})
				if err != nil {
					return err
				}
				filters = append(filters, "state = "+s)
			}
			if overdue {
				filters = append(filters, "state = OPEN", fmt.Sprintf("due_date < %q", time.Now().UTC().Format(time.DateOnly)))
			}
			if convening != "" {
				filters = append(filters, fmt.Sprintf("convening = %q", conveningName(convening)))
			}
			if theme != "" {
				filters = append(filters, fmt.Sprintf("theme = %q", themeName(theme)))
			}
			req.Filter = strings.Join(filters, " AND ")
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ListActionItemsResponse, error) {
				out := &forumv1.ListActionItemsResponse{}
				for it, err := range c.ActionItems(ctx, req) {
					if err != nil {
						return nil, err
					}
					out.ActionItems = append(out.ActionItems, it)
				}
				return out, nil
			}, func(ctx context.Context, n *names, out *forumv1.ListActionItemsResponse) error {
				if len(out.ActionItems) == 0 {
					fmt.Fprintln(a.stderr, "No action items match.")
					return nil
				}
				t := newTable(a.stdout)
				row(t, "ITEM", "DUE", "STATE", "OWNER", "TITLE", "THREAD")
				for _, it := range out.ActionItems {
					due := it.GetDueDate()
					if due == "" {
						due = "—"
					}
					row(t, shortItem(it.GetName()), due, itemStateWord(it.GetState()), n.owner(ctx, it.GetOwner()), it.GetTitle(), it.GetThreadTitle())
				}
				return t.Flush()
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&thread, "thread", "", "only the items of this thread (12 or threads/12)")
	f.StringVar(&owner, "owner", "", "only the items of this owner: me, users/N, or an organisation's slug")
	f.StringVar(&state, "state", "", "only items in this state: open, done or dropped")
	f.BoolVar(&overdue, "overdue", false, "only open items due before today")
	f.StringVar(&convening, "convening", "", "only items of this convening's threads (its slug)")
	f.StringVar(&theme, "theme", "", "only items of this theme's threads (its slug)")
	addOutputFlag(cmd, &format)
	return cmd
}

// shortItem is an item's name as forumctl shows it: 12/items/3.
func shortItem(name string) string {
	if m := itemNumber.FindStringSubmatch(name); m != nil && m[1] != "" {
		return m[1] + "/items/" + m[2]
	}
	return name
}

func (a *app) itemsShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "show ITEM",
		Short:             "Show an action item and its history",
		Example:           "  forumctl items show 13/items/1",
		Args:              exactArgs("ITEM"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(itemName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ActionItem, error) {
				return c.ActionItemService().GetActionItem(ctx, &forumv1.GetActionItemRequest{Name: name})
			}, func(ctx context.Context, n *names, it *forumv1.ActionItem) error {
				w := a.stdout
				fmt.Fprintln(w, it.GetTitle())
				due := it.GetDueDate()
				if due == "" {
					due = "no due date"
				} else {
					due = "due " + due
				}
				fmt.Fprintf(w, "%s · %s · %s · owner %s\n", it.GetName(), itemStateWord(it.GetState()), due, n.owner(ctx, it.GetOwner()))
				fmt.Fprintf(w, "on %s: %s\n", strings.SplitN(it.GetName(), "/actionItems/", 2)[0], it.GetThreadTitle())
				if it.GetClosingNote() != "" {
					fmt.Fprintf(w, "note: %s\n", it.GetClosingNote())
				}
				fmt.Fprintln(w, "\nHistory")
				for _, h := range it.GetHistory() {
					line := fmt.Sprintf("  %s · %s · %s: %s", timeText(h.GetTime()), n.user(ctx, h.GetActor()), strings.Join(h.GetChangedPaths(), ", "), itemStateWord(h.GetState()))
					if h.GetNote() != "" {
						line += " — " + h.GetNote()
					}
					fmt.Fprintln(w, line)
				}
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) itemsCreateCommand() *cobra.Command {
	var format, title, owner, due string
	cmd := &cobra.Command{
		Use:   "create THREAD --title T --owner O [--due DATE]",
		Short: "Create an action item on a follow-up thread (conveners and admins)",
		Long: `Create an action item on the follow-up THREAD (12, or threads/12). --owner
is users/N or an organisation's slug; its owner is notified.`,
		Example:           `  forumctl items create 13 --title "Share the mentoring guide" --owner vso-kenya --due 2026-12-31`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, thread string) error {
			it := &forumv1.ActionItem{Title: title, Owner: ownerName(owner), DueDate: due}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.ActionItem, error) {
				return c.CreateActionItem(ctx, thread, it)
			}, func(out *forumv1.ActionItem) string {
				return fmt.Sprintf("Created %s: %s", shortItem(out.GetName()), out.GetTitle())
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "what is to be done; required")
	f.StringVar(&owner, "owner", "", "who owns it: users/N or an organisation's slug; required")
	f.StringVar(&due, "due", "", "when it is due, YYYY-MM-DD")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("title")
	_ = cmd.MarkFlagRequired("owner")
	return cmd
}

func (a *app) itemsAssignCommand() *cobra.Command {
	var format, title, owner, due, etag string
	cmd := &cobra.Command{
		Use:   "assign ITEM [--owner O] [--due DATE] [--title T]",
		Short: "Give an action item to another owner, or change its date or title (conveners and admins)",
		Example: `  forumctl items assign 13/items/1 --owner users/7
  forumctl items assign 13/items/1 --due 2027-01-15`,
		Args:              exactArgs("ITEM"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(itemName, func(cmd *cobra.Command, name string) error {
			it := &forumv1.ActionItem{Name: name, Title: title, Owner: ownerName(owner), DueDate: due, Etag: etag}
			var paths []string
			for flag, path := range map[string]string{"owner": "owner", "due": "due_date", "title": "title"} {
				if cmd.Flags().Changed(flag) {
					paths = append(paths, path)
				}
			}
			if len(paths) == 0 {
				return usagef("nothing to change: give --owner, --due or --title")
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.ActionItem, error) {
				return c.ActionItemService().UpdateActionItem(ctx, &forumv1.UpdateActionItemRequest{ActionItem: it, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			}, func(out *forumv1.ActionItem) string {
				return fmt.Sprintf("Changed %s: %s (owner %s, due %s)", shortItem(out.GetName()), out.GetTitle(), out.GetOwner(), orDash(out.GetDueDate()))
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "the new owner: users/N or an organisation's slug")
	f.StringVar(&due, "due", "", "the new due date, YYYY-MM-DD (\"\" removes it)")
	f.StringVar(&title, "title", "", "the new title")
	f.StringVar(&etag, "etag", "", "change only if the item's etag is still this one")
	addOutputFlag(cmd, &format)
	return cmd
}

// orDash is s, or "—" if empty.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// itemStateCommand is 'items done', 'items drop' or 'items reopen'.
func (a *app) itemStateCommand(verb string, state forumv1.ActionItemState, short string) *cobra.Command {
	var format, note string
	cmd := &cobra.Command{
		Use:   verb + " ITEM [--note TEXT]",
		Short: short,
		Long: short + `. ITEM is threads/12/actionItems/3 or 12/items/3. Its owner (or a
member of the owning organisation), conveners and admins may. The change
and its note are kept in the item's history.`,
		Example:           fmt.Sprintf("  forumctl items %s 13/items/1 --note \"...\"", verb),
		Args:              exactArgs("ITEM"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(itemName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.ActionItem, error) {
				return c.CloseActionItem(ctx, name, state, note)
			}, func(out *forumv1.ActionItem) string {
				return fmt.Sprintf("%s is now %s: %s", shortItem(out.GetName()), itemStateWord(out.GetState()), out.GetTitle())
			})
		}),
	}
	cmd.Flags().StringVar(&note, "note", "", "how it ended (kept in its history)")
	addOutputFlag(cmd, &format)
	return cmd
}
