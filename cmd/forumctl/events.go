package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) eventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event"},
		Short:   "Read the event log: every change to the forum, in order",
		Long: `The event log holds every change the forum makes (threads, replies, themes,
groups, organisations, users, invitations, tokens), each with a revision one
more than the change before it. You see the events of what you may read.

'events tail' prints them as they come, resuming by itself when the connection
drops; 'events list' prints those in the log now. --from REV starts at a
revision (the server keeps events for a while, 90 days by default); --filter
selects them by type, theme, thread and actor, joined with AND:

  type = "reply.created" AND theme = "themes/knowledge-exchange"

Types are written thread.created, thread.updated, reply.created,
api_token.deleted, and so on.`,
		Example: `  forumctl events tail
  forumctl events tail --from 1 --filter 'type = "reply.created"' -o json
  forumctl events list --from 120`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.eventsTailCommand(), a.eventsListCommand())
	return cmd
}

// revisionFlag is a flag holding a revision of the event log.
type revisionFlag uint64

func (r *revisionFlag) String() string { return strconv.FormatUint(uint64(*r), 10) }
func (r *revisionFlag) Type() string   { return "REV" }

// Set parses a revision: a whole number from 0.
func (r *revisionFlag) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return errors.New("not a revision: give a whole number, such as 1 for the oldest event kept")
	}
	*r = revisionFlag(n)
	return nil
}

// addEventFlags adds --from and --filter to cmd; fromHelp says what --from
// 0 (the default) means.
func addEventFlags(cmd *cobra.Command, from *revisionFlag, filter *string, fromHelp string) {
	f := cmd.Flags()
	f.Var(from, "from", "the revision to start at; "+fromHelp)
	f.StringVar(filter, "filter", "", `which events, e.g. 'type = "reply.created" AND theme = "themes/knowledge-exchange"' (fields: type, theme, thread, actor)`)
	_ = cmd.RegisterFlagCompletionFunc("from", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("filter", cobra.NoFileCompletions)
}

// eventHeader names the columns of events in a table.
var eventHeader = []string{"REVISION", "TIME", "TYPE", "RESOURCE", "ACTOR", "CHANGED"}

// eventRow returns the cells of ev in a table.
func eventRow(ev *forumv1.Event) []string {
	actor := ev.GetActor()
	if actor == "" {
		actor = "-"
	}
	when := "-"
	if t := ev.GetEventTime(); t != nil {
		when = t.AsTime().In(time.Local).Format("2006-01-02 15:04:05")
	}
	return []string{strconv.FormatUint(ev.GetRevision(), 10), when, client.EventTypeName(ev.GetType()),
		ev.GetResource(), actor, strings.Join(ev.GetChangedPaths(), ",")}
}

func (a *app) eventsTailCommand() *cobra.Command {
	var (
		format string
		from   revisionFlag
		filter string
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print events as they happen, until interrupted",
		Long: `Print the events of the log as they are committed, one a line, until
interrupted (Ctrl-C, which ends it with exit status 0). With --from, the events
from that revision on come first. When the connection drops (the server
restarts, the network fails), tail reconnects by itself and goes on from the
event after the last one printed, so none is missed or printed twice; it gives
up only if it cannot reach the server at all, or the server refuses the stream
(a bad filter, a revision no longer kept).

-o json prints each event as one line of the API's JSON (JSON Lines, for jq);
-o yaml as a YAML document of its own.`,
		Example: `  forumctl events tail
  forumctl events tail --from 1 -o json | jq -r 'select(.type == "EVENT_TYPE_REPLY_CREATED") | .reply.body'
  forumctl events tail --filter 'thread = "threads/12"'`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.dial(cmd, false)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			write := a.eventWriter(format)
			for ev, err := range c.Events(ctx, uint64(from), filter) {
				if err != nil {
					if errors.Is(err, context.Canceled) && ctx.Err() != nil {
						return nil // interrupted: how a tail ends
					}
					return err
				}
				if err := write(ev); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	addEventFlags(cmd, &from, &filter, "0 (the default) prints only the events from now on")
	addOutputFlag(cmd, &format)
	return cmd
}

// tailCells pads the cells of a row of tail's table to fixed widths, so
// that rows printed one at a time line up (a tabwriter would wait for all
// of them); the last cell is not padded.
func tailCells(cells []string) []string {
	widths := []int{8, 19, 20, 28, 9}
	out := make([]string, len(cells))
	for i, c := range cells {
		if i < len(widths) {
			c = fmt.Sprintf("%-*s", widths[i], c)
		}
		out[i] = c
	}
	return out
}

// eventWriter returns what writes one event to standard output in format,
// at once: a line of JSON, a YAML document, or a table row.
func (a *app) eventWriter(format string) func(ev *forumv1.Event) error {
	switch format {
	case formatJSON:
		return func(ev *forumv1.Event) error {
			_, err := a.stdout.Write(append(protoJSON(ev), '\n'))
			return err
		}
	case formatYAML:
		return func(ev *forumv1.Event) error {
			out, err := jsonToYAML(protoJSON(ev))
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(append([]byte("---\n"), out...))
			return err
		}
	}
	header := false
	return func(ev *forumv1.Event) error {
		if !header { // with the first row: an error before it comes alone
			header = true
			a.printf("%s\n", strings.Join(tailCells(eventHeader), "  "))
		}
		cells := eventRow(ev)
		for i, c := range cells {
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		}
		_, err := fmt.Fprintln(a.stdout, strings.TrimRight(strings.Join(tailCells(cells), "  "), " "))
		return err
	}
}

func (a *app) eventsListCommand() *cobra.Command {
	var (
		from   revisionFlag
		filter string
	)
	cmd := listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List the events in the log, oldest first",
		Long: `List the events in the log now, oldest first, from --from on (by default from
the oldest the server keeps), and stop at the last one. To read on later, list
again from the revision after the last one listed; to follow the log as it
grows, use 'forumctl events tail'.`,
		Example: `  forumctl events list
  forumctl events list --from 120 --filter 'actor = "users/3"'
  forumctl events list -o json | jq '.events | length'`,
	}, listSpec[*forumv1.Event]{
		list: func(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.Event, error] {
			return c.ListEvents(ctx, &forumv1.ListEventsRequest{StartRevision: uint64(from), Filter: filter, PageSize: 500})
		},
		response: func(events []*forumv1.Event) proto.Message {
			return &forumv1.ListEventsResponse{Events: events}
		},
		empty:  "No events.",
		header: eventHeader,
		row:    func(_ context.Context, _ *names, ev *forumv1.Event) []string { return eventRow(ev) },
	})
	addEventFlags(cmd, &from, &filter, "0 (the default) starts at the oldest kept")
	return cmd
}
