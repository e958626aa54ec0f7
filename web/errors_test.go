package web_test

import (
	"strings"
	"testing"
)

// TestErrorsInPlainWords checks that API errors reach the person in plain
// words, next to what caused them: a title that is too long (next to the
// title field), a locked thread (next to the reply being sent), a session
// that ended (with a link to log in again), a stale edit (changed
// meanwhile), and an invitation code that is missing.
func TestErrorsInPlainWords(t *testing.T) {
	e := newEnv(t)
	token, _ := e.member("amina", "Amina Diallo")
	th := e.thread(token, map[string]any{"title": "Water points", "body": "Where are they?"})
	e.reply(token, th, "First answer.", "")

	tb := e.newTab(t)
	tb.setSession(token)

	// A title over 300 characters: the server's field violation is shown
	// under the title field, which is marked invalid and focused.
	tb.open("/themes/knowledge-exchange/new")
	tb.fill("#thread-form [name=title]", strings.Repeat("long ", 70))
	tb.fill("#thread-body", "body")
	tb.click("#thread-form button[type=submit]")
	tb.waitText("#thread-form .field-error:not([hidden])", "Title:")
	tb.wait("the title marked invalid and focused", `(() => { const i = document.querySelector('#thread-form [name=title]'); return i.getAttribute('aria-invalid') === 'true' && document.activeElement === i && i.getAttribute('aria-describedby').split(' ').includes(document.querySelector('#thread-form .field-error:not([hidden])').id); })()`)
	tb.screenshot("title-too-long")

	// A thread locked while the delegate writes: the reply is refused and
	// the reason shown next to the reply form.
	tb.open("/" + th)
	tb.fill("#reply-body", "Another answer.")
	e.call(e.admin, "PATCH", "/v1/"+th+"?updateMask=locked", map[string]any{"locked": true}, nil)
	tb.click("#post-reply")
	tb.waitText("#reply-form .form-error", "This thread is locked: it takes no new replies or edits.")
	tb.screenshot("locked")
	// Reloaded, the page says so instead of offering the form.
	tb.open("/" + th)
	tb.waitText("#locked-notice", "This thread is locked")
	tb.wait("no reply form", `!document.querySelector('#reply-form')`)
	// Unlocked (locked is apart from the state: setting the state OPEN
	// would not unlock it).
	e.call(e.admin, "PATCH", "/v1/"+th+"?updateMask=locked", map[string]any{"locked": false}, nil)

	// An edit of a reply that someone else changed meanwhile (etag).
	tb.open("/" + th)
	tb.clickText("li.reply", "Edit")
	var replies struct{ Replies []struct{ Name string } }
	e.call(e.admin, "GET", "/v1/"+th+"/replies", nil, &replies)
	e.call(e.admin, "PATCH", "/v1/"+replies.Replies[0].Name, map[string]any{"body": "Changed by a convener."}, nil)
	tb.fill("li.reply form.edit textarea", "My own change.")
	tb.click("li.reply form.edit button[type=submit]")
	tb.waitText("li.reply form.edit .form-error", "Someone changed this meanwhile.")

	// The session ends elsewhere (the password is changed from another
	// device): the next write says so, with a link to log in again, and the
	// header shows the person as logged out.
	tb.open("/" + th)
	tb.fill("#reply-body", "Are you still there?")
	e.call(token, "POST", "/v1/auth:changePassword", map[string]string{"oldPassword": memberPass, "newPassword": "a new password 5678"}, nil)
	tb.click("#post-reply")
	tb.waitText("#reply-form .form-error", "Your session expired, log in again.")
	tb.wait("a link to log in again", `document.querySelector('#reply-form .form-error a[href^="/login?next="]')`)
	tb.waitText("header nav", "Log in")
	tb.screenshot("session-expired")
	// Logging in again from that link returns to the thread, and the reply
	// being written is still there.
	tb.click("#reply-form .form-error a")
	tb.wait("the login page", `location.pathname === '/login' && document.querySelector('#login-form')`)
	tb.fill("#login-form [name=username]", "amina")
	tb.fill("#login-form [name=password]", "a new password 5678")
	tb.click("#login-form button[type=submit]")
	tb.waitRendered("/" + th)
	tb.wait("the draft kept", `document.querySelector('#reply-body').value === 'Are you still there?'`)
	tb.click("#post-reply")
	tb.waitText(".reply-list li.reply .body", "Are you still there?")
	tb.wait("the draft cleared", `document.querySelector('#reply-body').value === '' && sessionStorage.length === 0`)
	tb.clickText("header nav", "Log out")
	tb.waitText("header nav", "Log in")

	// Registering without the invitation code this forum needs: said next
	// to the code field.
	tb.open("/register")
	tb.fill("#register-form [name=username]", "bola")
	tb.fill("#register-form [name=displayName]", "Bola")
	tb.fill("#register-form [name=password]", memberPass)
	tb.click("#register-form button[type=submit]")
	tb.waitText("#register-form .field-error:not([hidden])", "needs an invitation code")
	tb.wait("next to the code field", `document.querySelector('#register-form [name=invitationCode]').getAttribute('aria-invalid') === 'true'`)
	// A username that is taken.
	tb.fill("#register-form [name=username]", "amina")
	tb.fill("#register-form [name=invitationCode]", e.invitation())
	tb.click("#register-form button[type=submit]")
	tb.waitText("#register-form .field-error:not([hidden])", "This username is taken")

	// An unknown page and an unknown thread.
	tb.open("/no/such/page")
	tb.waitText("main h1", "Page not found")
	tb.open("/threads/99999")
	tb.waitText("main h1", "Page not found")
}
