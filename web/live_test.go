package web_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/forumhq/forum/internal/forumdtest"
)

// TestLivePages is issue 14's browser test of live pages. Amina reads her
// thread; Bola, through the JSON API, replies, edits the reply and deletes
// it, and each change shows on her page without a reload (the page's
// elements stay, only the reply's changes), the new reply announced to
// screen readers. A convener's change of the thread's title shows too,
// and while she writes such a change is offered instead.
// Another browser context, on the theme's page, learns of a new thread
// and shows it on request. Then forumd stops (SIGTERM) and starts again on
// the same data and ports; a reply posted after the restart still appears
// on Amina's page, once: its EventSource reconnected and caught up.
func TestLivePages(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	chidi := e.login("chidi", convenerPass)
	th := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "What worked for you?"})
	first := e.reply(amina, th, "A mentor from day one.", "")

	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	a.waitText(".reply-list li.reply .body", "A mentor from day one.")
	// Marks that a reload, or a new rendering of the page, would lose.
	eval[bool](a, `(window.__live = 1, document.querySelector('#replies-h').__live = 1, true)`)
	stillHere := func(what string) {
		t.Helper()
		if !eval[bool](a, `window.__live === 1 && document.querySelector('#replies-h').__live === 1`) {
			a.fail("the page was reloaded or rendered again for %s", what)
		}
	}

	// A reply by someone else appears, quoting the first, and is
	// announced.
	r2 := e.reply(bola, th, "And a **signed agreement** before departure.", first)
	anchor := "#r-" + r2[strings.LastIndexByte(r2, '/')+1:]
	a.waitText(anchor+" .body strong", "signed agreement")
	a.waitText(anchor+" .meta", "Bola Adeyemi")
	a.waitText(anchor+" .quote", "A mentor from day one.")
	a.waitText("#replies-h", "2 replies")
	a.waitText("#announce", "New reply from Bola Adeyemi.")
	stillHere("a new reply")

	// Its edit and its deletion show in place.
	e.call(bola, "PATCH", "/v1/"+r2, map[string]any{"body": "And a signed agreement, in both languages."}, nil)
	a.waitText(anchor+" .body", "in both languages.")
	a.waitText(anchor+" .meta", "edited")
	e.call(bola, "DELETE", "/v1/"+r2, nil, nil)
	a.waitText(anchor+" .tombstone", "This reply was deleted.")
	a.waitText(anchor+" .tombstone", "Removed by its author.")
	a.waitText("#replies-h", "1 reply")
	stillHere("an edit and a deletion")

	// Amina's own reply, posted from the page, is there once.
	a.fill("#reply-body", "Thank you both.")
	a.click("#post-reply")
	a.waitText(".reply-list li.reply .body", "Thank you both.")
	a.wait("her reply once", `[...document.querySelectorAll('.reply-list li.reply .body')].filter((b) => b.textContent.includes('Thank you both.')).length === 1`)

	// A convener's change to the thread shows (the page renders again, as
	// the thread's actions may have changed).
	e.call(chidi, "PATCH", "/v1/"+th, map[string]any{"title": "Hosting volunteers from abroad (2025)"}, nil)
	a.waitText("h1#thread-title", "(2025)")
	a.waitRendered("/" + th)
	if eval[int](a, `window.__live`) != 1 {
		a.fail("the page was reloaded for a change of the thread")
	}

	// While she writes, a change to the thread is offered, not forced on
	// her; her draft stays.
	a.fill("#reply-body", "Half a thought")
	e.call(chidi, "PATCH", "/v1/"+th, map[string]any{"pinned": true}, nil)
	a.waitText("#thread-changed", "This thread has just changed.")
	a.waitText("#announce", "This thread has just changed.")
	if got := eval[string](a, `document.querySelector('#reply-body').value`); got != "Half a thought" {
		a.fail("the draft is %q after the change was offered", got)
	}
	a.clickText("#thread-changed", "Show the changes")
	a.waitText(".thread .badges", "Pinned")
	a.wait("the draft kept", `document.querySelector('#reply-body')?.value === 'Half a thought'`)
	a.fill("#reply-body", "")

	// Another browser context, on the theme's page: a new thread is
	// counted and shown on request.
	b := e.newTab(t)
	b.setSession(bola)
	b.open("/themes/knowledge-exchange")
	b.waitText(".threads", "Hosting volunteers from abroad (2025)")
	e.thread(chidi, map[string]any{"title": "Budgets for language lessons", "body": "Who pays?"})
	b.waitText("#new-threads button", "1 new thread: show it")
	b.waitText("#announce", "1 new thread: show it")
	b.clickText("#new-threads", "1 new thread: show it")
	b.waitText(".threads", "Budgets for language lessons")

	// One more reply, so that Amina's stream has an event id to resume
	// after; then forumd stops and starts again on the same data and ports
	// (a later flag wins over forumdtest's ephemeral ones), so the pages'
	// origin and their sessions stay.
	eval[bool](a, `(document.querySelector('#replies-h').__live = 1, true)`)
	// What each stream request after the stop carried: its URL, and the
	// headers as sent (ExtraInfo: with those the network stack adds, such
	// as Last-Event-ID); and whether it was answered (attempts while forumd
	// is down are not). Before the stop, the id of the last event the page
	// received: the reply's, or a later one the same stream carries (the
	// notification forumd makes of the reply for Amina, whose thread it is).
	var (
		mu       sync.Mutex
		stopped  bool
		received uint64
		urls     = map[network.RequestID]string{}
		headers  = map[network.RequestID]network.Headers{}
		answered = map[network.RequestID]bool{}
	)
	if err := chromedp.Listen(a.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventEventSourceMessageReceived:
			if id, err := strconv.ParseUint(ev.EventID, 10, 64); err == nil && id > received {
				received = id
			}
		case *network.EventRequestWillBeSent:
			if stopped && strings.Contains(ev.Request.URL, "/v1/events:stream") {
				urls[ev.RequestID] = ev.Request.URL
			}
		case *network.EventRequestWillBeSentExtraInfo:
			if stopped {
				headers[ev.RequestID] = ev.Headers
			}
		case *network.EventResponseReceived:
			answered[ev.RequestID] = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	// forumd makes the notification of the next reply in the background:
	// wait for it, and for the page to have it (its bell counts it).
	a.wait("the bell's count", `document.querySelector('#bell').dataset.count !== undefined`)
	bell := eval[int](a, `Number(document.querySelector('#bell').dataset.count)`)
	r3 := e.reply(bola, th, "One more idea: a buddy.", "")
	a.waitText("#r-"+r3[strings.LastIndexByte(r3, '/')+1:]+" .body", "One more idea: a buddy.")
	e.waitNotification(amina, r3)
	a.wait("the notification of the reply on the bell", `Number(document.querySelector('#bell').dataset.count) > `+strconv.Itoa(bell))
	rev := e.revisionOf(bola, th, r3)
	streamsBefore := a.eventStreams()
	httpAddr, grpcAddr, data := e.srv.HTTPAddr, e.srv.GRPCAddr, e.srv.DataDir
	mu.Lock()
	stopped = true
	mu.Unlock()
	t0 := time.Now()
	e.srv.Stop()
	t.Logf("forumd stopped in %v", time.Since(t0)) // not asserted: shown
	mu.Lock()
	last := received // nothing comes while forumd is down
	mu.Unlock()
	if last < rev {
		t.Fatalf("the page received events up to %d, before the reply's (%d)", last, rev)
	}
	e.srv = forumdtest.StartProcess(t, forumd(t), data, forumdtest.Options{RateLimits: "off", Args: []string{"--http-addr", httpAddr, "--grpc-addr", grpcAddr}})
	if e.srv.HTTPAddr != httpAddr {
		t.Fatalf("forumd came back on %s, not %s", e.srv.HTTPAddr, httpAddr)
	}
	r4 := e.reply(bola, th, "Posted after the restart.", "")
	anchor = "#r-" + r4[strings.LastIndexByte(r4, '/')+1:]
	a.waitText(anchor+" .body", "Posted after the restart.")
	a.wait("each reply once", `(() => { const ids = [...document.querySelectorAll('.reply-list > li.reply')].map((li) => li.id); return ids.length === 5 && new Set(ids).size === 5; })()`)
	stillHere("a reply after the restart")
	if n := a.eventStreams(); n <= streamsBefore {
		t.Errorf("the page opened %d event streams before the restart and %d in all: it did not reconnect", streamsBefore, n)
	}
	// Every reconnection resumed after the last event received: with
	// Last-Event-ID (EventSource's own), or from the revision after it (the
	// page's, when EventSource gave up).
	mu.Lock()
	var resumes []string
	for req, u := range urls {
		if !answered[req] {
			continue
		}
		q, _ := url.Parse(u)
		lastID, start := "", q.Query().Get("start_revision")
		for k, v := range headers[req] {
			if strings.EqualFold(k, "Last-Event-ID") {
				lastID = fmt.Sprint(v)
			}
		}
		resumes = append(resumes, fmt.Sprintf("Last-Event-ID %q, start_revision %s", lastID, start))
		if lastID != fmt.Sprint(last) && start != fmt.Sprint(last+1) {
			t.Errorf("a stream request after the restart resumed with Last-Event-ID %q and start_revision %s; the last event the page received was %d", lastID, start, last)
		}
	}
	mu.Unlock()
	t.Logf("stream requests after the stop (last event received: %d): %q", last, resumes)
	if len(resumes) == 0 {
		t.Error("no stream request answered after the stop")
	}
	// The theme's page reconnected too.
	e.thread(chidi, map[string]any{"title": "Insurance for volunteers", "body": "Which policy?"})
	b.waitText("#new-threads button", "1 new thread: show it")
}

// revisionOf returns the revision of the event that created reply in
// thread, as the event log lists it.
func (e *env) revisionOf(token, thread, reply string) uint64 {
	e.t.Helper()
	var res struct {
		Events []struct {
			Resource string
			Revision uint64 `json:",string"`
		}
	}
	e.call(token, "GET", "/v1/events?pageSize=1000&filter="+url.QueryEscape(`thread = "`+thread+`" AND type = "reply.created"`), nil, &res)
	for _, ev := range res.Events {
		if ev.Resource == reply {
			return ev.Revision
		}
	}
	e.t.Fatalf("no reply.created event for %s in %+v", reply, res)
	return 0
}

// eventStreams returns how many requests for the event stream the tab has
// made.
func (tb *tab) eventStreams() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	n := 0
	for _, id := range tb.order {
		if strings.Contains(tb.network[id].url, "/v1/events:stream") {
			n++
		}
	}
	return n
}

// waitNotification waits (10 s at most) until the user of token has a
// notification of post (a thread or a reply): forumd makes them in the
// background.
func (e *env) waitNotification(token, post string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var res struct{ Notifications []struct{ Post string } }
		e.call(token, "GET", "/v1/users/me/notifications?pageSize=100", nil, &res)
		for _, n := range res.Notifications {
			if n.Post == post {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("after 10 s, no notification of %s: %+v", post, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
