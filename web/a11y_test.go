package web_test

import (
	"strings"
	"testing"
)

// a11yJS checks the page as it is: html lang, the landmarks, one h1, a
// label for every form control, a name for every button and link, ids
// that are unique and ARIA references that resolve, and the contrast of
// every visible piece of text (WCAG 2: 4.5:1, or 3:1 for large text),
// computed from getComputedStyle against the backgrounds behind it.
const a11yJS = `(() => {
	const problems = [];
	const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
	if (!document.documentElement.lang) problems.push('<html> has no lang');
	for (const [sel, role] of [['body > header', 'banner'], ['nav', 'navigation'], ['main', 'main'], ['body > footer', 'contentinfo']]) {
		if (!document.querySelector(sel)) problems.push('no ' + role + ' landmark (' + sel + ')');
	}
	const h1s = document.querySelectorAll('main h1');
	if (h1s.length !== 1) problems.push('main has ' + h1s.length + ' h1 headings');
	for (const el of document.querySelectorAll('input, select, textarea')) {
		if (el.type === 'hidden') continue;
		const label = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) || el.closest('label');
		const named = (label && label.textContent.trim()) || (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
		if (!named) problems.push('a control without a label: ' + el.outerHTML.slice(0, 120));
	}
	for (const el of document.querySelectorAll('button, a[href], [role=button]')) {
		if (!visible(el)) continue;
		if (!(el.getAttribute('aria-label') || el.textContent || '').trim()) problems.push('a control without a name: ' + el.outerHTML.slice(0, 120));
	}
	const ids = new Set();
	for (const el of document.querySelectorAll('[id]')) {
		if (ids.has(el.id)) problems.push('duplicate id ' + el.id);
		ids.add(el.id);
	}
	for (const attr of ['aria-describedby', 'aria-labelledby', 'aria-controls']) {
		for (const el of document.querySelectorAll('[' + attr + ']')) {
			for (const id of el.getAttribute(attr).split(/\s+/).filter(Boolean)) if (!document.getElementById(id)) problems.push(attr + ' of ' + el.tagName + ' names a missing #' + id);
		}
	}
	for (const el of document.querySelectorAll('form')) if (!el.querySelector('button[type=submit], button:not([type])')) problems.push('a form without a submit button');

	const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null; const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
	const background = (el) => {
		const layers = [];
		for (let e = el; e; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
		}
		let out = [255, 255, 255];
		for (let i = layers.length - 1; i >= 0; i--) { const c = layers[i]; out = out.map((v, k) => c[k] * c[3] + v * (1 - c[3])); }
		return out;
	};
	const lum = (rgb) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]); };
	let worst = 100, checked = 0;
	const seen = new Set();
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	while (walker.nextNode()) {
		const node = walker.currentNode;
		const el = node.parentElement;
		if (!node.textContent.trim() || seen.has(el) || !visible(el) || el.closest('.visually-hidden, [hidden], noscript, option, .skip')) continue;
		seen.add(el);
		const cs = getComputedStyle(el);
		const bg = background(el);
		const fg = parse(cs.color);
		const fgc = fg.slice(0, 3).map((v, k) => v * fg[3] + bg[k] * (1 - fg[3]));
		const [hi, lo] = [lum(fgc), lum(bg)].sort((a, b) => b - a);
		const ratio = (hi + 0.05) / (lo + 0.05);
		const size = parseFloat(cs.fontSize);
		const large = size >= 24 || (Number(cs.fontWeight) >= 700 && size >= 18.66);
		checked++;
		worst = Math.min(worst, ratio);
		if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ':1 for "' + node.textContent.trim().slice(0, 40) + '" (' + cs.color + ' on rgb(' + bg.map(Math.round) + '))');
	}
	if (checked === 0) problems.push('no text checked');
	const main = getComputedStyle(document.querySelector('main .body p, main .card p, main dd, main label') || document.body);
	return {problems, worst, checked, mainColor: main.color};
})()`

type a11yResult struct {
	Problems  []string `json:"problems"`
	Worst     float64  `json:"worst"`
	Checked   int      `json:"checked"`
	MainColor string   `json:"mainColor"`
}

// TestAccessibility runs the checks of a11yJS on every page, as a visitor,
// a delegate and a convener, in English and French; drives a login with
// the keyboard alone, checking that each focused control shows a focus
// ring; checks that pages fit 360 px without sideways scrolling; that
// right-to-left posts are shown right-to-left; and that the interface
// language follows the browser's.
func TestAccessibility(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	chidi := e.login("chidi", convenerPass)
	e.call(e.admin, "POST", "/v1/organizations?organizationId=vso-kenya", map[string]string{"displayName": "VSO Kenya", "country": "KE", "kind": "ORGANIZATION_KIND_NGO"}, nil)
	var me struct{ Name string }
	e.call(amina, "GET", "/v1/users/me", nil, &me)
	e.call(amina, "PATCH", "/v1/"+me.Name, map[string]any{"organization": "organizations/vso-kenya", "country": "KE", "languages": []string{"sw", "en"}, "bio": "Volunteer coordinator in Kisumu."}, nil)
	parent := e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "What **worked** for you?", "tags": []string{"hosting"}})
	r1 := e.reply(chidi, parent, "A mentor from day one.", "")
	e.reply(amina, parent, "Agreed, and a signed agreement.", r1)
	followUp := e.thread(chidi, map[string]any{"title": "Follow-up: hosting", "kind": "THREAD_KIND_FOLLOW_UP", "followUpOf": parent})
	// Its action items: the organisation's, done with a note, and the
	// delegate's own, open and overdue.
	var checklist, mentor struct{ Name string }
	e.call(chidi, "POST", "/v1/"+followUp+"/actionItems", map[string]any{"title": "Send the hosting checklist to every host", "owner": "organizations/vso-kenya", "dueDate": "2024-04-01"}, &checklist)
	e.call(chidi, "POST", "/v1/"+followUp+"/actionItems", map[string]any{"title": "Pair each volunteer with a mentor", "owner": me.Name, "dueDate": "2024-05-01"}, &mentor)
	e.call(amina, "PATCH", "/v1/"+checklist.Name+"?updateMask=state,closingNote", map[string]any{"state": "ACTION_ITEM_STATE_DONE", "closingNote": "Sent in April."}, nil)
	itemAnchor := func(name string) string { return "#item-" + name[strings.LastIndexByte(name, '/')+1:] }
	e.call(chidi, "PATCH", "/v1/"+parent, map[string]any{"pinned": true}, nil)
	rtl := e.thread(amina, map[string]any{"title": "استضافة المتطوعين من الخارج", "body": "ما الذي نجح معكم؟ **الإرشاد** من اليوم الأول."})
	// A convening, with organisers and themes; the parent thread belongs to
	// it and its follow-up follows.
	const convening = "/convenings/nairobi-2024"
	e.call(e.admin, "POST", "/v1/convenings?conveningId=nairobi-2024", map[string]any{
		"title": "Nairobi 2024: hosting volunteers", "description": "What hosts **learnt**.", "startDate": "2024-03-04", "endDate": "2024-03-06",
		"place": "Nairobi", "country": "KE", "organizers": []string{me.Name, "organizations/vso-kenya"}, "themes": []string{"themes/knowledge-exchange", "themes/reciprocal-volunteering"},
	}, nil)
	e.call(chidi, "PATCH", "/v1/"+parent+"?updateMask=convening", map[string]any{"convening": convening[1:]}, nil)

	check := func(tb *tab, who, path string, prepare func()) {
		t.Helper()
		tb.open(path)
		if prepare != nil {
			prepare()
		}
		res := eval[a11yResult](tb, a11yJS)
		for _, p := range res.Problems {
			t.Errorf("%s %s: %s", who, path, p)
		}
		t.Logf("%s %s: %d texts checked, lowest contrast %.2f:1, main text %s", who, path, res.Checked, res.Worst, res.MainColor)
	}

	visitor := e.newTab(t)
	for _, p := range []string{"/", "/login", "/register", "/themes/knowledge-exchange", "/" + parent, "/" + me.Name, "/nowhere", "/convenings", convening, "/" + followUp, "/action-items"} {
		check(visitor, "visitor", p, nil)
	}

	delegate := e.newTab(t)
	delegate.setSession(amina)
	check(delegate, "delegate", "/"+parent, func() {
		delegate.clickText("#reply-form", "Show preview")
		delegate.fill("#reply-body", "A **draft** with a [link](https://example.org).")
	})
	check(delegate, "delegate", "/themes/knowledge-exchange/new", nil)
	check(delegate, "delegate", "/"+parent+"/edit", nil)
	check(delegate, "delegate", "/"+me.Name, func() {
		delegate.click("#edit-profile")
		delegate.wait("the profile form", `!document.querySelector('#profile-form').hidden && document.querySelectorAll('#profile-form option').length > 1`)
	})
	delegate.screenshot("profile")
	check(delegate, "delegate", "/password", nil)
	// A follow-up with items: Done and Drop on hers, a history opened.
	check(delegate, "delegate", "/"+followUp, func() {
		delegate.wait("the state controls", `document.querySelector('`+itemAnchor(mentor.Name)+`-done')`)
		delegate.click(itemAnchor(checklist.Name) + "-history summary")
	})
	check(delegate, "delegate", "/action-items", nil)
	check(delegate, "delegate", "/action-items?closed=1", nil)
	delegate.fill("#lang-select", "fr")
	delegate.wait("French", `document.documentElement.lang === 'fr'`)
	check(delegate, "delegate (fr)", "/"+parent, nil)
	check(delegate, "delegate (fr)", "/"+me.Name, nil)
	check(delegate, "delegate (fr)", convening, nil)
	check(delegate, "delegate (fr)", "/"+followUp, nil)
	check(delegate, "delegate (fr)", "/action-items?closed=1", nil)

	convener := e.newTab(t)
	convener.setSession(chidi)
	check(convener, "convener", "/"+parent, nil)
	convener.screenshot("convener-thread")
	check(convener, "convener", "/"+parent+"/follow-up", nil)
	check(convener, "convener", "/convenings", func() {
		convener.click("#new-convening")
		convener.wait("the form of a new convening", `!document.querySelector('#convening-form').hidden`)
	})
	check(convener, "convener", convening, nil)
	// The form of a new item with an error, an item's edit form open.
	check(convener, "convener", "/"+followUp, func() {
		convener.click("#add-action-item")
		convener.waitText("#item-title-error", "What is to be done")
		convener.click(itemAnchor(mentor.Name) + "-change")
		convener.wait("the edit form", `!document.querySelector('`+itemAnchor(mentor.Name)+`-edit').hidden`)
	})
	convener.screenshot("convener-action-items")
	convener.viewport(360, 740, true)
	convener.open("/convenings")
	convener.click("#new-convening")
	convener.wait("the form of a new convening", `!document.querySelector('#convening-form').hidden`)
	if w := eval[int](convener, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("at 360 px, the form of a new convening is %d px wide", w)
	}
	convener.screenshot("convening-form-360px")

	// The profile shows the organisation and the country by name, to
	// members; a visitor sees the name and is asked to log in.
	member := e.newTab(t)
	member.setSession(amina)
	member.open("/" + me.Name)
	member.waitText(".profile", "VSO Kenya (Kenya)")
	member.waitText(".profile", "Swahili")
	member.waitText(".bio", "Volunteer coordinator in Kisumu.")
	visitor.open("/" + me.Name)
	visitor.waitText("main", "Log in to see the whole profile.")
	visitor.wait("no organisation for a visitor", `!document.querySelector('main').textContent.includes('VSO Kenya') && !document.querySelector('.bio')`)

	// Keyboard only: Tab from the top of the login page to the form, type,
	// and press Enter. Every stop shows a focus ring.
	kb := e.newTab(t)
	kb.open("/login")
	focusRing := `(() => { const el = document.activeElement; if (!el || el === document.body) return 'nothing focused'; const cs = getComputedStyle(el); return cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2 ? '' : 'no focus ring on ' + el.outerHTML.slice(0, 80); })()`
	var stops []string
	for i := 0; i < 20; i++ {
		kb.do(keyTab())
		if msg := eval[string](kb, focusRing); msg != "" {
			t.Errorf("Tab stop %d: %s", i+1, msg)
		}
		stop := eval[string](kb, `(() => { const el = document.activeElement; return el.name || el.id || el.textContent.trim(); })()`)
		stops = append(stops, stop)
		if stop == "username" {
			break
		}
	}
	t.Logf("Tab stops on the way to the login form: %s", strings.Join(stops, " → "))
	if len(stops) == 0 || stops[0] != "skip" {
		t.Errorf("the first Tab stop is %v, want the skip link", stops)
	}
	if stops[len(stops)-1] != "username" {
		t.Fatalf("Tab never reached the username field: %v", stops)
	}
	kb.do(typeKeys("amina"), keyTab(), typeKeys(memberPass), keyEnter())
	kb.waitText("header nav", "Amina Diallo")
	// The skip link moves focus into the main content.
	kb.open("/" + parent)
	kb.do(keyTab(), keyEnter())
	kb.wait("focus in main", `document.activeElement === document.querySelector('main')`)

	// 360 px wide: nothing scrolls sideways.
	phone := e.newTab(t)
	phone.setSession(amina)
	phone.viewport(360, 740, true)
	for _, p := range []string{"/", "/themes/knowledge-exchange", "/" + parent, "/themes/knowledge-exchange/new", "/" + me.Name, "/register", "/convenings", convening, "/" + followUp, "/action-items?closed=1"} {
		phone.open(p)
		if w := eval[int](phone, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("at 360 px, %s is %d px wide", p, w)
		}
	}
	phone.open("/" + parent)
	phone.screenshot("thread-360px")
	phone.open("/themes/knowledge-exchange")
	phone.screenshot("theme-360px")
	phone.open("/" + followUp)
	phone.screenshot("action-items-360px")

	// Right-to-left posts read right to left; the interface stays as it is.
	visitor.open("/" + rtl)
	visitor.wait("RTL heading and body", `getComputedStyle(document.querySelector('h1')).direction === 'rtl' && getComputedStyle(document.querySelector('.thread .body')).direction === 'rtl' && getComputedStyle(document.querySelector('header')).direction === 'ltr'`)
	visitor.screenshot("rtl")

	// The language follows the browser's, until the switch says otherwise.
	es := e.newTab(t)
	es.acceptLanguage("es-ES,es;q=0.9,en;q=0.5")
	es.open("/")
	es.waitText("main h1", "Temas")
	es.wait("lang=es", `document.documentElement.lang === 'es' && document.querySelector('#lang-select').value === 'es'`)
	check(es, "visitor (es)", "/"+parent, nil)
}
