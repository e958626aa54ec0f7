package web_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestBigRepliesThread opens, in chromium, the audit's unreadable thread
// (issue 12): 30 replies of 64 KiB whose HTML is ~360 KB each. Before the
// store bounded pages by bytes, the thread page's list of replies failed
// (429, "trying to send message larger than max"). Now the first page
// shows the replies that fit, with a link to the next page, and following
// the links shows all 30, in order.
func TestBigRepliesThread(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	th := e.thread(amina, map[string]any{"title": "Many links", "body": "x"})
	const n = 30
	for i := range n {
		e.reply(amina, th, fmt.Sprintf("Reply %d. ", i)+strings.Repeat("https://a.io/x ", (64<<10-20)/15), "")
	}
	c := e.newTab(t)
	c.setSession(amina)
	c.open("/" + th)
	seen := 0
	for page := 0; ; page++ {
		c.wait("replies shown", `document.querySelectorAll('li.reply').length > 0`)
		texts := eval[[]string](c, `[...document.querySelectorAll('li.reply')].map((li) => li.textContent.slice(0, 400))`)
		for _, s := range texts {
			if !strings.Contains(s, fmt.Sprintf("Reply %d. ", seen)) {
				t.Fatalf("page %d: reply %d reads %.80q", page, seen, s)
			}
			seen++
		}
		if seen == n {
			if page == 0 {
				t.Errorf("all %d replies on the first page: the byte bound did not end it", n)
			}
			break
		}
		if !eval[bool](c, `!!document.querySelector('a[rel=next]')`) {
			t.Fatalf("page %d ends at reply %d of %d without a link to the next page", page, seen, n)
		}
		c.click("a[rel=next]")
		c.wait("the next page", fmt.Sprintf(`(document.querySelector('li.reply') || {textContent: ''}).textContent.includes('Reply %d. ')`, seen))
	}
}
