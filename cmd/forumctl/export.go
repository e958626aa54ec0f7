package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// maxExportThreads bounds the threads one export follows, against cycles
// and runaway chains of follow-ups.
const maxExportThreads = 1000

// exported is a thread with its replies and, recursively, its follow-ups.
type exported struct {
	thread    *forumv1.Thread
	replies   []*forumv1.Reply
	followUps []*exported
}

// gatherExport fetches the thread named name, its replies and its
// follow-ups, depth first; seen stops cycles.
func gatherExport(ctx context.Context, c *client.Client, name string, seen map[string]bool) (*exported, error) {
	seen[name] = true
	t, err := threadWithReplies(ctx, c, name)
	if err != nil {
		return nil, err
	}
	e := &exported{thread: t.thread, replies: t.replies}
	for _, f := range t.thread.GetFollowUps() {
		if seen[f] {
			continue
		}
		if len(seen) >= maxExportThreads {
			return nil, fmt.Errorf("more than %d threads to export from %s", maxExportThreads, name)
		}
		fe, err := gatherExport(ctx, c, f, seen)
		if err != nil {
			return nil, fmt.Errorf("follow-up %s: %w", f, err)
		}
		e.followUps = append(e.followUps, fe)
	}
	return e, nil
}

// jsonValue returns e as the JSON export: the API's JSON for the thread and
// replies, and followUps in the same shape.
func (e *exported) jsonValue() any {
	type node struct {
		Thread    json.RawMessage   `json:"thread"`
		Replies   []json.RawMessage `json:"replies"`
		FollowUps []any             `json:"followUps"`
	}
	n := node{Thread: protoJSON(e.thread), Replies: []json.RawMessage{}, FollowUps: []any{}}
	for _, r := range e.replies {
		n.Replies = append(n.Replies, protoJSON(r))
	}
	for _, f := range e.followUps {
		n.FollowUps = append(n.FollowUps, f.jsonValue())
	}
	return n
}

func (a *app) exportCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export THREAD",
		Short: "Export a thread with its replies and follow-ups",
		Long: `Export THREAD with all its replies and its follow-up threads (and theirs),
for a conference report, on standard output.

--format markdown writes a document: each thread under a level-1 heading
with its details, its body and its replies, then its follow-ups in the same
form. --format json writes {"thread": ..., "replies": [...], "followUps":
[{"thread": ..., ...}]} with the API's field names.`,
		Example: `  forumctl export 12 --format markdown > nairobi-report.md
  forumctl export threads/12 --format json | jq '.followUps[].thread.title'`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if format != "markdown" && format != "json" {
				return usagef("--format %q: use markdown or json", format)
			}
			name, err := threadName(args[0])
			if err != nil {
				return err
			}
			c, _, err := a.dial(cmd, false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			e, err := gatherExport(ctx, c, name, map[string]bool{})
			if err != nil {
				return err
			}
			if format == "json" {
				return writeData(a.stdout, formatJSON, e.jsonValue())
			}
			w := &markdownWriter{ctx: ctx, c: c, names: newNames(c), themes: map[string]string{}}
			w.thread(e, true)
			_, err = io.WriteString(a.stdout, w.b.String())
			return err
		}),
	}
	cmd.Flags().StringVar(&format, "format", "markdown", "markdown or json")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"markdown", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// markdownWriter renders an export as Markdown.
type markdownWriter struct {
	ctx    context.Context
	c      *client.Client
	names  *names
	themes map[string]string // theme name → display name
	b      strings.Builder
}

// theme returns a theme's display name, or its name if it cannot be read.
func (w *markdownWriter) theme(name string) string {
	if d, ok := w.themes[name]; ok {
		return d
	}
	d := name
	if th, err := w.c.ThemeService().GetTheme(w.ctx, &forumv1.GetThemeRequest{Name: name}); err == nil {
		d = th.GetDisplayName()
	}
	w.themes[name] = d
	return d
}

func (w *markdownWriter) printf(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

// thread writes e and then its follow-ups.
func (w *markdownWriter) thread(e *exported, top bool) {
	th := e.thread
	if !top {
		w.printf("\n---\n\n")
	}
	w.printf("# %s\n\n", oneLine(th.GetTitle()))
	w.printf("- **Thread:** %s\n", th.GetName())
	w.printf("- **Theme:** %s (%s)\n", w.theme(th.GetTheme()), th.GetTheme())
	w.printf("- **Kind:** %s · **State:** %s\n", kindWord(th.GetKind()), threadStateText(th))
	w.printf("- **Opened by:** %s, %s\n", w.names.user(w.ctx, th.GetAuthor()), timeZoneText(th.GetCreateTime()))
	if len(th.GetTags()) > 0 {
		w.printf("- **Tags:** %s\n", strings.Join(th.GetTags(), ", "))
	}
	if th.GetFollowUpOf() != "" {
		w.printf("- **Follows up:** %s\n", th.GetFollowUpOf())
	}
	if len(e.followUps) > 0 {
		var list []string
		for _, f := range e.followUps {
			list = append(list, fmt.Sprintf("%s (%s)", oneLine(f.thread.GetTitle()), f.thread.GetName()))
		}
		w.printf("- **Follow-ups:** %s\n", strings.Join(list, "; "))
	}
	if th.GetDeleteTime() != nil {
		w.printf("- **Deleted:** %s\n", timeZoneText(th.GetDeleteTime()))
	}
	if body := strings.TrimSpace(th.GetBody()); body != "" {
		w.printf("\n%s\n", body)
	}
	live := 0
	for _, r := range e.replies {
		if r.GetDeleteTime() == nil {
			live++
		}
	}
	w.printf("\n## Replies (%d)\n", live)
	if len(e.replies) == 0 {
		w.printf("\nNo replies.\n")
	}
	for i, r := range e.replies {
		w.printf("\n### %d. %s, %s\n\n", i+1, w.names.user(w.ctx, r.GetAuthor()), timeZoneText(r.GetCreateTime()))
		if r.GetInReplyTo() != "" {
			w.printf("*In reply to %s.*\n\n", r.GetInReplyTo())
		}
		if r.GetDeleteTime() != nil {
			w.printf("*This reply was deleted.*\n")
			continue
		}
		w.printf("%s\n", strings.TrimSpace(r.GetBody()))
	}
	for _, f := range e.followUps {
		w.thread(f, false)
	}
}
