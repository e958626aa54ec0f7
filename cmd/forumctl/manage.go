package main

import (
	"context"
	"fmt"
	"iter"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/forumhq/forum/client"
)

// This file holds what the invitations, groups and tokens commands share.

// listSpec says what a list command lists: items of type T.
type listSpec[T any] struct {
	// needToken: the List method needs a login; public ones do not.
	needToken bool
	// list is the Client's iterator over every item, which follows the
	// page tokens.
	list func(ctx context.Context, c *client.Client) iter.Seq2[T, error]
	// response wraps the items in the List response message, for -o json
	// and yaml.
	response func(items []T) proto.Message
	// empty is said on standard error when there is nothing to list.
	empty string
	// header names the table's columns, and row gives an item's cells.
	header []string
	row    func(ctx context.Context, n *names, item T) []string
}

// listCommand makes cmd, whose Use, Short, Long and Example are set, list
// every item that s lists: as a table, or with -o json and yaml as the List
// response.
func listCommand[T any](a *app, cmd *cobra.Command, s listSpec[T]) *cobra.Command {
	var format string
	cmd.Aliases = []string{"ls"}
	cmd.Args = exactArgs()
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		var items []T
		return call(a, cmd, format, s.needToken, func(ctx context.Context, c *client.Client) (proto.Message, error) {
			for item, err := range s.list(ctx, c) {
				if err != nil {
					return nil, err
				}
				items = append(items, item)
			}
			return s.response(items), nil
		}, func(ctx context.Context, n *names, _ proto.Message) error {
			if len(items) == 0 {
				fmt.Fprintln(a.stderr, s.empty)
				return nil
			}
			t := newTable(a.stdout)
			row(t, s.header...)
			for _, item := range items {
				row(t, s.row(ctx, n, item)...)
			}
			return t.Flush()
		})
	})
	addOutputFlag(cmd, &format)
	return cmd
}

// repeatArgs requires the named positional arguments, the last of which may
// be given more than once, as a usage error.
func repeatArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= len(names) {
			return nil
		}
		return usagef("%s takes %s...; got %d argument(s)", cmd.CommandPath(), strings.Join(names, " "), len(args))
	}
}

// maxDays is the most days --expires accepts: more would overflow a
// time.Duration.
const maxDays = math.MaxInt64 / int64(24*time.Hour)

// expireTime returns the time a lifetime given to --flag ends: value is a
// Go duration (90m, 72h) or a whole number of days (30d), and must be
// positive. An empty value is nil, leaving the server's default.
func expireTime(flag, value string) (*timestamppb.Timestamp, error) {
	if value == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(value)
	if days, ok := strings.CutSuffix(value, "d"); ok && err != nil {
		var n int64
		if n, err = strconv.ParseInt(days, 10, 64); err == nil && (n > maxDays || n < -maxDays) {
			return nil, usagef("--%s %q is too long", flag, value)
		}
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil {
		return nil, usagef("--%s %q is not a duration: give for example 90m, 72h or 30d", flag, value)
	}
	if d <= 0 {
		return nil, usagef("--%s %q: the lifetime must be positive, for example 72h or 30d", flag, value)
	}
	return timestamppb.New(time.Now().Add(d)), nil
}

// idArg matches a positive id without leading zeros, as the server writes
// them in names.
var idArg = regexp.MustCompile(`^[1-9][0-9]*$`)

// prefixedID returns the resource name collection/ID of a resource given as
// its id (3) or name (collection/3); what names the kind in the usage
// error.
func prefixedID(arg, collection, what string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(arg), collection+"/")
	if !idArg.MatchString(id) {
		return "", usagef("%q is not %s: give its number (3) or name (%s/3)", arg, what, collection)
	}
	return collection + "/" + id, nil
}

// deleteCommand builds the delete command of a collection: name turns the
// ARG into a resource name, or a usage error, before anything is sent; del
// deletes it and returns the line to print.
func (a *app) deleteCommand(use, short, long, example string, name func(arg string) (string, error),
	del func(ctx context.Context, c *client.Client, name string) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:               use,
		Aliases:           []string{"rm"},
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              exactArgs(strings.Fields(use)[1]),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(name, func(cmd *cobra.Command, n string) error {
			return change(a, cmd, formatTable, func(ctx context.Context, c *client.Client) (string, error) {
				return del(ctx, c, n)
			}, func(line string) string { return line })
		}),
	}
}

// expiryText is timeText for an expiry: one that has passed says so.
func expiryText(ts *timestamppb.Timestamp) string {
	if ts != nil && !ts.AsTime().After(time.Now()) {
		return timeText(ts) + " (expired)"
	}
	return timeText(ts)
}
