package web_test

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// maxThreadPageBytes is the budget of the issue: a thread page with 50
// replies transfers at most 150 KB, every asset included.
const maxThreadPageBytes = 150_000

// replyBody is a reply of realistic length (about 600 bytes of Markdown).
func replyBody(i int) string {
	return fmt.Sprintf("Reply %d. In our programme we **pair each volunteer** with a mentor from the host organisation "+
		"for the first three months, and we hold a short check-in every second week. What made the difference was "+
		"a written agreement that both sides sign before departure: it names the tasks, the working hours, the "+
		"housing and who pays for what.\n\n- a mentor from day one\n- a signed agreement\n- a budget for language lessons\n\n"+
		"See our [hosting guide](https://example.org/guide/%d) for the template we use.", i, i)
}

// TestThreadPageWeight loads a thread with 50 replies in a fresh browser
// (empty cache, logged in) and adds up the bytes every request transferred,
// headers included: the page, its script and style, and the API calls.
// Above 150 KB it fails. It also checks that the static files come
// gzipped, and pages through replies beyond the first 50.
func TestThreadPageWeight(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	th := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": replyBody(0), "tags": []string{"hosting"}})
	tokens := []string{amina, bola, e.admin}
	var names []string
	for i := 1; i <= 50; i++ {
		inReplyTo := ""
		if i%5 == 0 {
			inReplyTo = names[len(names)-2]
		}
		names = append(names, e.reply(tokens[i%3], th, replyBody(i), inReplyTo))
	}

	tb := e.newTab(t)
	tb.setSession(amina)
	tb.resetNetwork()
	tb.open("/" + th)
	tb.wait("50 replies", `document.querySelectorAll('.reply-list > li.reply').length === 50`)
	tb.wait("the composer", `document.querySelector('#reply-form')`)
	transfers := tb.transfers()

	var total float64
	var lines []string
	for _, tr := range transfers {
		total += tr.bytes
		u, _ := url.Parse(tr.url)
		lines = append(lines, fmt.Sprintf("%7.0f  %3d  %-5s %s", tr.bytes, tr.status, tr.encoding, u.RequestURI()))
		if strings.HasPrefix(u.Path, "/static/") && tr.bytes > 1000 && tr.encoding != "gzip" {
			t.Errorf("%s came without gzip (Content-Encoding %q)", u.Path, tr.encoding)
		}
	}
	sort.Strings(lines)
	t.Logf("a thread page with 50 replies: %d requests, %.0f bytes transferred (budget %d):\n  bytes  status enc  URL\n%s",
		len(transfers), total, maxThreadPageBytes, strings.Join(lines, "\n"))
	if total > maxThreadPageBytes {
		t.Errorf("the thread page transferred %.0f bytes, more than the budget of %d", total, maxThreadPageBytes)
	}
	if len(transfers) < 5 {
		t.Errorf("only %d requests seen; the measurement is broken", len(transfers))
	}
	tb.screenshot("thread-50-replies")

	// In-reply-to quotes link to the reply they quote.
	tb.wait("quotes", `document.querySelectorAll('.reply-list .quote a[href^="#r-"]').length === 10`)

	// A 51st reply goes on a second page; the links between pages and the
	// back button work.
	e.reply(bola, th, "The 51st reply.", names[0])
	tb.open("/" + th)
	tb.click(".paging a[rel=next]")
	tb.wait("the second page", `location.search.startsWith('?page=') && document.querySelectorAll('.reply-list > li.reply').length === 1`)
	tb.waitText(".reply-list .body", "The 51st reply.")
	tb.waitText(".reply-list .quote", "Reply 1.") // quoted from the first page
	eval[bool](tb, `(history.back(), true)`)
	tb.waitRendered("/" + th)
	tb.wait("the first page again", `document.querySelectorAll('.reply-list > li.reply').length === 50`)

	// Posting from the first page lands on the page of the new reply.
	tb.fill("#reply-body", "The 52nd reply.")
	tb.click("#post-reply")
	tb.wait("the new reply, focused", `document.activeElement && document.activeElement.matches('li.reply') && document.activeElement.textContent.includes('The 52nd reply.') && location.search.startsWith('?page=')`)

	// Deleting one's own reply leaves a tombstone.
	tb.clickText("li.reply:last-child", "Delete")
	tb.clickText("li.reply:last-child", "Yes, delete")
	tb.waitText("li.reply:last-child .tombstone", "This reply was deleted.")
}
