package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// threadLockCommand is 'threads lock' (locked true) or 'threads unlock'.
func (a *app) threadLockCommand(locked bool) *cobra.Command {
	var format string
	verb, short := "lock", "Lock a thread: no more replies, reactions or edits from members"
	if !locked {
		verb, short = "unlock", "Unlock a thread"
	}
	cmd := &cobra.Command{
		Use:   verb + " THREAD",
		Short: short,
		Long: short + `. Conveners and admins only. The thread's state (open or resolved)
stays as it is: a resolved thread locked and unlocked is still resolved.`,
		Example:           fmt.Sprintf("  forumctl threads %s 12\n  forumctl threads %s threads/12 -o json", verb, verb),
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.SetThreadLocked(ctx, name, locked)
			}, func(th *forumv1.Thread) string {
				return fmt.Sprintf("%s is now %sed: %s", th.GetName(), verb, th.GetTitle())
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// threadsAcceptCommand is 'threads accept THREAD REPLY'.
func (a *app) threadsAcceptCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "accept THREAD REPLY",
		Short: "Accept a reply as the answer to a question",
		Long: `Accept REPLY (3, 12/3 or threads/12/replies/3) as the answer to the question
THREAD (12, or threads/12), in place of any accepted before. The asker,
conveners and admins may; the reply's author is notified. 'threads unaccept'
takes it back.`,
		Example: `  forumctl threads accept 12 3
  forumctl threads accept threads/12 threads/12/replies/3 -o json`,
		Args:              exactArgs("THREAD", "REPLY"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			thread, err := threadName(args[0])
			if err != nil {
				return err
			}
			reply, err := replyOf(thread, args[1], "")
			if err != nil {
				return err
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.AcceptAnswer(ctx, thread, reply)
			}, func(th *forumv1.Thread) string {
				return fmt.Sprintf("%s is the answer to %s: %s", th.GetAcceptedAnswer(), th.GetName(), th.GetTitle())
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// threadsUnacceptCommand is 'threads unaccept THREAD'.
func (a *app) threadsUnacceptCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:               "unaccept THREAD",
		Short:             "Take back a question's accepted answer",
		Long:              `Clear the accepted answer of the question THREAD. The asker, conveners and admins may.`,
		Example:           "  forumctl threads unaccept 12",
		Args:              exactArgs("THREAD"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runNamed(threadName, func(cmd *cobra.Command, name string) error {
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.Thread, error) {
				return c.UnacceptAnswer(ctx, name)
			}, func(th *forumv1.Thread) string {
				return fmt.Sprintf("%s has no accepted answer: %s", th.GetName(), th.GetTitle())
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// reactionWords are the reactions as forumctl takes and shows them.
var reactionWords = map[string]forumv1.Reaction{
	"+1": client.PlusOne, "heart": client.Heart, "celebrate": client.Celebrate, "thanks": client.Thanks, "insightful": client.Insightful,
}

// reactionWord is the word of r: "+1", "heart".
func reactionWord(r forumv1.Reaction) string {
	for w, x := range reactionWords {
		if x == r {
			return w
		}
	}
	return enumWord(r.String(), "REACTION_")
}

// reactionsText is a post's reactions as one line: "heart 2 (you), +1 1".
func reactionsText(rs []*forumv1.ReactionCount) string {
	var parts []string
	for _, rc := range rs {
		p := fmt.Sprintf("%s %d", reactionWord(rc.GetReaction()), rc.GetCount())
		if rc.GetReacted() {
			p += " (you)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// postName returns the name of a post given as 12 or threads/12 (a
// thread), or 12/3 or threads/12/replies/3 (a reply).
func postName(arg string) (string, error) {
	if n, err := threadName(arg); err == nil {
		return n, nil
	}
	if n, err := replyName(arg); err == nil {
		return n, nil
	}
	return "", usagef("%q is not a post: give a thread (12, threads/12) or a reply (12/3, threads/12/replies/3)", arg)
}

// reactCommand is 'react POST REACTION' (on) or 'unreact POST REACTION'.
func (a *app) reactCommand(on bool) *cobra.Command {
	var format string
	verb, short := "react", "Give a reaction to a thread or a reply"
	if !on {
		verb, short = "unreact", "Withdraw your reaction to a thread or a reply"
	}
	cmd := &cobra.Command{
		Use:   verb + " POST REACTION",
		Short: short,
		Long: short + `. POST is a thread (12, threads/12) or a reply (12/3,
threads/12/replies/3); REACTION is +1, heart, celebrate, thanks or insightful.
Giving one twice, or withdrawing one not given, changes nothing. It says the
post's reactions after it; -o json and yaml give the API's PostReactions.`,
		Example:           fmt.Sprintf("  forumctl %s 12 heart\n  forumctl %s 12/3 +1", verb, verb),
		Args:              exactArgs("POST", "REACTION"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			post, err := postName(args[0])
			if err != nil {
				return err
			}
			r, ok := reactionWords[strings.ToLower(strings.TrimSpace(args[1]))]
			if !ok {
				return usagef("%q is not a reaction: give +1, heart, celebrate, thanks or insightful", args[1])
			}
			return change(a, cmd, format, func(ctx context.Context, c *client.Client) (*forumv1.PostReactions, error) {
				if on {
					return c.React(ctx, post, r)
				}
				return c.Unreact(ctx, post, r)
			}, func(out *forumv1.PostReactions) string {
				if len(out.GetReactions()) == 0 {
					return out.GetName() + ": no reactions"
				}
				return out.GetName() + ": " + reactionsText(out.GetReactions())
			})
		}),
	}
	addOutputFlag(cmd, &format)
	return cmd
}
