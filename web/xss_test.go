package web_test

import (
	"fmt"
	"strings"
	"testing"
)

// xssPayloads is the XSS corpus of ../shared/notes/anchors-reliability.md
// (section B.6), each made to set window.__xss if it ever runs.
var xssPayloads = []string{
	`<script>window.__xss=1</script>`,
	`<img src=x onerror="window.__xss=1">`,
	`<svg onload="window.__xss=1"></svg>`,
	`<iframe src="javascript:window.__xss=1"></iframe>`,
	`<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>`,
	`<style>body{background:url(javascript:window.__xss=1)}</style>styled`,
	`<form action="javascript:window.__xss=1"><button>go</button></form>`,
	`<base href="javascript:window.__xss=1//">`,
	`<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">`,
	`<a href="x" onmouseover="window.__xss=1">hover me</a>`,
	`[x](javascript:window.__xss=1)`,
	`[x](JaVaScRiPt:window.__xss=1)`,
	`[x](javascript&colon;window.__xss=1)`,
	`[x](javascript&#58window.__xss=1)`,
	`[x](java&#9;script:window.__xss=1)`,
	`[x](  javascript:window.__xss=1)`,
	`[x](vbscript:msgbox(1))`,
	`[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)`,
	`![x](javascript:window.__xss=1)`,
	`<javascript:window.__xss=1>`,
	"[x][1]\n\n[1]: javascript:window.__xss=1",
	`[x](https://a.example "\" onmouseover=window.__xss=1 x=\"")`,
	`<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>`,
	"`<img src=x onerror=window.__xss=1>`",
	`<!-- <img src=x onerror=window.__xss=1> -->`,
	`<![CDATA[<img src=x onerror=window.__xss=1>]]>`,
	`"><script>window.__xss=1</script>`,
	`<b>bold</b> "'><img src=x onerror=window.__xss=1>`,
	"\u202e<img src=x onerror=window.__xss=1>",
}

// inertJS lists what would show that user content is live: a payload ran,
// an event-handler attribute, a script-bearing URL, or an element that
// only user content could have brought into the page.
const inertJS = `(() => {
	const bad = [];
	if (window.__xss !== undefined) bad.push('window.__xss is set: a payload ran');
	for (const el of document.querySelectorAll('*')) {
		for (const a of el.attributes) {
			const n = a.name.toLowerCase();
			if (n.startsWith('on')) bad.push(el.tagName + ' has the handler attribute ' + n + '=' + a.value);
			if (n === 'srcdoc') bad.push(el.tagName + ' has srcdoc');
			if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'background', 'poster'].includes(n)) {
				// As the browser resolves it: "javascript&#58x" is a harmless relative path.
				let scheme = '';
				try { scheme = new URL(a.value, location.href).protocol; } catch (e) { /* not a URL: inert */ }
				const image = el.tagName === 'IMG' && /^data:image\//i.test(a.value.trim());
				if (['javascript:', 'vbscript:', 'data:'].includes(scheme) && !image) bad.push(el.tagName + ' ' + n + '=' + a.value);
			}
		}
	}
	for (const el of document.querySelectorAll('main :is(.body, .preview, .quote, h1, .threads, .cards, .profile, .bio) :is(script, iframe, frame, object, embed, form, style, base, meta, svg, math, link)')) bad.push('user content holds <' + el.tagName.toLowerCase() + '>');
	if (document.querySelector('base, meta[http-equiv]')) bad.push('a <base> or <meta http-equiv> is in the page');
	for (const s of document.scripts) if (!s.src || new URL(s.src).origin !== location.origin) bad.push('a script that is not ours: ' + s.outerHTML.slice(0, 100));
	return bad;
})()`

// TestXSS posts each payload of the corpus as a thread title, a thread
// body and a reply body (and as a display name and a theme name), shows
// them in the browser, and checks that none ran, no handler attribute
// survived, and the Content-Security-Policy was never even tested (no
// violation reported). Titles and names must read as the text typed.
func TestXSS(t *testing.T) {
	e := newEnv(t)
	e.call(e.admin, "POST", "/v1/themes?themeId=xss", map[string]string{
		"displayName": `<img src=x onerror="window.__xss=1"> theme`,
		"description": `<script>window.__xss=1</script> "'><svg onload=window.__xss=1>`,
	}, nil)
	token, _ := e.member("amina", "Amina Diallo")
	evil, evilUser := e.member("mallory", `"><img src=x onerror=window.__xss=1> Mallory`)

	corpus := e.thread(token, map[string]any{"theme": "themes/xss", "title": "The XSS corpus", "body": strings.Join(xssPayloads, "\n\n")})
	prev := ""
	for i, p := range xssPayloads {
		who := token
		if i%3 == 0 {
			who = evil
		}
		prev = e.reply(who, corpus, p, prev)
	}
	type titled struct{ name, title string }
	var titles []titled
	for _, p := range xssPayloads {
		if strings.Contains(p, "\n") {
			continue // titles are one line
		}
		if strings.ContainsRune(p, '\u202e') {
			// Titles refuse direction-changing characters (issue 12); the
			// payload is still a thread body and a reply above.
			if code, _ := e.do(token, "POST", "/v1/threads", map[string]any{"theme": "themes/xss", "title": p}); code != 400 {
				t.Errorf("a title with U+202E: status %d, want 400", code)
			}
			continue
		}
		var th struct{ Name, Title string }
		e.call(token, "POST", "/v1/threads", map[string]any{"theme": "themes/xss", "title": p, "body": p, "tags": []string{"xss"}}, &th)
		titles = append(titles, titled{th.Name, th.Title})
	}

	tb := e.newTab(t)
	tb.setSession(token)
	inert := func(where string) {
		t.Helper()
		for _, b := range eval[[]string](tb, inertJS) {
			t.Errorf("%s: %s", where, b)
		}
		tb.check()
	}

	tb.open("/")
	tb.waitText("main .cards", "<img src=x onerror=\"window.__xss=1\"> theme")
	inert("themes")
	tb.open("/themes/xss")
	// 25 threads a page: the titles fill two pages.
	total := len(titles) + 1
	tb.wait("the first page of titles", `document.querySelectorAll('.threads > li').length === 25`)
	tb.waitText("main h1", `<img src=x onerror="window.__xss=1"> theme`)
	inert("theme page")
	tb.screenshot("theme")
	tb.click(".paging a[rel=next]")
	tb.wait("the second page of titles", fmt.Sprintf(`document.querySelectorAll('.threads > li').length === %d && location.search.includes('page=')`, total-25))
	inert("theme page 2")

	tb.open("/" + corpus)
	tb.wait("every reply", fmt.Sprintf(`document.querySelectorAll('.reply-list li.reply').length === %d`, len(xssPayloads)))
	tb.waitText(".reply-list .who", `"><img src=x onerror=window.__xss=1> Mallory`)
	tb.waitText(".reply-list .quote", "window.__xss=1")
	// Hovering and focusing the links of the posts runs nothing either.
	eval[bool](tb, `(() => { for (const a of document.querySelectorAll('.body a')) { a.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); a.focus(); } return true; })()`)
	inert("corpus thread")
	tb.screenshot("corpus")

	// The composer's preview of each payload.
	tb.clickText("#reply-form", "Show preview")
	for i, p := range xssPayloads {
		tb.fill("#reply-body", p)
		tb.wait("the preview", `document.querySelector('#reply-body-preview').textContent.length > 0`)
		for _, b := range eval[[]string](tb, inertJS) {
			t.Errorf("preview of payload %d %q: %s", i, p, b)
		}
	}
	tb.fill("#reply-body", "")
	tb.check()

	// Each title on its own page, where it is the heading.
	for _, th := range titles {
		tb.open("/" + th.name)
		got := eval[string](tb, `document.querySelector('h1#thread-title').textContent`)
		if got != th.title {
			t.Errorf("%s: heading %q, want the title %q as text", th.name, got, th.title)
		}
		inert(th.name)
	}

	// Mallory's profile.
	tb.open("/" + evilUser)
	tb.waitText("main h1", "Mallory")
	inert("profile")
}
