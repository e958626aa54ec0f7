package server

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
)

// testEnv is a forum server on an in-memory connection, backed by a real
// store in a temporary file, with four users logged in.
type testEnv struct {
	srv     *Server
	store   *store.Store
	conn    *grpc.ClientConn
	themes  forumv1.ThemeServiceClient
	threads forumv1.ThreadServiceClient
	replies forumv1.ReplyServiceClient
	authc   forumv1.AuthServiceClient
	users   forumv1.UserServiceClient
	indexer *search.Indexer // nil if the Config set Search

	admin, convener, alice, bob testUser
}

type testUser struct {
	name  string // users/{id}
	token string
}

// ctx returns a context that carries the user's bearer token.
func (u testUser) ctx(t testing.TB) context.Context {
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+u.token)
}

const testPassword = "a long enough password"

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvWith(t, Config{})
}

// newTestEnvWith is newTestEnv with a server configuration; its Store is
// opened here unless set, and closed with the environment.
func newTestEnvWith(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	if cfg.Store == nil {
		st, err := store.Open(filepath.Join(t.TempDir(), "forum.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Store = st
	}
	st := cfg.Store
	var indexer *search.Indexer
	if cfg.Search == nil {
		idx, err := search.Open(filepath.Join(t.TempDir(), "search"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		cfg.Search = idx
		indexer = search.NewIndexer(st, idx, slog.New(slog.DiscardHandler))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // runs after serveBufconn's, which stops the server
	conn := serveBufconn(t, srv)
	e := &testEnv{
		indexer: indexer,
		srv:     srv,
		store:   st,
		conn:    conn,
		themes:  forumv1.NewThemeServiceClient(conn),
		threads: forumv1.NewThreadServiceClient(conn),
		replies: forumv1.NewReplyServiceClient(conn),
		authc:   forumv1.NewAuthServiceClient(conn),
		users:   forumv1.NewUserServiceClient(conn),
	}
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		p        *testUser
		username string
		role     forumv1.Role
	}{
		{&e.admin, "admin", forumv1.Role_ROLE_ADMIN},
		{&e.convener, "convener", forumv1.Role_ROLE_CONVENER},
		{&e.alice, "alice", forumv1.Role_ROLE_MEMBER},
		{&e.bob, "bob", forumv1.Role_ROLE_MEMBER},
	} {
		created, err := st.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: u.username, DisplayName: u.username, Role: u.role}, hash, "")
		if err != nil {
			t.Fatal(err)
		}
		token, tokenHash := auth.NewToken(auth.SessionPrefix)
		if _, err := st.CreateSession(t.Context(), resname.MustParseUser(created.Name), tokenHash, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		*u.p = testUser{name: created.Name, token: token}
	}
	return e
}

// indexed brings the search index up to date with the store (a running
// forumd does it after every commit).
func (e *testEnv) indexed(t testing.TB) {
	t.Helper()
	if e.indexer == nil {
		t.Fatal("this environment has no indexer: its Config set Search")
	}
	if err := e.indexer.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// mustThread creates a thread as u.
func (e *testEnv) mustThread(t testing.TB, u testUser, th *forumv1.Thread) *forumv1.Thread {
	t.Helper()
	if th.Theme == "" {
		th.Theme = "themes/knowledge-exchange"
	}
	out, err := e.threads.CreateThread(u.ctx(t), &forumv1.CreateThreadRequest{Thread: th})
	if err != nil {
		t.Fatalf("CreateThread: %v", err)
	}
	return out
}

// mustReply adds a reply as u.
func (e *testEnv) mustReply(t testing.TB, u testUser, thread, body string) *forumv1.Reply {
	t.Helper()
	out, err := e.replies.CreateReply(u.ctx(t), &forumv1.CreateReplyRequest{Parent: thread, Reply: &forumv1.Reply{Body: body}})
	if err != nil {
		t.Fatalf("CreateReply: %v", err)
	}
	return out
}

// serveBufconn serves srv's gRPC server on an in-memory listener and
// returns a connection to it; both are closed, and the server stopped, in
// t.Cleanup.
func serveBufconn(t testing.TB, srv *Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go srv.GRPC().Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.GRPC().Stop()
	})
	return conn
}
