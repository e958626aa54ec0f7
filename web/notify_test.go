package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// notificationBound is how long a notification may take to light a bell
// on a page that stays open (the notifier runs in the background, the
// event stream carries it).
const notificationBound = 10 * time.Second

// unreadCount returns the unread count of the notifications of the user of
// token, as the API says.
func (e *env) unreadCount(token string) int {
	e.t.Helper()
	var res struct {
		UnreadCount json.Number
	}
	e.call(token, "GET", "/v1/users/me/notifications?pageSize=1", nil, &res)
	if res.UnreadCount == "" {
		return 0 // a zero int64 may be left out
	}
	n, err := res.UnreadCount.Int64()
	if err != nil {
		e.t.Fatalf("unreadCount %q: %v", res.UnreadCount, err)
	}
	return int(n)
}

// subscriptionLevel returns the level of the subscription name of the user
// of token ("users/me/subscriptions/thread-7"), or "" when there is none
// (404).
func (e *env) subscriptionLevel(token, name string) string {
	e.t.Helper()
	code, data := e.do(token, "GET", "/v1/"+name, nil)
	if code == 404 {
		return ""
	}
	var sub struct{ Level string }
	if code != 200 || json.Unmarshal(data, &sub) != nil {
		e.t.Fatalf("GET %s: %d %s", name, code, data)
	}
	return sub.Level
}

// openStreams returns how many of the tab's requests for the event stream
// are still open.
func (tb *tab) openStreams() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	n := 0
	for _, id := range tb.order {
		if tr := tb.network[id]; strings.Contains(tr.url, "/v1/events:stream") && !tr.done {
			n++
		}
	}
	return n
}

// finished reports whether the tab has made a request whose URL contains
// s and whose answer has come.
func (tb *tab) finished(s string) bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, id := range tb.order {
		if tr := tb.network[id]; strings.Contains(tr.url, s) && tr.done && tr.status/100 == 2 {
			return true
		}
	}
	return false
}

// pressEnter presses Enter as a keyboard does: one keyDown that carries
// its text, so that a page that prevents the keydown's default gets no new
// line. (chromedp's KeyEvent sends the text as a separate char event,
// which no keydown handler can stop, unlike a real keyboard's.)
func (tb *tab) pressEnter() {
	tb.t.Helper()
	for _, p := range []input.DispatchKeyEventParams{
		{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"},
		{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
	} {
		if _, err := chromedp.Call(tb.timeout(), input.DispatchKeyEvent, p); err != nil {
			tb.fail("press Enter: %v", err)
		}
	}
}

// waitFor polls cond until it holds, for at most waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitTimeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bellIs is a condition: the bell shows n (no badge for 0).
func bellIs(n int) string {
	if n == 0 {
		return `(() => { const b = document.querySelector('#bell'); return b && b.dataset.count === '0' && b.querySelector('.bell-count').hidden && b.getAttribute('aria-label') === 'Notifications'; })()`
	}
	return fmt.Sprintf(`(() => { const b = document.querySelector('#bell'); const c = b && b.querySelector('.bell-count'); return b && b.dataset.count === '%d' && !c.hidden && c.textContent === '%d' && getComputedStyle(c).display !== 'none'; })()`, n, n)
}

// TestNotifications is issue 16's browser test of the bell and the
// notifications page, with two people in two browser contexts. Bola reads
// a theme's page; Amina, on her thread's page, posts a reply that mentions
// @bola. Bola's page, not reloaded, lights its bell (0 to 1) within
// notificationBound and says so to screen readers; it holds one event
// stream, shared by the page and the bell. A second mention makes 2 (and
// "99+" is how a count over 99 shows). Bola opens the notifications page
// from the bell: both mentions, unread, with who, the thread, the excerpt
// and a link to the reply. Following a link opens the reply in its thread
// and marks that notification read (the bell says 1); "Mark all read"
// marks the other (the bell goes back to 0, and the API agrees). A
// notification that comes while the page is open is offered; past 25,
// "More" adds the next page in place; at 360 px nothing scrolls sideways;
// logged out, there is no bell.
func TestNotifications(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	th := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "What worked for you?"})

	// Bola reads the theme's page: a live page, whose stream also carries
	// his notifications.
	b := e.newTab(t)
	b.setSession(bola)
	b.open("/themes/knowledge-exchange")
	b.waitText(".threads", "Hosting volunteers from abroad")
	b.wait("the bell at 0", bellIs(0))
	eval[bool](b, `(window.__kept = 1, true)`)

	// Amina mentions him in a reply, posted from her page.
	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	a.fill("#reply-body", "Thanks for asking, @bola, what did you do?")
	t0 := time.Now()
	a.click("#post-reply")
	a.waitText(".reply-list li.reply .body a.mention[href='/u/bola']", "@bola")
	first := eval[string](a, `document.querySelector('.reply-list li.reply').id`)

	// Bola's bell goes from 0 to 1, without a reload, and says so.
	deadline := t0.Add(notificationBound)
	for !eval[bool](b, bellIs(1)) {
		if time.Now().After(deadline) {
			b.fail("the bell did not show 1 within %v of the reply", notificationBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the bell showed the mention %v after the reply was posted", time.Since(t0).Round(time.Millisecond))
	b.wait("the bell's name", `document.querySelector('#bell').getAttribute('aria-label') === 'Notifications: 1 unread'`)
	b.waitText("#announce", `New notification: Amina Diallo mentioned you, in “Hosting volunteers from abroad”.`)
	if eval[int](b, `window.__kept || 0`) != 1 {
		b.fail("the page was reloaded")
	}
	// One stream for the page and the bell (closed ones may take a moment
	// to be reported as such).
	waitFor(t, "one open event stream in Bola's tab", func() bool { return b.openStreams() == 1 })
	// The theme's page still learns of new threads on that stream.
	e.thread(amina, map[string]any{"title": "Budgets for language lessons", "body": "Who pays?"})
	b.waitText("#new-threads button", "1 new thread: show it")

	// A second mention, posted through the API: 2.
	second := e.reply(amina, th, "One more thing for @bola.", "")
	b.wait("the bell at 2", bellIs(2))
	// Over 99, the badge says 99+ (the count itself is the server's).
	if got := eval[string](b, `import(document.querySelector('link[href$="/js/notify.js"]').href).then((m) => [m.countText(99), m.countText(100), m.countText(1234)].join(' '))`); got != "99 99+ 99+" {
		t.Errorf("counts 99, 100 and 1234 show as %q", got)
	}

	// The notifications page, from the bell: newest first, both unread.
	b.click("#bell")
	b.waitRendered("/notifications")
	b.waitText("h1", "Notifications")
	b.waitText("#notes-count", "2 unread notifications.")
	b.wait("two unread notifications", `document.querySelectorAll('#notes > li.note.unread').length === 2`)
	b.waitText("#notes > li:nth-child(1) .note-what", "Amina Diallo mentioned you")
	b.waitText("#notes > li:nth-child(1) .note-what .b-new", "Unread")
	b.waitText("#notes > li:nth-child(1) .snippet", "One more thing for @bola.")
	b.waitText("#notes > li:nth-child(2) .snippet", "Thanks for asking, @bola, what did you do?")
	b.wait("links to the replies in their thread", `document.querySelector('#notes > li:nth-child(1) h2 a').getAttribute('href') === `+js("/"+th+"#"+anchorOf(second))+` && document.querySelector('#notes > li:nth-child(2) h2 a').getAttribute('href') === `+js("/"+th+"#"+first)+` && document.querySelector('#notes > li:nth-child(2) h2 a').textContent === 'Hosting volunteers from abroad'`)
	res := eval[a11yResult](b, a11yJS)
	for _, p := range res.Problems {
		t.Errorf("/notifications: %s", p)
	}
	b.screenshot("notifications")

	// Following the older one opens the reply in its thread, focused, and
	// reads that notification.
	b.click("#notes > li:nth-child(2) h2 a")
	b.waitRendered("/" + th)
	b.wait("the mentioning reply focused", `document.activeElement && document.activeElement.id === `+js(first))
	b.wait("the bell at 1", bellIs(1))
	if n := e.unreadCount(bola); n != 1 {
		t.Errorf("after following one notification, the API counts %d unread, want 1", n)
	}

	// Back on the page: one unread (first), one read; mark all read.
	eval[bool](b, `(history.back(), true)`)
	b.waitRendered("/notifications")
	b.wait("one unread, first", `document.querySelectorAll('#notes > li.note.unread').length === 1 && document.querySelector('#notes > li:nth-child(1)').classList.contains('unread') && !document.querySelector('#notes > li:nth-child(2)').classList.contains('unread')`)
	b.click("#mark-all-read")
	b.wait("the bell at 0", bellIs(0))
	b.wait("none unread", `document.querySelectorAll('#notes > li.note.unread, #notes .b-new').length === 0`)
	b.waitText("#notes-count", "No unread notifications.")
	b.waitText("#announce", "All your notifications are marked read.")
	b.wait("focus kept on the button", `document.activeElement && document.activeElement.id === 'mark-all-read'`)
	if n := e.unreadCount(bola); n != 0 {
		t.Errorf("after Mark all read, the API counts %d unread", n)
	}

	// A notification while the page is open is offered, not forced.
	e.reply(amina, th, "And @bola, the budget?", "")
	b.wait("the bell at 1", bellIs(1))
	b.waitText("#new-notes button", "1 new notification: show it")
	b.clickText("#new-notes", "1 new notification: show it")
	b.waitText("#notes > li.unread .snippet", "And @bola, the budget?")

	// More than a page (25): "More" adds the rest in place, focusing the
	// first added.
	for i := range 24 {
		e.reply(amina, th, fmt.Sprintf("Note %d for @bola.", i), "")
	}
	waitFor(t, "25 unread notifications", func() bool { return e.unreadCount(bola) == 25 })
	b.open("/notifications")
	b.waitText("#notes-count", "25 unread notifications.")
	b.wait("a first page of 25", `document.querySelectorAll('#notes > li').length === 25`)
	b.click("#more-notes")
	b.wait("27 in all, the first added focused, no more", `document.querySelectorAll('#notes > li').length === 27 && document.activeElement === document.querySelector('#notes > li:nth-child(26) h2 a') && document.querySelector('#more-notes').hidden`)
	b.wait("the read ones last", `[...document.querySelectorAll('#notes > li')].slice(25).every((li) => !li.classList.contains('unread'))`)
	if n := eval[int](b, `document.querySelectorAll('#notes > li.unread').length`); n != 25 {
		t.Errorf("%d unread notifications listed, want 25", n)
	}

	// At 360 px, nothing scrolls sideways.
	b.viewport(360, 740, true)
	for _, p := range []string{"/notifications", "/" + th} {
		b.open(p)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("at 360 px, %s is %d px wide", p, w)
		}
	}
	b.click("#subscription-toggle")
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("at 360 px, the subscription form makes the page %d px wide", w)
	}
	b.open("/notifications")
	b.screenshot("notifications-360px")
	b.viewport(1280, 900, false)

	// Logged out, there is no bell, and the page asks to log in.
	b.clickText("header nav", "Log out")
	b.waitText("header nav", "Log in")
	b.wait("no bell", `!document.querySelector('#bell')`)
	b.open("/notifications")
	b.waitText("main", "Log in")
}

// TestSubscriptionsAndReadTracking covers the watch control and the read
// position. Bola, on Amina's thread, sees the level "Normal" (no
// subscription), chooses Watching, Muted and Normal again, each a round
// trip the API confirms and a reload shows; on the theme's page he watches
// the theme. Having read the thread, he sees "2 new" on the theme's page
// when two replies come, linking to the first of them, which opens
// focused and marked new; the thread is then read again.
func TestSubscriptionsAndReadTracking(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	th := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "What worked for you?"})
	r1 := e.reply(amina, th, "A mentor from day one.", "")
	subName := "users/me/subscriptions/thread-" + th[strings.LastIndexByte(th, '/')+1:]

	// What the page sends: allow_missing as the query parameter
	// allowMissing, next to the body (the subscription). Without it, a
	// subscription that does not exist is not found; with it, it is made.
	other := e.thread(amina, map[string]any{"title": "Another thread", "body": "Nothing here."})
	otherSub := "/v1/users/me/subscriptions/thread-" + other[strings.LastIndexByte(other, '/')+1:]
	watching := map[string]string{"level": "SUBSCRIPTION_LEVEL_WATCHING"}
	for _, c := range []struct {
		method, query string
		body          any
		want          int
	}{
		{"PATCH", "", watching, 404},
		{"PATCH", "?allowMissing=true", watching, 200},
		{"DELETE", "", nil, 200},
		{"DELETE", "", nil, 404},
		{"DELETE", "?allowMissing=true", nil, 200},
	} {
		if code, data := e.do(bola, c.method, otherSub+c.query, c.body); code != c.want {
			t.Errorf("%s %s%s: %d %s, want %d", c.method, otherSub, c.query, code, data, c.want)
		}
	}

	b := e.newTab(t)
	b.setSession(bola)
	b.open("/" + th)
	b.waitText("#subscription-toggle", "Notifications: Normal")
	// Reading the page moved his read position to the last reply.
	waitFor(t, "the thread marked read", func() bool { return b.finished("/v1/" + th + ":markRead") })

	choose := func(id, level, want string) {
		t.Helper()
		b.click("#subscription-toggle")
		b.wait("the form open, on the current level", `!document.querySelector('#subscription-form').hidden && document.querySelector('#subscription-toggle').getAttribute('aria-expanded') === 'true' && document.activeElement === document.querySelector('#subscription-form input:checked')`)
		b.click("#" + id)
		b.click("#subscription-form button[type=submit]")
		b.waitText("#subscription-toggle", "Notifications: "+level)
		b.waitText("#announce", "Notifications: "+level+". Saved.")
		b.wait("the form closed, focus on the button", `document.querySelector('#subscription-form').hidden && document.activeElement === document.querySelector('#subscription-toggle')`)
		if got := e.subscriptionLevel(bola, subName); got != want {
			t.Errorf("after choosing %s, the subscription's level is %q, want %q", level, got, want)
		}
	}
	b.click("#subscription-toggle")
	b.waitText("#subscription-form legend", "Notifications for this thread")
	b.waitText("#subscription-watching-hint", "You are told of every new reply.")
	b.waitText("#subscription-muted-hint", "not even mentions")
	res := eval[a11yResult](b, a11yJS)
	for _, p := range res.Problems {
		t.Errorf("thread with the subscription form open: %s", p)
	}
	b.screenshot("subscription")
	b.clickText("#subscription-form", "Cancel")
	choose("subscription-watching", "Watching", "SUBSCRIPTION_LEVEL_WATCHING")
	b.open("/" + th)
	b.waitText("#subscription-toggle", "Notifications: Watching")
	choose("subscription-muted", "Muted", "SUBSCRIPTION_LEVEL_MUTED")
	choose("subscription-normal", "Normal", "")
	b.open("/" + th)
	b.waitText("#subscription-toggle", "Notifications: Normal")

	// The theme.
	b.open("/themes/knowledge-exchange")
	b.waitText("#subscription-toggle", "Notifications: Normal")
	b.click("#subscription-toggle")
	b.waitText("#subscription-form legend", "Notifications for this theme")
	b.waitText("#subscription-watching-hint", "every new thread")
	b.click("#subscription-watching")
	b.click("#subscription-form button[type=submit]")
	b.waitText("#subscription-toggle", "Notifications: Watching")
	if got := e.subscriptionLevel(bola, "users/me/subscriptions/theme-knowledge-exchange"); got != "SUBSCRIPTION_LEVEL_WATCHING" {
		t.Errorf("the theme's subscription is %q", got)
	}
	// Amina, who started the thread, watches it: forum set it for her.
	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	a.waitText("#subscription-toggle", "Notifications: Watching")
	a.click("#subscription-toggle")
	a.waitText("#subscription-auto", "Set for you because you posted here.")
	a.wait("no new replies for her", `!document.querySelector('.reply-list .b-new')`)

	// Two replies after Bola's visit: "2 new" on the theme's page.
	r2 := e.reply(amina, th, "And a signed agreement.", "")
	e.reply(amina, th, "And a buddy.", "")
	b.open("/themes/knowledge-exchange")
	b.waitText(".thread-item .unread-link", "2 new")
	b.wait("the link to the first new reply", `document.querySelector('.thread-item .unread-link').getAttribute('href') === `+js("/"+th+"#"+anchorOf(r2)))
	b.clickText(".thread-item", "2 new")
	b.waitRendered("/" + th)
	b.wait("the first new reply focused", `document.activeElement && document.activeElement.id === `+js(anchorOf(r2)))
	if top := eval[float64](b, `document.activeElement.getBoundingClientRect().top`); top < -1 || top > eval[float64](b, `innerHeight`)-20 {
		t.Errorf("the first new reply is at %.0f px from the top of the view", top)
	}
	b.waitText("#"+anchorOf(r2)+" .meta .b-new", "New")
	b.wait("the older reply not new", `!document.querySelector(`+js("#"+anchorOf(r1)+" .b-new")+`)`)
	// His own reply, posted from the page, is not new to him.
	b.fill("#reply-body", "Thank you, both.")
	b.click("#post-reply")
	b.wait("his reply, focused", `document.activeElement && document.activeElement.matches('li.reply') && document.activeElement.textContent.includes('Thank you, both.')`)
	b.wait("not marked new", `!document.activeElement.querySelector('.b-new')`)
	// Read again: no "new" on the theme's page.
	waitFor(t, "no unread replies for Bola", func() bool {
		var thread struct{ UnreadReplyCount int }
		e.call(bola, "GET", "/v1/"+th, nil, &thread)
		return thread.UnreadReplyCount == 0
	})
	b.open("/themes/knowledge-exchange")
	b.waitText(".threads", "Hosting volunteers from abroad")
	b.wait("no new replies shown", `!document.querySelector('.unread-link')`)
}

// TestMentions covers @-mentions in the browser: suggestions in the
// composer (typed with real keys: arrows, Enter, Tab and Escape), the
// mention's link (/u/bola, which opens Bola's profile in place of itself)
// and /u/ of no one, and of a group (its page for its members, no one to
// others). They need ListUsers' username filter; without it the test
// fails, saying so.
func TestMentions(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	_, bolaName := e.member("bola", "Bola Adeyemi")
	e.member("bongani", "Bongani Zulu")
	code, data := e.do(amina, "GET", "/v1/users?filter="+url.QueryEscape(`username = "bo*"`), nil)
	var found struct{ Users []struct{ Username string } }
	if code != 200 || json.Unmarshal(data, &found) != nil || len(found.Users) != 2 {
		t.Fatalf(`ListUsers does not filter by username (GET /v1/users?filter=username = "bo*": %d %.200s): /u/ and the suggestions need it`, code, data)
	}
	th := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "What worked for you?"})

	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	listOpen := func(n int) string {
		return fmt.Sprintf(`(() => { const ta = document.querySelector('#reply-body'); const l = document.getElementById(ta.getAttribute('aria-controls')); return l && !l.hidden && l.getAttribute('role') === 'listbox' && l.querySelectorAll('[role=option]').length === %d && ta.getAttribute('aria-activedescendant') === l.querySelector('[aria-selected=true]').id && document.activeElement === ta; })()`, n)
	}
	const listClosed = `(() => { const ta = document.querySelector('#reply-body'); return document.getElementById(ta.getAttribute('aria-controls')).hidden && !ta.hasAttribute('aria-activedescendant'); })()`
	value := func() string { return eval[string](a, `document.querySelector('#reply-body').value`) }

	// "@bo": both; down, up, Enter picks the first, Bola.
	a.typeInto("#reply-body", "Thanks @bo")
	a.wait("two suggestions", listOpen(2))
	a.waitText("[role=listbox] [role=option]:nth-child(1)", "Bola Adeyemi @bola")
	a.waitText("[role=listbox] [role=option]:nth-child(2)", "Bongani Zulu @bongani")
	a.waitText("#reply-form [role=status]", "2 usernames")
	a.screenshot("mention-suggestions")
	a.do(chromedp.KeyEvent(kb.ArrowDown))
	a.wait("the second chosen", `document.querySelector('[role=listbox] [role=option]:nth-child(2)').getAttribute('aria-selected') === 'true'`)
	a.do(chromedp.KeyEvent(kb.ArrowUp))
	a.wait("the first chosen", `document.querySelector('[role=listbox] [role=option]:nth-child(1)').getAttribute('aria-selected') === 'true'`)
	a.pressEnter()
	a.wait("closed", listClosed)
	if got := value(); got != "Thanks @bola " {
		t.Errorf("after Enter, the text is %q", got)
	}
	// With the list closed, Enter is a new line again.
	a.pressEnter()
	if got := value(); got != "Thanks @bola \n" {
		t.Errorf("Enter with no suggestions left the text %q", got)
	}
	// Escape closes without changing the text.
	a.typeInto("#reply-body", "and @bo")
	a.wait("two suggestions", listOpen(2))
	a.do(chromedp.KeyEvent(kb.Escape))
	a.wait("closed", listClosed)
	if got := value(); got != "Thanks @bola \nand @bo" {
		t.Errorf("after Escape, the text is %q", got)
	}
	// Tab picks too, and focus stays.
	a.typeInto("#reply-body", "n")
	a.wait("one suggestion", listOpen(1))
	a.do(keyTab())
	a.wait("closed, focus kept", listClosed+` && document.activeElement.id === 'reply-body'`)
	if got := value(); got != "Thanks @bola \nand @bongani " {
		t.Errorf("after Tab, the text is %q", got)
	}
	// No suggestion inside an e-mail address.
	a.typeInto("#reply-body", "(ana@bo")
	time.Sleep(500 * time.Millisecond) // past the 200 ms pause
	a.wait("still closed", listClosed)
	a.fill("#reply-body", "Thanks @bola and @bongani!")
	a.click("#post-reply")
	a.waitText(".reply-list .body a.mention[href='/u/bola']", "@bola")

	// The mention's link opens Bola's profile, which takes its place in
	// the history.
	a.click(".reply-list .body a.mention[href='/u/bola']")
	profile := "/users/" + bolaName[strings.LastIndexByte(bolaName, '/')+1:]
	a.waitRendered(profile)
	a.waitText("main h1", "Bola Adeyemi")
	eval[bool](a, `(history.back(), true)`)
	a.waitRendered("/" + th)

	// Opened directly, with capitals, too; and one that is no one.
	a.do(chromedp.Navigate(e.base + "/u/Bongani"))
	a.waitText("main h1", "Bongani Zulu")
	a.wait("the profile's URL", `location.pathname.startsWith('/users/')`)
	a.open("/u/nobody")
	a.waitText("main h1", "No such user")
	a.waitText("main", "No one here has the username @nobody.")

	// A group's mention links to /u/ too: its members see the group and who
	// is in it; to others it is no one.
	_, bonganiName := e.member("bongani2", "Bongani Two")
	e.call(e.admin, "POST", "/v1/groups?groupId=hosts", map[string]any{"displayName": "Host families", "description": "Families who host volunteers.", "members": []string{bolaName, bonganiName}}, nil)
	bolaTab := e.newTab(t)
	bola := e.login("bola", memberPass)
	bolaTab.setSession(bola)
	e.reply(bola, th, "Over to @hosts for this one.", "")
	bolaTab.open("/" + th)
	bolaTab.waitText(".reply-list .body a.mention[href='/u/hosts']", "@hosts")
	bolaTab.click(".reply-list .body a.mention[href='/u/hosts']")
	bolaTab.waitText("main h1", "Host families")
	bolaTab.waitText("main .meta", "@hosts · a group of 2 members")
	bolaTab.waitText("main", "Families who host volunteers.")
	bolaTab.waitText("main .group-members li:nth-child(1) a[href='/users/"+bolaName[strings.LastIndexByte(bolaName, '/')+1:]+"']", "Bola Adeyemi")
	bolaTab.waitText("main .group-members li:nth-child(2)", "Bongani Two")
	a.open("/u/hosts") // amina is not a member
	a.waitText("main h1", "No such user")
}
