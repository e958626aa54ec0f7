package main

import (
	"context"
	"iter"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

func (a *app) tokensCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Manage your API tokens, for scripts and integrations",
		Long: `API tokens let a script or another system call the forum as you, limited to
their scopes: read, write, moderate (conveners and admins) or admin (admins);
each includes those before it, and a token never does more than your role.
Give one to a script as FORUM_TOKEN. Tokens are created from a login session
('forumctl login'), not with another token; the secret is shown once.`,
		Example: `  forumctl tokens create --name "reporting job" --scopes read --expires 30d
  forumctl tokens list
  forumctl tokens delete 4`,
		Args: groupArgs,
		RunE: groupRun,
	}
	cmd.AddCommand(
		a.tokensCreateCommand(),
		a.tokensListCommand(),
		a.deleteCommand("delete TOKEN", "Revoke an API token",
			`Revoke TOKEN at once: its number (4), for one of your tokens, or its name
(users/1/tokens/4); admins may revoke anyone's by name.`,
			`  forumctl tokens delete 4
  forumctl tokens delete users/1/tokens/4`,
			tokenName,
			func(ctx context.Context, c *client.Client, name string) (string, error) {
				if id, mine := strings.CutPrefix(name, "users/me/tokens/"); mine {
					me, err := resolveUser(ctx, c, "me")
					if err != nil {
						return "", err
					}
					name = me + "/tokens/" + id
				}
				_, err := c.ApiTokenService().DeleteApiToken(ctx, &forumv1.DeleteApiTokenRequest{Name: name})
				return "Revoked " + name, err
			}),
	)
	return cmd
}

// tokenNumber matches the forms a token can be named in: 4, users/1/tokens/4,
// users/me/tokens/4.
var tokenNumber = regexp.MustCompile(`^(?:users/(me|[1-9][0-9]*)/tokens/)?([1-9][0-9]*)$`)

// tokenName returns the resource name of an API token given as 4 (one of
// the caller's: users/me/tokens/4, which the caller resolves) or as its name.
func tokenName(arg string) (string, error) {
	m := tokenNumber.FindStringSubmatch(strings.TrimSpace(arg))
	if m == nil {
		return "", usagef("%q is not an API token: give its number (4) or name (users/1/tokens/4)", arg)
	}
	if m[1] == "" {
		m[1] = "me"
	}
	return "users/" + m[1] + "/tokens/" + m[2], nil
}

// scopeWords are the scopes --scopes accepts.
var scopeWords = map[string]string{"read": "READ", "write": "WRITE", "moderate": "MODERATE", "admin": "ADMIN"}

// tokenScopes returns the scopes named by --scopes, each once.
func tokenScopes(words []string) ([]forumv1.TokenScope, error) {
	if len(words) == 0 {
		return nil, usagef("--scopes: name at least one of read, write, moderate, admin")
	}
	var scopes []forumv1.TokenScope
	for _, w := range words {
		s, err := enumFlag("scopes", strings.TrimSpace(w), scopeWords)
		if err != nil {
			return nil, err
		}
		sc := forumv1.TokenScope(forumv1.TokenScope_value["TOKEN_SCOPE_"+s])
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return scopes, nil
}

// scopesText lists scopes as words: "read, write".
func scopesText(scopes []forumv1.TokenScope) string {
	words := make([]string, len(scopes))
	for i, sc := range scopes {
		words[i] = enumWord(sc.String(), "TOKEN_SCOPE_")
	}
	return strings.Join(words, ", ")
}

func (a *app) tokensCreateCommand() *cobra.Command {
	var (
		format, name, expires string
		scopes                []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and show its secret, once",
		Long: `Create an API token for yourself and print its name and its secret. The
secret is shown only this once: the server keeps only its hash, so store it
now. The token works until --expires from now (default 90 days, at most a
year). -o json and yaml print the whole token, secret included.`,
		Example: `  forumctl tokens create --name "reporting job" --scopes read
  forumctl tokens create --name "moderation bot" --scopes read,write,moderate --expires 30d
  forumctl tokens create --name ci --scopes write -o json | jq -r .token`,
		Args: exactArgs(),
		RunE: a.runE(func(cmd *cobra.Command, _ []string) error {
			tok := &forumv1.ApiToken{DisplayName: name}
			var err error
			if tok.Scopes, err = tokenScopes(scopes); err != nil {
				return err
			}
			if tok.ExpireTime, err = expireTime("expires", expires); err != nil {
				return err
			}
			return call(a, cmd, format, true, func(ctx context.Context, c *client.Client) (*forumv1.ApiToken, error) {
				return c.ApiTokenService().CreateApiToken(ctx, &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: tok})
			}, func(_ context.Context, _ *names, out *forumv1.ApiToken) error {
				a.printf("Created %s %q (%s) until %s.\n", out.GetName(), out.GetDisplayName(), scopesText(out.GetScopes()), timeZoneText(out.GetExpireTime()))
				a.showSecret("Token", out.GetToken(), "token", "token")
				return nil
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "what the token is for, e.g. \"reporting job\"; required")
	f.StringSliceVar(&scopes, "scopes", nil, "what it may do: read, write, moderate, admin (separate with commas); required")
	f.StringVar(&expires, "expires", "", "how long it works, e.g. 72h or 30d (default 90 days, at most a year)")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("scopes")
	_ = cmd.RegisterFlagCompletionFunc("name", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("scopes", cobra.FixedCompletions([]string{"read", "write", "moderate", "admin"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("expires", cobra.NoFileCompletions)
	return cmd
}

func (a *app) tokensListCommand() *cobra.Command {
	return listCommand(a, &cobra.Command{
		Use:   "list",
		Short: "List your API tokens, newest first",
		Long: `List your API tokens, newest first, without their secrets: PREFIX is the
start of the secret, to recognise it.`,
		Example: `  forumctl tokens list
  forumctl tokens list -o yaml`,
	}, listSpec[*forumv1.ApiToken]{
		needToken: true,
		list: func(ctx context.Context, c *client.Client) iter.Seq2[*forumv1.ApiToken, error] {
			return c.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: "users/me", PageSize: 100})
		},
		response: func(tokens []*forumv1.ApiToken) proto.Message {
			return &forumv1.ListApiTokensResponse{ApiTokens: tokens}
		},
		empty:  "No API tokens.",
		header: []string{"NAME", "DISPLAY NAME", "SCOPES", "PREFIX", "EXPIRES", "LAST USED"},
		row: func(_ context.Context, _ *names, tok *forumv1.ApiToken) []string {
			return []string{tok.GetName(), tok.GetDisplayName(), scopesText(tok.GetScopes()), tok.GetTokenPrefix(),
				expiryText(tok.GetExpireTime()), timeText(tok.GetLastUseTime())}
		},
	})
}
