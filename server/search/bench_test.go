package search

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store"
)

// benchSentences are the material of the benchmarks' posts: sentences in
// the forum's languages, mixed.
var benchSentences = []string{
	"Our volunteers organised workshops for host families in Nairobi and Mombasa.",
	"The national volunteer programme shared its recognition framework with partners.",
	"Les bénévoles ont été formés à l'accueil des familles d'hôtes pendant trois semaines.",
	"Nous avons partagé le guide de reconnaissance du volontariat avec les ministères.",
	"Los voluntarios colaboraron en programas conjuntos con las universidades locales.",
	"El intercambio de conocimientos entre agencias fortaleció la cooperación Sur-Sur.",
	"我们在北京组织了志愿者培训活动，并与合作伙伴分享了经验。",
	"서울에서 자원봉사자 교육을 진행했으며 지역 대학과 협력했습니다.",
	"東京でボランティアの研修を行い、参加者の経験を共有しました。",
	"تطوع الشباب في برامج مشتركة مع الجامعات لتبادل المعرفة",
	"Reciprocal placements need clear insurance and visa guidance for each country.",
	"The joint programme's budget was approved by the steering committee on Tuesday.",
}

// benchWords are words that the queries look for, one of which each post
// carries, so that a query's hits are about 1 in len(benchWords) posts.
var benchWords = []string{"harambee", "ubuntu", "sawubona", "kaizen", "solidaridad", "entraide", "minga", "gotong", "bayanihan", "tequio"}

// benchPost returns post i of the benchmarks' corpus: three sentences and
// one of benchWords.
func benchPost(r *rand.Rand, i int) Change {
	var b strings.Builder
	for range 3 {
		b.WriteString(benchSentences[r.IntN(len(benchSentences))])
		b.WriteByte(' ')
	}
	b.WriteString(benchWords[i%len(benchWords)])
	name := fmt.Sprintf("threads/%d/replies/%d", i/20+1, i%20+1)
	return Change{Name: name, Post: &Post{
		Name: name, Thread: fmt.Sprintf("threads/%d", i/20+1), Theme: fmt.Sprintf("themes/t%d", i%8),
		Author: fmt.Sprintf("users/%d", i%500+1), Country: []string{"KE", "FR", "PE", "CN", "KR", "JP", "EG"}[i%7],
		Kind: "THREAD_KIND_DISCUSSION", State: "THREAD_STATE_OPEN",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute), Text: b.String(),
	}}
}

// BenchmarkIndexing indexes posts in batches of 512, as the indexer
// applies the log: b.N posts; it reports posts/s.
func BenchmarkIndexing(b *testing.B) {
	x, err := Open(filepath.Join(b.TempDir(), "search"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := 0; i < b.N; {
		var batch []Change
		for ; len(batch) < batchEvents && i < b.N; i++ {
			batch = append(batch, benchPost(r, i))
		}
		if err := x.Apply(batch, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// benchIndex returns an index of n posts of the benchmarks' corpus, built
// once in the system's temporary directory and kept there for the next
// run (remove forum-search-bench-* to rebuild), and its size on disk.
func benchIndex(b *testing.B, n int) (*Index, int64) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("forum-search-bench-%d-v%s", n, mappingVersion))
	x, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if c, _ := x.Cursor(); c != uint64(n) {
		start := time.Now()
		if err := x.Reset(); err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < n; {
			var batch []Change
			for ; len(batch) < 4096 && i < n; i++ {
				batch = append(batch, benchPost(r, i))
			}
			through := uint64(0)
			if i == n {
				through = uint64(n)
			}
			if err := x.Apply(batch, through); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("built an index of %d posts in %v", n, time.Since(start).Round(time.Second))
	}
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	return x, size
}

// BenchmarkSearch searches an index of posts=N posts (100,000, and
// 1,000,000 when -search.large is set) with queries of one word (~10 % of
// the posts match), two words, a phrase, a word with a theme filter, and
// an excluded word, as a reader who may see 6 of 8 themes; 20 hits with
// snippets. It reports p50 and p99 per query and the index's size.
func BenchmarkSearch(b *testing.B) {
	sizes := []int{100_000}
	if os.Getenv("FORUM_SEARCH_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}
	queries := []string{"harambee", "volunteers harambee", `"host families" ubuntu`, "kaizen -minga", "voluntarios OR bénévoles", "志愿者 gotong", "서울 tequio"}
	themes := []string{"themes/t0", "themes/t1", "themes/t2", "themes/t3", "themes/t4", "themes/t5"}
	for _, n := range sizes {
		b.Run("posts="+strconv.Itoa(n), func(b *testing.B) {
			x, size := benchIndex(b, n)
			defer x.Close()
			var parsed []*Query
			for _, q := range queries {
				pq, err := ParseQuery(q)
				if err != nil {
					b.Fatal(err)
				}
				parsed = append(parsed, pq)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				req := Request{Query: parsed[i%len(parsed)], Themes: themes, Size: 20}
				if i%3 == 1 {
					req.Filter = Filter{Conds: []Cond{{Field: FieldCountry, Value: "KE"}}}
				}
				if i%5 == 2 {
					req.Newest = true
				}
				start := time.Now()
				res, err := x.Search(req)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if res.Total == 0 {
					b.Fatalf("%q found nothing", queries[i%len(queries)])
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(size)/(1<<20), "index-MiB")
		})
	}
}

// BenchmarkIndexLag measures how soon a post is searchable after its write
// is acknowledged, with the indexer running as forumd runs it: one store
// (fsync on), writers creating replies at 1,000 a second (open loop: a
// write waits for no earlier one), b.N replies. A write's lag is from
// CreateReply returning to the index's cursor reaching the log's head as
// it was just after (a conservative figure: that head may be a later
// write's), sampled every 0.5 ms. It reports p50, p99 and the maximum.
func BenchmarkIndexLag(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(filepath.Join(dir, "forum.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	x, err := Open(filepath.Join(dir, "search"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	u, err := st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: "writer", DisplayName: "W", Role: forumv1.Role_ROLE_MEMBER}, "x", "")
	if err != nil {
		b.Fatal(err)
	}
	actor := authz.Actor{User: u.Name, Role: forumv1.Role_ROLE_MEMBER}
	th, err := st.CreateThread(ctx, actor, &forumv1.Thread{Theme: store.DemoThemes[0].Name, Title: "Lag", BodyHtml: "<p>lag</p>"}, "")
	if err != nil {
		b.Fatal(err)
	}
	ix := NewIndexer(st, x, nil)
	ix.Share = DefaultShare // as forumd runs it
	done := make(chan struct{})
	go func() { defer close(done); ix.Run(ctx) }()
	defer func() { cancel(); <-done }()

	type sample struct {
		at  time.Time
		cur uint64
	}
	var (
		mu      sync.Mutex
		samples []sample
		acks    []sample // when a write returned, and the head just after
		writes  sync.WaitGroup
	)
	stopPoll := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-t.C:
			}
			c, err := x.Cursor()
			if err == nil {
				mu.Lock()
				samples = append(samples, sample{time.Now(), c})
				mu.Unlock()
			}
		}
	}()
	b.ResetTimer()
	start, period := time.Now(), time.Millisecond
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b.N {
		time.Sleep(time.Until(start.Add(time.Duration(i) * period)))
		body := benchSentences[r.IntN(len(benchSentences))]
		writes.Go(func() {
			if _, err := st.CreateReply(ctx, actor, resname.MustParseThread(th.Name), &forumv1.Reply{Body: body, BodyHtml: "<p>" + body + "</p>"}, ""); err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			head, err := st.EventHead(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			acks = append(acks, sample{now, head})
			mu.Unlock()
		})
	}
	writes.Wait()
	// Until the index has caught up with the last write.
	last, _ := st.EventHead(ctx)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if c, _ := x.Cursor(); c >= last {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the index did not catch up in a minute")
		}
	}
	time.Sleep(time.Millisecond)
	close(stopPoll)
	<-polled
	b.StopTimer()
	var lags []time.Duration
	for _, a := range acks {
		i := sort.Search(len(samples), func(i int) bool { return samples[i].cur >= a.cur && !samples[i].at.Before(a.at) })
		if i == len(samples) {
			b.Fatalf("no sample reached revision %d", a.cur)
		}
		lags = append(lags, samples[i].at.Sub(a.at))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(acks))/time.Since(start).Seconds(), "writes/s")
}
