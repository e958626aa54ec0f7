package web_test

import (
	"testing"
)

// TestThemeAndModeration covers a theme's list (pinned first, sorting,
// filters by kind, state and tag, real URLs and the back button), the
// convener's actions on a thread (pin, lock, unlock, resolve), the author's
// edit and delete of a thread, and editing one's profile.
func TestThemeAndModeration(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	chidi := e.login("chidi", convenerPass)
	e.call(e.admin, "POST", "/v1/organizations?organizationId=cv-brasil", map[string]string{"displayName": "Centro de Voluntariado", "country": "BR", "kind": "ORGANIZATION_KIND_NGO"}, nil)
	old := e.thread(amina, map[string]any{"title": "Oldest: hosting", "body": "x", "tags": []string{"hosting"}})
	q := e.thread(amina, map[string]any{"title": "Middle: which visa?", "body": "x", "kind": "THREAD_KIND_QUESTION", "tags": []string{"visas"}})
	e.thread(amina, map[string]any{"title": "Newest: recognition", "body": "x", "tags": []string{"recognition"}})
	e.reply(amina, q, "Bumps the question's activity.", "")
	titles := `[...document.querySelectorAll('.threads > li h2')].map((h) => h.textContent).join(' | ')`

	// The convener pins the oldest thread, then locks, unlocks and resolves
	// the question.
	c := e.newTab(t)
	c.setSession(chidi)
	c.open("/" + old)
	c.click("#pin-thread")
	c.wait("pinned", `document.querySelector('#unpin-thread') === document.activeElement && document.querySelector('.thread .badges').textContent.includes('Pinned')`)
	c.waitText("#announce", "The thread is pinned.") // for screen readers
	c.open("/" + q)
	c.click("#lock-thread")
	c.waitText(".thread .badges", "Locked")
	c.waitText("#locked-notice", "This thread is locked")
	c.wait("no reply buttons", `![...document.querySelectorAll('li.reply button')].some((b) => b.textContent === 'Reply')`)
	c.click("#unlock-thread")
	c.wait("unlocked, still open", `(() => { const b = document.querySelector('.thread .badges').textContent; return b.includes('Open') && !b.includes('Locked'); })()`)
	c.waitText("#announce", "The thread is unlocked")
	c.wait("the reply form back", `document.querySelector('#reply-form')`)
	c.click("#resolve-thread")
	c.waitText(".thread .badges", "Resolved")
	c.wait("reopen offered", `document.querySelector('#reopen-thread') === document.activeElement`)

	// The theme's list: pinned first, then by latest activity.
	d := e.newTab(t)
	d.setSession(amina)
	d.open("/themes/knowledge-exchange")
	d.wait("pinned first, then activity", titles+` === 'Oldest: hosting | Middle: which visa? | Newest: recognition'`)
	d.waitText(".threads > li.pinned .badges", "Pinned")
	d.screenshot("theme")
	// Newest first.
	d.fill(".filters [name=sort]", "new")
	d.click(".filters button[type=submit]")
	d.waitRendered("/themes/knowledge-exchange?sort=new")
	d.wait("newest first", `(`+titles+`).indexOf('Newest') < (`+titles+`).indexOf('Middle')`)
	// Questions only, and resolved only.
	d.fill(".filters [name=sort]", "")
	d.fill(".filters [name=kind]", "QUESTION")
	d.click(".filters button[type=submit]")
	d.waitRendered("/themes/knowledge-exchange?kind=QUESTION")
	d.wait("only the question", titles+` === 'Middle: which visa?'`)
	d.fill(".filters [name=kind]", "")
	d.fill(".filters [name=state]", "RESOLVED")
	d.click(".filters button[type=submit]")
	d.waitRendered("/themes/knowledge-exchange?state=RESOLVED")
	d.wait("only the resolved thread", titles+` === 'Middle: which visa?'`)
	// Back twice: the question filter, then the whole list.
	eval[bool](d, `(history.back(), true)`)
	d.waitRendered("/themes/knowledge-exchange?kind=QUESTION")
	d.wait("the kind filter in the form", `document.querySelector('.filters [name=kind]').value === 'QUESTION'`)
	d.open("/themes/knowledge-exchange")
	// A tag link filters by that tag; a malformed tag is explained.
	d.click(`.threads a[href="/themes/knowledge-exchange?tag=recognition"]`)
	d.waitRendered("/themes/knowledge-exchange?tag=recognition")
	d.wait("only the tagged thread", titles+` === 'Newest: recognition'`)
	d.fill(".filters [name=tag]", "Not a tag!")
	d.click(".filters button[type=submit]")
	d.waitText(".filters .field-error", "A tag is made of lowercase letters")

	// The author edits and then deletes a thread.
	d.open("/" + old)
	d.click("#edit-thread")
	d.waitRendered("/" + old + "/edit")
	d.fill("#thread-form [name=title]", "Oldest: hosting, edited")
	d.click("#thread-form button[type=submit]")
	d.waitRendered("/" + old)
	d.waitText("h1#thread-title", "Oldest: hosting, edited")
	d.clickText(".thread .actions", "Delete")
	d.clickText(".thread .actions", "Yes, delete")
	d.waitRendered("/themes/knowledge-exchange")
	d.waitText("main .flash", "The thread was deleted.")
	d.wait("gone from the list", `!(`+titles+`).includes('Oldest')`)

	// Editing one's profile: a wrong country is explained next to the
	// field; then the organisation and country are saved and shown.
	d.open("/users/me")
	d.click("#edit-profile")
	d.wait("the organisations", `[...document.querySelectorAll('#profile-form [name=organization] option')].some((o) => o.value === 'organizations/cv-brasil')`)
	d.fill("#profile-form [name=country]", "XX")
	d.click("#profile-form button[type=submit]")
	d.waitText("#profile-form .field-error:not([hidden])", "Country:")
	d.wait("country marked invalid", `document.querySelector('#profile-form [name=country]').getAttribute('aria-invalid') === 'true'`)
	d.fill("#profile-form [name=country]", "br")
	d.fill("#profile-form [name=organization]", "organizations/cv-brasil")
	d.fill("#profile-form [name=languages]", "pt-BR, fr")
	d.fill("#profile-form [name=bio]", "Coordinates exchanges with Mozambique.")
	d.click("#profile-form button[type=submit]")
	d.waitText("main .flash", "Your profile is saved.")
	d.waitText(".profile", "Centro de Voluntariado (Brazil)")
	d.waitText(".profile", "Brazilian Portuguese")
	d.waitText(".bio", "Coordinates exchanges with Mozambique.")
}
