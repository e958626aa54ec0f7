package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "forum.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// mustParse returns the name a resname.Parse function parsed; the test knows
// it to be good.
func mustParse[N any](n N, err error) N {
	if err != nil {
		panic(err)
	}
	return n
}

func member(t testing.TB, s *Store, username string, role forumv1.Role) authz.Actor {
	t.Helper()
	u, err := s.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: username, DisplayName: username, Role: role}, "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	return authz.Actor{User: u.Name, Role: u.Role}
}

func TestOpenSeedsThemesAndStampsVersion(t *testing.T) {
	s, path := openTest(t)
	themes, next, err := s.ListThemes(t.Context(), authz.Actor{}, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(themes) != len(DemoThemes) || next != "" {
		t.Fatalf("got %d themes (next %q), want %d", len(themes), next, len(DemoThemes))
	}
	s.Close()

	// A file stamped with a newer schema version is refused.
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Update(t.Context(), func(tx kv.Tx) error { return tx.Put(bucketMeta, metaSchemaVersion, u64(SchemaVersion+1)) }); err != nil {
		t.Fatal(err)
	}
	eng.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("Open accepted a newer schema version")
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, path := openTest(t)
	start := time.Now()
	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("a second Open of the same file succeeded")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second Open took %v", time.Since(start))
	}
}

// TestCountersMatchRows checks the invariant the crash test relies on: under
// concurrent writers, every thread's reply_count equals its live replies and
// every theme's thread_count its live threads.
func TestCountersMatchRows(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	var threads []string
	for i := range 4 {
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[i%2].Name, Title: fmt.Sprint("t", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, th.Name)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				r, err := s.CreateReply(ctx, a, resname.MustParseThread(threads[(w+i)%4]), &forumv1.Reply{Body: "x"}, fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if _, err := s.DeleteReply(ctx, a, resname.MustParseReply(r.Name), "", ""); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if _, err := s.DeleteThread(ctx, a, resname.MustParseThread(threads[3]), "", ""); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, name := range threads {
		th, err := s.GetThread(ctx, a, resname.MustParseThread(name))
		if err != nil {
			t.Fatal(err)
		}
		live, tok := 0, ""
		for {
			rs, next, err := s.ListReplies(ctx, a, resname.MustParseThread(name), 100, tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				total++
				if r.DeleteTime == nil {
					live++
				}
			}
			if tok = next; tok == "" {
				break
			}
		}
		if th.ReplyCount != int64(live) {
			t.Errorf("%s: reply_count %d, live replies %d", name, th.ReplyCount, live)
		}
	}
	if total != 16*20 {
		t.Errorf("%d replies stored, want %d", total, 16*20)
	}
	for i, want := range []int64{2, 1} {
		th, err := s.GetTheme(ctx, a, resname.MustParseTheme(DemoThemes[i].Name))
		if err != nil {
			t.Fatal(err)
		}
		if th.ThreadCount != want {
			t.Errorf("%s: thread_count %d, want %d", th.Name, th.ThreadCount, want)
		}
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRequestIDReplays(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	b := member(t, s, "bob", forumv1.Role_ROLE_MEMBER)
	th1, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "once"}, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	th2, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "once"}, "req-1")
	if err != nil || th2.Name != th1.Name {
		t.Fatalf("retry created %v (%v), want %s", th2.GetName(), err, th1.Name)
	}
	// The same id from another user is another request.
	th3, err := s.CreateThread(ctx, b, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "once"}, "req-1")
	if err != nil || th3.Name == th1.Name {
		t.Fatalf("another user's request %v (%v)", th3.GetName(), err)
	}
	r1, _ := s.CreateReply(ctx, a, resname.MustParseThread(th1.Name), &forumv1.Reply{Body: "x"}, "r")
	r2, _ := s.CreateReply(ctx, a, resname.MustParseThread(th1.Name), &forumv1.Reply{Body: "x"}, "r")
	if r1.Name != r2.Name {
		t.Fatalf("reply retry created %s and %s", r1.Name, r2.Name)
	}
	// The same id for a different request is refused, and writes nothing.
	if _, err := s.CreateReply(ctx, a, resname.MustParseThread(th3.Name), &forumv1.Reply{Body: "x"}, "r"); !errors.Is(err, errs.InvalidArgument) {
		t.Fatalf("request id reused for another thread: %v", err)
	}
	if _, err := s.CreateReply(ctx, a, resname.MustParseThread(th1.Name), &forumv1.Reply{Body: "y"}, "r"); !errors.Is(err, errs.InvalidArgument) {
		t.Fatalf("request id reused for another body: %v", err)
	}
	got, _ := s.GetThread(ctx, a, resname.MustParseThread(th1.Name))
	if got.ReplyCount != 1 {
		t.Fatalf("reply_count %d after a retried reply, want 1", got.ReplyCount)
	}
}

func TestPageTokens(t *testing.T) {
	s, _ := openTest(t)
	key := []byte{1, 2, 3}
	tok := s.encodeToken("q", key)
	got, err := s.decodeToken("q", tok)
	if err != nil || string(got) != string(key) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{tok + "A", "x" + tok[1:], "!!!", "AAAA"} {
		if _, err := s.decodeToken("q", bad); !errors.Is(err, errs.InvalidArgument) {
			t.Errorf("decodeToken(%q) = %v, want errs.InvalidArgument", bad, err)
		}
	}
	if _, err := s.decodeToken("other", tok); !errors.Is(err, errs.InvalidArgument) {
		t.Errorf("token accepted for another query: %v", err)
	}
}

// TestThreadNameFingerprint checks that a request naming its thread with a
// resname.Thread has the fingerprint it had when it named it with a string,
// so that a request id recorded before still replays.
func TestThreadNameFingerprint(t *testing.T) {
	s, _ := openTest(t)
	r := &forumv1.Reply{Body: "x"}
	for _, id := range []uint64{1, 301, 1<<64 - 1} {
		n := resname.Thread{ID: id}
		if got, want := s.newRequest("CreateReply", "r", n, r).fp, s.newRequest("CreateReply", "r", n.String(), r).fp; got != want {
			t.Errorf("%s: fingerprint %s, want %s", n, got, want)
		}
	}
}

func TestSessions(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	hash := []byte("0123456789abcdef0123456789abcdef")
	if _, err := s.CreateSession(ctx, resname.MustParseUser(a.User), hash, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, err := s.Authenticate(ctx, hash)
	if err != nil || c.User != a.User || c.Scopes != nil {
		t.Fatalf("Authenticate: %v %v", c, err)
	}
	if err := s.DeleteSession(ctx, hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, hash); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("deleted session: %v", err)
	}
	if _, err := s.CreateSession(ctx, resname.MustParseUser(a.User), hash, time.Hour, -time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, hash); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("expired session: %v", err)
	}
}

func TestFollowUpLinks(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	conv := member(t, s, "conv", forumv1.Role_ROLE_CONVENER)
	parent, err := s.CreateThread(ctx, conv, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "p"}, "")
	if err != nil {
		t.Fatal(err)
	}
	fu, err := s.CreateThread(ctx, conv, &forumv1.Thread{Theme: DemoThemes[1].Name, Title: "f", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: parent.Name}, "")
	if err != nil {
		t.Fatal(err)
	}
	followUps := func() []string {
		p, err := s.GetThread(ctx, conv, resname.MustParseThread(parent.Name))
		if err != nil {
			t.Fatal(err)
		}
		return p.FollowUps
	}
	if got := followUps(); len(got) != 1 || got[0] != fu.Name {
		t.Fatalf("follow-ups %v", got)
	}
	if _, err := s.DeleteThread(ctx, conv, resname.MustParseThread(fu.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	if got := followUps(); len(got) != 0 {
		t.Fatalf("a deleted follow-up is listed: %v", got)
	}
	if _, err := s.UndeleteThread(ctx, conv, resname.MustParseThread(fu.Name), ""); err != nil {
		t.Fatal(err)
	}
	if got := followUps(); len(got) != 1 {
		t.Fatalf("an undeleted follow-up is missing: %v", got)
	}
}

// TestListPaging pages through every simple list two items at a time and
// checks each item comes once, in order, and that the last page has no
// token.
func TestListPaging(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN)
	for i := range 5 {
		if _, err := s.CreateOrganization(ctx, admin, fmt.Sprintf("org-%d", i), &forumv1.Organization{DisplayName: "o"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateGroup(ctx, admin, fmt.Sprintf("group-%d", i), &forumv1.Group{DisplayName: "g"}, ""); err != nil {
			t.Fatal(err)
		}
		member(t, s, fmt.Sprintf("user-%d", i), forumv1.Role_ROLE_MEMBER)
	}
	names := func(list func(token string) ([]string, string, error)) []string {
		var all []string
		token := ""
		for range 20 {
			page, next, err := list(token)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d", len(page))
			}
			all = append(all, page...)
			if token = next; token == "" {
				return all
			}
		}
		t.Fatal("paging did not end")
		return nil
	}
	check := func(what string, got []string, n int) {
		t.Helper()
		seen := map[string]bool{}
		for i, name := range got {
			if seen[name] || (i > 0 && name < got[i-1] && what != "users") {
				t.Errorf("%s: %v repeats or is out of order", what, got)
			}
			seen[name] = true
		}
		if len(got) != n {
			t.Errorf("%s: %d items, want %d: %v", what, len(got), n, got)
		}
	}
	check("organizations", names(func(tok string) ([]string, string, error) {
		l, next, err := s.ListOrganizations(ctx, 2, tok)
		var out []string
		for _, o := range l {
			out = append(out, o.Name)
		}
		return out, next, err
	}), 5)
	check("groups", names(func(tok string) ([]string, string, error) {
		l, next, err := s.ListGroups(ctx, admin, 2, tok)
		var out []string
		for _, g := range l {
			out = append(out, g.Name)
		}
		return out, next, err
	}), 5)
	check("themes", names(func(tok string) ([]string, string, error) {
		l, next, err := s.ListThemes(ctx, admin, 2, tok)
		var out []string
		for _, th := range l {
			out = append(out, th.Name)
		}
		return out, next, err
	}), len(DemoThemes))
	check("users", names(func(tok string) ([]string, string, error) {
		l, next, err := s.ListUsers(ctx, 2, tok)
		var out []string
		for _, u := range l {
			out = append(out, u.Name)
		}
		return out, next, err
	}), 6)
	// A member outside every group sees none of them.
	outsider := member(t, s, "outsider", forumv1.Role_ROLE_MEMBER)
	if l, next, err := s.ListGroups(ctx, outsider, 2, ""); err != nil || len(l) != 0 || next != "" {
		t.Errorf("an outsider lists groups %v (next %q, %v)", l, next, err)
	}
}
