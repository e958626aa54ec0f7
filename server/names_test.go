package server

import (
	"context"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// TestCheckName is the rule for names and titles, character by character.
func TestCheckName(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // a substring of the violation; "" means valid
	}{
		{"plain", "Placements in 2027", ""},
		{"accents and CJK", "Échanges Sud-Sud 南南合作", ""},
		{"Persian with ZWNJ", "می\u200cخواهم", ""},
		{"Devanagari conjunct with ZWJ", "क्\u200dष", ""},
		{"emoji ZWJ sequence", "Team 👩\u200d💻👨\u200d👩\u200d👧", ""},
		{"rainbow flag: variation selector then ZWJ", "🏳\ufe0f\u200d🌈 pride", ""},
		{"variation selector U+FE0F (Mn) allowed", "I \u2764\ufe0f volunteering", ""},
		{"Scotland flag tag sequence", "Volunteers in \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", ""},
		{"combining accent", "Cafe\u0301", ""},
		{"no-break space inside", "Mr\u00a0Smith", ""},

		{"right-to-left override", "invoice\u202egnp.exe", "character U+202E at position 7"},
		{"left-to-right override", "a\u202db", "U+202D at position 1"},
		{"isolate", "\u2067abc", "U+2067 at position 0"},
		{"left-to-right mark", "abc\u200e", "U+200E at position 3"},
		{"Arabic letter mark", "a\u061cb", "U+061C"},
		{"zero-width space", "a\u200bb", "U+200B at position 1"},
		{"three zero-width spaces", "\u200b\u200b\u200b", "invisible or direction-changing character U+200B at position 0"},
		{"word joiner", "a\u2060b", "U+2060"},
		{"byte order mark", "\ufeffTitle", "U+FEFF at position 0"},
		{"soft hyphen", "sp\u00adam", "U+00AD at position 2"},
		{"Mongolian vowel separator", "a\u180eb", "U+180E"},
		{"Hangul filler", "admin\u3164", "U+3164 at position 5"},
		{"halfwidth Hangul filler", "\uffa0", "U+FFA0"},
		{"tag characters smuggling text", "hello\U000E0068\U000E0069", "U+E0068 at position 5"},
		{"tag sequence not ended", "\U0001F3F4\U000E0067\U000E0062 x", "U+E0067 at position 1"},
		{"cancel tag alone", "a\U000E007F", "U+E007F at position 1"},
		{"tag sequence too long", "\U0001F3F4" + strings.Repeat("\U000E0061", 8) + "\U000E007F", "U+E0061 at position 1"},
		{"ZWJ at the start", "\u200dabc", "U+200D (a zero-width joiner or non-joiner) only between"},
		{"ZWNJ at the end", "abc\u200c", "U+200C"},
		{"two joiners", "a\u200d\u200db", "position 1"},
		{"ZWJ beside a space", "a \u200db", "U+200D"},
		{"only joiners", "\u200d\u200d\u200d", "U+200D"},
		{"line separator", "one\u2028two", "single line (found the separator U+2028 at position 3)"},
		{"control character", "a\x00b", "control characters (found U+0000 at position 1)"},
		{"newline", "a\nb", "control characters"},

		{"empty", "", "must not be empty"},
		{"blank", "   ", "must not be empty"},
		{"only ideographic space", "\u3000", "must not be empty"},
		{"only a variation selector", "\ufe0f", "must not be empty"},
		{"only combining marks", "\u0301\u0301", "must not be empty"},
		{"only blank braille", "\u2800\u2800", "must not be empty"},
		{"only Hangul choseong filler", "\u115f", "must not be empty"},
		{"too long", strings.Repeat("é", 11), "at most 10 characters"},
		{"invalid UTF-8", "a\xffb", "valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			max := 10
			if tc.want == "" || !strings.Contains(tc.want, "at most") {
				max = 100
			}
			var v errs.Violations
			checkName(&v, "thread.title", tc.in, max)
			switch {
			case tc.want == "" && len(v) > 0:
				t.Fatalf("checkName(%+q) = %v, want valid", tc.in, v)
			case tc.want == "":
			case len(v) != 1:
				t.Fatalf("checkName(%+q) = %v, want one violation containing %q", tc.in, v, tc.want)
			case v[0].Field != "thread.title" || !strings.Contains(v[0].Description, tc.want):
				t.Fatalf("checkName(%+q) = %s: %s, want thread.title: …%s…", tc.in, v[0].Field, v[0].Description, tc.want)
			}
		})
	}
}

// TestNamesRefuseInvisibleCharacters: every human-readable name and title
// of the API refuses an invisible or direction-changing character with
// INVALID_ARGUMENT and a violation of its field, and changes nothing.
func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	e := newTestEnv(t)
	admin, alice := e.admin.ctx(t), e.alice.ctx(t)
	th := e.mustThread(t, e.alice, &forumv1.Thread{Title: "Placements"})
	groups := forumv1.NewGroupServiceClient(e.conn)
	orgs := forumv1.NewOrganizationServiceClient(e.conn)
	tokens := forumv1.NewApiTokenServiceClient(e.conn)
	grp, err := groups.CreateGroup(admin, &forumv1.CreateGroupRequest{GroupId: "stewards", Group: &forumv1.Group{DisplayName: "Stewards"}})
	if err != nil {
		t.Fatal(err)
	}
	org, err := orgs.CreateOrganization(admin, &forumv1.CreateOrganizationRequest{OrganizationId: "vso", Organization: &forumv1.Organization{
		DisplayName: "VSO", Country: "KE", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}})
	if err != nil {
		t.Fatal(err)
	}
	const spoof = "invoice\u202egnp.exe"
	const blank = "\u200b\u200b\u200b"
	mask := func(p string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: []string{p}} }
	cases := []struct {
		name  string
		call  func(s string) error
		field string
	}{
		{"CreateThread title", func(s string) error {
			_, err := e.threads.CreateThread(alice, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: s}})
			return err
		}, "thread.title"},
		{"UpdateThread title", func(s string) error {
			_, err := e.threads.UpdateThread(alice, &forumv1.UpdateThreadRequest{Thread: &forumv1.Thread{Name: th.Name, Title: s}, UpdateMask: mask("title")})
			return err
		}, "thread.title"},
		{"Register display_name", func(s string) error {
			_, err := e.authc.Register(context.Background(), &forumv1.RegisterRequest{Username: "newcomer", DisplayName: s, Password: testPassword})
			return err
		}, "display_name"},
		{"CreateUser display_name", func(s string) error {
			_, err := e.users.CreateUser(admin, &forumv1.CreateUserRequest{User: &forumv1.User{Username: "carol", DisplayName: s}, Password: testPassword})
			return err
		}, "user.display_name"},
		{"UpdateUser display_name", func(s string) error {
			_, err := e.users.UpdateUser(alice, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.alice.name, DisplayName: s}, UpdateMask: mask("display_name")})
			return err
		}, "user.display_name"},
		{"UpdateUser email", func(s string) error {
			_, err := e.users.UpdateUser(alice, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: e.alice.name, Email: "a" + s + "@example.org"}, UpdateMask: mask("email")})
			return err
		}, "user.email"},
		{"CreateGroup display_name", func(s string) error {
			_, err := groups.CreateGroup(admin, &forumv1.CreateGroupRequest{GroupId: "others", Group: &forumv1.Group{DisplayName: s}})
			return err
		}, "group.display_name"},
		{"UpdateGroup display_name", func(s string) error {
			_, err := groups.UpdateGroup(admin, &forumv1.UpdateGroupRequest{Group: &forumv1.Group{Name: grp.Name, DisplayName: s}, UpdateMask: mask("display_name")})
			return err
		}, "group.display_name"},
		{"CreateOrganization display_name", func(s string) error {
			_, err := orgs.CreateOrganization(admin, &forumv1.CreateOrganizationRequest{OrganizationId: "other", Organization: &forumv1.Organization{
				DisplayName: s, Country: "KE", Kind: forumv1.OrganizationKind_ORGANIZATION_KIND_NGO}})
			return err
		}, "organization.display_name"},
		{"UpdateOrganization display_name", func(s string) error {
			_, err := orgs.UpdateOrganization(admin, &forumv1.UpdateOrganizationRequest{Organization: &forumv1.Organization{Name: org.Name, DisplayName: s}, UpdateMask: mask("display_name")})
			return err
		}, "organization.display_name"},
		{"CreateTheme display_name", func(s string) error {
			_, err := e.themes.CreateTheme(admin, &forumv1.CreateThemeRequest{ThemeId: "new-theme", Theme: &forumv1.Theme{DisplayName: s}})
			return err
		}, "theme.display_name"},
		{"UpdateTheme display_name", func(s string) error {
			_, err := e.themes.UpdateTheme(admin, &forumv1.UpdateThemeRequest{Theme: &forumv1.Theme{Name: "themes/knowledge-exchange", DisplayName: s}, UpdateMask: mask("display_name")})
			return err
		}, "theme.display_name"},
		{"CreateApiToken display_name", func(s string) error {
			_, err := tokens.CreateApiToken(alice, &forumv1.CreateApiTokenRequest{Parent: "users/me", ApiToken: &forumv1.ApiToken{
				DisplayName: s, Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}}})
			return err
		}, "api_token.display_name"},
	}
	for _, tc := range cases {
		for _, in := range []struct{ value, want string }{
			{spoof, "contains an invisible or direction-changing character U+202E at position 7"},
			{blank, "contains an invisible or direction-changing character U+200B at position 0"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := digest(t, e)
				err := tc.call(in.value)
				if code := status.Code(err); code != codes.InvalidArgument {
					t.Fatalf("%+q: %v, want INVALID_ARGUMENT", in.value, err)
				}
				want := in.want
				if tc.field == "user.email" { // "a" comes first
					want = strings.Replace(want, "position 7", "position 8", 1)
					want = strings.Replace(want, "position 0", "position 1", 1)
				}
				var found bool
				for _, d := range status.Convert(err).Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, fv := range br.GetFieldViolations() {
							found = found || fv.GetField() == tc.field && strings.Contains(fv.GetDescription(), want)
						}
					}
				}
				if !found {
					t.Errorf("%+q: %v, want a violation of %s containing %q", in.value, err, tc.field, want)
				}
				if after := digest(t, e); after != before {
					t.Errorf("%+q: a refused call changed the forum", in.value)
				}
			})
		}
	}
}
