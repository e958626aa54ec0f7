package main

import (
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
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			thread, err := threadName(args[0])
			if err != nil {
				return err
			}
			r := &forumv1.Reply{}
			if inReplyTo != "" {
				if r.InReplyTo, err = replyName(inReplyTo); err != nil {
					return err
				}
			}
			text, ok, err := a.readBody(body, bodyFile, cmd.Flags().Changed("body"))
			if err != nil {
				return err
			}
			if !ok {
				return usagef("give the reply with --body or --body-file (- for standard input)")
			}
			r.Body = text
			c, _, err := a.dial(cmd, true)
			if err != nil {
				return err
			}
			defer c.Close()
			out, err := c.CreateReply(cmd.Context(), thread, r)
			if err != nil {
				return err
			}
			return a.writeResult(format, out, "Posted "+out.GetName())
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
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			name, err := replyName(args[0])
			if err != nil {
				return err
			}
			text, ok, err := a.readBody(body, bodyFile, cmd.Flags().Changed("body"))
			if err != nil {
				return err
			}
			if !ok {
				return usagef("give the new body with --body or --body-file (- for standard input)")
			}
			c, _, err := a.dial(cmd, true)
			if err != nil {
				return err
			}
			defer c.Close()
			out, err := c.ReplyService().UpdateReply(cmd.Context(), &forumv1.UpdateReplyRequest{
				Reply:      &forumv1.Reply{Name: name, Body: text, Etag: etag},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}},
			})
			if err != nil {
				return err
			}
			return a.writeResult(format, out, fmt.Sprintf("Edited %s (edit %d)", out.GetName(), out.GetEditCount()))
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
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			name, err := replyName(args[0])
			if err != nil {
				return err
			}
			c, _, err := a.dial(cmd, true)
			if err != nil {
				return err
			}
			defer c.Close()
			out, err := c.DeleteReply(cmd.Context(), name, client.WithEtag(etag), client.WithReason(reason))
			if err != nil {
				return err
			}
			return a.writeResult(format, out, "Deleted "+out.GetName())
		}),
	}
	cmd.Flags().StringVar(&etag, "etag", "", "delete only if the reply's etag is still this one")
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown on the tombstone to everyone who reads the thread (at most 500 characters)")
	addOutputFlag(cmd, &format)
	return cmd
}
