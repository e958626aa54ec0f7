package server

import (
	"context"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// edited is post, with alice's reply edited once by her.
func (e *matrixEnv) edited(t *testing.T, theme string) (*forumv1.Thread, *forumv1.Reply) {
	t.Helper()
	th, r := e.post(t, theme)
	if _, err := e.replies.UpdateReply(e.alice.ctx(t), &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: r.Name, Body: "alice's reply, edited"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}}}); err != nil {
		t.Fatal(err)
	}
	return th, r
}

// revisionCases are the cases of deleted-history and of theme-visibility
// for the revisions' methods.
func revisionCases() []ruleCase {
	rs := func(e *matrixEnv) forumv1.RevisionServiceClient { return forumv1.NewRevisionServiceClient(e.conn) }
	list := func(ctx context.Context, e *matrixEnv, post string) error {
		_, err := rs(e).ListRevisions(ctx, &forumv1.ListRevisionsRequest{Parent: post})
		return err
	}
	get := func(ctx context.Context, e *matrixEnv, post string) error {
		_, err := rs(e).GetRevision(ctx, &forumv1.GetRevisionRequest{Name: post + "/revisions/1"})
		return err
	}
	deleted := func(t *testing.T, e *matrixEnv) *forumv1.Reply {
		_, r := e.edited(t, publicTheme)
		if err := e.deleteReply(e.alice.ctx(t), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	modsOnly := outcomes{pAnonymous: notFound, pAuthor: notFound, pMember: notFound, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}
	private := outcomes{pAnonymous: notFound, pAuthor: ok, pMember: ok, pOutsider: notFound, pConvener: ok, pAdmin: ok, pSuspended: notFound, pTokRead: notFound, pTokWrite: notFound, pTokMod: ok, pTokAdmin: ok}
	mList, mGet := forumv1.RevisionService_ListRevisions_FullMethodName, forumv1.RevisionService_GetRevision_FullMethodName
	return []ruleCase{
		{"deleted-history", mList, "a deleted reply's history", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			return list(ctx, e, deleted(t, e).Name)
		}, modsOnly},
		{"deleted-history", mGet, "a deleted reply's first version", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			return get(ctx, e, deleted(t, e).Name)
		}, modsOnly},
		{"theme-visibility", mList, "the history of a reply in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			_, r := e.edited(t, privateTheme)
			return list(ctx, e, r.Name)
		}, private},
		{"theme-visibility", mGet, "a version of a thread in a private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			th, _ := e.post(t, privateTheme)
			return get(ctx, e, th.Name)
		}, private},
	}
}

func init() { ruleCases = append(ruleCases, revisionCases()...) }

// TestRevisions: a reply edited twice and a thread retitled have every
// version, newest first, with who wrote each; a post never edited has one;
// bad names are refused.
func TestRevisions(t *testing.T) {
	e := newTestEnv(t)
	rs := forumv1.NewRevisionServiceClient(e.conn)
	actx, cctx := e.alice.ctx(t), e.convener.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hosting", Body: "first"})
	r, err := e.replies.CreateReply(actx, &forumv1.CreateReplyRequest{Parent: th.Name, Reply: &forumv1.Reply{Body: "one two three"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rs.ListRevisions(t.Context(), &forumv1.ListRevisionsRequest{Parent: r.Name}); err != nil || len(got.Revisions) != 1 || got.Revisions[0].Body != "one two three" || got.Revisions[0].Editor != e.alice.name {
		t.Fatalf("never edited: %v, %v", got, err)
	}
	edit := func(ctx context.Context, body string) {
		if _, err := e.replies.UpdateReply(ctx, &forumv1.UpdateReplyRequest{Reply: &forumv1.Reply{Name: r.Name, Body: body}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"body"}}}); err != nil {
			t.Fatal(err)
		}
	}
	edit(actx, "one 2 three")
	edit(cctx, "one 2 three four")
	got, err := rs.ListRevisions(t.Context(), &forumv1.ListRevisionsRequest{Parent: r.Name, PageSize: 2})
	if err != nil || len(got.Revisions) != 2 || got.Revisions[0].Number != 3 || got.Revisions[0].Editor != e.convener.name || got.Revisions[1].Body != "one 2 three" || got.NextPageToken == "" {
		t.Fatalf("the first page: %v, %v", got, err)
	}
	more, err := rs.ListRevisions(t.Context(), &forumv1.ListRevisionsRequest{Parent: r.Name, PageSize: 2, PageToken: got.NextPageToken})
	if err != nil || len(more.Revisions) != 1 || more.Revisions[0].Number != 1 || more.Revisions[0].Body != "one two three" || more.Revisions[0].Editor != e.alice.name || more.NextPageToken != "" {
		t.Fatalf("the second page: %v, %v", more, err)
	}
	if v, err := rs.GetRevision(t.Context(), &forumv1.GetRevisionRequest{Name: r.Name + "/revisions/2"}); err != nil || v.Body != "one 2 three" || v.BodyHtml == "" {
		t.Errorf("revision 2: %v, %v", v, err)
	}
	// A thread retitled; pinning it is no edit.
	if _, err := e.threads.UpdateThread(cctx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Pinned: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"pinned"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.threads.UpdateThread(actx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Title: "Hosting volunteers"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := rs.ListRevisions(t.Context(), &forumv1.ListRevisionsRequest{Parent: th.Name}); err != nil || len(got.Revisions) != 2 || got.Revisions[0].Title != "Hosting volunteers" || got.Revisions[1].Title != "Hosting" {
		t.Errorf("the thread's history: %v, %v", got, err)
	}
	for _, name := range []string{r.Name + "/revisions/0", r.Name + "/revisions/x", th.Name + "/versions/1", "revisions/1"} {
		if _, err := rs.GetRevision(t.Context(), &forumv1.GetRevisionRequest{Name: name}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetRevision(%q): %v, want InvalidArgument", name, err)
		}
	}
	if _, err := rs.GetRevision(t.Context(), &forumv1.GetRevisionRequest{Name: r.Name + "/revisions/9"}); status.Code(err) != codes.NotFound {
		t.Errorf("a revision that does not exist: %v", err)
	}
}
