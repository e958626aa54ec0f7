package web_test

import (
	"strings"
	"testing"
)

// TestConvenings covers the convenings' pages. An administrator opens
// /convenings from the header, opens the form of a new convening and fills
// it in (title, slug, dates, place, country, two themes, a description);
// an end before the start is refused by the server, shown next to the
// last day's field and nothing is created; corrected, the convening is
// created and its page opens. Through the API it gets organisers, a
// discussion (as the administrator, with its convening) and a follow-up
// of it (which takes its parent's convening); a thread elsewhere stays
// out. The list shows the title, the dates, the place and country, the
// state and the thread count; the convening's page its details, its
// description, and the discussion and the follow-up in their sections.
// The administrator marks it Held with the state control (announced, and
// the list's filter by state agrees). The threads' pages link to the
// convening. A member sees neither "New convening" nor the state control;
// a visitor sees the page.
func TestConvenings(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	e.call(e.admin, "POST", "/v1/organizations?organizationId=vso-china", map[string]string{"displayName": "VSO China", "country": "CN", "kind": "ORGANIZATION_KIND_NGO"}, nil)
	var admin struct{ Name string }
	e.call(e.admin, "GET", "/v1/users/me", nil, &admin)
	const (
		slug  = "beijing-2015"
		name  = "convenings/" + slug
		title = "Beijing 2015: volunteering for development"
	)

	a := e.newTab(t)
	a.setSession(e.admin)
	a.open("/")
	a.clickText("header nav", "Convenings")
	a.waitRendered("/convenings")
	a.waitText("main h1", "Convenings")
	a.waitText("#no-convenings", "There are no convenings yet.")

	// The form, behind its button.
	a.wait("the form hidden", `document.querySelector('#convening-form').hidden && document.querySelector('#new-convening').getAttribute('aria-expanded') === 'false'`)
	a.click("#new-convening")
	a.wait("the form shown, the title focused", `!document.querySelector('#convening-form').hidden && document.querySelector('#new-convening').getAttribute('aria-expanded') === 'true' && document.activeElement === document.querySelector('#convening-title')`)
	// The slug follows the title until it is typed in.
	a.fill("#convening-title", title)
	a.wait("a slug suggested", `document.querySelector('#convening-slug').value === 'beijing-2015-volunteering-for-development'`)
	a.fill("#convening-slug", slug)
	a.fill("#convening-start", "2015-10-21")
	a.fill("#convening-end", "2015-10-19")
	a.fill("#convening-place", "Beijing")
	a.fill("#convening-country", "cn")
	a.waitText("#convening-form", "China")
	a.click("#convening-theme-knowledge-exchange")
	a.click("#convening-theme-south-south-cooperation")
	a.fill("#convening-description", "Volunteers and their organisations met **for development**: what we agreed.")
	a.click("#create-convening")
	// The end before the start: the server's error next to the last day.
	a.waitText("#convening-end-error", "before the start date")
	a.wait("the last day invalid and focused", `document.querySelector('#convening-end').getAttribute('aria-invalid') === 'true' && document.activeElement === document.querySelector('#convening-end')`)
	a.wait("only that field in error", `document.querySelector('#convening-start-error').hidden && document.querySelector('#convening-form-error').hidden && !document.querySelector('#convening-form').hasAttribute('aria-busy')`)
	a.waitText("#convening-end-error", "Last day")
	a.screenshot("convening-form-error")
	if res := eval[a11yResult](a, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("the form with an error: %s", p)
		}
	}
	if code, body := e.do(e.admin, "GET", "/v1/"+name, nil); code != 404 {
		t.Fatalf("after a refused form, GET %s: %d %s, want 404", name, code, body)
	}
	var list struct {
		Convenings []struct {
			Name, Title, StartDate, EndDate, Place, Country, State, Description string
			Themes                                                              []string
		}
	}
	e.call(e.admin, "GET", "/v1/convenings", nil, &list)
	if len(list.Convenings) != 0 {
		t.Fatalf("after a refused form, %d convenings", len(list.Convenings))
	}

	// Corrected: created, and its page opens.
	a.fill("#convening-start", "2015-10-19")
	a.fill("#convening-end", "2015-10-21")
	a.click("#create-convening")
	a.waitRendered("/" + name)
	a.waitText("main h1", title)
	a.waitText("#announce", "The convening is created.")
	e.call(e.admin, "GET", "/v1/convenings", nil, &list)
	if len(list.Convenings) != 1 {
		t.Fatalf("%d convenings, want 1", len(list.Convenings))
	}
	c := list.Convenings[0]
	if c.Name != name || c.Title != title || c.StartDate != "2015-10-19" || c.EndDate != "2015-10-21" || c.Place != "Beijing" || c.Country != "CN" || c.State != "CONVENING_STATE_PLANNED" ||
		strings.Join(c.Themes, ",") != "themes/knowledge-exchange,themes/south-south-cooperation" || !strings.Contains(c.Description, "**for development**") {
		t.Errorf("the convening created: %+v", c)
	}

	// Organisers, a discussion in it, a follow-up of that, a reply, and a
	// thread elsewhere.
	e.call(e.admin, "PATCH", "/v1/"+name+"?updateMask=organizers", map[string]any{"organizers": []string{admin.Name, "organizations/vso-china"}}, nil)
	parent := e.thread(e.admin, map[string]any{"title": "What Beijing agreed on volunteering", "body": "The commitments, one by one.", "convening": name})
	followUp := e.thread(e.admin, map[string]any{"title": "One year after Beijing", "body": "Where we stand.", "kind": "THREAD_KIND_FOLLOW_UP", "followUpOf": parent})
	e.reply(amina, parent, "Our organisation signed up to two of them.", "")
	e.thread(amina, map[string]any{"title": "Hosting volunteers from abroad", "body": "Not about Beijing."})
	var fu struct{ Convening string }
	e.call(e.admin, "GET", "/v1/"+followUp, nil, &fu)
	if fu.Convening != name {
		t.Errorf("the follow-up's convening is %q, want its parent's, %s", fu.Convening, name)
	}

	// The list.
	a.open("/convenings")
	item := `#convening-list li[data-name="` + name + `"]`
	a.wait("the convening listed, linked", `document.querySelector('`+item+` h2 a[href="/`+name+`"]') && document.querySelector('`+item+` h2 a').textContent === `+js(title)+` && document.querySelectorAll('#convening-list > li').length === 1`)
	a.waitText(item+" .meta .dates", "Oct 19")
	a.waitText(item+" .meta .dates", "21, 2015")
	a.waitText(item+" .meta", "Beijing, China")
	a.waitText(item+" .meta", "2 threads")
	a.waitText(item+" .badges", "Planned")
	a.screenshot("convenings-list")

	// The convening's page: details, description, and its threads in their
	// sections.
	a.click(item + " h2 a")
	a.waitRendered("/" + name)
	a.waitText("main h1", title)
	a.waitText(".crumbs", "Convenings")
	a.waitText("#convening-badges", "Planned")
	a.waitText("#convening-details", "Beijing, China")
	a.waitText("#convening-details .dates", "Oct 19")
	a.wait("the organisers: a profile link and an organisation", `document.querySelector('#convening-details a[href="/`+admin.Name+`"]') && document.querySelector('#convening-details a[href="/`+admin.Name+`"]').textContent === 'Ada Admin' && document.querySelector('#convening-details .org').textContent === 'VSO China (China)'`)
	a.wait("the themes linked", `document.querySelector('#convening-theme-links a[href="/themes/knowledge-exchange"]').textContent === 'Knowledge exchange' && document.querySelector('#convening-theme-links a[href="/themes/south-south-cooperation"]').textContent === 'South-South cooperation'`)
	a.wait("the description rendered", `document.querySelector('#convening-description strong') && document.querySelector('#convening-description strong').textContent === 'for development'`)
	a.waitText("#discussions h2", "Discussions")
	a.waitText("#follow-ups h2", "Follow-ups")
	a.wait("the discussion in Discussions", `(() => { const l = [...document.querySelectorAll('#discussions .thread-item')]; return l.length === 1 && l[0].querySelector('h3 a[href="/`+parent+`"]') && l[0].querySelector('.badges').textContent.includes('Discussion') && l[0].querySelector('.meta').textContent.includes('1 reply'); })()`)
	a.wait("the follow-up in Follow-ups", `(() => { const l = [...document.querySelectorAll('#follow-ups .thread-item')]; return l.length === 1 && l[0].querySelector('h3 a[href="/`+followUp+`"]') && l[0].querySelector('.badges').textContent.includes('Follow-up') && l[0].querySelector('a[href="/`+parent+`"]'); })()`)
	a.wait("the thread elsewhere left out", `!document.querySelector('main').textContent.includes('Hosting volunteers')`)
	a.screenshot("convening-page")

	// Held, with the state control.
	a.wait("the state control", `document.querySelector('#convening-state').value === 'CONVENING_STATE_PLANNED'`)
	a.fill("#convening-state", "CONVENING_STATE_HELD")
	a.click("#convening-state-save")
	a.waitText("#convening-badges", "Held")
	a.waitText("#announce", "The convening is now marked Held.")
	a.wait("the control shows it, focused", `document.querySelector('#convening-state').value === 'CONVENING_STATE_HELD' && document.activeElement === document.querySelector('#convening-state')`)
	var got struct{ State string }
	e.call("", "GET", "/v1/"+name, nil, &got)
	if got.State != "CONVENING_STATE_HELD" {
		t.Errorf("state %s after the change, want HELD", got.State)
	}
	if res := eval[a11yResult](a, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("the convening's page, as an administrator: %s", p)
		}
	}
	a.open("/convenings?state=HELD")
	a.waitText(item+" .badges", "Held")
	a.open("/convenings?state=PLANNED")
	a.waitText("#no-convenings", "No convenings match.")

	// The threads' pages link to the convening.
	for _, th := range []string{parent, followUp} {
		a.open("/" + th)
		a.wait("the convening linked from "+th, `(() => { const x = document.querySelector('#thread-meta #thread-convening'); return x && x.getAttribute('href') === '/`+name+`' && x.textContent === `+js(title)+` && document.querySelector('#thread-meta').textContent.includes('Convening:'); })()`)
	}
	a.click("#thread-convening")
	a.waitRendered("/" + name)

	// A second convening with the same slug: the error is next to the slug.
	a.open("/convenings")
	a.click("#new-convening")
	a.fill("#convening-title", "Beijing again")
	a.fill("#convening-slug", slug)
	a.fill("#convening-start", "2016-10-19")
	a.fill("#convening-end", "2016-10-19")
	a.click("#create-convening")
	a.waitText("#convening-slug-error", "Another convening is already at /convenings/beijing-2015")
	a.wait("the slug invalid and focused", `document.querySelector('#convening-slug').getAttribute('aria-invalid') === 'true' && document.activeElement === document.querySelector('#convening-slug')`)
	// A slug that is none is refused before it is sent.
	a.fill("#convening-slug", "Beijing 2016")
	a.click("#create-convening")
	a.waitText("#convening-slug-error", "Use lowercase letters")
	e.call(e.admin, "GET", "/v1/convenings", nil, &list)
	if len(list.Convenings) != 1 {
		t.Errorf("%d convenings after two refused forms, want 1", len(list.Convenings))
	}

	// A member: no "New convening", no state control.
	m := e.newTab(t)
	m.setSession(amina)
	m.open("/convenings")
	m.waitText("#convening-list h2", title)
	m.wait("no New convening", `!document.querySelector('#new-convening, #convening-form') && ![...document.querySelectorAll('main button')].some((b) => b.textContent.includes('New convening'))`)
	m.open("/" + name)
	m.waitText("#follow-ups", "One year after Beijing")
	m.wait("no state control", `!document.querySelector('#convening-state-form, #convening-state')`)

	// A visitor sees it all, and the header links to the list.
	v := e.newTab(t)
	v.open("/" + name)
	v.waitText("main h1", title)
	v.waitText("#convening-badges", "Held")
	v.waitText("#discussions", "What Beijing agreed on volunteering")
	v.waitText("#follow-ups", "One year after Beijing")
	v.wait("no state control", `!document.querySelector('#convening-state-form')`)
	v.wait("a link in the header", `document.querySelector('header nav a[href="/convenings"]')`)
	if res := eval[a11yResult](v, a11yJS); len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Errorf("the convening's page, as a visitor: %s", p)
		}
	}
	v.open("/convenings/nowhere")
	v.waitText("main h1", "Page not found")
}
