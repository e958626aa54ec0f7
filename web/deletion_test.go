package web_test

import (
	"testing"
)

// TestModeratorDeletion covers deletions by a convener: the page asks the
// convener (and only for someone else's post) for an optional reason; the
// tombstone and the deleted thread say who removed the post and why, in
// the person's language; the author is not offered to restore what a
// moderator removed, and in a locked thread is offered no Delete at all.
func TestModeratorDeletion(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	chidi := e.login("chidi", convenerPass)
	th := e.thread(amina, map[string]any{"title": "Cheap flights", "body": "Click here."})
	spam := e.reply(amina, th, "Really cheap, click.", "")
	e.reply(amina, th, "Posted twice.", "")
	own := e.reply(chidi, th, "Welcome, everyone.", "")
	anchor := func(reply string) string { return "#r-" + reply[len(th+"/replies/"):] }
	noDelete := func(scope string) string {
		return `![...document.querySelectorAll(` + js(scope) + `)].some((b) => b.textContent === 'Delete' && b.offsetParent !== null)`
	}

	// The author deletes her own reply: no reason asked; the tombstone says
	// who.
	a := e.newTab(t)
	a.setSession(amina)
	a.open("/" + th)
	a.clickText("li.reply:nth-child(2)", "Delete")
	a.wait("no reason asked of the author", `!document.querySelector('li.reply:nth-child(2) .delete-reason')`)
	a.clickText("li.reply:nth-child(2)", "Yes, delete")
	a.waitText("li.reply:nth-child(2) .tombstone", "This reply was deleted. Removed by its author.")

	// The convener removes a reply, then the thread, giving reasons; his own
	// reply asks for none.
	c := e.newTab(t)
	c.setSession(chidi)
	c.open("/" + th)
	c.clickText(anchor(own), "Delete")
	c.wait("no reason asked for one's own reply", `!document.querySelector('`+anchor(own)+` .delete-reason')`)
	c.clickText(anchor(own), "Cancel")
	c.clickText(anchor(spam), "Delete")
	c.wait("the reason field focused", `document.activeElement === document.querySelector('`+anchor(spam)+` input.delete-reason') && document.activeElement.labels[0].textContent === 'Reason (optional, shown with the post)'`)
	c.fill(anchor(spam)+" input.delete-reason", "Advertising")
	c.clickText(anchor(spam), "Yes, delete")
	c.waitText(anchor(spam)+" .tombstone", "This reply was deleted. Removed by a moderator. Reason: Advertising")
	c.clickText(".thread .actions", "Delete")
	c.fill(".thread .actions input.delete-reason", "Not about knowledge exchange")
	c.clickText(".thread .actions", "Yes, delete")
	c.waitText("main .flash", "The thread was deleted.")

	// The author sees why, and no Restore button.
	a.open("/" + th)
	a.waitText("#deleted-notice", "It was removed by a moderator. Reason: Not about knowledge exchange Only a convener or an administrator can restore it.")
	a.wait("no restore for the author", `!document.querySelector('#undelete-thread')`)
	a.screenshot("removed-by-moderator")

	// In French.
	fr := e.newTab(t)
	fr.acceptLanguage("fr-FR,fr;q=0.9")
	fr.setSession(amina)
	fr.open("/" + th)
	fr.waitText("#deleted-notice", "Il a été retiré par un modérateur. Motif : Not about knowledge exchange")
	fr.waitText(anchor(spam)+" .tombstone", "Cette réponse a été supprimée. Retirée par un modérateur.")

	// The convener restores it.
	c.open("/" + th)
	c.click("#undelete-thread")
	c.wait("restored", `!document.querySelector('#deleted-notice') && document.querySelector('h1#thread-title')`)

	// Locked: the author is offered no Delete, for the thread or her reply;
	// the convener still is.
	// (Locked the way older clients do, with the deprecated state LOCKED,
	// which the server still reads as locked: true.)
	e.call(chidi, "PATCH", "/v1/"+th, map[string]any{"state": "THREAD_STATE_LOCKED"}, nil)
	a.open("/" + th)
	a.waitText("#locked-notice", "This thread is locked")
	a.wait("no Delete for the author", noDelete(".thread .actions button, li.reply button"))
	a.wait("no Edit for the author", `!document.querySelector('#edit-thread') && ![...document.querySelectorAll('li.reply button')].some((b) => b.textContent === 'Edit')`)
	c.open("/" + th)
	c.wait("Delete for the convener", `!(`+noDelete(".thread .actions button")+`)`)
	c.wait("Edit for the convener", `document.querySelector('#edit-thread') && [...document.querySelectorAll('li.reply button')].some((b) => b.textContent === 'Edit')`)
}
