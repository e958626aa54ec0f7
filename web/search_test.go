package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// searchTotal returns the total_size of GET /v1/posts:search for query as
// token, or -1 if the call failed.
func (e *env) searchTotal(token, query string) int {
	e.t.Helper()
	code, data := e.do(token, "GET", "/v1/posts:search?"+url.Values{"query": {query}}.Encode(), nil)
	if code != 200 {
		return -1
	}
	var res struct{ TotalSize string }
	if err := json.Unmarshal(data, &res); err != nil {
		e.t.Fatalf("search %q: decode %s: %v", query, data, err)
	}
	n, _ := strconv.Atoi(res.TotalSize)
	return n
}

// waitIndexed waits (10 s at most) until searching finds at least the
// given number of posts for each query: the index is fed from the event
// log in the background.
func (e *env) waitIndexed(token string, want map[string]int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing := ""
		for q, n := range want {
			if got := e.searchTotal(token, q); got < n {
				missing += fmt.Sprintf(" %q: %d of %d;", q, got, n)
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("after 10 s, searching finds too little:%s", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// anchorOf is the id of a reply's element on its thread's page.
func anchorOf(reply string) string {
	return "r-" + reply[strings.LastIndexByte(reply, '/')+1:]
}

// TestSearch is full-text search in the browser: the header's box (typed
// in and submitted with the keyboard), the results with the total and the
// matched words in <mark>, a reply hit leading to the reply's place in its
// thread (on a later page of replies too), a Chinese word found inside a
// sentence, paging, a filter, the server's message for a query it cannot
// read next to the box, snippets that stay text (an <img> in a post's text
// makes no element), and the page's accessibility, also at 360 px.
func TestSearch(t *testing.T) {
	e := newEnv(t)
	e.call(e.admin, "POST", "/v1/organizations?organizationId=vso-kenya", map[string]string{"displayName": "VSO Kenya", "country": "KE", "kind": "ORGANIZATION_KIND_NGO"}, nil)
	amina, aminaName := e.member("amina", "Amina Diallo")
	e.call(amina, "PATCH", "/v1/"+aminaName, map[string]any{"organization": "organizations/vso-kenya", "country": "KE"}, nil)
	chidi := e.login("chidi", convenerPass)

	th := e.thread(amina, map[string]any{"title": "Volunteering in the villages", "body": "Comment organiser le **bénévolat** dans les villages ?"})
	fr := e.reply(chidi, th, "Le bénévolat marche mieux avec un mentor dès le premier jour.", "")
	// Enough replies to push the next one onto the second page of the
	// thread (50 a page) and to fill more than one page of results (20).
	for i := range 55 {
		e.reply(chidi, th, fmt.Sprintf("Progress report %d: the kangaroo project is on track.", i), "")
	}
	zh := e.reply(amina, th, "Our partners wrote: 我们的志愿者项目很成功，谢谢大家。", "")
	xss := e.thread(amina, map[string]any{
		"title": "Escaping test",
		"body":  "Pangolin notes: `<img src=x onerror=window.__xss=1>` and <img src=x onerror=window.__xss=1> and Tom & Jerry say \"hi\" 'there'.",
	})
	e.waitIndexed(amina, map[string]int{"bénévolat": 2, "志愿者": 1, "kangaroo": 55, "pangolin": 1})

	tb := e.newTab(t)
	tb.setSession(amina)
	tb.open("/")
	onSearch := func(q string) {
		t.Helper()
		tb.wait("the results of "+q, `location.pathname === '/search' && new URLSearchParams(location.search).get('q') === `+js(q)+` && document.querySelector('main').dataset.url === location.pathname + location.search && !document.querySelector('main').hasAttribute('aria-busy')`)
	}

	// The header's box: a search landmark, labelled; typed in, Enter.
	tb.wait("the header's search box", `(() => { const f = document.querySelector('header form[role=search]'); const i = f && f.querySelector('input[name=q]'); return i && document.querySelector('label[for="' + i.id + '"]').textContent.trim() !== '' && f.querySelector('button[type=submit]'); })()`)
	tb.typeInto("#site-search-q", "bénévolat")
	tb.do(keyEnter())
	onSearch("bénévolat")
	tb.waitText("#search-total", "2 results")
	tb.wait("two hits with the word marked", `document.querySelectorAll('.hits > li').length === 2 && [...document.querySelectorAll('.hits > li')].every((li) => [...li.querySelectorAll('.snippet mark')].some((m) => m.textContent.toLowerCase().includes('bénévolat')))`)
	// The marks hold the word found (a form of it: the French stemmer
	// finds bénévolats too), and nothing around it.
	for _, m := range eval[[]string](tb, `[...document.querySelectorAll('.hits .snippet mark')].map((m) => m.textContent)`) {
		if !strings.HasPrefix(strings.ToLower(m), "bénévolat") || strings.ContainsAny(m, " \u00a0") {
			t.Errorf("the snippet marks %q for the query bénévolat", m)
		}
	}
	tb.wait("the query in both boxes", `document.querySelector('#search-q').value === 'bénévolat' && document.querySelector('#site-search-q').value === 'bénévolat'`)
	tb.waitText(".hits .meta", "Amina Diallo")
	tb.waitText(".hits .meta", "Chidi Okafor")
	tb.waitText(".hits .meta", "Knowledge exchange")
	if n := eval[int](tb, `document.querySelectorAll('.hits h3 a[href="/`+th+`"]').length`); n != 1 {
		t.Errorf("%d links to the thread itself, want 1 (its own hit)", n)
	}
	tb.wait("focus on the results' heading", `document.activeElement === document.querySelector('main h1')`)
	for _, p := range eval[a11yResult](tb, a11yJS).Problems {
		t.Errorf("search results: %s", p)
	}
	tb.screenshot("search-results")

	// The reply's hit leads to its place in the thread.
	tb.click(`.hits a[href="/` + th + `#` + anchorOf(fr) + `"]`)
	tb.waitRendered("/" + th)
	tb.wait("the reply focused", `location.hash === '#`+anchorOf(fr)+`' && document.activeElement && document.activeElement.id === `+js(anchorOf(fr)))
	tb.waitText("#"+anchorOf(fr)+" .body", "marche mieux")

	// Chinese, inside a sentence without spaces; its reply is on the
	// second page of the thread, where the link goes on to.
	tb.fill("#site-search-q", "志愿者")
	tb.click("header form[role=search] button[type=submit]")
	onSearch("志愿者")
	tb.waitText("#search-total", "1 result")
	tb.wait("the Chinese word marked", `[...document.querySelectorAll('.hits .snippet mark')].map((m) => m.textContent).join('').includes('志愿者')`)
	tb.waitText(".hits .snippet", "我们的志愿者项目很成功")
	tb.click(`.hits a[href="/` + th + `#` + anchorOf(zh) + `"]`)
	tb.wait("the reply on the second page, focused", `location.pathname === '/`+th+`' && location.search.includes('page=') && location.hash === '#`+anchorOf(zh)+`' && document.activeElement && document.activeElement.id === `+js(anchorOf(zh)))
	tb.waitText("#"+anchorOf(zh)+" .body", "我们的志愿者项目很成功")

	// Paging: 55 hits, 20 a page.
	tb.open("/search?" + url.Values{"q": {"kangaroo"}, "sort": {"new"}}.Encode())
	tb.waitText("#search-total", "55 results")
	tb.wait("20 hits", `document.querySelectorAll('.hits > li').length === 20`)
	first := eval[string](tb, `document.querySelector('.hits > li').dataset.name`)
	if want := fmt.Sprintf("Progress report %d:", 54); !strings.Contains(eval[string](tb, `document.querySelector('.hits .snippet').textContent`), want) {
		t.Errorf("newest first: the first hit (%s) is not %q", first, want)
	}
	tb.clickText(".paging", "More results")
	tb.wait("the second page", `location.search.includes('page=') && document.querySelector('main').dataset.url === location.pathname + location.search && document.querySelectorAll('.hits > li').length === 20 && document.querySelector('.hits > li').dataset.name !== `+js(first))
	tb.wait("the sort kept", `new URLSearchParams(location.search).get('sort') === 'new' && document.querySelector('#search-form [name=sort]').value === 'new'`)

	// A filter from the form: the author's organisation.
	tb.open("/search?q=" + url.QueryEscape("bénévolat"))
	tb.waitText("#search-total", "2 results")
	tb.fill("#search-form [name=organization]", "vso-kenya")
	tb.click("#search-submit")
	tb.wait("the filtered results", `new URLSearchParams(location.search).get('organization') === 'vso-kenya' && document.querySelector('main').dataset.url === location.pathname + location.search`)
	tb.waitText("#search-total", "1 result")
	tb.wait("only Amina's thread", `document.querySelectorAll('.hits > li').length === 1 && document.querySelector('.hits > li').dataset.name === `+js(th))
	// From the URL: the country and the date; a country that is no code
	// is said so next to its field, and left out of the search.
	tb.open("/search?" + url.Values{"q": {"bénévolat"}, "country": {"ke"}, "after": {"2000-01-31"}}.Encode())
	tb.waitText("#search-total", "1 result")
	tb.wait("the filters in the form", `document.querySelector('#search-form [name=country]').value === 'KE' && document.querySelector('#search-form [name=after]').value === '2000-01-31'`)
	tb.open("/search?" + url.Values{"q": {"bénévolat"}, "after": {"2199-01-01"}}.Encode())
	tb.waitText("main", "Nothing matches.")
	tb.waitText("#search-total", "0 results")
	// A date the server cannot take is refused here.
	tb.open("/search?" + url.Values{"q": {"bénévolat"}, "after": {"2999-01-01"}}.Encode())
	tb.waitText("#search-total", "2 results")
	tb.wait("the date's error", `document.querySelector('#search-form [name=after]').getAttribute('aria-invalid') === 'true' && !document.querySelector('#search-form [name=after] ~ .field-error').hidden`)
	tb.open("/search?" + url.Values{"q": {"bénévolat"}, "country": {"Kenya"}}.Encode())
	tb.waitText("#search-total", "2 results")
	tb.wait("the country's error", `document.querySelector('#search-form [name=country]').getAttribute('aria-invalid') === 'true' && !document.querySelector('#search-form [name=country] ~ .field-error').hidden`)

	// A query the server cannot read: its message next to the box.
	tb.fill("#site-search-q", `"bénévolat mentor`)
	tb.do(keyEnter())
	onSearch(`"bénévolat mentor`)
	tb.wait("the query's error", `(() => { const el = document.querySelector('#search-q-error'); return el && !el.hidden && el.getAttribute('role') === 'alert' && /column \d+/.test(el.textContent); })()`)
	tb.wait("the box marked invalid and focused", `document.querySelector('#search-q').getAttribute('aria-invalid') === 'true' && document.activeElement === document.querySelector('#search-q')`)
	if n := eval[int](tb, `document.querySelectorAll('.hits').length`); n != 0 {
		t.Errorf("an unreadable query shows %d lists of hits", n)
	}
	t.Logf("the error of an unterminated quote: %s", eval[string](tb, `document.querySelector('#search-q-error').textContent`))
	for _, p := range eval[a11yResult](tb, a11yJS).Problems {
		t.Errorf("search error: %s", p)
	}
	tb.screenshot("search-error")

	// An empty query: the page, a hint, no results.
	tb.open("/search")
	tb.wait("the hint", `document.querySelector('#search-empty') && !document.querySelector('.hits') && !document.querySelector('#search-total')`)
	for _, p := range eval[a11yResult](tb, a11yJS).Problems {
		t.Errorf("empty search: %s", p)
	}

	// A snippet is text: the <img> in the post's text is no element.
	tb.open("/search?q=pangolin")
	tb.waitText("#search-total", "1 result")
	tb.waitText(".hits .snippet", "<img src=x onerror=window.__xss=1>")
	tb.waitText(".hits .snippet", `Tom & Jerry say "hi" 'there'`)
	if got := eval[string](tb, `(() => { const s = document.querySelector('.hits .snippet'); return [...s.querySelectorAll('*')].map((el) => el.tagName).filter((n) => n !== 'MARK').join(',') + '|' + document.querySelectorAll('main img').length + '|' + (window.__xss === undefined); })()`); got != "|0|true" {
		t.Errorf("the snippet of %s made elements (other tags | <img> in main | no payload ran): %s", xss, got)
	}
	for _, b := range eval[[]string](tb, inertJS) {
		t.Errorf("search results: %s", b)
	}

	// 360 px: the header and the page fit.
	tb.viewport(360, 740, true)
	tb.open("/search?q=" + url.QueryEscape("bénévolat"))
	tb.waitText("#search-total", "2 results")
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("at 360 px, the search page is %d px wide", w)
	}
	tb.wait("the box and its button side by side, on screen", `(() => { const i = document.querySelector('#site-search-q').getBoundingClientRect(), b = document.querySelector('.site-search button').getBoundingClientRect(); return i.width >= 150 && b.right <= 360 && Math.abs(i.top - b.top) < 8; })()`)
	tb.screenshot("search-360px")

	// French: the interface's strings, the plural of the total.
	tb.fill("#lang-select", "fr")
	tb.waitText("#search-total", "2 résultats")
	tb.waitText("header form[role=search] button", "Rechercher")
}
