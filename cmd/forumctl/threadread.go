package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// threadsReadCommand is 'threads read': ThreadService.MarkThreadRead.
func (a *app) threadsReadCommand() *cobra.Command {
	var format, to string
	cmd := &cobra.Command{
		Use:   "read THREAD [--to REPLY]",
		Short: "Mark a thread read, to its last reply or to one",
		Long: `Record that you have read THREAD (12, or threads/12) up to its last reply,
or with --to up to that reply (3, 12/3 or threads/12/replies/3), and say how
many replies remain unread after it. Threads then show you "N new" from there
('threads show', the web UI). Your position only moves forward: marking an
earlier reply changes nothing.

-o json and yaml give {"unreadReplyCount": 2} with the API's field names.`,
		Example: `  forumctl threads read 12
  forumctl threads read 12 --to 3`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			reply := ""
			if to != "" {
				var err error
				if reply, err = replyOf(name, to, "--to "); err != nil {
					return err
				}
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.MarkThreadReadResponse, error) {
				return c.ThreadService().MarkThreadRead(ctx, &forumv1.MarkThreadReadRequest{Name: name, Reply: reply})
			}, func(out *forumv1.MarkThreadReadResponse) string {
				switch n := out.GetUnreadReplyCount(); n {
				case 0:
					return fmt.Sprintf("Read %s to its last reply.", name)
				case 1:
					return fmt.Sprintf("Read %s to %s; 1 reply unread after it.", name, reply)
				default:
					return fmt.Sprintf("Read %s to %s; %d replies unread after it.", name, reply, n)
				}
			})
		}),
	}
	cmd.Flags().StringVar(&to, "to", "", "the last reply read: 3, 12/3 or threads/12/replies/3 (default: the thread's last)")
	addOutputFlag(cmd, &format)
	return cmd
}

// replyOf returns the name of reply arg of thread: a reply's number (3),
// or a reply name that must be of that thread. Its errors start with
// label ("--to ", or "" for an argument).
func replyOf(thread, arg, label string) (string, error) {
	arg = strings.TrimSpace(arg)
	if m := threadNumber.FindStringSubmatch(arg); m != nil && !strings.HasPrefix(arg, "threads/") {
		return thread + "/replies/" + m[1], nil
	}
	r, err := replyName(arg)
	if err != nil {
		return "", usagef("%s%q is not a reply: give its number (3), THREAD/REPLY (12/3) or name (threads/12/replies/3)", label, arg)
	}
	if !strings.HasPrefix(r, thread+"/replies/") {
		return "", usagef("%s%s is not a reply of %s", label, r, thread)
	}
	return r, nil
}
