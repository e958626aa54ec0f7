package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// Open a database, add a user, a thread and a reply, and list the replies.
func Example() {
	dir, _ := os.MkdirTemp("", "forum-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := store.Open(filepath.Join(dir, "forum.db"), store.Options{})
	if err != nil {
		panic(err)
	}
	defer st.Close()

	u, _ := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: "amina", DisplayName: "Amina", Role: forumv1.Role_ROLE_MEMBER}, "hash", "")
	amina := authz.Actor{User: u.Name, Role: u.Role}
	th, _ := st.CreateThread(ctx, amina, &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "Peer learning"}, "")
	name, _ := resname.ParseThread(th.Name)
	st.CreateReply(ctx, amina, name, &forumv1.Reply{Body: "A first idea"}, "")

	replies, next, _ := st.ListReplies(ctx, amina, name, 25, "")
	th, _ = st.GetThread(ctx, amina, name)
	fmt.Println(th.Name, th.ReplyCount, len(replies), next == "")
	fmt.Println(replies[0].Name, replies[0].Author)
	// Output:
	// threads/1 1 1 true
	// threads/1/replies/1 users/1
}
