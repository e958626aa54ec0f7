package web_test

import (
	"strings"
	"testing"
)

// TestStory is the story, in a real browser against the real
// forumd: a delegate registers with an invitation, logs out and in again,
// posts a thread (with a preview), replies, sees the reply, edits it; a
// convener opens a follow-up and both threads link to each other; the
// delegate switches to French and logs out. Screenshots of the main pages
// go to the test's artifact directory (go test -artifacts keeps them).
func TestStory(t *testing.T) {
	e := newEnv(t)
	code := e.invitation()

	// A delegate registers from the home page.
	d := e.newTab(t)
	d.open("/")
	d.waitText("main .card h2", "Knowledge exchange")
	d.screenshot("01-themes")
	d.clickText("header nav", "Register")
	d.waitRendered("/register")
	d.typeInto("#register-form [name=username]", "amina")
	d.typeInto("#register-form [name=displayName]", "Amina Diallo")
	d.typeInto("#register-form [name=password]", memberPass)
	d.typeInto("#register-form [name=email]", "amina@example.org")
	d.fill("#register-form [name=invitationCode]", code)
	d.screenshot("02-register")
	d.click("#register-form button[type=submit]")
	d.waitRendered("/")
	d.waitText("header nav", "Amina Diallo")
	d.waitText("main .flash", "Welcome, Amina Diallo")
	// The session is an HttpOnly cookie: script never sees the token.
	if c := eval[string](d, `document.cookie`); c != "" {
		t.Errorf("document.cookie = %q; the session cookie must be HttpOnly", c)
	}
	if n := eval[int](d, `localStorage.length + sessionStorage.length`); n > 1 {
		t.Errorf("web storage holds %d items; only the language choice may be stored", n)
	}

	// Log out and in again.
	d.clickText("header nav", "Log out")
	d.waitText("main .flash", "You are logged out.")
	d.waitText("header nav", "Log in")
	d.clickText("header nav", "Log in")
	d.waitRendered("/login")
	d.typeInto("#login-form [name=username]", "amina")
	d.typeInto("#login-form [name=password]", "not the password")
	d.click("#login-form button[type=submit]")
	d.waitText("#login-form .field-error", "The username or the password is wrong.")
	d.screenshot("03-login-error")
	d.fill("#login-form [name=password]", memberPass)
	d.click("#login-form button[type=submit]")
	d.waitText("main .flash", "Welcome back, Amina Diallo.")

	// Post a thread in a theme, with a preview first.
	d.click(`main a[href="/themes/knowledge-exchange"]`)
	d.waitRendered("/themes/knowledge-exchange")
	d.click(`main a[href="/themes/knowledge-exchange/new"]`)
	d.waitRendered("/themes/knowledge-exchange/new")
	d.typeInto("#thread-form [name=title]", "Hosting volunteers from abroad")
	d.fill("#thread-form [name=tags]", "hosting, volunteers")
	d.fill("#thread-body", "What **worked** for you?\n\n- housing\n- mentoring")
	d.clickText("#thread-form", "Show preview")
	d.wait("preview", `document.querySelector('#thread-body-preview strong')?.textContent === 'worked' && document.querySelectorAll('#thread-body-preview li').length === 2`)
	d.screenshot("04-compose-preview")
	d.click("#thread-form button[type=submit]")
	d.waitText("h1#thread-title", "Hosting volunteers from abroad")
	parentPath := eval[string](d, `location.pathname`)
	if !strings.HasPrefix(parentPath, "/threads/") {
		t.Fatalf("after publishing, the page is %s, not a thread", parentPath)
	}
	d.wait("the rendered body", `document.querySelector('.thread .body strong')?.textContent === 'worked'`)
	d.waitText(".thread .tags", "#hosting")

	// Reply, and see the reply.
	d.typeInto("#reply-body", "We pair each volunteer with a mentor.")
	d.click("#post-reply")
	d.waitText(".reply-list li.reply .body", "We pair each volunteer with a mentor.")
	d.waitText("#replies-h", "1 reply")
	d.wait("the reply focused", `document.activeElement && document.activeElement.matches('li.reply')`)

	// Edit it.
	d.clickText(".reply-list li.reply", "Edit")
	d.wait("the edit form", `document.querySelector('li.reply form.edit textarea') === document.activeElement`)
	d.fill("li.reply form.edit textarea", "We pair each volunteer with a mentor, and a host family.")
	d.click("li.reply form.edit button[type=submit]")
	d.waitText(".reply-list li.reply .body", "and a host family.")
	d.waitText(".reply-list li.reply .meta", "edited")
	d.screenshot("05-thread")

	// A convener opens a follow-up from the thread.
	c := e.newTab(t)
	c.open("/login?next=" + parentPath)
	c.typeInto("#login-form [name=username]", "chidi")
	c.typeInto("#login-form [name=password]", convenerPass)
	c.click("#login-form button[type=submit]")
	c.waitRendered(parentPath)
	c.waitText("header nav", "Chidi Okafor")
	c.click("#open-follow-up")
	c.waitRendered(parentPath + "/follow-up")
	c.wait("the prefilled title", `document.querySelector('#thread-form [name=title]').value === 'Follow-up: Hosting volunteers from abroad'`)
	c.fill("#thread-body", "Actions agreed in Nairobi:\n\n1. a shared mentoring guide\n2. a host-family checklist")
	c.click("#thread-form button[type=submit]")
	c.waitText("h1#thread-title", "Follow-up: Hosting volunteers from abroad")
	childPath := eval[string](c, `location.pathname`)
	c.wait("the link to the followed-up thread", `document.querySelector('#follow-up-of')?.getAttribute('href') === `+js(parentPath))
	c.waitText(".thread .badges", "Follow-up")
	c.screenshot("06-follow-up")
	// Back on the first thread, the follow-up is listed.
	c.click("#follow-up-of")
	c.waitRendered(parentPath)
	c.wait("the link to the follow-up", `document.querySelector('.followups a[href="`+childPath+`"]')?.textContent === 'Follow-up: Hosting volunteers from abroad'`)
	// The back button returns to the follow-up.
	eval[bool](c, `(history.back(), true)`)
	c.waitRendered(childPath)
	c.waitText("h1#thread-title", "Follow-up: Hosting volunteers from abroad")

	// The delegate sees the follow-up too, after a reload.
	d.open(parentPath)
	d.wait("the follow-up link", `document.querySelector('.followups a[href="`+childPath+`"]')`)
	d.screenshot("07-thread-with-follow-up")

	// Switch to French: the interface and <html lang> change, the posts do not.
	d.fill("#lang-select", "fr")
	d.waitText("header nav", "Se déconnecter")
	d.wait("lang=fr", `document.documentElement.lang === 'fr'`)
	d.waitText("#replies-h", "1 réponse")
	d.waitText(".followups h2", "Suivis")
	d.waitText("h1#thread-title", "Hosting volunteers from abroad")
	d.screenshot("08-thread-fr")
	// The choice is remembered.
	d.open("/")
	d.waitText("main h1", "Thèmes")

	// Log out.
	d.clickText("header nav", "Se déconnecter")
	d.waitText("main .flash", "Vous êtes déconnecté.")
	d.waitText("header nav", "Se connecter")
	if code := eval[int](d, `fetch('/v1/users/me', {credentials: 'same-origin'}).then((r) => r.status)`); code != 401 {
		t.Errorf("after logging out, GET /v1/users/me answers %d, want 401", code)
	}
}
