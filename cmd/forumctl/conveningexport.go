package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// conveningReport is what 'convenings export' writes: the convening, its
// themes, its discussions, its follow-ups with their action items, and the
// action items by owner.
type conveningReport struct {
	convening   *forumv1.Convening
	themes      []*forumv1.Theme
	discussions []*forumv1.Thread
	followUps   []followUpItems
	owners      []string          // the owners, by display name
	ownerNames  map[string]string // owner → display name
}

// followUpItems is a follow-up thread and its action items.
type followUpItems struct {
	thread *forumv1.Thread
	items  []*forumv1.ActionItem
}

// MarshalJSON is the report as JSON, each resource as the API gives it:
// {"convening", "themes", "discussions", "followUps": [{"thread",
// "actionItems"}], "actionItemsByOwner": [{"owner", "ownerName",
// "actionItems"}]}.
func (r conveningReport) MarshalJSON() ([]byte, error) {
	list := func(ms any) []json.RawMessage {
		out := []json.RawMessage{}
		switch ms := ms.(type) {
		case []*forumv1.Theme:
			for _, m := range ms {
				out = append(out, protoJSON(m))
			}
		case []*forumv1.Thread:
			for _, m := range ms {
				out = append(out, protoJSON(m))
			}
		case []*forumv1.ActionItem:
			for _, m := range ms {
				out = append(out, protoJSON(m))
			}
		}
		return out
	}
	type fu struct {
		Thread      json.RawMessage   `json:"thread"`
		ActionItems []json.RawMessage `json:"actionItems"`
	}
	type byOwner struct {
		Owner       string            `json:"owner"`
		OwnerName   string            `json:"ownerName"`
		ActionItems []json.RawMessage `json:"actionItems"`
	}
	out := struct {
		Convening          json.RawMessage   `json:"convening"`
		Themes             []json.RawMessage `json:"themes"`
		Discussions        []json.RawMessage `json:"discussions"`
		FollowUps          []fu              `json:"followUps"`
		ActionItemsByOwner []byOwner         `json:"actionItemsByOwner"`
	}{Convening: protoJSON(r.convening), Themes: list(r.themes), Discussions: list(r.discussions), FollowUps: []fu{}, ActionItemsByOwner: []byOwner{}}
	for _, f := range r.followUps {
		out.FollowUps = append(out.FollowUps, fu{protoJSON(f.thread), list(f.items)})
	}
	for _, o := range r.owners {
		out.ActionItemsByOwner = append(out.ActionItemsByOwner, byOwner{o, r.ownerNames[o], list(r.itemsOf(o))})
	}
	return json.Marshal(out)
}

// itemsOf returns the action items of owner, in follow-up order.
func (r conveningReport) itemsOf(owner string) []*forumv1.ActionItem {
	var out []*forumv1.ActionItem
	for _, f := range r.followUps {
		for _, it := range f.items {
			if it.GetOwner() == owner {
				out = append(out, it)
			}
		}
	}
	return out
}

// readReport reads convening name's report as the caller may see it.
func readReport(ctx context.Context, c *client.Client, n *names, name string) (conveningReport, error) {
	r := conveningReport{ownerNames: map[string]string{}}
	cv, err := c.ConveningService().GetConvening(ctx, &forumv1.GetConveningRequest{Name: name})
	if err != nil {
		return r, err
	}
	r.convening = cv
	for _, th := range cv.GetThemes() {
		t, err := c.ThemeService().GetTheme(ctx, &forumv1.GetThemeRequest{Name: th})
		if err != nil {
			return r, err
		}
		r.themes = append(r.themes, t)
	}
	var threads []*forumv1.Thread
	for th, err := range c.Threads(ctx, &forumv1.ListThreadsRequest{Filter: fmt.Sprintf("convening = %q", name), OrderBy: "create_time desc"}) {
		if err != nil {
			return r, err
		}
		threads = append(threads, th)
	}
	slices.Reverse(threads) // oldest first
	for _, th := range threads {
		if th.GetKind() != forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP {
			r.discussions = append(r.discussions, th)
			continue
		}
		f := followUpItems{thread: th}
		for it, err := range c.ActionItems(ctx, &forumv1.ListActionItemsRequest{Parent: th.GetName(), PageSize: 100}) {
			if err != nil {
				return r, err
			}
			f.items = append(f.items, it)
			if _, ok := r.ownerNames[it.GetOwner()]; !ok {
				r.ownerNames[it.GetOwner()] = n.owner(ctx, it.GetOwner())
				r.owners = append(r.owners, it.GetOwner())
			}
		}
		r.followUps = append(r.followUps, f)
	}
	slices.SortFunc(r.owners, func(a, b string) int { return strings.Compare(r.ownerNames[a]+"\x00"+a, r.ownerNames[b]+"\x00"+b) })
	return r, nil
}

// writeMarkdown writes the report as Markdown: the overview of the main
// themes, key questions and future steps that a convening's report is.
func (r conveningReport) writeMarkdown(ctx context.Context, w io.Writer, n *names) {
	cv := r.convening
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# %s\n\n", cv.GetTitle())
	p("- **Convening:** %s\n", cv.GetName())
	p("- **Dates:** %s – %s\n", cv.GetStartDate(), cv.GetEndDate())
	p("- **Place:** %s\n", placeText(cv))
	p("- **State:** %s\n", enumWord(cv.GetState().String(), "CONVENING_STATE_"))
	if len(cv.GetOrganizers()) > 0 {
		var who []string
		for _, o := range cv.GetOrganizers() {
			who = append(who, n.owner(ctx, o))
		}
		p("- **Organised by:** %s\n", strings.Join(who, ", "))
	}
	if d := strings.TrimSpace(cv.GetDescription()); d != "" {
		p("\n%s\n", d)
	}
	p("\n## Themes\n")
	if len(r.themes) == 0 {
		p("\nNo themes.\n")
	}
	for _, th := range r.themes {
		p("\n### %s\n\n", th.GetDisplayName())
		if d := strings.TrimSpace(th.GetDescription()); d != "" {
			p("%s\n\n", d)
		}
		var in []*forumv1.Thread
		for _, t := range append(slices.Clone(r.discussions), r.followUpThreads()...) {
			if t.GetTheme() == th.GetName() {
				in = append(in, t)
			}
		}
		if len(in) == 0 {
			p("No threads.\n")
		}
		for _, t := range in {
			p("- %s\n", threadLine(t))
		}
	}
	p("\n## Key questions and discussions (%d)\n\n", len(r.discussions))
	if len(r.discussions) == 0 {
		p("None.\n")
	}
	for _, t := range r.discussions {
		p("- %s, by %s\n", threadLine(t), n.user(ctx, t.GetAuthor()))
	}
	p("\n## Follow-ups and their outcomes (%d)\n", len(r.followUps))
	if len(r.followUps) == 0 {
		p("\nNone.\n")
	}
	for _, f := range r.followUps {
		t := f.thread
		p("\n### %s\n\n", t.GetTitle())
		p("- **Thread:** %s · %s\n", t.GetName(), threadStateText(t))
		if t.GetFollowUpOf() != "" {
			p("- **Follows up:** %s\n", t.GetFollowUpOf())
		}
		if len(f.items) == 0 {
			p("\nNo action items.\n")
			continue
		}
		p("\n| Action item | Owner | Due | State | Outcome |\n| --- | --- | --- | --- | --- |\n")
		for _, it := range f.items {
			p("| %s | %s | %s | %s | %s |\n", cell(it.GetTitle()), cell(r.ownerNames[it.GetOwner()]), orDash(it.GetDueDate()), itemStateWord(it.GetState()), cell(orDash(it.GetClosingNote())))
		}
	}
	p("\n## Action items by owner\n")
	if len(r.owners) == 0 {
		p("\nNone.\n")
	}
	for _, o := range r.owners {
		items := r.itemsOf(o)
		open := 0
		for _, it := range items {
			if it.GetState() == forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN {
				open++
			}
		}
		p("\n### %s (%d open of %d)\n\n", r.ownerNames[o], open, len(items))
		for _, it := range items {
			box := " "
			if it.GetState() != forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN {
				box = "x"
			}
			line := fmt.Sprintf("- [%s] %s · %s · due %s · %s", box, it.GetTitle(), itemStateWord(it.GetState()), orDash(it.GetDueDate()), shortItem(it.GetName()))
			if it.GetClosingNote() != "" {
				line += " — " + it.GetClosingNote()
			}
			p("%s\n", line)
		}
	}
}

// followUpThreads are the report's follow-up threads.
func (r conveningReport) followUpThreads() []*forumv1.Thread {
	var out []*forumv1.Thread
	for _, f := range r.followUps {
		out = append(out, f.thread)
	}
	return out
}

// threadLine is a thread in a report's list: its title, name, kind and
// state, whether answered, and its replies.
func threadLine(t *forumv1.Thread) string {
	s := fmt.Sprintf("**%s** (%s) · %s · %s", t.GetTitle(), t.GetName(), kindWord(t.GetKind()), threadStateText(t))
	if t.GetAcceptedAnswer() != "" {
		s += " · answered"
	}
	return s + " · " + plural(t.GetReplyCount(), "reply", "replies")
}

// cell is s as a Markdown table cell: one line, pipes escaped.
func cell(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
}

func (a *app) conveningsExportCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export CONVENING --format markdown|json",
		Short: "Write a convening's report: themes, key threads, follow-ups, action items",
		Long: `Write the report of CONVENING (its slug, or convenings/slug) on standard
output: its dates, place and organisers; its themes with their threads; its
key questions and discussions; its follow-ups with their action items and
outcomes; and the action items by owner and state. What you may not read
(a private theme's threads) is left out. --format json gives
{"convening", "themes", "discussions", "followUps": [{"thread",
"actionItems"}], "actionItemsByOwner": [{"owner", "ownerName",
"actionItems"}]} with the API's JSON for each resource.`,
		Example: `  forumctl convenings export beijing-2015 --format markdown > beijing-2015.md
  forumctl convenings export beijing-2015 --format json | jq '.actionItemsByOwner[] | {ownerName, open: [.actionItems[] | select(.state == "ACTION_ITEM_STATE_OPEN") | .title]}'`,
		Args:              exactArgs("CONVENING"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "json" {
				return usagef("--format must be markdown or json")
			}
			c, _, err := a.dial(cmd, false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			n := newNames(c)
			r, err := readReport(ctx, c, n, conveningName(args[0]))
			if err != nil {
				return err
			}
			if format == "json" {
				return writeData(a.stdout, formatJSON, r)
			}
			r.writeMarkdown(ctx, a.stdout, n)
			return nil
		}),
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	return cmd
}
