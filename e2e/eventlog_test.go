package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// readEventLog reads the whole event log as the holder of token, page by
// page, and returns it with the head revision of the last page.
func readEventLog(ctx context.Context, t *testing.T, g *api, token string) ([]*forumv1.Event, uint64) {
	t.Helper()
	var all []*forumv1.Event
	var head uint64
	req := &forumv1.ListEventsRequest{StartRevision: 1, PageSize: 1000}
	for pages := 0; ; pages++ {
		if pages > 100_000 {
			t.Fatalf("ListEvents: more than 100,000 pages; is next_page_token stuck?")
		}
		cctx, cancel := callCtx(ctx, token)
		resp, err := g.events.ListEvents(cctx, req)
		cancel()
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		all = append(all, resp.GetEvents()...)
		head = resp.GetHeadRevision()
		if len(resp.GetEvents()) < int(req.PageSize) && (len(all) == 0 || all[len(all)-1].GetRevision() >= head) {
			return all, head
		}
		req = &forumv1.ListEventsRequest{PageSize: 1000, PageToken: resp.GetNextPageToken()}
	}
}

// verifyEventLog checks the event log of a restarted forumd against what it
// stores (l, read just before): the revisions run from 1 to the head with
// no gap (the reader, an admin, sees every event of this test: users,
// threads and replies in public themes, and the writers' notifications
// without what they say), and every thread and reply has
// exactly one creation event while every creation event names a thread or
// reply that exists, so that no acknowledged write lacks its event and no
// event outlived a write the crash took back.
func verifyEventLog(ctx context.Context, t *testing.T, g *api, token string, l crashListing, cycle int) {
	t.Helper()
	events, head := readEventLog(ctx, t, g, token)
	if uint64(len(events)) != head {
		t.Errorf("restart %d: the event log holds %d events, its head is %d", cycle, len(events), head)
	}
	created := map[string]int{}
	for i, ev := range events {
		if want := uint64(i + 1); ev.GetRevision() != want {
			t.Fatalf("restart %d: event %d of the log has revision %d: a gap or a repeat", cycle, want, ev.GetRevision())
		}
		switch ev.GetType() {
		case forumv1.EventType_EVENT_TYPE_THREAD_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_CREATED:
			created[ev.GetResource()]++
		}
	}
	names := map[string]bool{}
	for _, f := range l.bodies {
		names[f.name] = true
	}
	for name := range names {
		if n := created[name]; n != 1 {
			t.Errorf("restart %d: %s is stored, with %d creation events", cycle, name, n)
		}
	}
	for name := range created {
		if !names[name] {
			t.Errorf("restart %d: the log has a creation event for %s, which is not stored", cycle, name)
		}
	}
	t.Logf("restart %d: the event log holds revisions 1 to %d, one creation event for each of the %d threads and replies", cycle, head, len(names))
}

// searchTimeout bounds how long verifySearch waits for the restarted
// forumd's search index to catch up with the log.
const searchTimeout = 60 * time.Second

// verifySearch checks the search index of a restarted forumd against what
// it stores (l): once the index has caught up (it resumes from its own
// cursor after the kill), searching for the writers' word finds every
// thread and reply they wrote, once, and nothing else. A search's pages
// stop at 10,000 hits, so it searches each cycle's posts apart (their
// titles and bodies name the cycle: "c3").
func verifySearch(ctx context.Context, t *testing.T, g *api, token string, l crashListing, cycle int) {
	t.Helper()
	want := map[string]map[string]bool{} // cycle word → names
	for body, f := range l.bodies {
		for _, w := range strings.Fields(strings.ToLower(body)) {
			if len(w) > 1 && w[0] == 'c' && strings.Trim(w[1:], "0123456789") == "" && strings.Contains(strings.ToLower(body), "crash") {
				if want[w] == nil {
					want[w] = map[string]bool{}
				}
				want[w][f.name] = true
				break
			}
		}
	}
	deadline := time.Now().Add(searchTimeout)
	for word, names := range want {
		for {
			got, dups, err := searchAll(ctx, g, token, "crash "+word)
			if err != nil {
				t.Fatalf("restart %d: search %q: %v", cycle, word, err)
			}
			missing, extra := 0, 0
			for n := range names {
				if !got[n] {
					missing++
				}
			}
			for n := range got {
				if !names[n] {
					extra++
				}
			}
			if extra > 0 {
				t.Errorf("restart %d: searching %q finds %d posts that are not stored", cycle, word, extra)
				break
			}
			if missing == 0 && dups == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("restart %d: searching %q misses %d of %d stored posts, and finds %d twice, after %v", cycle, word, missing, len(names), dups, searchTimeout)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("restart %d: search finds every one of the posts of %d cycles", cycle, len(want))
}

// searchAll returns the names of every hit of query, page by page, and
// how many it found more than once: pages are read at offsets, so while
// the index is catching up a post it adds can push one from a page read
// onto the next.
func searchAll(ctx context.Context, g *api, token, query string) (map[string]bool, int, error) {
	got := map[string]bool{}
	dups := 0
	req := &forumv1.SearchRequest{Query: query, PageSize: 100}
	for {
		cctx, cancel := callCtx(ctx, token)
		resp, err := g.search.Search(cctx, req)
		cancel()
		if err != nil {
			return nil, 0, err
		}
		for _, h := range resp.GetHits() {
			if got[h.GetName()] {
				dups++
			}
			got[h.GetName()] = true
		}
		if resp.GetNextPageToken() == "" {
			return got, dups, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}
