package store

import (
	"fmt"
	"path/filepath"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
)

// BenchmarkEditReply edits a reply: the first edit of replies never edited
// (which stores the replaced version and the edit's), and an edit of a
// reply with 1,000 revisions already (which stores the edit's only, after
// one seek for the last number). The second must cost no more than the
// first (docs/PERFORMANCE.md). The store runs without fsync.
func BenchmarkEditReply(b *testing.B) {
	for _, prior := range []int{0, 1000} {
		b.Run(fmt.Sprintf("revisions=%d", prior), func(b *testing.B) {
			// Without fsync, so that the figure is the work of an edit, not
			// the disk's latency.
			s, err := Open(filepath.Join(b.TempDir(), "forum.db"), Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			alice := member(b, s, "alice", forumv1.Role_ROLE_MEMBER)
			th, err := s.CreateThread(b.Context(), alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"}, "")
			if err != nil {
				b.Fatal(err)
			}
			tn := resname.MustParseThread(th.Name)
			reply := func() resname.Reply {
				r, err := s.CreateReply(b.Context(), alice, tn, &forumv1.Reply{Body: "a reply", BodyHtml: "<p>a reply</p>"}, "")
				if err != nil {
					b.Fatal(err)
				}
				return resname.MustParseReply(r.Name)
			}
			edit := func(n resname.Reply, i int) {
				body := fmt.Sprintf("edit %d", i)
				if _, err := s.UpdateReply(b.Context(), alice, n, &forumv1.Reply{Body: body, BodyHtml: "<p>" + body + "</p>"}); err != nil {
					b.Fatal(err)
				}
			}
			var targets []resname.Reply
			if prior == 0 {
				for range b.N {
					targets = append(targets, reply())
				}
			} else {
				r := reply()
				for i := range prior {
					edit(r, i)
				}
				targets = []resname.Reply{r}
			}
			b.ResetTimer()
			for i := range b.N {
				edit(targets[min(i, len(targets)-1)], i)
			}
		})
	}
}
