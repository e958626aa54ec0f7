package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// conveningStateWords are the states as forumctl takes them.
var conveningStateWords = map[string]string{"planned": "PLANNED", "held": "HELD", "archived": "ARCHIVED"}

// conveningName returns the name of a convening given as a slug or as
// convenings/slug.
func conveningName(arg string) string {
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(arg, "convenings/") {
		return arg
	}
	return "convenings/" + arg
}

// organizerName returns the resource name of an organiser given as
// users/N, organizations/slug, or a bare organisation slug.
func organizerName(arg string) string {
	if strings.HasPrefix(arg, "users/") || strings.HasPrefix(arg, "organizations/") {
		return arg
	}
	return "organizations/" + arg
}

func (a *app) conveningsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "convenings",
		Aliases: []string{"convening"},
		Short:   "Work with convenings: conferences and meetings and their threads",
		Example: `  forumctl convenings list
  forumctl convenings show beijing-2015
  forumctl convenings create beijing-2015 --title "Beijing 2015" --start 2015-10-19 --end 2015-10-21 --place Beijing --country CN --theme knowledge-exchange
  forumctl convenings set beijing-2015 --state held`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.conveningsListCommand(), a.conveningsShowCommand(), a.conveningsCreateCommand(), a.conveningsSetCommand(), a.conveningsDeleteCommand(), a.conveningsExportCommand())
	return cmd
}

func (a *app) conveningsListCommand() *cobra.Command {
	var format, state string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List convenings, the most recent first",
		Long: `List convenings, the most recent start first, with their dates, place,
state and how many of their threads you may see. -o json and yaml give
{"convenings": [...]} with the API's field names.`,
		Example: "  forumctl convenings list --state held",
		Args:    exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			req := &forumv1.ListConveningsRequest{PageSize: 100}
			if state != "" {
				s, err := enumFlag("state", state, conveningStateWords)
				if err != nil {
					return err
				}
				req.Filter = "state = " + s
			}
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ListConveningsResponse, error) {
				out := &forumv1.ListConveningsResponse{}
				for cv, err := range c.Convenings(ctx, req) {
					if err != nil {
						return nil, err
					}
					out.Convenings = append(out.Convenings, cv)
				}
				return out, nil
			}, func(_ context.Context, _ *names, out *forumv1.ListConveningsResponse) error {
				if len(out.Convenings) == 0 {
					fmt.Fprintln(a.stderr, "No convenings.")
					return nil
				}
				t := newTable(a.stdout)
				row(t, "CONVENING", "DATES", "PLACE", "STATE", "THREADS", "TITLE")
				for _, cv := range out.Convenings {
					row(t, strings.TrimPrefix(cv.GetName(), "convenings/"), cv.GetStartDate()+" – "+cv.GetEndDate(), placeText(cv),
						enumWord(cv.GetState().String(), "CONVENING_STATE_"), fmt.Sprint(cv.GetThreadCount()), cv.GetTitle())
				}
				return t.Flush()
			})
		}),
	}
	cmd.Flags().StringVar(&state, "state", "", "only convenings in this state: planned, held or archived")
	addOutputFlag(cmd, &format)
	return cmd
}

// placeText is where a convening took place: "Beijing, CN".
func placeText(cv *forumv1.Convening) string {
	parts := []string{}
	if cv.GetPlace() != "" {
		parts = append(parts, cv.GetPlace())
	}
	if cv.GetCountry() != "" {
		parts = append(parts, cv.GetCountry())
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// conveningThreads is a convening and its threads: -o json gives
// {"convening": ..., "threads": [...]}, with the API's JSON for each.
type conveningThreads struct {
	Convening *forumv1.Convening
	Threads   []*forumv1.Thread
}

func (c conveningThreads) MarshalJSON() ([]byte, error) {
	out := struct {
		Convening json.RawMessage   `json:"convening"`
		Threads   []json.RawMessage `json:"threads"`
	}{Convening: protoJSON(c.Convening), Threads: []json.RawMessage{}}
	for _, th := range c.Threads {
		out.Threads = append(out.Threads, protoJSON(th))
	}
	return json.Marshal(out)
}

func (a *app) conveningsShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show CONVENING",
		Short: "Show a convening and its threads",
		Long: `Show a convening (its slug, or convenings/slug): its dates, place,
organisers, themes and description, then its discussions and its
follow-ups with their state. -o json and yaml give {"convening": ...,
"threads": [...]} with the API's field names.`,
		Example:           "  forumctl convenings show beijing-2015",
		Args:              exactArgs("CONVENING"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			name := conveningName(args[0])
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (conveningThreads, error) {
				cv, err := c.ConveningService().GetConvening(ctx, &forumv1.GetConveningRequest{Name: name})
				if err != nil {
					return conveningThreads{}, err
				}
				out := conveningThreads{Convening: cv}
				for th, err := range c.Threads(ctx, &forumv1.ListThreadsRequest{Filter: fmt.Sprintf("convening = %q", name), OrderBy: "create_time desc"}) {
					if err != nil {
						return conveningThreads{}, err
					}
					out.Threads = append(out.Threads, th)
				}
				return out, nil
			}, func(ctx context.Context, n *names, out conveningThreads) error {
				cv, w := out.Convening, a.stdout
				fmt.Fprintln(w, cv.GetTitle())
				fmt.Fprintf(w, "%s · %s – %s · %s · %s\n", cv.GetName(), cv.GetStartDate(), cv.GetEndDate(), placeText(cv), enumWord(cv.GetState().String(), "CONVENING_STATE_"))
				if len(cv.GetOrganizers()) > 0 {
					var who []string
					for _, o := range cv.GetOrganizers() {
						if strings.HasPrefix(o, "users/") {
							who = append(who, n.user(ctx, o))
						} else {
							who = append(who, strings.TrimPrefix(o, "organizations/"))
						}
					}
					fmt.Fprintf(w, "organised by %s\n", strings.Join(who, ", "))
				}
				if len(cv.GetThemes()) > 0 {
					fmt.Fprintf(w, "themes: %s\n", strings.Join(cv.GetThemes(), ", "))
				}
				if d := strings.TrimSpace(cv.GetDescription()); d != "" {
					fmt.Fprintf(w, "\n%s\n", d)
				}
				for _, part := range []struct {
					title    string
					followUp bool
				}{{"Discussions", false}, {"Follow-ups", true}} {
					var ths []*forumv1.Thread
					for _, th := range out.Threads {
						if (th.GetKind() == forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP) == part.followUp {
							ths = append(ths, th)
						}
					}
					fmt.Fprintf(w, "\n%s (%d)\n", part.title, len(ths))
					for _, th := range ths {
						fmt.Fprintf(w, "  %s · %s · %s · %s\n", th.GetName(), threadStateText(th), plural(th.GetReplyCount(), "reply", "replies"), th.GetTitle())
					}
				}
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// conveningFlags are the flags of convenings create and set.
type conveningFlags struct {
	title, start, end, place, country, state, description, descriptionFile string
	organizers, themes                                                     []string
}

func (f *conveningFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.title, "title", "", "the title")
	fs.StringVar(&f.start, "start", "", "the first day, YYYY-MM-DD")
	fs.StringVar(&f.end, "end", "", "the last day, YYYY-MM-DD")
	fs.StringVar(&f.place, "place", "", "the city or venue")
	fs.StringVar(&f.country, "country", "", "the country, an ISO 3166-1 alpha-2 code (CN)")
	fs.StringVar(&f.state, "state", "", "planned, held or archived")
	fs.StringSliceVar(&f.organizers, "organizer", nil, "an organiser: users/N or an organisation's slug (repeat, or separate with commas)")
	fs.StringSliceVar(&f.themes, "theme", nil, "a theme's slug (repeat, or separate with commas)")
	fs.StringVar(&f.description, "description", "", "the description in Markdown")
	fs.StringVar(&f.descriptionFile, "description-file", "", "read the description (Markdown) from this file; - reads standard input")
}

// convening returns the convening the flags set and the fields they name
// (the update mask).
func (f *conveningFlags) convening(a *app, cmd *cobra.Command) (*forumv1.Convening, []string, error) {
	cv := &forumv1.Convening{Title: f.title, StartDate: f.start, EndDate: f.end, Place: f.place, Country: strings.ToUpper(f.country)}
	var paths []string
	changed := cmd.Flags().Changed
	for flag, path := range map[string]string{"title": "title", "start": "start_date", "end": "end_date", "place": "place", "country": "country"} {
		if changed(flag) {
			paths = append(paths, path)
		}
	}
	if changed("organizer") {
		for _, o := range f.organizers {
			cv.Organizers = append(cv.Organizers, organizerName(o))
		}
		paths = append(paths, "organizers")
	}
	if changed("theme") {
		for _, th := range f.themes {
			cv.Themes = append(cv.Themes, themeName(th))
		}
		paths = append(paths, "themes")
	}
	if changed("state") {
		s, err := enumFlag("state", f.state, conveningStateWords)
		if err != nil {
			return nil, nil, err
		}
		cv.State = forumv1.ConveningState(forumv1.ConveningState_value["CONVENING_STATE_"+s])
		paths = append(paths, "state")
	}
	if text, set, err := a.readBody(f.description, f.descriptionFile, changed("description")); err != nil {
		return nil, nil, err
	} else if set {
		cv.Description = text
		paths = append(paths, "description")
	}
	return cv, paths, nil
}

func (a *app) conveningsCreateCommand() *cobra.Command {
	var format string
	var f conveningFlags
	cmd := &cobra.Command{
		Use:   "create SLUG --title T --start DATE --end DATE",
		Short: "Create a convening (conveners and admins)",
		Example: `  forumctl convenings create beijing-2015 --title "Beijing 2015: volunteering for development" \
    --start 2015-10-19 --end 2015-10-21 --place Beijing --country CN \
    --organizer unv --theme knowledge-exchange,reciprocal-volunteering --description-file about.md`,
		Args:              exactArgs("SLUG"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			cv, _, err := f.convening(a, cmd)
			if err != nil {
				return err
			}
			slug := strings.TrimPrefix(strings.TrimSpace(args[0]), "convenings/")
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Convening, error) {
				return c.ConveningService().CreateConvening(ctx, &forumv1.CreateConveningRequest{ConveningId: slug, Convening: cv, RequestId: client.NewRequestID()})
			}, func(out *forumv1.Convening) string {
				return fmt.Sprintf("Created %s: %s", out.GetName(), out.GetTitle())
			})
		}),
	}
	f.add(cmd)
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("title")
	_ = cmd.MarkFlagRequired("start")
	_ = cmd.MarkFlagRequired("end")
	return cmd
}

func (a *app) conveningsSetCommand() *cobra.Command {
	var format, etag string
	var f conveningFlags
	cmd := &cobra.Command{
		Use:   "set CONVENING [flags]",
		Short: "Change a convening (conveners and admins)",
		Long: `Change the fields of CONVENING that the flags give; the others stay.
--organizer and --theme replace the whole list.`,
		Example: `  forumctl convenings set beijing-2015 --state held
  forumctl convenings set beijing-2015 --theme knowledge-exchange --theme joint-programmes`,
		Args:              exactArgs("CONVENING"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			cv, paths, err := f.convening(a, cmd)
			if err != nil {
				return err
			}
			if len(paths) == 0 {
				return usagef("nothing to change: give at least one of --title, --start, --end, --place, --country, --state, --organizer, --theme, --description")
			}
			cv.Name, cv.Etag = conveningName(args[0]), etag
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Convening, error) {
				return c.ConveningService().UpdateConvening(ctx, &forumv1.UpdateConveningRequest{Convening: cv, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			}, func(out *forumv1.Convening) string {
				return fmt.Sprintf("Changed %s: %s (%s)", out.GetName(), out.GetTitle(), enumWord(out.GetState().String(), "CONVENING_STATE_"))
			})
		}),
	}
	f.add(cmd)
	cmd.Flags().StringVar(&etag, "etag", "", "change only if the convening's etag is still this one")
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) conveningsDeleteCommand() *cobra.Command {
	var etag string
	cmd := &cobra.Command{
		Use:   "delete CONVENING",
		Short: "Delete a convening no thread belongs to (conveners and admins)",
		Long: `Delete CONVENING. A convening that threads belong to is refused (exit
status 6): archive it instead (convenings set SLUG --state archived).`,
		Example:           "  forumctl convenings delete nairobi-2026",
		Args:              exactArgs("CONVENING"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			name := conveningName(args[0])
			return change(a, cmd, formatTable, func(ctx context.Context, c *client.Client) (*forumv1.DeleteConveningResponse, error) {
				return c.ConveningService().DeleteConvening(ctx, &forumv1.DeleteConveningRequest{Name: name, Etag: etag})
			}, func(*forumv1.DeleteConveningResponse) string { return "Deleted " + name })
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "delete only if the convening's etag is still this one")
	return cmd
}
