package server

import (
	"context"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// question creates a QUESTION of alice's in theme, with a reply of bob's.
func (e *matrixEnv) question(t *testing.T, theme string) (*forumv1.Thread, *forumv1.Reply) {
	t.Helper()
	th := e.mustThread(t, e.alice, &forumv1.Thread{Theme: theme, Title: "alice's question", Kind: forumv1.ThreadKind_THREAD_KIND_QUESTION})
	return th, e.mustReply(t, e.bob, th.Name, "bob's answer")
}

// answerCases are the cases of rules answer-author and reaction-locked,
// and of theme-visibility for the answer and reaction methods.
func answerCases() []ruleCase {
	accept := func(ctx context.Context, e *matrixEnv, th *forumv1.Thread, r *forumv1.Reply) error {
		_, err := e.threads.AcceptAnswer(ctx, &forumv1.AcceptAnswerRequest{Name: th.Name, Reply: r.Name})
		return err
	}
	unaccept := func(t *testing.T, ctx context.Context, e *matrixEnv, th *forumv1.Thread, r *forumv1.Reply) error {
		if err := accept(e.alice.ctx(t), e, th, r); err != nil {
			t.Fatal(err)
		}
		_, err := e.threads.UnacceptAnswer(ctx, &forumv1.UnacceptAnswerRequest{Name: th.Name})
		return err
	}
	react := func(ctx context.Context, e *matrixEnv, name string) error {
		_, err := e.threads.AddReaction(ctx, &forumv1.AddReactionRequest{Name: name, Reaction: forumv1.Reaction_REACTION_THANKS})
		return err
	}
	unreact := func(ctx context.Context, e *matrixEnv, name string) error {
		_, err := e.threads.RemoveReaction(ctx, &forumv1.RemoveReactionRequest{Name: name, Reaction: forumv1.Reaction_REACTION_THANKS})
		return err
	}
	// The question's author and moderators; a token acts as the admin.
	authorOnly := outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: denied, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: denied, pTokMod: ok, pTokAdmin: ok}
	authorOnlyPrivate := outcomes{pAnonymous: unauth, pAuthor: ok, pMember: denied, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}
	lockedReact := outcomes{pAnonymous: unauth, pAuthor: failed, pMember: failed, pOutsider: failed, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: failed, pTokMod: ok, pTokAdmin: ok}
	privateReact := outcomes{pAnonymous: unauth, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: denied, pTokRead: denied, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}
	mAccept, mUnaccept := forumv1.ThreadService_AcceptAnswer_FullMethodName, forumv1.ThreadService_UnacceptAnswer_FullMethodName
	mAdd, mRemove := forumv1.ThreadService_AddReaction_FullMethodName, forumv1.ThreadService_RemoveReaction_FullMethodName
	return []ruleCase{
		{"answer-author", mAccept, "bob's reply to alice's question", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, r := e.question(t, publicTheme)
			return accept(ctx, e, th, r)
		}, authorOnly},
		{"answer-author", mUnaccept, "alice's question, answered", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, r := e.question(t, publicTheme)
			return unaccept(t, ctx, e, th, r)
		}, authorOnly},
		{"reaction-locked", mAdd, "reply in a locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, r := e.locked(t, publicTheme)
			return react(ctx, e, r.Name)
		}, lockedReact},
		{"reaction-locked", mRemove, "reply in a locked thread", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, r := e.locked(t, publicTheme)
			return unreact(ctx, e, r.Name)
		}, lockedReact},
		{"theme-visibility", mAccept, "question in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, r := e.question(t, privateTheme)
			return accept(ctx, e, th, r)
		}, authorOnlyPrivate},
		{"theme-visibility", mUnaccept, "question in a private theme, answered", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, r := e.question(t, privateTheme)
			return unaccept(t, ctx, e, th, r)
		}, authorOnlyPrivate},
		{"theme-visibility", mAdd, "thread in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, _ := e.post(t, privateTheme)
			return react(ctx, e, th.Name)
		}, privateReact},
		{"theme-visibility", mRemove, "reply in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, r := e.post(t, privateTheme)
			return unreact(ctx, e, r.Name)
		}, privateReact},
	}
}

func init() { ruleCases = append(ruleCases, answerCases()...) }
