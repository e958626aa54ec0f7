package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// targetHelp says how watch, track, mute and unwatch name what they act on.
const targetHelp = `

THREAD is a thread's number (12) or name (threads/12); THEME a theme's slug
(knowledge-exchange) or name (themes/knowledge-exchange). A bare number is
always a thread: name a theme whose slug is a number as themes/2026.`

func (a *app) notificationsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "notifications",
		Aliases: []string{"notification"},
		Short:   "See what happened that concerns you, and mark it read",
		Long: `The forum tells you of replies to your threads and replies, mentions of you
(@username, or a group you are in), new posts in the threads and themes you
watch, follow-ups opened on your threads, and threads you started or watch
being resolved. 'forumctl watch', 'track', 'mute' and 'unwatch' choose what
you hear of a thread or theme; you watch the threads you start, and track
those you reply to.

A notification is named by its number (3), or by its name as 'notifications
list' shows it (users/2/notifications/3).`,
		Example: `  forumctl notifications list
  forumctl notifications list --unread -o json
  forumctl notifications read 3 4
  forumctl notifications read --all
  forumctl notifications settings --digest daily`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(
		a.notificationsListCommand(),
		a.notificationsReadCommand(),
		a.notificationsSettingsCommand(),
	)
	return cmd
}

// maxUnreadCounted is the most unread notifications the server counts: a
// count of that many means at least that many.
const maxUnreadCounted = 1000

// unreadText says how many notifications are unread: "3 unread".
func unreadText(n int64) string {
	if n >= maxUnreadCounted {
		return fmt.Sprintf("%d or more unread", maxUnreadCounted)
	}
	return fmt.Sprintf("%d unread", n)
}

// notificationKindWord says what a notification is about, in words.
func notificationKindWord(k forumv1.NotificationKind) string {
	switch k {
	case forumv1.NotificationKind_NOTIFICATION_KIND_REPLY:
		return "replied to you"
	case forumv1.NotificationKind_NOTIFICATION_KIND_MENTION:
		return "mentioned you"
	case forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST:
		return "new post"
	case forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP:
		return "follow-up"
	case forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED:
		return "resolved"
	case forumv1.NotificationKind_NOTIFICATION_KIND_ANSWER_ACCEPTED:
		return "accepted your answer"
	case forumv1.NotificationKind_NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED:
		return "action item for you"
	case forumv1.NotificationKind_NOTIFICATION_KIND_ACTION_ITEM_DUE:
		return "action item due"
	}
	return enumWord(k.String(), "NOTIFICATION_KIND_")
}

func (a *app) notificationsListCommand() *cobra.Command {
	var (
		format string
		unread bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your notifications, unread first",
		Long: `List your notifications, the unread first, newest first within each, and say
how many are unread. Each shows a * if it is unread, what it is about
(replied to you, mentioned you, new post, follow-up, resolved) and the
thread's title; who caused it, the post (threads/12 or threads/12/replies/3),
when, and the notification's name, for 'notifications read'; and the start of
the post's text. Notifications of posts you may no longer read are left out.

-o json and yaml give {"notifications": [...], "unreadCount": "3"} with the
API's field names.`,
		Example: `  forumctl notifications list
  forumctl notifications list --unread --limit 5
  forumctl notifications list -o json | jq -r '.notifications[] | select(.readTime | not) | .post'`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (all) or more")
			}
			req := &forumv1.ListNotificationsRequest{Parent: "users/me", PageSize: 100, UnreadOnly: unread}
			if limit > 0 && limit < 100 {
				req.PageSize = int32(limit)
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.ListNotificationsResponse, error) {
				return listNotifications(ctx, c, req, limit)
			}, func(ctx context.Context, n *names, out *forumv1.ListNotificationsResponse) error {
				if len(out.GetNotifications()) == 0 {
					if unread {
						fmt.Fprintln(a.stderr, "No unread notifications.")
					} else {
						fmt.Fprintln(a.stderr, "No notifications.")
					}
					return nil
				}
				return a.writeNotifications(ctx, n, out)
			})
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&unread, "unread", false, "only the unread ones")
	f.IntVar(&limit, "limit", 30, "show at most this many notifications; 0 shows all")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("limit", cobra.NoFileCompletions)
	return cmd
}

// listNotifications reads the caller's notifications that req asks for,
// page after page, at most limit of them (0: all), with the unread count.
func listNotifications(ctx context.Context, c *client.Client, req *forumv1.ListNotificationsRequest, limit int) (*forumv1.ListNotificationsResponse, error) {
	out := &forumv1.ListNotificationsResponse{}
	for first := true; ; first = false {
		resp, err := c.NotificationService().ListNotifications(ctx, req)
		if err != nil {
			return nil, err
		}
		if first {
			out.UnreadCount = resp.GetUnreadCount()
		}
		for _, m := range resp.GetNotifications() {
			out.Notifications = append(out.Notifications, m)
			if limit > 0 && len(out.Notifications) == limit {
				return out, nil
			}
		}
		if resp.GetNextPageToken() == "" {
			return out, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// writeNotifications writes notifications for reading in a terminal: the
// unread count, then a block each: a * for unread, the kind and the
// thread's title; who, the post, when and the notification's name; the
// excerpt.
func (a *app) writeNotifications(ctx context.Context, n *names, out *forumv1.ListNotificationsResponse) error {
	w := a.stdout
	fmt.Fprintln(w, unreadText(out.GetUnreadCount()))
	for _, m := range out.GetNotifications() {
		mark := " "
		if m.GetReadTime() == nil {
			mark = "*"
		}
		title := plainLine(m.GetThreadTitle())
		if title == "" {
			title = m.GetThread()
		}
		fmt.Fprintf(w, "\n%s %s: %s\n", mark, notificationKindWord(m.GetKind()), title)
		fmt.Fprintf(w, "  by %s · %s · %s · %s\n", plainLine(n.user(ctx, m.GetActor())), m.GetPost(), timeText(m.GetCreateTime()), m.GetName())
		if ex := plainLine(m.GetExcerpt()); ex != "" {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
	return nil
}

// notificationNumber matches the forms a notification can be named in: 3,
// users/2/notifications/3, users/me/notifications/3.
var notificationNumber = regexp.MustCompile(`^(?:users/(me|[1-9][0-9]*)/notifications/)?([1-9][0-9]*)$`)

// notificationName returns the resource name of a notification given as 3
// (one of the caller's: users/me/notifications/3, which the server takes)
// or as its name.
func notificationName(arg string) (string, error) {
	m := notificationNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not a notification: give its number (3) or name (users/2/notifications/3)", arg)
	}
	if m[1] == "" {
		m[1] = "me"
	}
	return "users/" + m[1] + "/notifications/" + m[2], nil
}

// maxMarkNames is the most names one MarkNotificationsRead takes.
const maxMarkNames = 100

func (a *app) notificationsReadCommand() *cobra.Command {
	var (
		format string
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "read [NOTIFICATION...] [--all]",
		Short: "Mark notifications read",
		Long: `Mark the notifications named read, or with --all every one made up to now,
and say how many remain unread. A NOTIFICATION is its number (3) or its name
(users/2/notifications/3), as 'notifications list' shows it; give either
notifications or --all. Marking one that is already read changes nothing.

-o json and yaml give {"marked": "2", "unreadCount": "1"} with the API's
field names.`,
		Example: `  forumctl notifications read 3
  forumctl notifications read 3 4 users/2/notifications/5
  forumctl notifications read --all`,
		ValidArgsFunction: a.completeUnread,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("give the notifications to mark read or --all, not both")
			case !all && len(args) == 0:
				return usagef("give the notifications to mark read (3, or users/2/notifications/3), or --all for every one")
			}
			var marks []string
			for _, arg := range args {
				name, err := notificationName(arg)
				if err != nil {
					return err
				}
				marks = append(marks, name)
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.MarkNotificationsReadResponse, error) {
				if all {
					return c.NotificationService().MarkNotificationsRead(ctx, &forumv1.MarkNotificationsReadRequest{
						Parent: "users/me", Before: timestamppb.Now(),
					})
				}
				out := &forumv1.MarkNotificationsReadResponse{}
				for chunk := range slices.Chunk(marks, maxMarkNames) {
					resp, err := c.NotificationService().MarkNotificationsRead(ctx, &forumv1.MarkNotificationsReadRequest{
						Parent: "users/me", Names: chunk,
					})
					if err != nil {
						return nil, err
					}
					out.Marked += resp.GetMarked()
					out.UnreadCount = resp.GetUnreadCount()
				}
				return out, nil
			}, func(_ context.Context, _ *names, out *forumv1.MarkNotificationsReadResponse) error {
				a.printf("Marked %s read; %s.\n", plural(out.GetMarked(), "notification", "notifications"), unreadText(out.GetUnreadCount()))
				return nil
			})
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "mark every notification made up to now")
	addOutputFlag(cmd, &format)
	return cmd
}

// completeUnread completes notifications read with the numbers of the
// caller's unread notifications not yet given.
func (a *app) completeUnread(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, _, err := a.dial(cmd, true)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer c.Close()
	resp, err := c.NotificationService().ListNotifications(cmd.Context(), &forumv1.ListNotificationsRequest{
		Parent: "users/me", PageSize: 100, UnreadOnly: true,
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, m := range resp.GetNotifications() {
		id := m.GetName()[strings.LastIndex(m.GetName(), "/")+1:]
		if slices.Contains(args, id) || slices.Contains(args, m.GetName()) {
			continue
		}
		out = append(out, id+"\t"+notificationKindWord(m.GetKind())+": "+plainLine(m.GetThreadTitle()))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// themeSlug matches a theme's slug: lower-case letters and digits, in
// words joined by single hyphens.
var themeSlug = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// subscriptionTarget returns what a subscription command acts on: a thread
// given as 12 or threads/12 (threads/12), or a theme given as its slug or
// themes/slug (themes/slug). A bare number is a thread.
func subscriptionTarget(arg string) (string, error) {
	s := strings.TrimSpace(arg)
	if m := threadNumber.FindStringSubmatch(s); m != nil {
		return "threads/" + m[1], nil
	}
	slug, named := strings.CutPrefix(s, "themes/")
	if themeSlug.MatchString(slug) && (named || !isDigits(slug)) {
		return "themes/" + slug, nil
	}
	return "", usagef("%q is neither a thread nor a theme: give a thread's number (12) or name (threads/12), or a theme's slug (knowledge-exchange) or name (themes/knowledge-exchange)", arg)
}

// completeTarget completes the THREAD|THEME argument with the themes.
func (a *app) completeTarget(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.completeThemes(cmd, args, toComplete)
}

// subscribeCommand builds watch, track and mute, which set the caller's
// level on a thread or theme to level and then say done and the target.
func (a *app) subscribeCommand(verb string, level forumv1.SubscriptionLevel, done, short, long string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   verb + " THREAD|THEME",
		Short: short,
		Long: long + `

The thread or theme must exist and be one you may read. -o json and yaml give
the subscription with the API's field names.` + targetHelp,
		Example:           fmt.Sprintf("  forumctl %s 12\n  forumctl %s knowledge-exchange\n  forumctl %s threads/12 -o json", verb, verb, verb),
		Args:              exactArgs("THREAD|THEME"),
		ValidArgsFunction: a.completeTarget,
		RunE: a.runNamed(subscriptionTarget, func(cmd *cobra.Command, target string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Subscription, error) {
				return c.Subscribe(ctx, target, level)
			}, func(s *forumv1.Subscription) string {
				if s.GetTarget() != "" {
					target = s.GetTarget()
				}
				return fmt.Sprintf("%s %s.", done, target)
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) watchCommand() *cobra.Command {
	return a.subscribeCommand("watch", client.Watching, "Watching",
		"Be told of every new post in a thread or theme",
		`Watching a thread, you are told of each reply to it; watching a theme, of
each new thread in it and each reply in its threads; and, as always, of
replies to you and mentions of you. You watch the threads you start.`)
}

func (a *app) trackCommand() *cobra.Command {
	return a.subscribeCommand("track", client.Tracking, "Tracking",
		"Be told only of replies to you and mentions in a thread or theme",
		`Tracking, you are told of replies to your posts and mentions of you, as
without a subscription. A thread's own subscription wins over its theme's:
track a thread to hear less of it in a theme you watch. You track the
threads you reply to.`)
}

func (a *app) muteCommand() *cobra.Command {
	return a.subscribeCommand("mute", client.Muted, "Muted",
		"Be told of nothing in a thread or theme, mentions included",
		`Muted, a thread or theme tells you nothing at all, not even replies to you
or mentions of you. A thread's own subscription wins over its theme's: mute
a thread in a theme you watch, or watch a thread in a theme you muted.`)
}

func (a *app) unwatchCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "unwatch THREAD|THEME",
		Aliases: []string{"unsubscribe", "untrack", "unmute"},
		Short:   "Remove your subscription to a thread or theme",
		Long: `Remove your subscription to a thread or theme, whether you watch, track or
muted it, or forum made it (you watch the threads you start and track those
you reply to): you are back to the default, told of replies to you and
mentions of you only; for a thread, its theme's subscription, if you have
one, applies again. Having no subscription to it is said on standard error
and is not an error.` + targetHelp,
		Example: `  forumctl unwatch 12
  forumctl unwatch themes/knowledge-exchange`,
		Args:              exactArgs("THREAD|THEME"),
		ValidArgsFunction: a.completeTarget,
		RunE: a.runNamed(subscriptionTarget, func(cmd *cobra.Command, target string) error {
			name, err := client.SubscriptionName(target)
			if err != nil {
				return err
			}
			return call(a, cmd, formatTable, true, func(ctx context.Context, c *client.Client) (bool, error) {
				_, err := c.NotificationService().DeleteSubscription(ctx, &forumv1.DeleteSubscriptionRequest{Name: name})
				if errors.Is(err, client.ErrNotFound) {
					return false, nil
				}
				return err == nil, err
			}, func(_ context.Context, _ *names, removed bool) error {
				if !removed {
					fmt.Fprintf(a.stderr, "You have no subscription to %s: nothing to remove.\n", target)
					return nil
				}
				a.printf("Removed your subscription to %s.\n", target)
				return nil
			})
		}),
	}
}

// levelWord is a subscription level in words: watching, tracking, muted.
func levelWord(l forumv1.SubscriptionLevel) string {
	return enumWord(l.String(), "SUBSCRIPTION_LEVEL_")
}

func (a *app) subscriptionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "subscriptions",
		Aliases: []string{"subscription"},
		Short:   "See what you watch, track and muted",
		Long: `Your subscriptions are your levels on threads and themes: watching, tracking
or muted. 'forumctl watch', 'track' and 'mute' set them and 'forumctl
unwatch' removes them; forum makes some itself (AUTOMATIC): you watch the
threads you start and track those you reply to.`,
		Example: `  forumctl subscriptions list
  forumctl subscriptions list -o json`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(a.subscriptionsListCommand())
	return cmd
}

func (a *app) subscriptionsListCommand() *cobra.Command {
	return listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List your subscriptions, themes first, then threads",
		Long: `List your subscriptions: themes first, then threads. AUTOMATIC is yes for
those forum made (you watch the threads you start and track those you reply
to); setting one's level makes it yours. -o json and yaml give
{"subscriptions": [...]} with the API's field names.`,
		Example: `  forumctl subscriptions list
  forumctl subscriptions list -o json | jq -r '.subscriptions[] | select(.level == "SUBSCRIPTION_LEVEL_MUTED") | .target'`,
	}, listSpec[*forumv1.Subscription]{
		needToken: true,
		list: func(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.Subscription, error] {
			return c.Subscriptions(ctx, "users/me")
		},
		response: func(subs []*forumv1.Subscription) proto.Message {
			return &forumv1.ListSubscriptionsResponse{Subscriptions: subs}
		},
		empty:  "No subscriptions.",
		header: []string{"TARGET", "LEVEL", "AUTOMATIC", "UPDATED"},
		row: func(_ context.Context, _ *names, s *forumv1.Subscription) []string {
			auto := "no"
			if s.GetAutomatic() {
				auto = "yes"
			}
			return []string{s.GetTarget(), levelWord(s.GetLevel()), auto, timeText(s.GetUpdateTime())}
		},
	})
}

// digestWords are the frequencies --digest takes.
var digestWords = map[string]forumv1.DigestFrequency{
	"never":  forumv1.DigestFrequency_DIGEST_FREQUENCY_NEVER,
	"daily":  forumv1.DigestFrequency_DIGEST_FREQUENCY_DAILY,
	"weekly": forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY,
}

// onOff parses an on/off flag value.
func onOff(flag, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "yes", "true":
		return true, nil
	case "off", "no", "false":
		return false, nil
	}
	return false, usagef("--%s %q: give on or off", flag, v)
}

func (a *app) notificationsSettingsCommand() *cobra.Command {
	var format, mentions, replies, digest string
	cmd := &cobra.Command{
		Use:   "settings [--mentions on|off] [--replies on|off] [--digest never|daily|weekly]",
		Short: "Show or change what the forum mails you",
		Long: `Without flags, show what the forum mails you: each mention of you and each
reply to your posts at once (on or off), and a digest of the new posts in what
you watch (never, daily or weekly). With flags, change those settings and show
them after. Mail goes to your account's e-mail address, and only when the
forum has an SMTP server.

-o json and yaml give the settings with the API's field names.`,
		Example: `  forumctl notifications settings
  forumctl notifications settings --replies off --digest daily`,
		Args: cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			in := &forumv1.NotificationSettings{}
			var paths []string
			if cmd.Flags().Changed("mentions") {
				v, err := onOff("mentions", mentions)
				if err != nil {
					return err
				}
				in.EmailMentions, paths = v, append(paths, "email_mentions")
			}
			if cmd.Flags().Changed("replies") {
				v, err := onOff("replies", replies)
				if err != nil {
					return err
				}
				in.EmailReplies, paths = v, append(paths, "email_replies")
			}
			if cmd.Flags().Changed("digest") {
				f, ok := digestWords[strings.ToLower(strings.TrimSpace(digest))]
				if !ok {
					return usagef("--digest %q: give never, daily or weekly", digest)
				}
				in.EmailDigest, paths = f, append(paths, "email_digest")
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.NotificationSettings, error) {
				if len(paths) == 0 {
					return c.NotificationSettings(ctx)
				}
				return c.UpdateNotificationSettings(ctx, in, paths...)
			}, func(_ context.Context, _ *names, s *forumv1.NotificationSettings) error {
				word := map[bool]string{true: "on", false: "off"}
				d := "weekly"
				for w, f := range digestWords {
					if f == s.GetEmailDigest() {
						d = w
					}
				}
				a.printf("Mentions mailed at once: %s\nReplies mailed at once:  %s\nDigest: %s\n", word[s.GetEmailMentions()], word[s.GetEmailReplies()], d)
				return nil
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&mentions, "mentions", "", "mail each mention of you at once: on or off")
	f.StringVar(&replies, "replies", "", "mail each reply to your posts at once: on or off")
	f.StringVar(&digest, "digest", "", "a digest of new posts in what you watch: never, daily or weekly")
	addOutputFlag(cmd, &format)
	for _, name := range []string{"mentions", "replies"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions([]string{"on", "off"}, cobra.ShellCompDirectiveNoFileComp))
	}
	_ = cmd.RegisterFlagCompletionFunc("digest", cobra.FixedCompletions([]string{"never", "daily", "weekly"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
