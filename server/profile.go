package server

import (
	"net/mail"
	"strings"

	"github.com/forumhq/forum/internal/errs"
	"golang.org/x/text/language"
)

// Limits of a user profile.
const (
	maxLanguages = 10
	maxBio       = 1000
	maxEmail     = 254
)

// checkCountry records a violation unless code is an ISO 3166-1 alpha-2
// country code in upper case (empty is allowed unless required).
func checkCountry(v *errs.Violations, field, code string, required bool) {
	if code == "" {
		if required {
			v.Add(field, "is required: an ISO 3166-1 alpha-2 code such as KE")
		}
		return
	}
	r, err := language.ParseRegion(code)
	if err != nil || len(code) != 2 || code != strings.ToUpper(code) || !r.IsCountry() || r.String() != code {
		v.Add(field, "%q is not an ISO 3166-1 alpha-2 country code (such as KE, BR, VN)", code)
	}
}

// checkLanguages records a violation unless tags are at most 10 distinct,
// well-formed BCP 47 language tags.
func checkLanguages(v *errs.Violations, field string, tags []string) {
	if len(tags) > maxLanguages {
		v.Add(field, "at most %d languages are allowed", maxLanguages)
		return
	}
	seen := map[string]bool{}
	for _, t := range tags {
		tag, err := language.Parse(t)
		if err != nil || len(t) > 35 {
			v.Add(field, "%q is not a BCP 47 language tag (such as fr, pt-BR)", t)
			return
		}
		if seen[tag.String()] {
			v.Add(field, "%q appears twice", t)
			return
		}
		seen[tag.String()] = true
	}
}

// checkEmail records a violation unless s is empty or a plain e-mail address
// without invisible or direction-changing characters (see checkName).
func checkEmail(v *errs.Violations, field, s string) {
	if s == "" {
		return
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > maxEmail {
		v.Add(field, "%q is not an e-mail address", s)
		return
	}
	// net/mail accepts any UTF-8 (RFC 6532), invisible characters too.
	if problem := hiddenCharacter([]rune(s)); problem != "" {
		v.Add(field, "%s", problem)
	}
}
