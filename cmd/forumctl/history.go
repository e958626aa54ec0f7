package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) historyCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history POST",
		Short: "Show the edit history of a thread or a reply",
		Long: `Show every version of POST (a thread, 12 or threads/12, or a reply, 12/3 or
threads/12/replies/3), the newest first: its number, who wrote it and when,
and its text. The history of a deleted post is for conveners and admins.
-o json and yaml give {"revisions": [...]} with the API's field names.`,
		Example: `  forumctl history 12/3
  forumctl history 12 -o json | jq -r '.revisions[].title'`,
		Args:              exactArgs("POST"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(postName, func(cmd *cobra.Command, post string) error {
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ListRevisionsResponse, error) {
				out := &forumv1.ListRevisionsResponse{}
				for rv, err := range c.Revisions(ctx, post) {
					if err != nil {
						return nil, err
					}
					out.Revisions = append(out.Revisions, rv)
				}
				return out, nil
			}, func(ctx context.Context, n *names, out *forumv1.ListRevisionsResponse) error {
				w := a.stdout
				for i, rv := range out.Revisions {
					if i > 0 {
						fmt.Fprintln(w)
					}
					who := "unknown"
					if rv.GetEditor() != "" {
						who = n.user(ctx, rv.GetEditor())
					}
					what := "edited"
					if rv.GetNumber() == 1 {
						what = "written"
					}
					fmt.Fprintf(w, "── %d · %s by %s · %s\n", rv.GetNumber(), what, who, timeText(rv.GetCreateTime()))
					if rv.GetTitle() != "" {
						fmt.Fprintf(w, "%s\n", rv.GetTitle())
					}
					fmt.Fprintln(w, strings.TrimSpace(rv.GetBody()))
				}
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
