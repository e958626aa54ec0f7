package webhook_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/authz"
)

// BenchmarkDeliveryRate: one webhook to a fast receiver on 127.0.0.1,
// while a writer makes events at a fixed rate (1,000 a second); b.N is the
// number of events. It reports the delay from each event's time (in its
// writing transaction, before the commit's fsync) to its arrival at the
// receiver (p50, p99, max) and the events delivered a second, so that a
// worker that does not keep up shows as a delay that grows with b.N.
func BenchmarkDeliveryRate(b *testing.B) {
	const rate = 1000
	f := newFixture(b)
	b.Cleanup(func() { f.st.Close() })
	var mu sync.Mutex
	var delays []time.Duration
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		now := time.Now()
		// "eventTime":"2026-12-07T22:00:00.123456789Z"
		if i := bytes.Index(body, []byte(`"eventTime":"`)); i >= 0 {
			rest := body[i+len(`"eventTime":"`):]
			if j := bytes.IndexByte(rest, '"'); j > 0 {
				if at, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
					mu.Lock()
					delays = append(delays, now.Sub(at))
					if len(delays) == b.N {
						close(all)
					}
					mu.Unlock()
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	if _, err := f.st.CreateWebhook(b.Context(), f.owner, f.user, &forumv1.Webhook{TargetUrl: srv.URL, EventTypes: []string{"organization.created"}}, "whsec_bench"); err != nil {
		b.Fatal(err)
	}
	stop := f.start(b)
	defer stop()
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		if _, err := f.st.CreateOrganization(b.Context(), authz.SystemActor, fmt.Sprintf("org-%d-%d", b.N, i), &forumv1.Organization{DisplayName: "O"}, ""); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		mu.Lock()
		n := len(delays)
		mu.Unlock()
		b.Fatalf("the receiver got %d of %d events within a minute of the last write", n, b.N)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	at := func(q float64) float64 { return float64(delays[int(q*float64(len(delays)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
	b.ReportMetric(float64(len(delays))/b.Elapsed().Seconds(), "delivered/s")
}
