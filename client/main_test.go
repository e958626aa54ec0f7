package client_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/forumdtest"
)

// forumdBin is the forumd binary TestMain builds.
var forumdBin string

func TestMain(m *testing.M) {
	// A failed build fails, never skips: these tests are the client's check
	// against the real server.
	os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin}))
}

// callTimeout bounds every call a test makes; generous for a loaded
// machine.
const callTimeout = 30 * time.Second

// Passwords of the seeded users.
const (
	adminPassword    = "admin password 123"
	convenerPassword = "convener password 123"
	memberPassword   = "member password 123"
)

// fixture is a running forumd with three users, and a logged-in client for
// each plus an anonymous one.
type fixture struct {
	srv                                *forumdtest.Server
	admin, convener, member, anonymous *client.Client
}

// start seeds an admin, a convener and a member into a new database, starts
// forumd on it and logs each in.
func start(t *testing.T) *fixture {
	t.Helper()
	data := t.TempDir()
	forumdtest.MustCreateUser(t, forumdBin, data, "admin", "Ada Admin", "admin", adminPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "convener", "Amina Convener", "convener", convenerPassword)
	forumdtest.MustCreateUser(t, forumdBin, data, "member", "Mo Member", "member", memberPassword)
	f := &fixture{srv: forumdtest.Start(t, forumdBin, data)}
	f.admin = login(t, f.srv.GRPCAddr, "admin", adminPassword)
	f.convener = login(t, f.srv.GRPCAddr, "convener", convenerPassword)
	f.member = login(t, f.srv.GRPCAddr, "member", memberPassword)
	f.anonymous = newClient(t, f.srv.GRPCAddr)
	return f
}

// newClient returns a Client of target, closed in t.Cleanup.
func newClient(t *testing.T, target string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(t.Context(), target, append([]client.Option{client.WithTimeout(callTimeout)}, opts...)...)
	if err != nil {
		t.Fatalf("client.New(%q): %v", target, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login returns a Client of target logged in as username.
func login(t *testing.T, target, username, password string, opts ...client.Option) *client.Client {
	t.Helper()
	c := newClient(t, target, opts...)
	if _, err := c.Login(t.Context(), username, password); err != nil {
		t.Fatalf("log in as %s: %v", username, err)
	}
	return c
}

// callCtx returns a context bounded by callTimeout.
func callCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return c
}

// mustThread creates a thread in theme as c.
func mustThread(t *testing.T, c *client.Client, theme, title string) *forumv1.Thread {
	t.Helper()
	th, err := c.CreateThread(callCtx(t), &forumv1.Thread{Theme: theme, Title: title, Body: "Body of " + title})
	if err != nil {
		t.Fatalf("create thread %q: %v", title, err)
	}
	return th
}

// mustReply adds a reply to thread as c.
func mustReply(t *testing.T, c *client.Client, thread, body string) *forumv1.Reply {
	t.Helper()
	r, err := c.CreateReply(callCtx(t), thread, &forumv1.Reply{Body: body})
	if err != nil {
		t.Fatalf("reply to %s: %v", thread, err)
	}
	return r
}
