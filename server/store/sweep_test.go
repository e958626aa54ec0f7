package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openClocked(t *testing.T) (*Store, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	s, err := Open(filepath.Join(t.TempDir(), "forum.db"), Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

func countKeys(t *testing.T, s *Store, b kv.Bucket) int {
	t.Helper()
	n := 0
	if err := s.kv.View(t.Context(), func(tx kv.Tx) error {
		return tx.Scan(b, nil, nil, false, func(_, _ []byte) bool { n++; return true })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSweepSessions(t *testing.T) {
	s, clock := openClocked(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	hash := func(i int) []byte { return []byte(fmt.Sprintf("hash-%032d", i)) }
	// Session 1 expires by its absolute limit, 2 by its idle limit (never
	// used), 3 stays alive because it is used; 4 is an API token whose
	// expiry passes, and which Sweep must leave to its owner.
	for i, limits := range [][2]time.Duration{{0, time.Hour}, {30 * time.Minute, 48 * time.Hour}, {30 * time.Minute, 48 * time.Hour}} {
		if _, err := s.CreateSession(ctx, resname.MustParseUser(alice.User), hash(i+1), limits[0], limits[1]); err != nil {
			t.Fatal(err)
		}
	}
	tok, _, err := s.CreateAPIToken(ctx, alice, resname.MustParseUser(alice.User), &forumv1.ApiToken{DisplayName: "ci", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(clock.now().Add(time.Hour))}, hash(4), "")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.Sweep(ctx); err != nil || res != (SweepResult{}) {
		t.Fatalf("Sweep before anything expired = %+v, %v", res, err)
	}
	for range 5 { // 100 minutes, session 3 used every 20
		clock.advance(20 * time.Minute)
		if _, err := s.Authenticate(ctx, hash(3)); err != nil {
			t.Fatalf("session 3: %v", err)
		}
	}
	res, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 2 {
		t.Errorf("Sweep deleted %d sessions, want 2 (absolute and idle expiry)", res.Sessions)
	}
	for i, want := range []bool{false, false, true} {
		if _, err := s.Authenticate(ctx, hash(i+1)); (err == nil) != want {
			t.Errorf("session %d after the sweep: %v", i+1, err)
		}
	}
	if got := countKeys(t, s, bucketUserSessions); got != 1 {
		t.Errorf("user_sessions holds %d keys after the sweep, want 1", got)
	}
	if _, err := s.Authenticate(ctx, hash(4)); !errors.Is(err, errs.Unauthenticated) {
		t.Errorf("expired API token: %v, want Unauthenticated", err)
	}
	toks, _, err := s.ListAPITokens(ctx, alice, resname.MustParseUser(alice.User), 10, "")
	if err != nil || len(toks) != 1 || toks[0].Name != tok.Name {
		t.Errorf("API tokens after the sweep: %v, %v; want the expired token still listed", toks, err)
	}
	if err := s.DeleteAPIToken(ctx, alice, mustParse(resname.ParseAPIToken(tok.Name))); err != nil {
		t.Errorf("deleting the expired token after a sweep: %v", err)
	}
}

func TestSweepRequests(t *testing.T) {
	s, clock := openClocked(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "t", Body: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	reply := func(id string) *forumv1.Reply {
		t.Helper()
		r, err := s.CreateReply(ctx, alice, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "hi", BodyHtml: "<p>hi</p>"}, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// More records than one sweep transaction examines.
	const n = 2*sweepBatch + 17
	for i := range n {
		reply(fmt.Sprintf("req-%d", i))
	}
	first := reply("req-0")
	// A record written before request times were kept.
	if err := s.kv.Update(ctx, func(tx kv.Tx) error {
		return tx.Put(bucketRequests, requestKey(alice.User, "CreateReply", "legacy"), []byte(first.Name+"\x00fp"))
	}); err != nil {
		t.Fatal(err)
	}

	clock.advance(DefaultRequestRetention - time.Minute)
	if res, err := s.Sweep(ctx); err != nil || res.Requests != 0 {
		t.Fatalf("Sweep within the retention = %+v, %v; want nothing deleted", res, err)
	}
	if again := reply("req-0"); again.Name != first.Name {
		t.Fatalf("retry within the retention created %s, want %s", again.Name, first.Name)
	}
	clock.advance(2 * time.Minute)
	res, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n {
		t.Errorf("Sweep after the retention deleted %d request records, want %d", res.Requests, n)
	}
	if got := countKeys(t, s, bucketRequests); got != 1 {
		t.Errorf("%d request records left, want 1 (the legacy one, given a time by the first sweep)", got)
	}
	clock.advance(DefaultRequestRetention)
	if res, err := s.Sweep(ctx); err != nil || res.Requests != 1 {
		t.Errorf("second Sweep = %+v, %v; want the legacy record deleted", res, err)
	}
	if again := reply("req-0"); again.Name == first.Name {
		t.Error("a request id forgotten by the sweep still replayed")
	}
}
