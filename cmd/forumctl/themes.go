package main

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) themesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "themes",
		Short:   "Work with themes",
		Example: `  forumctl themes list`,
		Args:    groupArgs,
		RunE:    groupRun,
	}
	cmd.AddCommand(a.themesListCommand())
	return cmd
}

func (a *app) themesListCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the themes",
		Example: `  forumctl themes list
  forumctl themes list -o yaml`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ListThemesResponse, error) {
				all := &forumv1.ListThemesResponse{}
				for th, err := range c.Themes(ctx, &forumv1.ListThemesRequest{PageSize: 100}) {
					if err != nil {
						return nil, err
					}
					all.Themes = append(all.Themes, th)
				}
				return all, nil
			}, func(_ context.Context, _ *names, all *forumv1.ListThemesResponse) error {
				t := newTable(a.stdout)
				row(t, "THEME", "NAME", "THREADS", "LAST ACTIVITY")
				for _, th := range all.Themes {
					row(t, th.GetName(), th.GetDisplayName(), strconv.FormatInt(th.GetThreadCount(), 10), timeText(th.GetLastActivityTime()))
				}
				return t.Flush()
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
