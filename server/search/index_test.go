package search

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// planted is a post of the corpus that a test searches for.
type planted struct {
	name, theme, text string
}

// corpus is the planted posts: each language's, with near misses.
var corpus = []planted{
	{"threads/1", "themes/ke", "Our volunteers organised three workshops for host families in Nairobi."},
	{"threads/1/replies/1", "themes/ke", "The committee met on Tuesday to plan the budget."},
	{"threads/2", "themes/ke", "Family host programmes: what we learned."},
	{"threads/3", "themes/rv", "Les bénévoles ont été formés à l'accueil des familles d'hôtes."},
	{"threads/3/replies/1", "themes/rv", "La réunion aura lieu mardi prochain."},
	{"threads/4", "themes/rv", "Los voluntarios colaboraron en programas conjuntos con las universidades."},
	{"threads/4/replies/1", "themes/rv", "El presupuesto se aprobó ayer."},
	{"threads/5", "themes/jp", "我们在北京组织了志愿者培训活动。"},
	{"threads/5/replies/1", "themes/jp", "我们在上海召开了会议。"},
	{"threads/6", "themes/jp", "서울에서 자원봉사자 교육을 진행했습니다."},
	{"threads/6/replies/1", "themes/jp", "부산 회의는 다음 주에 열립니다."},
	{"threads/7", "themes/jp", "東京でボランティアの研修を行いました。"},
	{"threads/8", "themes/ar", "تَطَوَّعَ الشباب في برامج مشتركة مع الجامعات"},
	{"threads/8/replies/1", "themes/ar", "الأمل كبير في نجاح المبادرة"},
	{"threads/8/replies/2", "themes/ar", "الاجتماع يوم الثلاثاء"},
	{"threads/9", "themes/private", "Volunteers of the board only: the private budget."},
	{"threads/10", "themes/ke", "Escaping <script>alert(1)</script> & friends: volunteer notes."},
}

// filler returns n posts of ordinary text that no query below matches.
func filler(n int) []planted {
	words := []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "eiusmod", "tempor", "incididunt", "labore", "magna", "aliqua"}
	var out []planted
	for i := range n {
		var b strings.Builder
		for j := range 12 {
			b.WriteString(words[(i*7+j*3)%len(words)])
			b.WriteByte(' ')
		}
		out = append(out, planted{fmt.Sprintf("threads/%d", 1000+i), "themes/ke", b.String()})
	}
	return out
}

// openCorpus returns an index of the corpus and 300 filler posts.
func openCorpus(t *testing.T) *Index {
	t.Helper()
	x, err := Open(filepath.Join(t.TempDir(), "search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	var changes []Change
	for i, p := range append(slices.Clone(corpus), filler(300)...) {
		thread := p.name
		if i := strings.Index(p.name, "/replies/"); i >= 0 {
			thread = p.name[:i]
		}
		changes = append(changes, Change{Name: p.name, Post: &Post{
			Name: p.name, Thread: thread, Theme: p.theme, Author: "users/1",
			Created: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Text: p.text,
		}})
	}
	if err := x.Apply(changes, 42); err != nil {
		t.Fatal(err)
	}
	if c, err := x.Cursor(); err != nil || c != 42 {
		t.Fatalf("cursor %d, %v; want 42", c, err)
	}
	return x
}

var public = []string{"themes/ke", "themes/rv", "themes/jp", "themes/ar"}

// find returns the names of the posts q finds in themes.
func find(t *testing.T, x *Index, q string, themes []string) ([]string, uint64) {
	t.Helper()
	pq, err := ParseQuery(q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	res, err := x.Search(Request{Query: pq, Themes: themes, Size: 100})
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	var names []string
	for _, h := range res.Hits {
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names, res.Total
}

// TestLanguages checks that each language's query finds its planted posts
// and none of the near misses.
func TestLanguages(t *testing.T) {
	x := openCorpus(t)
	cases := []struct {
		lang, query string
		want        []string
	}{
		{"en plural", "volunteer", []string{"threads/1", "threads/10"}},
		{"en stem", "workshop", []string{"threads/1"}},
		{"en two words", "host families", []string{"threads/1", "threads/2"}},
		{"en phrase", `"host families"`, []string{"threads/1"}},
		{"en phrase in capitals", `"HOST Families"`, []string{"threads/1"}},
		{"en long phrase", `"three workshops for host families"`, []string{"threads/1"}},
		{"en phrase of another post", `"host programmes"`, []string{"threads/2"}},
		{"en phrase in the wrong order", `"families host"`, nil},
		{"en phrase with a word between", `"workshops host families"`, nil},
		{"en phrase and a word", `"host families" Nairobi`, []string{"threads/1"}},
		{"en excluded", "host -programmes", []string{"threads/1"}},
		{"en OR", "workshop OR programmes", []string{"threads/1", "threads/2"}},
		{"fr plural", "bénévole", []string{"threads/3"}},
		{"fr elision", "accueil", []string{"threads/3"}},
		{"es plural", "voluntario", []string{"threads/4"}},
		{"es stem", "programa", []string{"threads/4"}},
		{"zh word inside a sentence", "志愿者", []string{"threads/5"}},
		{"zh city", "北京", []string{"threads/5"}},
		{"ko particle attached", "서울", []string{"threads/6"}},
		{"ko compound", "자원봉사", []string{"threads/6"}},
		{"ja kanji", "研修", []string{"threads/7"}},
		{"ja katakana", "ボランティア", []string{"threads/7"}},
		{"ar without diacritics", "تطوع", []string{"threads/8"}},
		{"ar hamza form", "امل", []string{"threads/8/replies/1"}},
		{"ar with article", "الجامعات", []string{"threads/8"}},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			got, total := find(t, x, c.query, public)
			if !slices.Equal(got, c.want) {
				t.Errorf("%q found %v, want %v", c.query, got, c.want)
			}
			if total != uint64(len(c.want)) {
				t.Errorf("%q: total %d, want %d", c.query, total, len(c.want))
			}
		})
	}
}

// TestThemes checks that a post of a theme the reader may not see is
// neither returned nor counted.
func TestThemes(t *testing.T) {
	x := openCorpus(t)
	got, total := find(t, x, "budget", public)
	if !slices.Equal(got, []string{"threads/1/replies/1"}) || total != 1 {
		t.Errorf("without the private theme: %v (total %d)", got, total)
	}
	got, total = find(t, x, "budget", append(slices.Clone(public), "themes/private"))
	if !slices.Equal(got, []string{"threads/1/replies/1", "threads/9"}) || total != 2 {
		t.Errorf("with the private theme: %v (total %d)", got, total)
	}
	if got, total := find(t, x, "budget", nil); len(got) != 0 || total != 0 {
		t.Errorf("no theme visible: %v (total %d)", got, total)
	}
}

// TestSnippet checks that a snippet marks what matched and escapes the
// post's text.
func TestSnippet(t *testing.T) {
	x := openCorpus(t)
	pq, _ := ParseQuery("notes")
	res, err := x.Search(Request{Query: pq, Themes: public, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 {
		t.Fatalf("%d hits", len(res.Hits))
	}
	s := res.Hits[0].Snippet
	if strings.Contains(s, "script>") && !strings.Contains(s, "&lt;/script&gt;") || strings.Contains(s, "<script") || strings.Contains(s, "</script") || !strings.Contains(s, "<mark>notes</mark>") {
		t.Errorf("snippet %q", s)
	}
	if strings.Count(s, "<") != strings.Count(s, "<mark>")+strings.Count(s, "</mark>") {
		t.Errorf("snippet %q carries markup other than <mark>", s)
	}
}

// TestPhraseSnippet checks that a phrase, found among the pairs of words,
// is marked in its snippet as the words it is, and that a hit whose query
// gives no location (a phrase of stop words) still has its text.
func TestPhraseSnippet(t *testing.T) {
	x := openCorpus(t)
	for _, c := range []struct{ query, hit, want string }{
		{`"host families"`, "threads/1", "<mark>host</mark> <mark>families</mark>"},
		{`"the committee"`, "threads/1/replies/1", "The <mark>committee</mark> met"},
		{`"of the"`, "threads/9", "Volunteers of the board"},
	} {
		pq, err := ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		res, err := x.Search(Request{Query: pq, Themes: append(slices.Clone(public), "themes/private"), Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != 1 || res.Hits[0].Name != c.hit {
			t.Fatalf("%s: hits %+v, want %s", c.query, res.Hits, c.hit)
		}
		if s := res.Hits[0].Snippet; !strings.Contains(s, c.want) {
			t.Errorf("%s: snippet %q, want it to hold %q", c.query, s, c.want)
		}
	}
}

// TestApplyDeletes checks that a removal leaves the index, and that the
// cursor moves with the batch.
func TestApplyDeletes(t *testing.T) {
	x := openCorpus(t)
	if err := x.Apply([]Change{{Name: "threads/5"}}, 43); err != nil {
		t.Fatal(err)
	}
	if got, _ := find(t, x, "北京", public); len(got) != 0 {
		t.Errorf("found %v after its removal", got)
	}
	if c, _ := x.Cursor(); c != 43 {
		t.Errorf("cursor %d, want 43", c)
	}
	names, err := x.postsWith(fieldThread, "threads/8")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"threads/8", "threads/8/replies/1", "threads/8/replies/2"}; !slices.Equal(names, want) {
		t.Errorf("postsWith: %v, want %v", names, want)
	}
}

// TestReopen checks that the index and its cursor survive closing.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "search")
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Apply([]Change{{Name: "threads/1", Post: &Post{Name: "threads/1", Thread: "threads/1", Theme: "themes/ke", Text: "volunteers"}}}, 7); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if c, err := x.Cursor(); err != nil || c != 7 {
		t.Fatalf("cursor %d, %v; want 7", c, err)
	}
	if got, _ := find(t, x, "volunteer", public); !slices.Equal(got, []string{"threads/1"}) {
		t.Errorf("after reopening: %v", got)
	}
}

// TestNewestPages checks that a newest-first search, which looks in
// recent spans first (newest), gives every page exactly as sorting every
// match would: posts spread over three years, pages near the start and
// deep in, a query that matches a third of them.
func TestNewestPages(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var changes []Change
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 360 {
		word := "other"
		if i%3 == 0 {
			word = "wanted"
		}
		name := fmt.Sprintf("threads/%d", i+1)
		changes = append(changes, Change{Name: name, Post: &Post{Name: name, Thread: name, Theme: "themes/ke",
			Created: base.Add(time.Duration(i) * 3 * 24 * time.Hour), Text: "a post " + word}})
	}
	if err := x.Apply(changes, 1); err != nil {
		t.Fatal(err)
	}
	q, _ := ParseQuery("wanted")
	for _, from := range []int{0, 5, 20, 60, 100, 115, 119, 120} {
		got, err := x.Search(Request{Query: q, Themes: []string{"themes/ke"}, Newest: true, From: from, Size: 20})
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 120 {
			t.Errorf("from %d: total %d, want 120", from, got.Total)
		}
		var all []string // the wanted posts, newest first
		for i := 357; i >= 0; i -= 3 {
			all = append(all, fmt.Sprintf("threads/%d", i+1))
		}
		want := all[min(from, len(all)):min(from+20, len(all))]
		var names []string
		for _, h := range got.Hits {
			names = append(names, h.Name)
		}
		if !slices.Equal(names, want) && !(len(names) == 0 && len(want) == 0) {
			t.Errorf("from %d: %v\nwant %v", from, names, want)
		}
	}
}

// TestLockedState checks that a locked thread's posts are found by their
// state and by state LOCKED (as before Thread.locked), and an unlocked
// one's only by its state.
func TestLockedState(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	var changes []Change
	for i, locked := range []bool{true, false} {
		name := fmt.Sprintf("threads/%d", i+1)
		changes = append(changes, Change{Name: name, Post: &Post{
			Name: name, Thread: name, Theme: "themes/ke", Author: "users/1", State: "THREAD_STATE_RESOLVED", Locked: locked,
			Created: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC), Text: "hosting volunteers",
		}})
	}
	if err := x.Apply(changes, 1); err != nil {
		t.Fatal(err)
	}
	pq, _ := ParseQuery("volunteers")
	for state, want := range map[string][]string{
		"THREAD_STATE_LOCKED":   {"threads/1"},
		"THREAD_STATE_RESOLVED": {"threads/1", "threads/2"},
		"THREAD_STATE_OPEN":     nil,
	} {
		res, err := x.Search(Request{Query: pq, Themes: public, Size: 10, Filter: Filter{Conds: []Cond{{Field: FieldState, Value: state}}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("state = %s: %v, want %v", state, got, want)
		}
	}
}
