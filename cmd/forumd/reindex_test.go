package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/app"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/search"
	"github.com/forumhq/forum/server/store"
)

// TestAdminReindex checks that `forumd admin reindex` builds the index of
// a data directory from its database, drawing its progress, and that the
// index then finds every post, with its cursor at the log's head.
func TestAdminReindex(t *testing.T) {
	dir := t.TempDir()
	st, err := app.OpenStore(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u, err := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: "amina", DisplayName: "Amina", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		t.Fatal(err)
	}
	a := authz.Actor{User: u.Name, Role: forumv1.Role_ROLE_MEMBER}
	var posts []string
	for i := range 3 {
		th, err := st.CreateThread(ctx, a, &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Harambee thread", BodyHtml: "<p>harambee</p>"}, "")
		if err != nil {
			t.Fatal(err)
		}
		posts = append(posts, th.Name)
		for range i {
			r, err := st.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "harambee", BodyHtml: "<p>harambee reply</p>"}, "")
			if err != nil {
				t.Fatal(err)
			}
			posts = append(posts, r.Name)
		}
	}
	head, err := st.EventHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"admin", "reindex", "--data", dir}, mapEnv(nil), strings.NewReader(""), &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "indexed 6 posts") {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(errOut.String(), "[##############################] 100%  6/6 posts") {
		t.Errorf("no full progress bar on stderr: %q", errOut.String())
	}

	x, err := search.Open(filepath.Join(dir, app.SearchDirName))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if c, err := x.Cursor(); err != nil || c != head {
		t.Errorf("cursor %d (%v), head %d", c, err, head)
	}
	q, _ := search.ParseQuery("harambee")
	res, err := x.Search(search.Request{Query: q, Themes: []string{store.DemoThemes[0].Name}, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != uint64(len(posts)) {
		t.Errorf("%d posts found, want %d", res.Total, len(posts))
	}

	// Not while the database is held (another forumd): a clear error.
	st, err = app.OpenStore(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	errOut.Reset()
	if code := run(ctx, []string{"admin", "reindex", "--data", dir}, mapEnv(nil), strings.NewReader(""), &out, &errOut); code != exitError || !strings.Contains(errOut.String(), "stop it first") {
		t.Errorf("while held: exit %d, stderr %q", code, errOut.String())
	}
}
