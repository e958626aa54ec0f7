package search

import (
	"path/filepath"
	"slices"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// indexerEnv is a store, an index of it in its own directory, and a member.
type indexerEnv struct {
	st    *store.Store
	dir   string
	x     *Index
	ix    *Indexer
	alice authz.Actor
	admin authz.Actor
}

func newIndexerEnv(t *testing.T) *indexerEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "forum.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &indexerEnv{st: st, dir: filepath.Join(dir, "search")}
	for _, slug := range []string{"kvs", "unv"} {
		if _, err := st.CreateOrganization(t.Context(), authz.SystemActor, slug, &forumv1.Organization{DisplayName: slug}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct {
		name string
		role forumv1.Role
		out  *authz.Actor
	}{{"alice", forumv1.Role_ROLE_MEMBER, &e.alice}, {"admin", forumv1.Role_ROLE_ADMIN, &e.admin}} {
		created, err := st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: u.name, DisplayName: u.name, Role: u.role}, "x", "")
		if err != nil {
			t.Fatal(err)
		}
		*u.out = authz.Actor{User: created.Name, Role: u.role}
		if _, err := st.UpdateUser(t.Context(), *u.out, resname.MustParseUser(created.Name), &forumv1.User{Name: created.Name, Organization: "organizations/kvs", Country: "KE"}, []string{"organization", "country"}); err != nil {
			t.Fatal(err)
		}
	}
	e.open(t)
	return e
}

// open opens the index (again) and an Indexer of it.
func (e *indexerEnv) open(t *testing.T) {
	t.Helper()
	x, err := Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	e.x, e.ix = x, NewIndexer(e.st, x, nil)
}

// catchUp applies the log, and checks that the index has reached its head.
func (e *indexerEnv) catchUp(t *testing.T) {
	t.Helper()
	if err := e.ix.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	head, err := e.st.EventHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := e.x.Cursor(); err != nil || c != head {
		t.Fatalf("cursor %d (%v), head %d", c, err, head)
	}
	if e.ix.Lag() != 0 {
		t.Errorf("lag %d after catching up", e.ix.Lag())
	}
}

func (e *indexerEnv) find(t *testing.T, q string, themes ...string) []string {
	t.Helper()
	got, total := find(t, e.x, q, themes)
	if total != uint64(len(got)) {
		t.Errorf("%q: total %d, %d hits", q, total, len(got))
	}
	return got
}

var (
	theme0 = store.DemoThemes[0].Name
	theme1 = store.DemoThemes[1].Name
)

// TestIndexerLifecycle checks that creating, editing, deleting, moving and
// restoring posts each change what search finds, once the indexer has
// caught up.
func TestIndexerLifecycle(t *testing.T) {
	e := newIndexerEnv(t)
	ctx := t.Context()
	th, err := e.st.CreateThread(ctx, e.alice, &forumv1.Thread{Theme: theme0, Title: "Host families", Body: "Volunteers in Nairobi", BodyHtml: "<p>Volunteers in <em>Nairobi</em></p>"}, "")
	if err != nil {
		t.Fatal(err)
	}
	tn := resname.MustParseThread(th.Name)
	r, err := e.st.CreateReply(ctx, e.alice, tn, &forumv1.Reply{Body: "Mombasa too", BodyHtml: "<p>Mombasa too</p>"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rn := resname.MustParseReply(r.Name)
	e.catchUp(t)
	if got := e.find(t, "nairobi", theme0); !slices.Equal(got, []string{th.Name}) {
		t.Errorf("created: nairobi finds %v", got)
	}
	if got := e.find(t, "mombasa", theme0); !slices.Equal(got, []string{r.Name}) {
		t.Errorf("created: mombasa finds %v", got)
	}

	// Edited: the new text is found, the old is not.
	if _, err := e.st.UpdateReply(ctx, e.alice, rn, &forumv1.Reply{Name: r.Name, Body: "Kisumu", BodyHtml: "<p>Kisumu</p>"}); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := e.find(t, "mombasa", theme0); len(got) != 0 {
		t.Errorf("edited: mombasa still finds %v", got)
	}
	if got := e.find(t, "kisumu", theme0); !slices.Equal(got, []string{r.Name}) {
		t.Errorf("edited: kisumu finds %v", got)
	}

	// Moved: the thread and its reply take the new theme at once.
	if _, err := e.st.UpdateThread(ctx, e.admin, tn, &forumv1.Thread{Name: th.Name, Theme: theme1}, []string{"theme"}); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := e.find(t, "kisumu OR nairobi", theme0); len(got) != 0 {
		t.Errorf("moved: the old theme still finds %v", got)
	}
	if got := e.find(t, "kisumu OR nairobi", theme1); !slices.Equal(got, []string{th.Name, r.Name}) {
		t.Errorf("moved: the new theme finds %v", got)
	}

	// The thread deleted: nothing of it is found; restored: all of it.
	if _, err := e.st.DeleteThread(ctx, e.alice, tn, "", ""); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := e.find(t, "kisumu OR nairobi", theme1); len(got) != 0 {
		t.Errorf("thread deleted: finds %v", got)
	}
	if _, err := e.st.UndeleteThread(ctx, e.admin, tn, ""); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := e.find(t, "kisumu OR nairobi", theme1); !slices.Equal(got, []string{th.Name, r.Name}) {
		t.Errorf("thread restored: finds %v", got)
	}

	// The reply deleted.
	if _, err := e.st.DeleteReply(ctx, e.alice, rn, "", ""); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := e.find(t, "kisumu", theme1); len(got) != 0 {
		t.Errorf("reply deleted: finds %v", got)
	}

	// The author's organisation changed: the filter follows.
	org := func(o string) []string {
		pq, _ := ParseQuery("nairobi")
		res, err := e.x.Search(Request{Query: pq, Themes: []string{theme1}, Filter: Filter{Conds: []Cond{{Field: FieldOrganization, Value: o}}}, Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range res.Hits {
			names = append(names, h.Name)
		}
		return names
	}
	if got := org("organizations/kvs"); !slices.Equal(got, []string{th.Name}) {
		t.Errorf("by organisation: %v", got)
	}
	if _, err := e.st.UpdateUser(ctx, e.alice, resname.MustParseUser(e.alice.User), &forumv1.User{Name: e.alice.User, Organization: "organizations/unv"}, []string{"organization"}); err != nil {
		t.Fatal(err)
	}
	e.catchUp(t)
	if got := org("organizations/kvs"); len(got) != 0 {
		t.Errorf("the old organisation still finds %v", got)
	}
	if got := org("organizations/unv"); !slices.Equal(got, []string{th.Name}) {
		t.Errorf("the new organisation finds %v", got)
	}
}

// TestIndexerResumes checks that a new indexer of an index that has
// applied part of the log goes on from its cursor, and that a new index of
// a store with posts is built from the store.
func TestIndexerResumes(t *testing.T) {
	e := newIndexerEnv(t)
	ctx := t.Context()
	post := func(title string) string {
		th, err := e.st.CreateThread(ctx, e.alice, &forumv1.Thread{Theme: theme0, Title: title, BodyHtml: "<p>" + title + "</p>"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return th.Name
	}
	first := post("Arusha")
	e.catchUp(t)
	second := post("Dodoma")
	// Closed before catching up (as a crash would leave it), reopened.
	if err := e.x.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	e.catchUp(t)
	if got := e.find(t, "arusha OR dodoma", theme0); !slices.Equal(got, []string{first, second}) {
		t.Errorf("resumed: %v", got)
	}

	// A new index (another directory) of the same store is built from it.
	e.dir = filepath.Join(t.TempDir(), "search2")
	e.open(t)
	if c, _ := e.x.Cursor(); c != 0 {
		t.Fatalf("a new index has cursor %d", c)
	}
	e.catchUp(t)
	if got := e.find(t, "arusha OR dodoma", theme0); !slices.Equal(got, []string{first, second}) {
		t.Errorf("rebuilt: %v", got)
	}
}

// TestIndexerEmptyLog checks that an index built while the log is empty
// (a new forum, or one migrated from before the log, where nobody has
// posted since) is built once, not again at every commit that makes no
// event (a login).
func TestIndexerEmptyLog(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "forum.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x, err := Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ix := NewIndexer(st, x, nil)
	for range 3 {
		if err := ix.CatchUp(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if ix.rebuilds != 1 {
		t.Errorf("%d rebuilds of an index over an empty log, want 1", ix.rebuilds)
	}
	// Reopened, it is still built.
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(filepath.Join(dir, "search")); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ix = NewIndexer(st, x, nil)
	if err := ix.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ix.rebuilds != 0 {
		t.Errorf("rebuilt again after reopening")
	}
}
