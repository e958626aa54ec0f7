package web_test

import (
	"testing"
)

// TestExactPreview: the composers' previews are the server's rendering of
// the post (a validate_only create), so they show what the approximate
// preview cannot (tables, autolinks) and are sanitised like the published
// post; previewing publishes nothing.
func TestExactPreview(t *testing.T) {
	e := newEnv(t)
	amina, _ := e.member("amina", "Amina Diallo")
	parent := e.thread(amina, map[string]any{"title": "Placements", "body": "How long?"})
	replies := func() int {
		var th struct{ ReplyCount int }
		e.call("", "GET", "/v1/"+parent, nil, &th)
		return th.ReplyCount
	}

	d := e.newTab(t)
	d.setSession(amina)
	d.open("/" + parent)
	d.waitText("h1#thread-title", "Placements")
	const post = "| weeks | share |\n|---|---|\n| 6 | 40% |\n\nSee https://example.org <script>window.__xss=1</script>"
	d.fill("#reply-body", post)
	d.clickText("#reply-form", "Show preview")
	d.wait("the server's preview", `document.querySelector('#reply-body-preview table td')?.textContent === '6' &&
		document.querySelector('#reply-body-preview a[href="https://example.org"]') !== null`)
	d.waitText("#reply-body-preview .hint", "as it will be published")
	if bad := eval[int](d, `document.querySelectorAll('#reply-body-preview script').length + (window.__xss ? 1 : 0)`); bad != 0 {
		t.Errorf("the preview holds a script or ran one (%d)", bad)
	}
	// Typing refreshes it.
	d.fill("#reply-body", "Now **bold**")
	d.wait("the refreshed preview", `document.querySelector('#reply-body-preview strong')?.textContent === 'bold' && !document.querySelector('#reply-body-preview table')`)
	if n := replies(); n != 0 {
		t.Errorf("previewing created %d replies", n)
	}

	// The thread composer too, before a title is typed.
	d.open("/themes/knowledge-exchange/new")
	d.waitRendered("/themes/knowledge-exchange/new")
	d.fill("#thread-body", "| a |\n|---|\n| b |")
	d.clickText("#thread-form", "Show preview")
	d.wait("the thread preview", `document.querySelector('#thread-body-preview table td')?.textContent === 'b'`)
	d.check()
}
