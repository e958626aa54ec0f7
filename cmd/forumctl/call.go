package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
)

// call is the body commands share once they have checked their arguments
// and flags (and addOutputFlag the format): it connects, as the logged-in
// user with needToken, calls do, and writes what do returns: as the API's
// JSON or YAML with -o json and yaml, else with table.
func call[T any](a *app, cmd *cobra.Command, format string, needToken bool,
	do func(ctx context.Context, c *client.Client) (T, error),
	table func(ctx context.Context, n *names, out T) error) error {
	c, _, err := a.dial(cmd, needToken)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	out, err := do(ctx, c)
	if err != nil {
		return err
	}
	if format != formatTable {
		return writeData(a.stdout, format, out)
	}
	return table(ctx, newNames(c), out)
}

// change is call for a command that changes something as the logged-in
// user: with -o table it says what it did in the line that line returns.
func change[T any](a *app, cmd *cobra.Command, format string,
	do func(ctx context.Context, c *client.Client) (T, error), line func(out T) string) error {
	return call(a, cmd, format, true, do, func(_ context.Context, _ *names, out T) error {
		a.printf("%s\n", line(out))
		return nil
	})
}
