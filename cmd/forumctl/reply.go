package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) replyCommand() *cobra.Command {
	var format, body, bodyFile, inReplyTo string
	cmd := &cobra.Command{
		Use:   "reply THREAD",
		Short: "Reply to a thread; edit or delete a reply",
		Long: `Reply to THREAD (its number, 12, or name, threads/12) with a Markdown body
from --body or --body-file (- reads standard input). 'reply edit' and
'reply delete' change an existing reply.`,
		Example: `  forumctl reply 12 --body "We pair each volunteer with a **mentor**."
  forumctl reply 12 --body-file answer.md --in-reply-to 12/3
  git log --oneline | forumctl reply 12 --body-file -`,
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, thread string) error {
			r := &forumv1.Reply{}
			var err error
			if inReplyTo != "" {
				if r.InReplyTo, err = replyName(inReplyTo); err != nil {
					return err
				}
			}
			if r.Body, err = a.requireBody(body, bodyFile, cmd.Flags().Changed("body"), "reply"); err != nil {
				return err
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Reply, error) {
				return c.CreateReply(ctx, thread, r)
			}, func(out *forumv1.Reply) string { return "Posted " + out.GetName() })
		}),
	}
	cmd.Flags().StringVar(&inReplyTo, "in-reply-to", "", "the reply this one answers (threads/12/replies/3 or 12/3)")
	addBodyFlags(cmd, &body, &bodyFile, "reply")
	addOutputFlag(cmd, &format)
	cmd.AddCommand(a.replyEditCommand(), a.replyDeleteCommand())
	return cmd
}

func (a *app) replyEditCommand() *cobra.Command {
	var format, body, bodyFile, etag string
	cmd := &cobra.Command{
		Use:   "edit REPLY",
		Short: "Replace the body of a reply",
		Long: `Replace the body of REPLY (threads/12/replies/3, or 12/3). Authors edit their
own replies; conveners and admins any. With --etag, the edit is made only if
the reply has not changed since (else exit status 6).`,
		Example: `  forumctl reply edit 12/3 --body "Corrected: the guide is on page 4."
  forumctl reply edit threads/12/replies/3 --body-file fixed.md`,
		Args:              exactArgs("REPLY"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(replyName, func(cmd *cobra.Command, name string) error {
			text, err := a.requireBody(body, bodyFile, cmd.Flags().Changed("body"), "new body")
			if err != nil {
				return err
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Reply, error) {
				return c.ReplyService().UpdateReply(ctx, &forumv1.UpdateReplyRequest{
					Reply:      &forumv1.Reply{Name: name, Body: text, Etag: etag},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}},
				})
			}, func(out *forumv1.Reply) string {
				return fmt.Sprintf("Edited %s (edit %d)", out.GetName(), out.GetEditCount())
			})
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "edit only if the reply's etag is still this one")
	addBodyFlags(cmd, &body, &bodyFile, "new body")
	addOutputFlag(cmd, &format)
	return cmd
}

func (a *app) replyDeleteCommand() *cobra.Command {
	var format, etag, reason string
	cmd := &cobra.Command{
		Use:   "delete REPLY",
		Short: "Delete a reply",
		Long: `Delete REPLY (threads/12/replies/3, or 12/3): its body goes, and a tombstone
keeps its place in the thread, saying who deleted it and, with --reason, why.
Authors delete their own replies; conveners and admins any. In a locked
thread only conveners and admins delete (else exit status 6).`,
		Example: `  forumctl reply delete 12/3
  forumctl reply delete 12/3 --reason "Personal details removed"
  forumctl reply delete threads/12/replies/3 --etag "$ETAG"`,
		Args:              exactArgs("REPLY"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(replyName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Reply, error) {
				return c.DeleteReply(ctx, name, client.WithEtag(etag), client.WithReason(reason))
			}, func(out *forumv1.Reply) string { return "Deleted " + out.GetName() })
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "delete only if the reply's etag is still this one")
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown on the tombstone to everyone who reads the thread (at most 500 characters)")
	addOutputFlag(cmd, &format)
	return cmd
}
