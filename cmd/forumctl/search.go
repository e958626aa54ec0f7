package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// searchFlags are the flags of search that select posts.
type searchFlags struct {
	theme, author, organization, country, filter string
}

// organizationName returns the resource name of an organisation given as
// a slug or as organizations/slug.
func organizationName(arg string) string {
	if strings.HasPrefix(arg, "organizations/") {
		return arg
	}
	return "organizations/" + arg
}

// countryCode returns the ISO 3166-1 alpha-2 code given to --country, upper
// case, or a usage error.
func countryCode(arg string) (string, error) {
	cc := strings.ToUpper(strings.TrimSpace(arg))
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return "", usagef("--country %q is not a country code: give its two letters (ISO 3166-1 alpha-2), such as KE", arg)
	}
	return cc, nil
}

// build returns the search filter the flags make, joined by AND: the
// comparisons of --theme, --author (already a resource name, users/N),
// --organization and --country, then --filter as it was given. It returns
// a usage error for a malformed --country.
func (f searchFlags) build(author string) (string, error) {
	var parts []string
	if f.theme != "" {
		parts = append(parts, fmt.Sprintf("theme = %q", themeName(strings.TrimSpace(f.theme))))
	}
	if author != "" {
		parts = append(parts, fmt.Sprintf("author = %q", author))
	}
	if f.organization != "" {
		parts = append(parts, fmt.Sprintf("author.organization = %q", organizationName(strings.TrimSpace(f.organization))))
	}
	if f.country != "" {
		cc, err := countryCode(f.country)
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("author.country = %q", cc))
	}
	// The filter's grammar has only AND, so --filter joins the others as
	// it is, without parentheses.
	if expr := strings.TrimSpace(f.filter); expr != "" {
		parts = append(parts, expr)
	}
	return strings.Join(parts, " AND "), nil
}

func (a *app) searchCommand() *cobra.Command {
	var (
		format string
		flags  searchFlags
		newest bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "search QUERY...",
		Short: "Search threads and replies by their words",
		Long: `Search the threads and replies you may read for QUERY (several arguments are
joined with spaces), the best matches first (--newest: the newest first). A
query is words, all of which must be in a post; "phrases" in double quotes,
whose words must come together and in that order; -word or -"phrase" to leave
out the posts that have it; and OR between two terms, for either. Words are
found in English, French and Spanish whatever their endings, and in Chinese,
Japanese, Korean and Arabic text too. Quote the query for the shell; one that
starts with a minus sign goes after --, which ends the flags.

Each hit shows the thread's title; the post (threads/12, or
threads/12/replies/3 for a reply), its author and when it was written; and an
extract of the post, with what matched in [brackets].

The flags narrow the search; they combine, and with --filter, by AND. --filter
takes comparisons joined by AND over theme, author, author.organization,
author.country, kind, state and tag (= or !=), and create_time (>, >=, <, <=
and a date or an RFC 3339 time), e.g.

  kind = QUESTION AND create_time >= 2026-01-01

-o json and yaml give {"hits": [...]} with the API's field names, the
snippet as the server sends it: HTML, with the matches in <mark>.`,
		Example: `  forumctl search mentoring
  forumctl search '"host family" OR "famille d'\''accueil"' --theme reciprocal-volunteering
  forumctl search visa --author moses --newest --limit 5
  forumctl search --country KE -- -draft volunteer
  forumctl search report --filter 'kind = FOLLOW_UP AND create_time >= 2026-01-01' -o json`,
		Args:              repeatArgs("QUERY"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			query := strings.TrimSpace(strings.Join(args, " "))
			if query == "" {
				return usagef("give the words to search for")
			}
			if limit < 0 {
				return usagef("--limit must be 0 (all) or more")
			}
			// Check the flags before any call; --author is resolved once
			// connected.
			if _, err := flags.build(""); err != nil {
				return err
			}
			opts := &client.SearchOptions{PageSize: 100}
			if limit > 0 && limit < 100 {
				opts.PageSize = int32(limit)
			}
			if newest {
				opts.OrderBy = "create_time desc"
			}
			return call(a, cmd, format, false, func(ctx context.Context, c *client.Client) (*forumv1.SearchResponse, error) {
				author := ""
				if flags.author != "" {
					var err error
					if author, err = resolveUser(ctx, c, strings.TrimSpace(flags.author)); err != nil {
						return nil, err
					}
				}
				var err error
				if opts.Filter, err = flags.build(author); err != nil {
					return nil, err
				}
				out := &forumv1.SearchResponse{}
				for hit, err := range c.Search(ctx, query, opts) {
					if err != nil {
						return nil, err
					}
					out.Hits = append(out.Hits, hit)
					if limit > 0 && len(out.Hits) == limit {
						break
					}
				}
				return out, nil
			}, func(ctx context.Context, n *names, out *forumv1.SearchResponse) error {
				if len(out.GetHits()) == 0 {
					fmt.Fprintln(a.stderr, "No posts match.")
					return nil
				}
				return writeHits(ctx, a.stdout, n, out.GetHits())
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&flags.theme, "theme", "", "only posts in this theme (slug or themes/slug)")
	f.StringVar(&flags.author, "author", "", "only posts by this user: a username, users/N, or me")
	f.StringVar(&flags.organization, "organization", "", "only posts by members of this organisation (slug or organizations/slug)")
	f.StringVar(&flags.country, "country", "", "only posts by people from this country, such as KE")
	f.StringVar(&flags.filter, "filter", "", `more conditions, joined by AND, e.g. 'kind = QUESTION AND create_time >= 2026-01-01'`)
	f.BoolVar(&newest, "newest", false, "newest first, instead of the best matches first")
	f.IntVar(&limit, "limit", 20, "show at most this many hits; 0 shows all")
	addOutputFlag(cmd, &format)
	_ = cmd.RegisterFlagCompletionFunc("theme", a.completeThemes)
	for _, name := range []string{"author", "organization", "country", "filter", "limit"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// writeHits writes search hits for reading in a terminal, a block each:
// the thread's title; the post, its author and time; the snippet, its
// matches in [brackets].
func writeHits(ctx context.Context, w io.Writer, n *names, hits []*forumv1.SearchHit) error {
	for i, h := range hits {
		if i > 0 {
			fmt.Fprintln(w)
		}
		title := plainLine(h.GetThreadTitle())
		if title == "" {
			title = h.GetThread()
		}
		fmt.Fprintln(w, title)
		fmt.Fprintf(w, "  %s · %s · %s\n", h.GetName(), plainLine(n.user(ctx, h.GetAuthor())), timeText(h.GetCreateTime()))
		if s := snippetText(h.GetSnippetHtml(), "[", "]"); s != "" {
			if _, err := fmt.Fprintf(w, "  %s\n", s); err != nil {
				return err
			}
		}
	}
	return nil
}

// snippetText turns a hit's snippet_html (the post's text escaped, matches
// in <mark>…</mark>) into one line of plain text for a terminal: each match
// between open and close, other tags dropped, entities unescaped,
// whitespace runs (line breaks too) one space, and control characters,
// which could drive the terminal, left out.
func snippetText(snippet, open, close string) string {
	var b strings.Builder
	text := func(s string) {
		b.WriteString(html.UnescapeString(s))
	}
	for snippet != "" {
		i := strings.IndexByte(snippet, '<')
		if i < 0 {
			text(snippet)
			break
		}
		text(snippet[:i])
		j := strings.IndexByte(snippet[i:], '>')
		if j < 0 {
			text(snippet[i:]) // not a tag: a stray <
			break
		}
		switch tag := strings.ToLower(snippet[i : i+j+1]); tag {
		case "<mark>":
			b.WriteString(open)
		case "</mark>":
			b.WriteString(close)
		}
		snippet = snippet[i+j+1:]
	}
	return plainLine(b.String())
}

// plainLine folds s onto one line, with whitespace runs one space and
// control characters left out.
func plainLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
