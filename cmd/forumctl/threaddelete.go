package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) threadsDeleteCommand() *cobra.Command {
	var format, etag, reason string
	cmd := &cobra.Command{
		Use:   "delete THREAD",
		Short: "Delete a thread",
		Long: `Delete THREAD (12, or threads/12): it disappears from lists and from everyone
but its author, conveners and admins, who see who deleted it and, with
--reason, why. Authors delete their own threads; conveners and admins any. In
a locked thread only conveners and admins delete (else exit status 6).
'forumctl threads undelete' restores it: the author may restore a thread they
deleted themself, but only a convener or admin restores one that a convener
or admin deleted.`,
		Example: `  forumctl threads delete 12
  forumctl threads delete 12 --reason "Advertising: see the forum rules"
  forumctl threads delete threads/12 --etag "$ETAG"`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.DeleteThread(ctx, name, client.WithEtag(etag), client.WithReason(reason))
			}, func(out *forumv1.Thread) string { return fmt.Sprintf("Deleted %s: %s", out.GetName(), out.GetTitle()) })
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "delete only if the thread's etag is still this one")
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown with the deleted thread to its author, conveners and admins (at most 500 characters)")
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) threadsUndeleteCommand() *cobra.Command {
	var format, etag string
	cmd := &cobra.Command{
		Use:   "undelete THREAD",
		Short: "Restore a deleted thread",
		Long: `Restore THREAD (12, or threads/12), deleted with 'forumctl threads delete'.
The author may restore a thread they deleted themself; a thread that a
convener or admin deleted only a convener or admin restores (else exit status
4). In a locked thread only conveners and admins restore (else exit status 6).`,
		Example: `  forumctl threads undelete 12
  forumctl threads undelete threads/12 --etag "$ETAG"`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.ThreadService().UndeleteThread(ctx, &forumv1.UndeleteThreadRequest{Name: name, Etag: etag})
			}, func(out *forumv1.Thread) string { return fmt.Sprintf("Restored %s: %s", out.GetName(), out.GetTitle()) })
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "restore only if the thread's etag is still this one")
	addOutputFlag(cmd, &format)
	return cmd
}

// tombstoneText is what 'threads show' writes for a deleted reply:
// "[deleted]" when its author deleted it, "[removed by a moderator]" when
// someone else did, and the reason given, if any.
func tombstoneText(r *forumv1.Reply) string {
	what := "deleted"
	if by := r.GetDeletedBy(); by != "" && by != r.GetAuthor() {
		what = "removed by a moderator"
	}
	if reason := r.GetDeleteReason(); reason != "" {
		return fmt.Sprintf("[%s: %s]", what, reason)
	}
	return "[" + what + "]"
}
