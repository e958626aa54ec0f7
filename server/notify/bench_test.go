package notify

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// BenchmarkFanOut: watchers=N users watch a theme; b.N replies are
// written, one at a time, in a thread of it, with the notifier running as
// forumd runs it (fsync on). For each reply it measures the time from
// CreateReply returning to the notifier's cursor passing the reply's
// event: every watcher told. It reports p50 and the maximum ("-ms"), and
// notifications made a second.
func BenchmarkFanOut(b *testing.B) {
	for _, watchers := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			st, err := store.Open(filepath.Join(b.TempDir(), "forum.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := b.Context()
			theme := store.DemoThemes[0].Name
			for i := range watchers {
				u, err := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: fmt.Sprintf("watcher%05d", i), DisplayName: "W", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := resname.SubscriptionTo(resname.MustParseUser(u.Name), theme)
				if _, err := st.SetSubscription(ctx, n, forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING, true); err != nil {
					b.Fatal(err)
				}
			}
			w, err := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: "writer", DisplayName: "Writer", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
			if err != nil {
				b.Fatal(err)
			}
			writer := authz.Actor{User: w.Name, Role: w.Role}
			th, err := st.CreateThread(ctx, writer, &forumv1.Thread{Theme: theme, Title: "Fan-out", Body: "b", BodyHtml: "<p>b</p>"}, "")
			if err != nil {
				b.Fatal(err)
			}
			n := New(st, nil)
			if err := n.CatchUp(ctx); err != nil { // the thread's own fan-out
				b.Fatal(err)
			}
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if _, err := st.CreateReply(ctx, writer, resname.MustParseThread(th.Name), &forumv1.Reply{Body: fmt.Sprintf("reply %d", i), BodyHtml: "<p>r</p>"}, ""); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				head, err := st.EventHead(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if err := n.CatchUp(ctx); err != nil {
						b.Fatal(err)
					}
					if c, _ := st.NotificationCursor(ctx); c >= head {
						break
					}
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(b.N*watchers)/elapsed.Seconds(), "notifications/s")
		})
	}
}
