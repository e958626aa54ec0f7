package main

import (
	"strconv"

	"github.com/spf13/cobra"

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
			if err := checkFormat(format); err != nil {
				return err
			}
			c, _, err := a.dial(cmd, false)
			if err != nil {
				return err
			}
			defer c.Close()
			all := &forumv1.ListThemesResponse{}
			for th, err := range c.Themes(cmd.Context(), &forumv1.ListThemesRequest{PageSize: 100}) {
				if err != nil {
					return err
				}
				all.Themes = append(all.Themes, th)
			}
			if format != formatTable {
				return writeData(a.stdout, format, all)
			}
			t := newTable(a.stdout)
			row(t, "THEME", "NAME", "THREADS", "LAST ACTIVITY")
			for _, th := range all.Themes {
				row(t, th.GetName(), th.GetDisplayName(), strconv.FormatInt(th.GetThreadCount(), 10), timeText(th.GetLastActivityTime()))
			}
			return t.Flush()
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
