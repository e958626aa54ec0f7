package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestAuthenticateCacheFollowsChanges checks that what Authenticate keeps
// in memory never outlives a change: after each revoking or role-changing
// call returns, the next Authenticate sees it, although the token had been
// read (and cached) just before.
func TestAuthenticateCacheFollowsChanges(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin := member(t, s, "ada", forumv1.Role_ROLE_ADMIN)
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	n := 0
	newSession := func() []byte {
		t.Helper()
		n++
		h := []byte(fmt.Sprintf("%032d", n))
		if _, err := s.CreateSession(ctx, resname.MustParseUser(alice.User), h, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		return h
	}
	warm := func(h []byte) *Credential {
		t.Helper()
		var c *Credential
		for range 2 { // the second comes from the cache
			var err error
			if c, err = s.Authenticate(ctx, h); err != nil {
				t.Fatalf("Authenticate before the change: %v", err)
			}
		}
		return c
	}
	setUser := func(u *forumv1.User, path string) {
		t.Helper()
		u.Name = alice.User
		if _, err := s.UpdateUser(ctx, admin, resname.MustParseUser(u.Name), u, []string{path}); err != nil {
			t.Fatal(err)
		}
	}

	h := newSession()
	warm(h)
	if err := s.DeleteSession(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, h); !errors.Is(err, errs.Unauthenticated) {
		t.Errorf("after logout: %v, want Unauthenticated", err)
	}

	h = newSession()
	if c := warm(h); c.Role != forumv1.Role_ROLE_MEMBER {
		t.Fatalf("role %v", c.Role)
	}
	setUser(&forumv1.User{Role: forumv1.Role_ROLE_CONVENER}, "role")
	if c, err := s.Authenticate(ctx, h); err != nil || c.Role != forumv1.Role_ROLE_CONVENER {
		t.Errorf("after a role change: %+v, %v; want CONVENER", c, err)
	}
	setUser(&forumv1.User{State: forumv1.UserState_USER_STATE_SUSPENDED}, "state")
	if c, err := s.Authenticate(ctx, h); err == nil && !c.Suspended {
		t.Errorf("after suspension: %+v, want suspended or refused", c)
	}
	setUser(&forumv1.User{State: forumv1.UserState_USER_STATE_ACTIVE}, "state")

	h = newSession()
	warm(h)
	if err := s.SetPassword(ctx, resname.MustParseUser(alice.User), "new hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, h); !errors.Is(err, errs.Unauthenticated) {
		t.Errorf("after a password change: %v, want Unauthenticated", err)
	}

	tokHash := []byte("api-token-hash-0000000000000000a")
	tok, _, err := s.CreateAPIToken(ctx, alice, resname.MustParseUser(alice.User), &forumv1.ApiToken{DisplayName: "ci", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, tokHash, "")
	if err != nil {
		t.Fatal(err)
	}
	if c := warm(tokHash); c.APIToken != tok.Name || len(c.Scopes) != 1 {
		t.Fatalf("API token credential %+v", c)
	}
	if err := s.DeleteAPIToken(ctx, alice, mustParse(resname.ParseAPIToken(tok.Name))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tokHash); !errors.Is(err, errs.Unauthenticated) {
		t.Errorf("after revoking the API token: %v, want Unauthenticated", err)
	}
}

// TestAuthenticateCacheRace revokes a session while readers authenticate
// with it: no Authenticate that starts after DeleteSession returned may
// succeed.
func TestAuthenticateCacheRace(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	for round := range 20 {
		h := []byte(fmt.Sprintf("race-%027d", round))
		if _, err := s.CreateSession(ctx, resname.MustParseUser(alice.User), h, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		noStaleReads(t, func() {
			if err := s.DeleteSession(ctx, h); err != nil {
				t.Error(err)
			}
		}, func() bool {
			_, err := s.Authenticate(ctx, h)
			return err == nil
		}, "a token authenticated after its session was deleted")
	}
}
