package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestEditHistory covers the edit history of posts (history.js): a reply
// edited twice shows "edited", which opens its three versions, the newest
// first, each with what changed from the one before word by word (removed
// words in <del>, added ones in <ins>), from the keyboard and back to the
// button on Escape; another member sees it too, and the history of the
// thread's opening post; once the reply is deleted, members no longer get
// its history (the API answers 404, the page offers no button) while an
// administrator still reads it.
func TestEditHistory(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	th := e.thread(amina, map[string]any{"title": "Visas for a six-month stay", "body": "Which visa do our volunteers need?"})
	r := e.reply(amina, th, "Our volunteers stay six months in Kenya.", "")
	e.call(amina, "PATCH", "/v1/"+r+"?updateMask=body", map[string]any{"body": "Our volunteers stay nine months in Kenya."}, nil)
	e.call(amina, "PATCH", "/v1/"+r+"?updateMask=body", map[string]any{"body": "Our volunteers stay nine months in Kenya and Uganda."}, nil)
	e.call(amina, "PATCH", "/v1/"+th+"?updateMask=title", map[string]any{"title": "Visas for a nine-month stay"}, nil)

	// The API: three versions of the reply, the newest first.
	var list struct {
		Revisions []struct {
			Number int
			Body   string
			Editor string
		}
	}
	e.call(bola, "GET", "/v1/"+r+"/revisions?pageSize=100", nil, &list)
	if len(list.Revisions) != 3 || list.Revisions[0].Number != 3 || list.Revisions[2].Number != 1 || list.Revisions[2].Body != "Our volunteers stay six months in Kenya." {
		t.Fatalf("the reply's revisions: %+v", list.Revisions)
	}

	anchor := "#r-" + r[strings.LastIndexByte(r, '/')+1:]
	toggle := anchor + " .meta .history-toggle"
	panel := anchor + " .history"
	rev := func(n string) string { return panel + ` .revision[data-number="` + n + `"]` }
	// The text of a diff as seen (without the words for screen readers).
	seen := `((d) => [...d.childNodes].filter((n) => !(n.classList && n.classList.contains('visually-hidden'))).map((n) => n.textContent).join(''))`
	listed := `[...document.querySelectorAll('` + panel + ` .revision')].map((x) => x.dataset.number).join(',') === '3,2,1'`

	// The author opens the history from the keyboard: three versions, the
	// newest first, focus on the panel's heading.
	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	a.waitText(toggle, "edited")
	a.wait("the history closed", `document.querySelector('`+panel+`').hidden && document.querySelector('`+toggle+`').getAttribute('aria-expanded') === 'false'`)
	eval[bool](a, `(document.querySelector('`+toggle+`').focus(), true)`)
	a.do(keyEnter())
	a.wait("three versions, the newest first", listed)
	a.wait("the panel open, its heading focused", `!document.querySelector('`+panel+`').hidden && document.querySelector('`+toggle+`').getAttribute('aria-expanded') === 'true' && document.activeElement === document.querySelector('`+panel+` h3')`)
	a.waitText(panel+" h3", "Edit history")
	a.waitText(rev("3")+" .meta", "Amina Diallo")
	// Version 2 against 1: "six" removed, "nine" added, the rest as it was.
	a.wait("six removed, nine added", `(() => {
		const d = document.querySelector('`+rev("2")+` .diff');
		const del = [...d.querySelectorAll('del')].map((x) => x.textContent), ins = [...d.querySelectorAll('ins')].map((x) => x.textContent);
		return del.join('|') === 'six' && ins.join('|') === 'nine' && `+seen+`(d) === 'Our volunteers stay six nine months in Kenya.';
	})()`)
	// Version 3 against 2: only an addition.
	a.wait("and Uganda added", `(() => {
		const d = document.querySelector('`+rev("3")+` .diff');
		return !d.querySelector('del') && [...d.querySelectorAll('ins')].map((x) => x.textContent).join('|') === 'and Uganda' && `+seen+`(d) === 'Our volunteers stay nine months in Kenya and Uganda.';
	})()`)
	// Version 1 as first written.
	a.waitText(rev("1")+" .body", "Our volunteers stay six months in Kenya.")
	a.waitText(rev("1")+" .meta", "as first written")
	if res := eval[a11yResult](a, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("a reply's history: %s", p)
		}
	}
	a.screenshot("edit-history")
	// Escape closes it, back on the button.
	a.do(chromedp.KeyEvent(kb.Escape))
	a.wait("closed, focus on the button", `document.querySelector('`+panel+`').hidden && document.activeElement === document.querySelector('`+toggle+`') && document.querySelector('`+toggle+`').getAttribute('aria-expanded') === 'false'`)

	// Another member reads it too, and the thread's own history: the
	// title's change.
	b := e.newTab(t)
	b.setSession(bola)
	b.open("/" + th)
	b.click(toggle)
	b.wait("three versions for another member", listed)
	b.click("#thread-meta .history-toggle")
	b.wait("the thread's two versions, the title changed", `(() => {
		const p = document.querySelector('.thread > .history');
		if (!p || p.hidden || p.querySelectorAll('.revision').length !== 2) return false;
		const d = p.querySelector('.revision[data-number="2"] .diff-title');
		return d && d.querySelector('del').textContent === 'six-month' && d.querySelector('ins').textContent === 'nine-month';
	})()`)
	// Its close button closes it, back on its button.
	b.click(".thread > .history .history-close")
	b.wait("the thread's history closed", `document.querySelector('.thread > .history').hidden && document.activeElement === document.querySelector('#thread-meta .history-toggle')`)

	// The author deletes the reply: members get no history, an
	// administrator does.
	e.call(amina, "DELETE", "/v1/"+r, nil, nil)
	for _, who := range []string{amina, bola} {
		if code, body := e.do(who, "GET", "/v1/"+r+"/revisions?pageSize=100", nil); code != 404 {
			t.Errorf("a deleted reply's history for a member: %d %s, want 404", code, body)
		}
	}
	e.call(e.admin, "GET", "/v1/"+r+"/revisions?pageSize=100", nil, &list)
	if len(list.Revisions) != 3 {
		t.Errorf("a deleted reply's history for an administrator: %d revisions, want 3", len(list.Revisions))
	}
	b.open("/" + th)
	b.waitText(anchor+" .tombstone", "This reply was deleted.")
	b.wait("no history for a member", `!document.querySelector('`+anchor+` .history-toggle')`)
	ad := e.newTab(t)
	ad.setSession(e.admin)
	ad.open("/" + th)
	ad.waitText(anchor+" .tombstone", "This reply was deleted.")
	ad.click(toggle)
	ad.wait("three versions for an administrator", listed)
	ad.waitText(rev("1")+" .body", "six months")
}
