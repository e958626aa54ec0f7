package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestSearchFilter checks the filter that search's flags make.
func TestSearchFilter(t *testing.T) {
	for _, tc := range []struct {
		flags  searchFlags
		author string
		want   string
	}{
		{searchFlags{}, "", ""},
		{searchFlags{theme: "joint-programmes"}, "", `theme = "themes/joint-programmes"`},
		{searchFlags{theme: "themes/joint-programmes"}, "", `theme = "themes/joint-programmes"`},
		{searchFlags{organization: "vso"}, "", `author.organization = "organizations/vso"`},
		{searchFlags{organization: "organizations/vso"}, "", `author.organization = "organizations/vso"`},
		{searchFlags{country: " ke"}, "", `author.country = "KE"`},
		{searchFlags{filter: "  kind = QUESTION "}, "", `kind = QUESTION`},
		{
			searchFlags{theme: "health", author: "moses", organization: "vso", country: "KE", filter: `create_time >= 2026-01-01 AND tag = "x"`},
			"users/2",
			`theme = "themes/health" AND author = "users/2" AND author.organization = "organizations/vso" AND author.country = "KE" AND create_time >= 2026-01-01 AND tag = "x"`,
		},
	} {
		got, err := tc.flags.build(tc.author)
		if err != nil || got != tc.want {
			t.Errorf("%+v with author %q: filter %q, %v; want %q", tc.flags, tc.author, got, err, tc.want)
		}
	}
	for _, cc := range []string{"Kenya", "K", "K1", "ÉS"} {
		if _, err := (searchFlags{country: cc}).build(""); err == nil {
			t.Errorf("--country %q: no error", cc)
		}
	}
}

// TestSnippetText checks how a snippet's HTML is shown in a terminal.
func TestSnippetText(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"plain text":                     "plain text",
		"<mark>Host</mark> families":     "[Host] families",
		"…the <mark>host</mark> family…": "…the [host] family…",
		"a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;": `a <b> & "c" 'd'`,
		"&lt;mark&gt;not a match&lt;/mark&gt;":        "<mark>not a match</mark>",
		"two\n\nlines\tand  spaces":                   "two lines and spaces",
		"<MARK>x</MARK> <b>y</b>":                     "[x] y",
		"bell\x07 and &#27;[31mred":                   "bell and [31mred",
		"a < b":                                       "a < b",
		"فريق <mark>المتطوعين</mark>":                 "فريق [المتطوعين]",
	} {
		if got := snippetText(in, "[", "]"); got != want {
			t.Errorf("snippetText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSearch runs 'forumctl search' against forumd: the table, -o json,
// the flags that filter and order, --limit, and errors.
func TestSearch(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := client.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Mo is from Kenya and with an organisation the convener creates.
	if _, err := c.Login(ctx, "amina", convenerPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateOrganization(ctx, "vso", &forumv1.Organization{DisplayName: "VSO", Country: "GB", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}); err != nil {
		t.Fatalf("create organization: %v", err)
	}
	if _, err := c.Login(ctx, "moses", memberPassword); err != nil {
		t.Fatal(err)
	}
	me, err := c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UserService().UpdateUser(ctx, &forumv1.UpdateUserRequest{
		User:       &forumv1.User{Name: me.GetName(), Country: "KE", Organization: "organizations/vso"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"country", "organization"}},
	}); err != nil {
		t.Fatalf("set Mo's country and organisation: %v", err)
	}

	const word = "wombatfair" // in no other post
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Mentoring plan",
		"--body", "The "+word+" `<agenda>` & budget.")
	mo.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Visa questions", "--kind", "question",
		"--body", "Who goes to the "+word+"?")
	reply := posted(t, mo.ok("", "reply", "1", "--body", "Count me in for the "+word+"."), "threads/1")
	amina.ok("", "threads", "create", "--theme", "knowledge-exchange", "--title", "Unrelated", "--body", "Nothing to find here.")
	newest := []string{reply, "threads/2", "threads/1"}

	// The indexer follows the event log in the background: wait, briefly,
	// until it has the three posts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.SearchService().Search(ctx, &forumv1.SearchRequest{Query: word})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetTotalSize() == int64(len(newest)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search finds %d posts after 10s, want %d", resp.GetTotalSize(), len(newest))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// hits runs search with args and -o json, and returns the names of the
	// hits.
	hits := func(t *testing.T, u *user, args ...string) []string {
		t.Helper()
		out := u.ok("", append([]string{"search", "-o", "json"}, args...)...)
		var resp forumv1.SearchResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("search %v -o json: %v\n%s", args, err, out)
		}
		var names []string
		for _, h := range resp.GetHits() {
			names = append(names, h.GetName())
		}
		return names
	}
	unmarked := strings.NewReplacer("[", "", "]", "").Replace
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

	t.Run("table", func(t *testing.T) {
		mo.t = t // its failures are the subtest's
		out := stamp.ReplaceAllString(mo.ok("", "search", word, "--newest"), "TIME")
		blocks := strings.Split(out, "\n\n")
		if len(blocks) != 3 {
			t.Fatalf("search: %d blocks, want 3:\n%s", len(blocks), out)
		}
		for i, want := range []struct{ title, head, text string }{
			{"Mentoring plan", reply + " · Mo Member · TIME", "Count me in for the"},
			{"Visa questions", "threads/2 · Mo Member · TIME", "Who goes to the"},
			{"Mentoring plan", "threads/1 · Amina Convener · TIME", "<agenda> & budget."},
		} {
			lines := strings.Split(strings.TrimSuffix(blocks[i], "\n"), "\n")
			if len(lines) != 3 || lines[0] != want.title || lines[1] != "  "+want.head ||
				!strings.HasPrefix(lines[2], "  ") || !strings.Contains(unmarked(lines[2]), want.text) || !strings.Contains(lines[2], word+"]") {
				t.Errorf("hit %d:\n%s\nwant %q, %q, and a snippet with %q and %s]", i, blocks[i], want.title, "  "+want.head, want.text, word)
			}
		}
		if strings.Contains(out, "<mark>") || strings.Contains(out, "&amp;") || strings.Contains(out, "&lt;") {
			t.Errorf("the table shows HTML:\n%s", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		mo.t = t // its failures are the subtest's
		// The hits as the API returns them, in the response message.
		resp, err := c.SearchService().Search(ctx, &forumv1.SearchRequest{Query: word, OrderBy: "create_time desc"})
		if err != nil {
			t.Fatal(err)
		}
		apiObject(t, "search -o json", json.RawMessage(mo.ok("", "search", word, "--newest", "-o", "json")),
			&forumv1.SearchResponse{}, &forumv1.SearchResponse{Hits: resp.GetHits()})
		apiObject(t, "search -o yaml", yamlToJSON(t, mo.ok("", "search", word, "--newest", "-o", "yaml")),
			&forumv1.SearchResponse{}, &forumv1.SearchResponse{Hits: resp.GetHits()})
	})

	t.Run("flags", func(t *testing.T) {
		mo.t = t // its failures are the subtest's
		for _, tc := range []struct {
			args    []string
			want    []string // in order if ordered
			ordered bool
		}{
			{args: []string{word, "--newest"}, want: newest, ordered: true},
			{args: []string{word, "--newest", "--limit", "2"}, want: newest[:2], ordered: true},
			{args: []string{word, "--newest", "--limit", "0"}, want: newest, ordered: true},
			{args: []string{word}, want: newest},
			{args: []string{"count", word}, want: []string{reply}},
			{args: []string{"--", "-" + word, "budget"}, want: nil},
			{args: []string{word, "--theme", "joint-programmes"}, want: []string{reply, "threads/1"}},
			{args: []string{word, "--theme", "themes/knowledge-exchange"}, want: []string{"threads/2"}},
			{args: []string{word, "--author", "moses"}, want: []string{reply, "threads/2"}},
			{args: []string{word, "--author", "me"}, want: []string{reply, "threads/2"}},
			{args: []string{word, "--country", "ke"}, want: []string{reply, "threads/2"}},
			{args: []string{word, "--organization", "vso", "--theme", "joint-programmes"}, want: []string{reply}},
			{args: []string{word, "--filter", "kind = QUESTION"}, want: []string{"threads/2"}},
			{args: []string{word, "--theme", "joint-programmes", "--filter", "kind = QUESTION"}, want: nil},
		} {
			got := hits(t, mo, tc.args...)
			if !tc.ordered {
				got, tc.want = sorted(got), sorted(tc.want)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("search %s: hits %v, want %v", strings.Join(tc.args, " "), got, tc.want)
			}
		}

		// Nothing found: said on standard error, and not an error.
		r := mo.run("", "search", word, "--theme", "joint-programmes", "--filter", "kind = QUESTION")
		if r.code != 0 || r.stdout != "" || r.stderr != "No posts match.\n" {
			t.Errorf("search finding nothing: %v", r)
		}
		// Anyone may search; the anonymous find the same public posts.
		if got := hits(t, newUser(t), "--server", server, word); !slices.Equal(sorted(got), sorted(newest)) {
			t.Errorf("anonymous search: %v, want %v", got, newest)
		}
	})

	t.Run("errors", func(t *testing.T) {
		mo.t = t // its failures are the subtest's
		mo.fails(exitUsage, "search takes QUERY...", "search")
		mo.fails(exitUsage, "give the words", "search", " ")
		mo.fails(exitUsage, "not a country code", "search", word, "--country", "Kenya")
		mo.fails(exitUsage, "--limit", "search", word, "--limit", "-1")
		mo.fails(exitUsage, "unknown output format", "search", word, "-o", "csv")
		// An excluded term is taken for a flag unless it comes after --.
		mo.fails(exitUsage, "unknown shorthand flag", "search", word, "-budget")
		mo.fails(exitInvalid, "column", "search", `"unterminated phrase`)
		mo.fails(exitInvalid, "colour", "search", word, "--filter", "colour = blue")
		mo.fails(exitInvalid, "theme", "search", word, "--theme", "Not A Slug")
		mo.fails(exitNotFound, "nobody", "search", word, "--author", "nobody")
	})
}
