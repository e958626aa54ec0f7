package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAnswersAndReactions covers a question's accepted answer (accepted,
// withdrawn and accepted again by the asker with the buttons, shown under
// the question and marked on its reply, "Answered" in the theme's list,
// no buttons for other members, seen live by them), reactions to the
// opening post and to a reply (given and withdrawn with the buttons, the
// counts and the reader's own from the API, live and after a reload, a
// visitor seeing the counts without buttons) and a lock that leaves the
// state alone: a resolved thread locked and unlocked by an administrator
// is resolved throughout.
func TestAnswersAndReactions(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	bola, _ := e.member("bola", "Bola Adeyemi")
	chen, _ := e.member("chen", "Chen Wei")
	q := e.thread(amina, map[string]any{
		"title": "Which visa for a six-month exchange?", "body": "Our volunteers stay **six months** in Kenya.",
		"kind": "THREAD_KIND_QUESTION", "theme": "themes/knowledge-exchange",
	})
	r1 := e.reply(bola, q, "Ask the embassy first.", "")
	r2 := e.reply(chen, q, "A volunteer visa: it covers stays of up to a year.", "")
	id := func(reply string) string { return "r-" + reply[strings.LastIndexByte(reply, '/')+1:] }
	type threadOut struct {
		State          string
		Locked         bool
		AcceptedAnswer string
	}
	getThread := func() threadOut {
		var th threadOut
		e.call(e.admin, "GET", "/v1/"+q, nil, &th)
		return th
	}
	badgeText := `document.querySelector('.thread .badges').textContent`

	// Bola, who did not ask, reads the question: no buttons to accept an
	// answer.
	b := e.newTab(t)
	b.setSession(bola)
	b.open("/" + q)
	b.waitText("#"+id(r2)+" .body", "A volunteer visa")
	b.wait("no accept buttons for another member", `!document.querySelector('[id^="accept-"], [id^="unaccept-"]') && !document.querySelector('#accepted-answer')`)

	// The asker accepts the second reply: the box under the question shows
	// it, its reply is marked, and the page says so.
	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + q)
	a.wait("accept buttons on both replies", `document.querySelector('#accept-`+id(r1)+`') && document.querySelector('#accept-`+id(r2)+`')`)
	a.click("#accept-" + id(r2))
	a.waitText("#accepted-answer h2", "Accepted answer")
	a.waitText("#accepted-answer .body", "A volunteer visa: it covers stays of up to a year.")
	a.waitText("#accepted-answer .meta", "Chen Wei")
	a.wait("a link to the reply", `document.querySelector('#accepted-answer a[href="#`+id(r2)+`"]')`)
	a.waitText("#"+id(r2)+" .meta .badge", "Accepted answer")
	a.wait("only that reply marked", `!document.querySelector('#`+id(r1)+` .meta').textContent.includes('Accepted answer')`)
	a.wait("Unaccept focused", `document.activeElement === document.querySelector('#unaccept-`+id(r2)+`')`)
	a.waitText("#announce", "The reply is accepted as the answer.")
	a.wait("the box between the question and the replies", `(() => { const box = document.querySelector('#accepted-answer'); const body = document.querySelector('.thread > .body'); const list = document.querySelector('.reply-list'); return !!(body.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING) && !!(box.compareDocumentPosition(list) & Node.DOCUMENT_POSITION_FOLLOWING); })()`)
	if th := getThread(); th.AcceptedAnswer != r2 {
		t.Errorf("acceptedAnswer %q, want %q", th.AcceptedAnswer, r2)
	}
	a.screenshot("answers-question")
	// Bola's page shows it as it happens.
	b.waitText("#accepted-answer .body", "A volunteer visa")
	b.waitText("#"+id(r2)+" .meta .badge", "Accepted answer")
	b.wait("still no accept buttons", `!document.querySelector('[id^="accept-"], [id^="unaccept-"]')`)

	// The theme's list says the question is answered.
	a.open("/themes/knowledge-exchange")
	a.waitText(".threads > li .badges", "Answered")
	a.screenshot("answers-theme")

	// Unaccepted: the box and the mark go, and so does "Answered".
	a.open("/" + q)
	a.click("#unaccept-" + id(r2))
	a.wait("no accepted answer", `!document.querySelector('#accepted-answer') && !document.querySelector('#`+id(r2)+` .meta').textContent.includes('Accepted answer') && document.activeElement === document.querySelector('#accept-`+id(r2)+`')`)
	a.waitText("#announce", "The reply is no longer the accepted answer.")
	if th := getThread(); th.AcceptedAnswer != "" {
		t.Errorf("acceptedAnswer %q after unaccepting, want none", th.AcceptedAnswer)
	}
	a.open("/themes/knowledge-exchange")
	a.wait("not answered in the list", `![...document.querySelectorAll('.threads > li .badges')].some((el) => el.textContent.includes('Answered'))`)
	// Accepted again.
	a.open("/" + q)
	a.click("#accept-" + id(r2))
	a.waitText("#accepted-answer .body", "A volunteer visa")

	// Chen is told.
	c := e.newTab(t)
	c.setSession(chen)
	c.open("/notifications")
	c.waitText("#notes", "Amina Diallo accepted your answer")

	// Reactions: Bola gives a heart to the question and thanks to the
	// second reply, from "React".
	b.open("/" + q)
	b.wait("no reactions yet", `!document.querySelector('.reactions [data-reaction]')`)
	b.click(".thread .reaction-add")
	b.wait("the choices shown, the first focused", `!document.querySelector('.thread .reaction-choices').hidden && document.querySelector('.thread .reaction-add').getAttribute('aria-expanded') === 'true' && document.activeElement === document.querySelector('.thread .reaction-choices button')`)
	// Escape closes them, back on "React".
	b.do(chromedp.KeyEvent(kb.Escape))
	b.wait("the choices closed", `document.querySelector('.thread .reaction-choices').hidden && document.activeElement === document.querySelector('.thread .reaction-add')`)
	b.click(".thread .reaction-add")
	b.click(`.thread .reaction-choices [data-choice="REACTION_HEART"]`)
	heart := `.thread .reactions [data-reaction="REACTION_HEART"]`
	b.wait("a heart, 1, pressed", `(() => { const x = document.querySelector('`+heart+`'); return x && x.getAttribute('aria-pressed') === 'true' && x.textContent.includes('1') && x.getAttribute('aria-label') === 'Heart, 1; you reacted' && document.activeElement === x; })()`)
	b.waitText("#announce", "You reacted: Heart.")
	thanks := "#" + id(r2) + ` .reactions [data-reaction="REACTION_THANKS"]`
	b.click("#" + id(r2) + " .reaction-add")
	b.click("#" + id(r2) + ` .reaction-choices [data-choice="REACTION_THANKS"]`)
	b.wait("thanks, 1, pressed", `(() => { const x = document.querySelector('`+thanks+`'); return x && x.getAttribute('aria-pressed') === 'true' && x.textContent.includes('1'); })()`)
	b.screenshot("reactions")
	// Clicked again, the heart is withdrawn: no count left.
	b.click(heart)
	b.wait("the heart withdrawn", `!document.querySelector('`+heart+`') && document.activeElement === document.querySelector('.thread .reaction-add')`)
	b.waitText("#announce", "Your reaction is withdrawn: Heart.")
	var mine struct {
		Name      string
		Reactions []struct {
			Reaction string
			Count    int
			Reacted  bool
		}
	}
	e.call(bola, "POST", "/v1/"+r2+":addReaction", map[string]string{"reaction": "REACTION_THANKS"}, &mine) // again: no change
	if mine.Name != r2 || len(mine.Reactions) != 1 || mine.Reactions[0].Reaction != "REACTION_THANKS" || mine.Reactions[0].Count != 1 || !mine.Reactions[0].Reacted {
		t.Errorf("Bola's reactions to the reply: %+v", mine)
	}

	// Amina and Chen react through the API: Bola's page shows it live,
	// and after a reload: their two hearts (not Bola's), two thanks of
	// which one is Bola's.
	e.call(amina, "POST", "/v1/"+q+":addReaction", map[string]string{"reaction": "REACTION_HEART"}, nil)
	e.call(chen, "POST", "/v1/"+q+":addReaction", map[string]string{"reaction": "REACTION_HEART"}, nil)
	e.call(amina, "POST", "/v1/"+r2+":addReaction", map[string]string{"reaction": "REACTION_THANKS"}, nil)
	counted := `(() => {
		const h = document.querySelector('` + heart + `'), k = document.querySelector('` + thanks + `');
		return h && h.getAttribute('aria-pressed') === 'false' && h.querySelector('.count').textContent === '2' && h.getAttribute('aria-label') === 'Heart, 2'
			&& k && k.getAttribute('aria-pressed') === 'true' && k.querySelector('.count').textContent === '2' && k.getAttribute('aria-label') === 'Thanks, 2; you reacted';
	})()`
	b.wait("the others' reactions, live", counted)
	b.open("/" + q)
	b.wait("the others' reactions, reloaded", counted)
	// The page with reactions and the choices open passes the checks of
	// a11yJS.
	b.click("#" + id(r1) + " .reaction-add")
	if res := eval[a11yResult](b, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("a question with reactions: %s", p)
		}
	}

	// A visitor sees the counts, and no button to react.
	v := e.newTab(t)
	v.open("/" + q)
	v.waitText(".thread .reactions span.reaction", "2")
	v.waitText(".thread .reactions span.reaction .visually-hidden", "Heart, 2")
	v.waitText("#"+id(r2)+" .reactions span.reaction", "2")
	v.wait("no reaction buttons", `!document.querySelector('.reactions button')`)
	v.waitText("#accepted-answer .body", "A volunteer visa")
	v.wait("no accept buttons for a visitor", `!document.querySelector('[id^="accept-"], [id^="unaccept-"]')`)

	// The asker marks the question resolved; an administrator locks it
	// with the button: locked and resolved both.
	e.call(amina, "PATCH", "/v1/"+q+"?updateMask=state", map[string]any{"state": "THREAD_STATE_RESOLVED"}, nil)
	ad := e.newTab(t)
	ad.setSession(e.admin)
	ad.open("/" + q)
	ad.click("#lock-thread")
	ad.wait("locked and resolved", `(() => { const b = `+badgeText+`; return b.includes('Locked') && b.includes('Resolved') && !b.includes('Open'); })() && document.activeElement === document.querySelector('#unlock-thread')`)
	ad.waitText("#locked-notice", "This thread is locked")
	ad.waitText("#announce", "The thread is locked.")
	if th := getThread(); !th.Locked || th.State != "THREAD_STATE_RESOLVED" {
		t.Errorf("after the lock: locked %v, state %s; want locked and RESOLVED", th.Locked, th.State)
	}
	// Moderators still accept answers and react in a locked thread.
	ad.wait("the administrator may unaccept and react", `document.querySelector('#unaccept-`+id(r2)+`') && document.querySelector('.thread .reaction-add')`)
	ad.screenshot("locked-resolved")
	// Members may not: the asker has no accept buttons, Bola sees the
	// reactions without buttons, and the API refuses his.
	a.open("/" + q)
	a.wait("no accept buttons in a locked thread", `!document.querySelector('[id^="accept-"], [id^="unaccept-"]')`)
	b.open("/" + q)
	b.waitText(".thread .reactions span.reaction", "2")
	b.wait("no reaction buttons in a locked thread", `!document.querySelector('.reactions button')`)
	if code, body := e.do(bola, "POST", "/v1/"+q+":addReaction", map[string]string{"reaction": "REACTION_HEART"}); code/100 != 4 {
		t.Errorf("a member's reaction in a locked thread: %d %s, want a 4xx", code, body)
	}
	// The theme's filter "Locked" (locked = true, apart from the state)
	// finds it.
	b.open("/themes/knowledge-exchange?state=LOCKED")
	b.wait("the locked question listed", `[...document.querySelectorAll('.threads > li h2')].map((h) => h.textContent).join(' | ') === 'Which visa for a six-month exchange?'`)

	// Unlocked with the button: still resolved (before Thread.locked,
	// unlocking set the state OPEN).
	ad.click("#unlock-thread")
	ad.wait("unlocked and still resolved", `(() => { const b = `+badgeText+`; return !b.includes('Locked') && b.includes('Resolved'); })() && document.activeElement === document.querySelector('#lock-thread')`)
	ad.waitText("#announce", "The thread is unlocked")
	ad.wait("the reply form back", `document.querySelector('#reply-form') && !document.querySelector('#locked-notice')`)
	if th := getThread(); th.Locked || th.State != "THREAD_STATE_RESOLVED" {
		t.Errorf("after unlocking: locked %v, state %s; want unlocked and RESOLVED", th.Locked, th.State)
	}
	ad.screenshot("unlocked-resolved")
	// The theme's list: resolved and answered, not locked.
	ad.open("/themes/knowledge-exchange")
	ad.wait("resolved and answered in the list", `(() => { const b = document.querySelector('.threads > li .badges').textContent; return b.includes('Resolved') && b.includes('Answered') && !b.includes('Locked'); })()`)
}
