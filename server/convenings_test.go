package server

import (
	"context"
	"slices"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// beijing is a convening of two themes, a public one and the matrix's
// private one.
func beijing() *forumv1.Convening {
	return &forumv1.Convening{
		Title: "Beijing 2015: volunteering for development", Description: "Three days on *knowledge exchange*.",
		StartDate: "2015-10-19", EndDate: "2015-10-21", Place: "Beijing", Country: "CN",
		Themes: []string{publicTheme, privateTheme},
	}
}

// convening creates convening slug as the convener, once.
func (e *matrixEnv) convening(t *testing.T, slug string) {
	t.Helper()
	cs := forumv1.NewConveningServiceClient(e.conn)
	_, err := cs.CreateConvening(e.convener.ctx(t), &forumv1.CreateConveningRequest{ConveningId: slug, Convening: beijing()})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		t.Fatal(err)
	}
}

// conveningCases: a convening's themes are shown as the reader may see
// them (theme-visibility).
func conveningCases() []ruleCase {
	privateShown := outcomes{pAnonymous: hidden, pAuthor: ok, pMember: ok, pOutsider: hidden, pConvener: ok, pAdmin: ok, pSuspended: hidden, pTokRead: hidden, pTokWrite: hidden, pTokMod: ok, pTokAdmin: ok}
	return []ruleCase{
		{"theme-visibility", forumv1.ConveningService_GetConvening_FullMethodName, "a convening's private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			e.convening(t, "beijing-2015")
			c, err := forumv1.NewConveningServiceClient(e.conn).GetConvening(ctx, &forumv1.GetConveningRequest{Name: "convenings/beijing-2015"})
			if err != nil {
				return err
			}
			return shown(slices.Contains(c.Themes, privateTheme))
		}, privateShown},
		{"theme-visibility", forumv1.ConveningService_ListConvenings_FullMethodName, "a listed convening's private theme", func(t *testing.T, e *matrixEnv, ctx context.Context) error {
			e.convening(t, "beijing-2015")
			resp, err := forumv1.NewConveningServiceClient(e.conn).ListConvenings(ctx, &forumv1.ListConveningsRequest{})
			if err != nil {
				return err
			}
			return shown(len(resp.Convenings) == 1 && slices.Contains(resp.Convenings[0].Themes, privateTheme))
		}, privateShown},
	}
}

func init() { ruleCases = append(ruleCases, conveningCases()...) }

// TestConvenings: a convening created, listed, changed, given threads (a
// follow-up takes its parent's), counted and filtered by, refused for
// members, and each bad input refused with its field, changing nothing.
func TestConvenings(t *testing.T) {
	e := newTestEnv(t)
	cs := forumv1.NewConveningServiceClient(e.conn)
	cctx, actx := e.convener.ctx(t), e.alice.ctx(t)
	in := beijing()
	in.Themes = []string{"themes/knowledge-exchange", "themes/joint-programmes"}
	in.Organizers = []string{e.convener.name}
	c, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "beijing-2015", Convening: in})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "convenings/beijing-2015" || c.State != forumv1.ConveningState_CONVENING_STATE_PLANNED || c.DescriptionHtml == "" || c.Etag == "" {
		t.Errorf("created: %v", c)
	}
	later := beijing()
	later.Themes, later.StartDate, later.EndDate = nil, "2026-05-04", "2026-05-06"
	if _, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "nairobi-2026", Convening: later}); err != nil {
		t.Fatal(err)
	}

	for _, b := range []struct {
		what  string
		err   error
		code  codes.Code
		field string
	}{
		{"an end before the start", func() error {
			c := beijing()
			c.StartDate, c.EndDate, c.Themes = "2015-10-21", "2015-10-19", nil
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.InvalidArgument, "convening.end_date"},
		{"a date that is not one", func() error {
			c := beijing()
			c.StartDate, c.Themes = "2015-02-30", nil
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.InvalidArgument, "convening.start_date"},
		{"an organizer that does not exist", func() error {
			c := beijing()
			c.Themes, c.Organizers = nil, []string{"users/999"}
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.InvalidArgument, "convening.organizers[0]"},
		{"an organizer of no kind", func() error {
			c := beijing()
			c.Themes, c.Organizers = nil, []string{"groups/team"}
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.InvalidArgument, "convening.organizers[0]"},
		{"a theme that does not exist", func() error {
			c := beijing()
			c.Themes = []string{"themes/nope"}
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.InvalidArgument, "convening.themes[0]"},
		{"a slug that is not one", func() error {
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "Beijing 2015", Convening: beijing()})
			return err
		}(), codes.InvalidArgument, "convening_id"},
		{"a convening twice", func() error {
			c := beijing()
			c.Themes = nil
			_, err := cs.CreateConvening(cctx, &forumv1.CreateConveningRequest{ConveningId: "beijing-2015", Convening: c})
			return err
		}(), codes.AlreadyExists, ""},
		{"a member creating one", func() error {
			c := beijing()
			c.Themes = nil
			_, err := cs.CreateConvening(actx, &forumv1.CreateConveningRequest{ConveningId: "x", Convening: c})
			return err
		}(), codes.PermissionDenied, ""},
		{"an end moved before the start", func() error {
			_, err := cs.UpdateConvening(cctx, &forumv1.UpdateConveningRequest{Convening: &forumv1.Convening{Name: "convenings/beijing-2015", EndDate: "2015-01-01"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"end_date"}}})
			return err
		}(), codes.InvalidArgument, "convening.end_date"},
		{"a state out of range", func() error {
			_, err := cs.UpdateConvening(cctx, &forumv1.UpdateConveningRequest{Convening: &forumv1.Convening{Name: "convenings/beijing-2015", State: 7}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
			return err
		}(), codes.InvalidArgument, "convening.state"},
		{"a filter of another field", func() error {
			_, err := cs.ListConvenings(cctx, &forumv1.ListConveningsRequest{Filter: "place = Beijing"})
			return err
		}(), codes.InvalidArgument, "filter"},
		{"a thread of a convening that does not exist", func() error {
			_, err := e.threads.CreateThread(cctx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "T", Convening: "convenings/nope"}})
			return err
		}(), codes.InvalidArgument, "thread.convening"},
	} {
		if status.Code(b.err) != b.code {
			t.Errorf("%s: %v, want %s", b.what, b.err, b.code)
		} else if b.field != "" && !slices.Contains(violatedFields(b.err), b.field) {
			t.Errorf("%s: %v, want a violation of %s", b.what, b.err, b.field)
		}
	}
	list, err := cs.ListConvenings(t.Context(), &forumv1.ListConveningsRequest{PageSize: 1})
	if err != nil || len(list.Convenings) != 1 || list.Convenings[0].Name != "convenings/nairobi-2026" || list.NextPageToken == "" {
		t.Fatalf("the first page: %v, %v", list, err)
	}
	list, err = cs.ListConvenings(t.Context(), &forumv1.ListConveningsRequest{PageSize: 1, PageToken: list.NextPageToken})
	if err != nil || len(list.Convenings) != 1 || list.Convenings[0].Name != "convenings/beijing-2015" || list.NextPageToken != "" {
		t.Fatalf("the second page: %v, %v", list, err)
	}

	// Threads: one of the convening's, a follow-up of it (which takes its
	// convening), and one of none.
	th := e.mustThread(t, e.convener, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Hosting", Convening: "convenings/beijing-2015"})
	fu, err := e.threads.CreateThread(cctx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Follow-up", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: th.Name}})
	if err != nil || fu.Convening != "convenings/beijing-2015" {
		t.Fatalf("the follow-up: %v, %v", fu.GetConvening(), err)
	}
	e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Other"})
	// A delegate posts under it.
	mine := e.mustThread(t, e.alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "A delegate's question", Convening: "convenings/beijing-2015"})
	if _, err := e.threads.UpdateThread(actx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: mine.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"convening"}}}); err != nil {
		t.Fatalf("a delegate taking their thread out of it: %v", err)
	}
	got, err := e.threads.ListThreads(t.Context(), &forumv1.ListThreadsRequest{Filter: `convening = "beijing-2015"`})
	if err != nil || len(got.Threads) != 2 {
		t.Errorf("filter convening: %v, %v", got, err)
	}
	if c, _ := cs.GetConvening(t.Context(), &forumv1.GetConveningRequest{Name: "convenings/beijing-2015"}); c.GetThreadCount() != 2 {
		t.Errorf("thread_count %d, want 2", c.GetThreadCount())
	}
	if _, err := cs.DeleteConvening(cctx, &forumv1.DeleteConveningRequest{Name: "convenings/beijing-2015"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("deleting a convening with threads: %v", err)
	}
	// The thread leaves it; the follow-up stays.
	if _, err := e.threads.UpdateThread(cctx, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"convening"}}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := cs.GetConvening(t.Context(), &forumv1.GetConveningRequest{Name: "convenings/beijing-2015"}); c.GetThreadCount() != 1 {
		t.Errorf("thread_count %d after one left, want 1", c.GetThreadCount())
	}
	held, err := cs.UpdateConvening(cctx, &forumv1.UpdateConveningRequest{Convening: &forumv1.Convening{Name: "convenings/beijing-2015", State: forumv1.ConveningState_CONVENING_STATE_HELD, Etag: c.Etag}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
	if err != nil || held.State != forumv1.ConveningState_CONVENING_STATE_HELD {
		t.Fatalf("held: %v, %v", held, err)
	}
	if resp, err := cs.ListConvenings(t.Context(), &forumv1.ListConveningsRequest{Filter: "state = HELD"}); err != nil || len(resp.Convenings) != 1 {
		t.Errorf("state = HELD: %v, %v", resp, err)
	}
	if _, err := cs.DeleteConvening(cctx, &forumv1.DeleteConveningRequest{Name: "convenings/nairobi-2026"}); err != nil {
		t.Errorf("deleting a convening without threads: %v", err)
	}
}

// TestSnakePath checks that a field mask path in the JSON spelling names
// the proto field.
func TestSnakePath(t *testing.T) {
	for in, want := range map[string]string{"closingNote": "closing_note", "state": "state", "due_date": "due_date", "emailDigest": "email_digest", "*": "*", "startDate": "start_date"} {
		if got := snakePath(in); got != want {
			t.Errorf("snakePath(%q) = %q, want %q", in, got, want)
		}
	}
}
