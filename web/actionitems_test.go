package web_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// actionItem is an action item as the API gives it.
type actionItem struct {
	Name, Title, Owner, DueDate, State, ClosingNote, Convening string
	History                                                    []struct {
		Actor, State, Note string
		ChangedPaths       []string
	}
}

// actionItems lists the items of parent ("threads/3" or "threads/-") that
// filter keeps, as the user of token.
func (e *env) actionItems(token, parent, filter string) []actionItem {
	e.t.Helper()
	var res struct{ ActionItems []actionItem }
	q := "?pageSize=100"
	if filter != "" {
		q += "&filter=" + strings.NewReplacer(" ", "%20", `"`, "%22", "=", "%3D").Replace(filter)
	}
	e.call(token, "GET", "/v1/"+parent+"/actionItems"+q, nil, &res)
	return res.ActionItems
}

// TestActionItems covers the action items of a follow-up thread in the
// browser. An administrator, on the follow-up's page (a discussion has no
// such section), adds two items with the form: one without a title first
// (the server's error next to the title, nothing created), then one owned
// by an organisation, due in the past, and one owned by a member chosen
// with the username field and its @ suggestions (an unknown username is
// refused next to that field, before anything is sent). A member of the
// organisation sees Done and Drop on the organisation's item and nothing
// on the other member's; marks it done with a note (announced, the
// Reopen button focused, the administrator's open page shows the change
// without a reload); its history shows the two changes. The administrator
// changes the other item's date inline. "My action items", from the
// header: the organisation's member finds the item under Closed once the
// closed ones are shown; the other member finds theirs open and overdue,
// and the notification that it was given to them, which links to the
// follow-up's items. The convening's page sums the follow-up's items up.
// The pages pass the accessibility checks.
func TestActionItems(t *testing.T) {
	e := newEnv(t)
	e.call(e.admin, "POST", "/v1/organizations?organizationId=vso-kenya", map[string]string{"displayName": "VSO Kenya", "country": "KE", "kind": "ORGANIZATION_KIND_NGO"}, nil)
	wanjiru, wanjiruName := e.member("wanjiru", "Wanjiru Kamau")
	e.call(e.admin, "PATCH", "/v1/"+wanjiruName+"?updateMask=organization", map[string]any{"organization": "organizations/vso-kenya"}, nil)
	bola, bolaName := e.member("bola", "Bola Adeyemi")
	const (
		convening = "convenings/nairobi-2024"
		convTitle = "Nairobi 2024: hosting volunteers"
		guide     = "Share the hosting guide with every host family"
		agreement = "Draft the volunteer agreement"
		note      = "Shared at the March meeting, 40 families."
	)
	e.call(e.admin, "POST", "/v1/convenings?conveningId=nairobi-2024", map[string]any{"title": convTitle, "startDate": "2024-03-04", "endDate": "2024-03-06"}, nil)
	parent := e.thread(e.admin, map[string]any{"title": "What Nairobi agreed on hosting", "body": "The commitments, one by one.", "convening": convening})
	followUp := e.thread(e.admin, map[string]any{"title": "Six months after Nairobi", "body": "Where we stand on each commitment.", "kind": "THREAD_KIND_FOLLOW_UP", "followUpOf": parent})
	e.reply(bola, followUp, "We are on it.", "")

	a := e.newTab(t)
	a.setSession(e.admin)
	// A discussion has no action items.
	a.open("/" + parent)
	a.waitText("main h1", "What Nairobi agreed on hosting")
	a.wait("no action items on a discussion", `!document.querySelector('#action-items')`)

	// The follow-up: the section after the body, before the replies.
	a.open("/" + followUp)
	a.waitText("#action-items h2", "Action items")
	a.waitText("#no-action-items", "No action items yet.")
	a.wait("the section between the thread and the replies", `(() => { const s = document.querySelector('#action-items'); return document.querySelector('article.thread').nextElementSibling === s && s.nextElementSibling === document.querySelector('section.replies'); })()`)

	// No title: the server's error next to the title, and nothing created.
	a.fill("#item-owner-org", "organizations/vso-kenya")
	a.click("#add-action-item")
	a.waitText("#item-title-error", "What is to be done:")
	a.wait("the title invalid and focused, the rest without error", `document.querySelector('#item-title').getAttribute('aria-invalid') === 'true' && document.activeElement === document.querySelector('#item-title') && document.querySelector('#item-owner-org-error').hidden && document.querySelector('#action-item-form-error').hidden && !document.querySelector('#action-item-form').hasAttribute('aria-busy')`)
	if items := e.actionItems(e.admin, followUp, ""); len(items) != 0 {
		t.Fatalf("after a refused form, %d items", len(items))
	}

	// The organisation's item, due in the past.
	a.fill("#item-title", guide)
	a.fill("#item-due", "2020-01-15")
	a.click("#add-action-item")
	a.waitText("#announce", "Action item added: "+guide+".")
	a.wait("one item listed, the form emptied, its title focused", `document.querySelectorAll('#action-item-list > li.item').length === 1 && document.querySelector('#item-title').value === '' && document.querySelector('#item-owner-org').value === '' && document.activeElement === document.querySelector('#item-title') && document.querySelector('#no-action-items').hidden`)
	items := e.actionItems(e.admin, followUp, "")
	if len(items) != 1 || items[0].Title != guide || items[0].Owner != "organizations/vso-kenya" || items[0].DueDate != "2020-01-15" || items[0].State != "ACTION_ITEM_STATE_OPEN" {
		t.Fatalf("the item created: %+v", items)
	}
	guideItem := items[0].Name
	g := "#item-" + guideItem[strings.LastIndexByte(guideItem, '/')+1:]

	// The other member's item: an unknown username is refused before
	// anything is sent; the suggestions after @ give the right one.
	a.fill("#item-title", agreement)
	a.fill("#item-owner-user", "@nobody")
	a.click("#add-action-item")
	a.waitText("#item-owner-user-error", "No one here has the username nobody.")
	a.wait("the username invalid and focused", `document.querySelector('#item-owner-user').getAttribute('aria-invalid') === 'true' && document.activeElement === document.querySelector('#item-owner-user')`)
	a.fill("#item-owner-user", "")
	a.typeInto("#item-owner-user", "@bo")
	a.waitText("#action-item-form .mention-list [role=option]", "@bola")
	a.pressEnter()
	a.wait("the username picked", `document.querySelector('#item-owner-user').value === '@bola '`)
	a.fill("#item-due", "2020-02-01")
	a.click("#add-action-item")
	a.waitText("#announce", "Action item added: "+agreement+".")
	a.wait("two items", `document.querySelectorAll('#action-item-list > li.item').length === 2`)
	items = e.actionItems(e.admin, followUp, "")
	if len(items) != 2 || items[1].Title != agreement || items[1].Owner != bolaName || items[1].DueDate != "2020-02-01" {
		t.Fatalf("the items: %+v", items)
	}
	agreementItem := items[1].Name
	b := "#item-" + agreementItem[strings.LastIndexByte(agreementItem, '/')+1:]
	if items[0].Convening != convening {
		t.Errorf("the item's convening is %q, want %s", items[0].Convening, convening)
	}

	// As listed: title, owner, due date, state, overdue.
	a.waitText(g+" h3", guide)
	a.waitText(g+" .item-owner", "Owner: VSO Kenya")
	a.waitText(g+" .item-due", "Due: Jan 15, 2020")
	a.waitText(g+" .badges", "Open")
	a.waitText(g+" .badges .b-overdue", "Overdue")
	a.waitText("#action-items h2 .count", "(2)")
	a.wait("the other member's item links to them", `document.querySelector('`+b+` .item-owner a[href="/`+bolaName+`"]').textContent === 'Bola Adeyemi'`)
	a.waitText(b+" .item-due", "Due: Feb 1, 2020")
	a.wait("the moderator's controls on both", `document.querySelector('`+g+`-done') && document.querySelector('`+b+`-drop') && document.querySelector('`+b+`-change')`)
	a.screenshot("action-items-followup")
	if res := eval[a11yResult](a, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("the follow-up's items, as an administrator: %s", p)
		}
	}

	// The organisation's member: Done and Drop on its item, nothing on the
	// other's, no form.
	w := e.newTab(t)
	w.setSession(wanjiru)
	w.open("/" + followUp)
	w.waitText(g+" h3", guide)
	w.wait("Done and Drop on the organisation's item", `document.querySelector('`+g+`-done').textContent === 'Done' && document.querySelector('`+g+`-drop').textContent === 'Drop' && document.querySelector('`+g+`-note')`)
	w.wait("nothing on the other member's, no form", `!document.querySelector('`+b+` .item-state-controls') && !document.querySelector('`+b+` button') && !document.querySelector('#action-item-form') && !document.querySelector('`+g+`-change')`)
	w.fill(g+"-note", note)
	w.click(g + "-done")
	w.waitText("#announce", "Marked done: "+guide+".")
	w.waitText(g+" .badges", "Done")
	w.waitText(g+" .item-note", note)
	w.wait("no longer overdue, Reopen focused", `!document.querySelector('`+g+` .b-overdue') && document.activeElement === document.querySelector('`+g+`-reopen') && !document.querySelector('`+g+`-done')`)
	items = e.actionItems(wanjiru, followUp, "")
	if items[0].State != "ACTION_ITEM_STATE_DONE" || items[0].ClosingNote != note || len(items[0].History) != 2 {
		t.Fatalf("after Done: %+v", items[0])
	}
	// Its history: the creation and the change.
	w.waitText(g+"-history summary", "History (2)")
	w.click(g + "-history summary")
	w.wait("two entries", `document.querySelector('`+g+`-history').open && document.querySelectorAll('`+g+`-history ol > li').length === 2`)
	w.waitText(g+"-history ol > li:nth-child(1)", "Ada Admin created it for VSO Kenya, due Jan 15, 2020")
	w.waitText(g+"-history ol > li:nth-child(2)", "Wanjiru Kamau marked it done")
	w.waitText(g+"-history ol > li:nth-child(2) .item-note", note)

	// The administrator's page, open all along, shows it without a reload.
	a.waitText(g+" .badges", "Done")
	a.waitText("#announce", "The action items have just changed.")

	// The administrator changes the other item's date, inline.
	a.click(b + "-change")
	a.wait("the edit form, its title focused", `!document.querySelector('`+b+`-edit').hidden && document.activeElement === document.querySelector('`+b+`-edit-title') && document.querySelector('`+b+`-edit-owner-user').value === '@bola' && document.querySelector('`+b+`-edit-due').value === '2020-02-01'`)
	a.fill(b+"-edit-due", "2020-03-01")
	a.click(b + "-edit-save")
	a.waitText("#announce", "Action item saved: "+agreement+".")
	a.waitText(b+" .item-due", "Due: Mar 1, 2020")
	a.waitText(b+"-history summary", "History (2)")
	a.wait("the date changed, nothing else", `document.querySelector('`+b+`-history ol > li:nth-child(2) .what').textContent === 'set the due date to Mar 1, 2020'`)
	items = e.actionItems(e.admin, followUp, "")
	if h := items[1].History; items[1].DueDate != "2020-03-01" || items[1].Owner != bolaName || len(h) != 2 || strings.Join(h[1].ChangedPaths, ",") != "due_date" {
		t.Errorf("after the date changed: %+v", items[1])
	}

	// "My action items" for the organisation's member, from the header:
	// nothing open; the item under Closed once the closed ones show.
	w.clickText("header nav", "My action items")
	w.waitRendered("/action-items")
	w.waitText("main h1", "My action items")
	w.waitText("main .lead", "The action items given to you and to VSO Kenya.")
	w.waitText("#open-items-none", "Nothing open")
	w.wait("no closed ones yet", `!document.querySelector('#closed-items')`)
	w.click("#toggle-closed")
	w.waitRendered("/action-items?closed=1")
	w.wait("the item under Closed, linked to its place", `(() => { const l = [...document.querySelectorAll('#closed-items-list > li')]; return l.length === 1 && l[0].querySelector('h3 a').getAttribute('href') === '/`+followUp+`#`+g[1:]+`' && l[0].querySelector('h3 a').textContent === `+js(guide)+`; })()`)
	w.waitText("#closed-items-list .item-owner", "For VSO Kenya")
	w.waitText("#closed-items-list .badges", "Done")
	w.waitText("#closed-items-list .item-note", note)
	w.wait("its thread and convening linked", `document.querySelector('#closed-items-list .item-thread').getAttribute('href') === '/`+followUp+`#action-items' && document.querySelector('#closed-items-list .item-thread').textContent === 'Six months after Nairobi' && document.querySelector('#closed-items-list .item-convening').getAttribute('href') === '/`+convening+`' && document.querySelector('#closed-items-list .item-convening').textContent === `+js(convTitle)+``)
	w.wait("the other member's item left out", `!document.querySelector('main').textContent.includes(`+js(agreement)+`)`)
	w.waitText("#toggle-closed", "Hide the closed ones")
	w.screenshot("my-action-items-closed")
	if res := eval[a11yResult](w, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("/action-items?closed=1: %s", p)
		}
	}
	// The link goes to the item on the follow-up's page.
	w.click("#closed-items-list h3 a")
	w.waitRendered("/" + followUp)
	w.wait("the item focused", `document.activeElement === document.querySelector('`+g+`')`)

	// The other member: theirs, open and overdue.
	bt := e.newTab(t)
	bt.setSession(bola)
	bt.open("/action-items")
	bt.waitText("main .lead", "The action items given to you.")
	bt.wait("one open item, flagged overdue", `(() => { const l = [...document.querySelectorAll('#open-items-list > li')]; return l.length === 1 && l[0].classList.contains('overdue') && l[0].querySelector('.b-overdue').textContent === 'Overdue' && l[0].querySelector('h3').textContent === `+js(agreement)+`; })()`)
	bt.waitText("#open-items-list .item-owner", "For you")
	bt.waitText("#open-items-list .item-due", "Due: Mar 1, 2020")
	bt.waitText("#open-items-list .item-convening", convTitle)
	bt.wait("not the organisation's", `!document.querySelector('main').textContent.includes(`+js(guide)+`)`)
	bt.screenshot("my-action-items")
	if res := eval[a11yResult](bt, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("/action-items: %s", p)
		}
	}

	// Their notification, which links to the follow-up's items.
	waitFor(t, "Bola's notification", func() bool { return e.unreadCount(bola) > 0 })
	var notes struct {
		Notifications []struct{ Kind, Excerpt string }
	}
	e.call(bola, "GET", "/v1/users/me/notifications", nil, &notes)
	if len(notes.Notifications) == 0 || notes.Notifications[0].Kind != "NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED" {
		raw, _ := json.Marshal(notes)
		t.Fatalf("Bola's notifications: %s", raw)
	}
	bt.click("#bell")
	bt.waitRendered("/notifications")
	bt.waitText("#notes > li:nth-child(1) .note-what", "Ada Admin gave an action item to you or your organisation")
	bt.waitText("#notes > li:nth-child(1) .snippet", agreement)
	bt.wait("a link to the follow-up's items", `document.querySelector('#notes > li:nth-child(1) h2 a').getAttribute('href') === '/`+followUp+`#action-items' && document.querySelector('#notes > li:nth-child(1) h2 a').textContent === 'Six months after Nairobi'`)
	bt.click("#notes > li:nth-child(1) h2 a")
	bt.waitRendered("/" + followUp)
	bt.wait("the items focused", `document.activeElement === document.querySelector('#action-items')`)
	// On the follow-up, Done and Drop on theirs only.
	bt.wait("controls on theirs, not on the organisation's", `document.querySelector('`+b+`-done') && !document.querySelector('`+g+` button')`)
	// The organisation's member was told too.
	waitFor(t, "Wanjiru's notification", func() bool { return e.unreadCount(wanjiru) > 0 })

	// The convening's page sums the follow-up's items up.
	v := e.newTab(t)
	v.open("/" + convening)
	v.waitText("#follow-ups .thread-item .item-counts", "Action items: 1 open (1 overdue), 1 done")
	v.wait("none under the discussion", `!document.querySelector('#discussions .item-counts')`)
	// A visitor sees the items, without controls.
	v.open("/" + followUp)
	v.waitText(g+" .badges", "Done")
	v.wait("no controls for a visitor", `document.querySelectorAll('#action-item-list > li').length === 2 && !document.querySelector('#action-items button, #action-items form')`)
	v.open("/action-items")
	v.waitText("main", "You need to log in first.")
}
