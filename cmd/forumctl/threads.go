package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) threadsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "threads",
		Aliases: []string{"thread"},
		Short:   "Work with threads",
		Example: `  forumctl threads list --theme joint-programmes
  forumctl threads show 12
  forumctl threads follow-up 12 --title "Follow-up: mentoring" --body-file notes.md
  forumctl threads resolve 12
  forumctl threads read 12`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(
		a.threadsListCommand(),
		a.threadsShowCommand(),
		a.threadsCreateCommand(),
		a.threadsFollowUpCommand(),
		a.threadStateCommand("resolve", forumv1.ThreadState_THREAD_STATE_RESOLVED,
			"Mark a thread resolved", "The question was answered or the follow-up done; replies stay open. Authors, conveners and admins may resolve."),
		a.threadStateCommand("reopen", forumv1.ThreadState_THREAD_STATE_OPEN,
			"Open a resolved thread again", "Authors, conveners and admins may. A locked thread stays locked: 'threads unlock' unlocks it."),
		a.threadLockCommand(true),
		a.threadLockCommand(false),
		a.threadsAcceptCommand(),
		a.threadsUnacceptCommand(),
		a.threadsDeleteCommand(),
		a.threadsUndeleteCommand(),
		a.threadsReadCommand(),
	)
	return cmd
}

// threadNumber matches the forms a thread can be named in: 12, threads/12
// (ids have no leading zero, as the server requires).
var threadNumber = regexp.MustCompile(`^(?:threads/)?([1-9][0-9]*)$`)

// threadName returns the resource name of a thread given as 12 or
// threads/12.
func threadName(arg string) (string, error) {
	m := threadNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not a thread: give its number (12) or name (threads/12)", arg)
	}
	return "threads/" + m[1], nil
}

// replyNumber matches the forms a reply can be named in: 12/3,
// threads/12/replies/3.
var replyNumber = regexp.MustCompile(`^(?:threads/([1-9][0-9]*)/replies/([1-9][0-9]*)|([1-9][0-9]*)/([1-9][0-9]*))$`)

// replyName returns the resource name of a reply given as
// threads/12/replies/3 or 12/3.
func replyName(arg string) (string, error) {
	m := replyNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not a reply: give its name (threads/12/replies/3) or THREAD/REPLY (12/3)", arg)
	}
	if m[1] != "" {
		return "threads/" + m[1] + "/replies/" + m[2], nil
	}
	return "threads/" + m[3] + "/replies/" + m[4], nil
}

// themeName returns the resource name of a theme given as a slug or as
// themes/slug.
func themeName(arg string) string {
	if strings.HasPrefix(arg, "themes/") {
		return arg
	}
	return "themes/" + arg
}

var (
	kindWords  = map[string]string{"discussion": "DISCUSSION", "question": "QUESTION", "follow-up": "FOLLOW_UP", "announcement": "ANNOUNCEMENT"}
	stateWords = map[string]string{"open": "OPEN", "resolved": "RESOLVED", "locked": "LOCKED"}
)

// completeThemes completes --theme with the server's themes.
func (a *app) completeThemes(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, _, err := a.dial(cmd, false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer c.Close()
	var out []string
	for th, err := range c.Themes(cmd.Context(), nil) {
		if err != nil {
			break
		}
		out = append(out, strings.TrimPrefix(th.GetName(), "themes/")+"\t"+th.GetDisplayName())
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) threadsListCommand() *cobra.Command {
	var (
		format, theme, kind, state, author, tag, order, convening string
		limit                                                     int
		unanswered                                                bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List threads, most recently active first",
		Long: `List threads, pinned and most recently active first (--order created: newest
first). The filters combine: all must match.`,
		Example: `  forumctl threads list
  forumctl threads list --theme reciprocal-volunteering --state open
  forumctl threads list --kind follow-up --author me --limit 0 -o json`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (all) or more")
			}
			var filters []string
			if theme != "" {
				filters = append(filters, fmt.Sprintf("theme = %q", themeName(theme)))
			}
			if kind != "" {
				k, err := enumFlag("kind", kind, kindWords)
				if err != nil {
					return err
				}
				filters = append(filters, "kind = "+k)
			}
			if state != "" {
				s, err := enumFlag("state", state, stateWords)
				if err != nil {
					return err
				}
				if s == "LOCKED" {
					filters = append(filters, "locked = true") // the state is open or resolved
				} else {
					filters = append(filters, "state = "+s)
				}
			}
			if convening != "" {
				filters = append(filters, fmt.Sprintf("convening = %q", conveningName(convening)))
			}
			if unanswered {
				filters = append(filters, "kind = QUESTION AND answered = false")
			}
			if tag != "" {
				filters = append(filters, fmt.Sprintf("tag = %q", tag))
			}
			req := &forumv1.ListThreadsRequest{PageSize: 100}
			if limit > 0 && limit < 100 {
				req.PageSize = int32(limit)
			}
			switch order {
			case "activity":
			case "created":
				req.OrderBy = "create_time desc"
			default:
				return usagef("--order %q: use activity or created", order)
			}
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.ListThreadsResponse, error) {
				if author != "" {
					name, err := resolveUser(ctx, c, author)
					if err != nil {
						return nil, err
					}
					filters = append(filters, fmt.Sprintf("author = %q", name))
				}
				req.Filter = strings.Join(filters, " AND ")
				all := &forumv1.ListThreadsResponse{}
				for th, err := range c.Threads(ctx, req) {
					if err != nil {
						return nil, err
					}
					all.Threads = append(all.Threads, th)
					if limit > 0 && len(all.Threads) == limit {
						break
					}
				}
				return all, nil
			}, func(ctx context.Context, n *names, all *forumv1.ListThreadsResponse) error {
				if len(all.Threads) == 0 {
					fmt.Fprintln(a.stderr, "No threads match.")
					return nil
				}
				t := newTable(a.stdout)
				row(t, "THREAD", "KIND", "STATE", "REPLIES", "AUTHOR", "LAST ACTIVITY", "TITLE")
				for _, th := range all.Threads {
					title := th.GetTitle()
					if th.GetPinned() {
						title = "[pinned] " + title
					}
					replies := strconv.FormatInt(th.GetReplyCount(), 10)
					if u := th.GetUnreadReplyCount(); u > 0 {
						replies += fmt.Sprintf(" (%d new)", u)
					}
					row(t, th.GetName(), kindWord(th.GetKind()), threadStateText(th),
						replies, n.user(ctx, th.GetAuthor()),
						timeText(th.GetLastActivityTime()), title)
				}
				return t.Flush()
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&theme, "theme", "", "only threads of this theme (slug or themes/slug)")
	f.StringVar(&kind, "kind", "", "only threads of this kind: discussion, question, follow-up or announcement")
	f.StringVar(&state, "state", "", "only threads in this state: open, resolved or locked")
	f.BoolVar(&unanswered, "unanswered", false, "only questions without an accepted answer")
	f.StringVar(&convening, "convening", "", "only threads of this convening (its slug)")
	f.StringVar(&author, "author", "", "only threads by this user: a username, users/N, or me")
	f.StringVar(&tag, "tag", "", "only threads with this tag")
	f.StringVar(&order, "order", "activity", "activity (pinned, then last active first) or created (newest first)")
	f.IntVar(&limit, "limit", 30, "show at most this many threads; 0 shows all")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("theme", a.completeThemes)
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"discussion", "question", "follow-up", "announcement"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"open", "resolved", "locked"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("order", cobra.FixedCompletions([]string{"activity", "created"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// threadReplies is a thread and all its replies. Its JSON is
// {"thread": ..., "replies": [...]}, with the API's JSON for each.
type threadReplies struct {
	thread  *forumv1.Thread
	replies []*forumv1.Reply
}

func (t threadReplies) MarshalJSON() ([]byte, error) {
	out := struct {
		Thread  json.RawMessage   `json:"thread"`
		Replies []json.RawMessage `json:"replies"`
	}{Thread: protoJSON(t.thread), Replies: []json.RawMessage{}}
	for _, r := range t.replies {
		out.Replies = append(out.Replies, protoJSON(r))
	}
	return json.Marshal(out)
}

// threadWithReplies reads a thread and all its replies.
func threadWithReplies(ctx context.Context, c *client.Client, name string) (threadReplies, error) {
	th, err := c.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: name})
	if err != nil {
		return threadReplies{}, err
	}
	var replies []*forumv1.Reply
	for r, err := range c.Replies(ctx, &forumv1.ListRepliesRequest{Parent: name, PageSize: 100}) {
		if err != nil {
			return threadReplies{}, err
		}
		replies = append(replies, r)
	}
	return threadReplies{thread: th, replies: replies}, nil
}

func (a *app) threadsShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show THREAD",
		Short: "Show a thread and its replies",
		Long: `Show a thread and all its replies, oldest first. THREAD is the thread's number
(12) or name (threads/12). -o json and yaml give {"thread": ..., "replies": [...]}
with the API's field names.`,
		Example: `  forumctl threads show 12
  forumctl threads show threads/12 -o json | jq '.replies | length'`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (threadReplies, error) {
				return threadWithReplies(ctx, c, name)
			}, a.showThread)
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// showThread writes a thread and its replies for reading in a terminal.
func (a *app) showThread(ctx context.Context, n *names, t threadReplies) error {
	th, replies := t.thread, t.replies
	w := a.stdout
	fmt.Fprintln(w, th.GetTitle())
	meta := []string{th.GetName(), th.GetTheme(), kindWord(th.GetKind()), threadStateText(th)}
	if th.GetPinned() {
		meta = append(meta, "pinned")
	}
	meta = append(meta, plural(th.GetReplyCount(), "reply", "replies"))
	if u := th.GetUnreadReplyCount(); u > 0 {
		meta = append(meta, fmt.Sprintf("%d new", u)) // since 'threads read'
	}
	fmt.Fprintln(w, strings.Join(meta, " · "))
	fmt.Fprintf(w, "by %s, %s\n", n.user(ctx, th.GetAuthor()), timeText(th.GetCreateTime()))
	if len(th.GetTags()) > 0 {
		fmt.Fprintf(w, "tags: %s\n", strings.Join(th.GetTags(), ", "))
	}
	if th.GetFollowUpOf() != "" {
		fmt.Fprintf(w, "follows up: %s\n", th.GetFollowUpOf())
	}
	if len(th.GetFollowUps()) > 0 {
		fmt.Fprintf(w, "follow-ups: %s\n", strings.Join(th.GetFollowUps(), ", "))
	}
	if th.GetDeleteTime() != nil {
		by := ""
		if th.GetDeletedBy() != "" {
			by = " by " + n.user(ctx, th.GetDeletedBy())
		}
		fmt.Fprintf(w, "deleted %s%s\n", timeText(th.GetDeleteTime()), by)
		if th.GetDeleteReason() != "" {
			fmt.Fprintf(w, "reason: %s\n", th.GetDeleteReason())
		}
	}
	if th.GetAcceptedAnswer() != "" {
		fmt.Fprintf(w, "answer: %s\n", th.GetAcceptedAnswer())
	}
	if body := strings.TrimSpace(th.GetBody()); body != "" {
		fmt.Fprintf(w, "\n%s\n", body)
	}
	if len(th.GetReactions()) > 0 {
		fmt.Fprintf(w, "reactions: %s\n", reactionsText(th.GetReactions()))
	}
	unread := false
	for _, r := range replies {
		head := fmt.Sprintf("%s · %s · %s", r.GetName(), n.user(ctx, r.GetAuthor()), timeText(r.GetCreateTime()))
		if unread = unread || r.GetName() == th.GetFirstUnreadReply(); unread {
			head += " · new"
		}
		if r.GetEditCount() > 0 {
			head += fmt.Sprintf(" · edited %d×", r.GetEditCount())
		}
		if r.GetInReplyTo() != "" {
			head += " · in reply to " + r.GetInReplyTo()
		}
		if r.GetAccepted() {
			head += " · accepted answer"
		}
		fmt.Fprintf(w, "\n── %s\n", head)
		if r.GetDeleteTime() != nil {
			fmt.Fprintln(w, tombstoneText(r))
			continue
		}
		fmt.Fprintln(w, strings.TrimSpace(r.GetBody()))
		if len(r.GetReactions()) > 0 {
			fmt.Fprintf(w, "reactions: %s\n", reactionsText(r.GetReactions()))
		}
	}
	return nil
}

// threadStateText is a thread's state as listed: "open", "resolved,
// locked".
func threadStateText(th *forumv1.Thread) string {
	s := stateWord(th.GetState())
	if th.GetLocked() {
		s += ", locked"
	}
	return s
}

func (a *app) threadsCreateCommand() *cobra.Command {
	var (
		format, theme, title, kind, body, bodyFile, convening string
		tags                                                  []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Start a thread",
		Example: `  forumctl threads create --theme joint-programmes --title "Joint programme ideas"
  forumctl threads create --theme knowledge-exchange --title "Visa delays?" --kind question --body-file question.md
  echo "What worked for you?" | forumctl threads create --theme reciprocal-volunteering --title Hosting --body-file -`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			k, err := enumFlag("kind", kind, map[string]string{"discussion": "DISCUSSION", "question": "QUESTION", "announcement": "ANNOUNCEMENT"})
			if err != nil {
				return err
			}
			text, _, err := a.readBody(body, bodyFile, cmd.Flags().Changed("body"))
			if err != nil {
				return err
			}
			t := &forumv1.Thread{
				Theme: themeName(theme),
				Title: title,
				Body:  text,
				Kind:  forumv1.ThreadKind(forumv1.ThreadKind_value["THREAD_KIND_"+k]),
				Tags:  tags,
			}
			if convening != "" {
				t.Convening = conveningName(convening)
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.CreateThread(ctx, t)
			}, func(th *forumv1.Thread) string { return fmt.Sprintf("Created %s: %s", th.GetName(), th.GetTitle()) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&theme, "theme", "", "the theme (slug or themes/slug); required")
	f.StringVar(&title, "title", "", "the title; required")
	f.StringVar(&kind, "kind", "discussion", "discussion, question or announcement (conveners and admins)")
	f.StringSliceVar(&tags, "tag", nil, "a tag (repeat, or separate with commas)")
	f.StringVar(&convening, "convening", "", "the convening it belongs to (its slug)")
	addBodyFlags(cmd, &body, &bodyFile, "body")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("theme")
	_ = cmd.MarkFlagRequired("title")
	_ = cmd.RegisterFlagCompletionFunc("theme", a.completeThemes)
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"discussion", "question", "announcement"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) threadsFollowUpCommand() *cobra.Command {
	var (
		format, theme, title, body, bodyFile string
		tags                                 []string
	)
	cmd := &cobra.Command{
		Use:   "follow-up THREAD",
		Short: "Open a follow-up of a thread (conveners and admins)",
		Long: `Open a follow-up thread of THREAD, for instance after a conference: it is
linked to THREAD, whose follow-ups list it. It goes in THREAD's theme unless
--theme says otherwise.`,
		Example: `  forumctl threads follow-up 12 --title "Follow-up: mentoring hosted volunteers"
  forumctl threads follow-up 12 --title "Nairobi actions" --body-file actions.md --tag nairobi-2026`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, of string) error {
			text, _, err := a.readBody(body, bodyFile, cmd.Flags().Changed("body"))
			if err != nil {
				return err
			}
			t := &forumv1.Thread{Title: title, Body: text, Tags: tags}
			if theme != "" {
				t.Theme = themeName(theme)
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.CreateFollowUp(ctx, of, t)
			}, func(th *forumv1.Thread) string {
				return fmt.Sprintf("Created follow-up %s of %s: %s", th.GetName(), of, th.GetTitle())
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "the title; required")
	f.StringVar(&theme, "theme", "", "the theme, if not the followed-up thread's")
	f.StringSliceVar(&tags, "tag", nil, "a tag (repeat, or separate with commas)")
	addBodyFlags(cmd, &body, &bodyFile, "body")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("title")
	_ = cmd.RegisterFlagCompletionFunc("theme", a.completeThemes)
	return cmd
}

// threadStateCommand builds resolve, lock and reopen.
func (a *app) threadStateCommand(verb string, state forumv1.ThreadState, short, long string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               verb + " THREAD",
		Short:             short,
		Long:              short + ". " + long,
		Example:           fmt.Sprintf("  forumctl threads %s 12\n  forumctl threads %s threads/12 -o json", verb, verb),
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.ThreadService().UpdateThread(ctx, &forumv1.UpdateThreadRequest{
					Thread:     &forumv1.Thread{Name: name, State: state},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}},
				})
			}, func(th *forumv1.Thread) string {
				return fmt.Sprintf("%s is now %s: %s", th.GetName(), stateWord(th.GetState()), th.GetTitle())
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// plural returns "1 reply", "2 replies".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
