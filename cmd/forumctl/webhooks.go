package main

import (
	"context"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) webhooksCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "Have the event log POSTed to your own HTTP endpoints",
		Long: `A webhook sends the events of the log that you may read, as the API's JSON,
in revision order and at least once, to an http or https URL of yours, with
the headers Forum-Event (the type, such as reply.created), Forum-Delivery (an
id to drop duplicates by) and Forum-Signature (t=<unix time>,v1=<HMAC-SHA256
of "<t>.<body>" keyed with the webhook's secret). --type and --theme choose
the events (none: all). Failed deliveries are retried with backoff for 24
hours, after which the webhook is disabled; 'webhooks update WEBHOOK --active'
resumes it. URLs on loopback or private addresses are refused unless forumd
runs with --webhook-allow-private.

A webhook is named by its number (3), for one of yours, or its name
(users/1/webhooks/3); a delivery by its name as 'webhooks deliveries' lists
it (users/1/webhooks/3/deliveries/17), or as 3/17.`,
		Example: `  forumctl webhooks create --url https://hooks.example.org/forum --type reply.created --theme knowledge-exchange
  forumctl webhooks ping 3
  forumctl webhooks deliveries 3
  forumctl webhooks redeliver 3/17
  forumctl webhooks update 3 --active=false`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(
		a.webhooksCreateCommand(),
		a.webhooksListCommand(),
		a.webhooksGetCommand(),
		a.webhooksUpdateCommand(),
		a.deleteCommand("delete WEBHOOK", "Delete a webhook and its delivery log",
			`Delete WEBHOOK, its delivery state and its delivery log: nothing more is sent
to it. WEBHOOK is its number (3), for one of yours, or its name
(users/1/webhooks/3); admins may delete anyone's by name.`,
			`  forumctl webhooks delete 3`,
			webhookName,
			func(ctx context.Context, c *client.Client, name string) (string, error) {
				name, err := ownName(ctx, c, name)
				if err != nil {
					return "", err
				}
				return "Deleted " + name, c.DeleteWebhook(ctx, name, "")
			}),
		a.webhooksRotateCommand(),
		a.webhooksDeliveriesCommand(),
		a.webhooksRedeliverCommand(),
		a.webhooksPingCommand(),
	)
	return cmd
}

// webhookNumber and deliveryNumber match the forms a webhook and a
// delivery can be named in: 3, users/1/webhooks/3, users/me/webhooks/3;
// users/1/webhooks/3/deliveries/17 (or users/me/…), 3/17.
var (
	webhookNumber  = regexp.MustCompile(`^(?:users/(me|[1-9][0-9]*)/webhooks/)?([1-9][0-9]*)$`)
	deliveryName   = regexp.MustCompile(`^users/(me|[1-9][0-9]*)/webhooks/([1-9][0-9]*)/deliveries/([1-9][0-9]*)$`)
	deliveryNumber = regexp.MustCompile(`^([1-9][0-9]*)/([1-9][0-9]*)$`)
)

// webhookName returns the resource name of a webhook given as 3 (one of
// the caller's: users/me/webhooks/3, which ownName resolves) or as its
// name.
func webhookName(arg string) (string, error) {
	m := webhookNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not a webhook: give its number (3) or name (users/1/webhooks/3)", arg)
	}
	if m[1] == "" {
		m[1] = "me"
	}
	return "users/" + m[1] + "/webhooks/" + m[2], nil
}

// webhookDeliveryName returns the resource name of a delivery given as
// its name or as WEBHOOK/DELIVERY (3/17, of one of the caller's webhooks).
func webhookDeliveryName(arg string) (string, error) {
	s := strings.TrimSpace(arg)
	if m := deliveryName.FindStringSubmatch(s); m != nil {
		return s, nil
	}
	if m := deliveryNumber.FindStringSubmatch(s); m != nil {
		return "users/me/webhooks/" + m[1] + "/deliveries/" + m[2], nil
	}
	return "", usagef("%q is not a webhook delivery: give its name (users/1/webhooks/3/deliveries/17) or WEBHOOK/DELIVERY (3/17)", arg)
}

// ownName replaces users/me at the start of name by the caller's own
// name: the API takes users/me only as a parent.
func ownName(ctx context.Context, c *client.Client, name string) (string, error) {
	rest, mine := strings.CutPrefix(name, "users/me/")
	if !mine {
		return name, nil
	}
	me, err := resolveUser(ctx, c, "me")
	if err != nil {
		return "", err
	}
	return me + "/" + rest, nil
}

// onOwn returns the body of a call on webhook or delivery name that first
// resolves a users/me in it (ownName) and then calls f with the result.
func onOwn[T any](name string, f func(ctx context.Context, c *client.Client, name string) (T, error)) func(ctx context.Context, c *client.Client) (T, error) {
	return func(ctx context.Context, c *client.Client) (T, error) {
		own, err := ownName(ctx, c, name)
		if err != nil {
			var zero T
			return zero, err
		}
		return f(ctx, c, own)
	}
}

// webhookFilters returns the event types and themes --type and --theme
// name: types as given (the server checks them), themes as themes/slug.
// An empty value, as --type "" gives, is none: every type or theme.
func webhookFilters(types, themes []string) ([]string, []string) {
	var ts, th []string
	for _, t := range types {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	for _, t := range themes {
		if t = strings.TrimSpace(t); t != "" {
			th = append(th, themeName(t))
		}
	}
	return ts, th
}

// addFilterFlags adds --type and --theme.
func addFilterFlags(cmd *cobra.Command, types, themes *[]string) {
	f := cmd.Flags()
	f.StringSliceVar(types, "type", nil, "send only events of this type, e.g. reply.created (repeat or separate with commas; none: every type)")
	f.StringSliceVar(themes, "theme", nil, "send only events of this theme, slug or themes/slug (repeat or separate with commas; none: every theme)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(eventTypeWords(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("theme", cobra.NoFileCompletions)
}

// eventTypeWords are the short forms of the event types, for completion.
func eventTypeWords() []string {
	var out []string
	for n := int32(1); ; n++ {
		if _, ok := forumv1.EventType_name[n]; !ok {
			return out
		}
		out = append(out, client.EventTypeName(forumv1.EventType(n)))
	}
}

// listText joins a webhook's filter values, or says "all".
func listText(values []string) string {
	if len(values) == 0 {
		return "all"
	}
	return strings.Join(values, ",")
}

// activeText says whether a webhook delivers, and why not if forumd
// disabled it.
func activeText(w *forumv1.Webhook) string {
	switch {
	case w.GetActive():
		return "yes"
	case w.GetDisabledReason() != "":
		return "no (disabled: " + w.GetDisabledReason() + ")"
	}
	return "no"
}

// printWebhook writes a webhook as lines of field: value.
func (a *app) printWebhook(w *forumv1.Webhook) {
	t := newTable(a.stdout)
	row(t, "Name:", w.GetName())
	row(t, "URL:", w.GetTargetUrl())
	row(t, "Active:", activeText(w))
	row(t, "Types:", listText(w.GetEventTypes()))
	row(t, "Themes:", listText(w.GetThemes()))
	row(t, "Created:", timeZoneText(w.GetCreateTime()))
	row(t, "Updated:", timeZoneText(w.GetUpdateTime()))
	_ = t.Flush()
}

func (a *app) webhooksCreateCommand() *cobra.Command {
	var (
		format, url   string
		types, themes []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a webhook and show its signing secret, once",
		Long: `Create a webhook of yours that POSTs the events after its creation to --url,
and print its name and signing secret. The secret is shown only this once
(rotate-secret makes a new one): the receiver needs it to check the
Forum-Signature header. -o json and yaml print the whole webhook, secret
included.`,
		Example: `  forumctl webhooks create --url https://hooks.example.org/forum
  forumctl webhooks create --url https://hooks.example.org/forum --type reply.created,thread.created --theme knowledge-exchange
  forumctl webhooks create --url https://hooks.example.org/forum -o json | jq -r .secret`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			hook := &forumv1.Webhook{TargetUrl: strings.TrimSpace(url)}
			hook.EventTypes, hook.Themes = webhookFilters(types, themes)
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.Webhook, error) {
				return c.CreateWebhook(ctx, "users/me", hook)
			}, func(_ context.Context, _ *names, out *forumv1.Webhook) error {
				a.printf("Created %s for %s (types: %s; themes: %s).\n", out.GetName(), out.GetTargetUrl(), listText(out.GetEventTypes()), listText(out.GetThemes()))
				a.showSecret("Secret", out.GetSecret(), "secret", "webhook")
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&url, "url", "", "where to POST the events, an http or https URL; required")
	addFilterFlags(cmd, &types, &themes)
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("url")
	_ = cmd.RegisterFlagCompletionFunc("url", cobra.NoFileCompletions)
	return cmd
}

func (a *app) webhooksListCommand() *cobra.Command {
	return listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List your webhooks, oldest first",
		Long:  `List your webhooks, oldest first, without their secrets.`,
		Example: `  forumctl webhooks list
  forumctl webhooks list -o json | jq -r '.webhooks[] | select(.active | not) | .name'`,
	}, listSpec[*forumv1.Webhook]{
		needToken: true,
		list: func(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.Webhook, error] {
			return c.Webhooks(ctx, &forumv1.ListWebhooksRequest{Parent: "users/me", PageSize: 100})
		},
		response: func(hooks []*forumv1.Webhook) proto.Message {
			return &forumv1.ListWebhooksResponse{Webhooks: hooks}
		},
		empty:  "No webhooks.",
		header: []string{"NAME", "URL", "ACTIVE", "TYPES", "THEMES", "CREATED"},
		row: func(_ context.Context, _ *names, w *forumv1.Webhook) []string {
			return []string{w.GetName(), w.GetTargetUrl(), activeText(w), listText(w.GetEventTypes()),
				listText(w.GetThemes()), timeText(w.GetCreateTime())}
		},
	})
}

func (a *app) webhooksGetCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "get WEBHOOK",
		Aliases:           []string{"show"},
		Short:             "Show a webhook",
		Long:              `Show a webhook, without its secret: its URL, filters and whether it delivers.`,
		Example:           "  forumctl webhooks get 3\n  forumctl webhooks get users/1/webhooks/3 -o yaml",
		Args:              exactArgs("WEBHOOK"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, true, onOwn(name, func(ctx context.Context, c *client.Client, name string) (*forumv1.Webhook, error) {
				return c.GetWebhook(ctx, name)
			}), func(_ context.Context, _ *names, out *forumv1.Webhook) error {
				a.printWebhook(out)
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) webhooksUpdateCommand() *cobra.Command {
	var (
		format, url   string
		types, themes []string
		active        bool
	)
	cmd := &cobra.Command{
		Use:   "update WEBHOOK",
		Short: "Change a webhook's URL, filters, or whether it delivers",
		Long: `Change what the flags given name, and nothing else. --type '' and --theme ''
clear a filter (every type, every theme). --active=false stops deliveries;
--active resumes them, also for a webhook forumd disabled after 24 hours of
failures, from the event that failed.`,
		Example: `  forumctl webhooks update 3 --url https://hooks.example.org/v2
  forumctl webhooks update 3 --type reply.created --type thread.created
  forumctl webhooks update 3 --theme ''
  forumctl webhooks update 3 --active=false`,
		Args:              exactArgs("WEBHOOK"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookName, func(cmd *cobra.Command, name string) error {
			f := cmd.Flags()
			hook := &forumv1.Webhook{TargetUrl: strings.TrimSpace(url), Active: active}
			hook.EventTypes, hook.Themes = webhookFilters(types, themes)
			var paths []string
			for _, fp := range [][2]string{{"url", "target_url"}, {"type", "event_types"}, {"theme", "themes"}, {"active", "active"}} {
				if f.Changed(fp[0]) {
					paths = append(paths, fp[1])
				}
			}
			if len(paths) == 0 {
				return usagef("nothing to change: give --url, --type, --theme or --active")
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.Webhook, error) {
				var err error
				if hook.Name, err = ownName(ctx, c, name); err != nil {
					return nil, err
				}
				return c.UpdateWebhook(ctx, hook, paths...)
			}, func(_ context.Context, _ *names, out *forumv1.Webhook) error {
				a.printf("Updated %s.\n", out.GetName())
				a.printWebhook(out)
				return nil
			})
		}),
	}
	cmd.Flags().StringVar(&url, "url", "", "the new URL, http or https")
	cmd.Flags().BoolVar(&active, "active", true, "whether events are delivered (--active=false stops them)")
	addFilterFlags(cmd, &types, &themes)
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("url", cobra.NoFileCompletions)
	return cmd
}

func (a *app) webhooksRotateCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "rotate-secret WEBHOOK",
		Short: "Give a webhook a new signing secret and show it, once",
		Long: `Replace WEBHOOK's signing secret and print the new one, shown only this once.
Deliveries are signed with it from now on, retries included: give it to the
receiver at once.`,
		Example:           "  forumctl webhooks rotate-secret 3\n  forumctl webhooks rotate-secret 3 -o json | jq -r .secret",
		Args:              exactArgs("WEBHOOK"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, true, onOwn(name, func(ctx context.Context, c *client.Client, name string) (*forumv1.Webhook, error) {
				return c.RotateWebhookSecret(ctx, name)
			}), func(_ context.Context, _ *names, out *forumv1.Webhook) error {
				a.printf("Rotated the secret of %s.\n", out.GetName())
				a.showSecret("Secret", out.GetSecret(), "secret", "webhook")
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// deliveryResult says how an attempt ended.
func deliveryResult(d *forumv1.WebhookDelivery) string {
	switch {
	case d.GetSuccess():
		return "ok"
	case d.GetAttemptTime() == nil:
		return "queued"
	case d.GetError() != "":
		return d.GetError()
	}
	return "failed"
}

func (a *app) webhooksDeliveriesCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "deliveries WEBHOOK",
		Aliases: []string{"log"},
		Short:   "List a webhook's delivery attempts, newest first",
		Long: `List the attempts to deliver events (and pings) to WEBHOOK, newest first; the
last 100 are kept. DELIVERY ID is the Forum-Delivery header, the same for
every attempt of one event; STATUS the HTTP status of the answer (- for none).
'webhooks redeliver' sends one again, by NAME.`,
		Example:           "  forumctl webhooks deliveries 3\n  forumctl webhooks deliveries 3 -o json | jq '.deliveries[] | select(.success | not)'",
		Args:              exactArgs("WEBHOOK"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookName, func(cmd *cobra.Command, name string) error {
			var items []*forumv1.WebhookDelivery
			return call(a, cmd, format, true, onOwn(name, func(ctx context.Context, c *client.Client, name string) (proto.Message, error) {
				for d, err := range c.WebhookDeliveries(ctx, &forumv1.ListWebhookDeliveriesRequest{Parent: name, PageSize: 100}) {
					if err != nil {
						return nil, err
					}
					items = append(items, d)
				}
				return &forumv1.ListWebhookDeliveriesResponse{Deliveries: items}, nil
			}), func(_ context.Context, _ *names, _ proto.Message) error {
				if len(items) == 0 {
					fmt.Fprintln(a.stderr, "No deliveries.")
					return nil
				}
				t := newTable(a.stdout)
				row(t, "NAME", "DELIVERY ID", "EVENT", "ATTEMPT", "TIME", "STATUS", "RESULT")
				for _, d := range items {
					status := "-"
					if d.GetStatusCode() != 0 {
						status = strconv.Itoa(int(d.GetStatusCode()))
					}
					row(t, d.GetName(), d.GetDeliveryId(), d.GetEventType(), strconv.Itoa(int(d.GetAttempt())),
						timeText(d.GetAttemptTime()), status, deliveryResult(d))
				}
				return t.Flush()
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) webhooksRedeliverCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "redeliver DELIVERY",
		Short: "Send a delivery again, once",
		Long: `Queue DELIVERY to be sent again, once, with the same Forum-Delivery id, as its
next attempt. DELIVERY is its name as 'webhooks deliveries' lists it
(users/1/webhooks/3/deliveries/17) or, for one of your webhooks, 3/17.`,
		Example:           "  forumctl webhooks redeliver 3/17\n  forumctl webhooks redeliver users/1/webhooks/3/deliveries/17",
		Args:              exactArgs("DELIVERY"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookDeliveryName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, true, onOwn(name, func(ctx context.Context, c *client.Client, name string) (*forumv1.WebhookDelivery, error) {
				return c.RedeliverWebhookDelivery(ctx, name)
			}), func(_ context.Context, _ *names, out *forumv1.WebhookDelivery) error {
				a.printf("Queued delivery %s (%s) again, as attempt %d.\n", out.GetDeliveryId(), out.GetEventType(), out.GetAttempt())
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) webhooksPingCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ping WEBHOOK",
		Short: "Send a webhook a test delivery",
		Long: `Queue a test delivery to WEBHOOK (Forum-Event: ping), sent once, even while
the webhook is inactive. 'webhooks deliveries' shows how it went.`,
		Example:           "  forumctl webhooks ping 3 && sleep 5 && forumctl webhooks deliveries 3",
		Args:              exactArgs("WEBHOOK"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(webhookName, func(cmd *cobra.Command, name string) error {
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.WebhookDelivery, error) {
				var err error
				if name, err = ownName(ctx, c, name); err != nil { // the printer names it too
					return nil, err
				}
				return c.PingWebhook(ctx, name)
			}, func(_ context.Context, _ *names, out *forumv1.WebhookDelivery) error {
				a.printf("Queued a ping of %s: delivery %s.\n", name, out.GetDeliveryId())
				return nil
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
