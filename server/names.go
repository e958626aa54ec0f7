package server

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/forumhq/forum/internal/errs"
)

// Names and titles are what other people read to tell threads, users,
// groups, organisations, themes and API tokens apart, so they must show
// what they hold: checkName refuses the characters that are invisible or
// that change the direction of the text around them, which would let
// `invoice<U+202E>gnp.exe` display as "invoiceexe.png", or a title of three
// zero-width spaces pass for one with text in it.
//
// The rule, for every name and title (checkName) and for e-mail addresses
// (checkEmail):
//
//   - Format characters (Unicode category Cf) are refused: zero-width
//     space U+200B, word joiner U+2060, byte order mark U+FEFF, soft hyphen
//     U+00AD, the bidirectional marks, embeddings, overrides and isolates
//     (U+200E, U+200F, U+061C, U+202A-U+202E, U+2066-U+2069), and the
//     rest of the category, except what writing systems and emoji need:
//     U+200C ZERO WIDTH NON-JOINER (Persian, Kurdish, Indic scripts) and
//     U+200D ZERO WIDTH JOINER (Indic conjuncts, emoji sequences such as
//     👩 U+200D 💻), each only between two letters, marks, digits or
//     symbols; and the tag characters U+E0020-U+E007F, only in an emoji
//     tag sequence (the flags of England, Scotland and Wales: U+1F3F4,
//     one to seven tag letters or digits, U+E007F).
//   - The Hangul fillers U+3164 and U+FFA0, letters that display as
//     nothing, are refused.
//   - Line and paragraph separators (U+2028, U+2029) and control
//     characters are refused: a name is one line.
//   - Variation selectors (U+FE00-U+FE0F, category Mn, not Cf: U+FE0F
//     asks for the emoji form of ❤) and other combining marks are
//     allowed.
//   - A name must hold at least one visible character: a letter, digit,
//     punctuation mark or symbol that is not default-ignorable (Unicode's
//     Default_Ignorable_Code_Point) and not the blank braille pattern
//     U+2800. White space, joiners, variation selectors and marks on
//     their own count as empty.
//
// Prose (thread and reply bodies, descriptions, bios) is not a name: it
// keeps checkText's multiline rules, since Markdown may need any of these
// characters and is rendered as a block, not inline beside other text.

// Characters that checkName treats specially.
const (
	zeroWidthNonJoiner = '\u200C'
	zeroWidthJoiner    = '\u200D'
	blackFlag          = '\U0001F3F4' // the base of emoji tag sequences
	tagFirst           = '\U000E0020'
	tagLast            = '\U000E007F'
	cancelTag          = '\U000E007F' // ends an emoji tag sequence
	maxTagSpec         = 7
)

// checkName records a violation unless s is a usable name or title: valid
// UTF-8, at most maxChars characters (runes), on one line, with at least one
// visible character and no invisible or direction-changing character (the
// rule is at the top of this file). It records at most one violation.
// Every human-readable name and title goes through it.
func checkName(v *errs.Violations, field, s string, maxChars int) {
	if !utf8.ValidString(s) {
		v.Add(field, "must be valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		v.Add(field, "must be at most %d characters long (it has %d)", maxChars, n)
		return
	}
	rs := []rune(s)
	if problem := hiddenCharacter(rs); problem != "" {
		v.Add(field, "%s", problem)
		return
	}
	for _, r := range rs {
		if visible(r) {
			return
		}
	}
	v.Add(field, "must not be empty (it has no visible character)")
}

// hiddenCharacter returns what is wrong with the first character of rs that
// a name may not hold (see the top of this file), with its position (in
// characters, from 0), or "" if there is none. rs is valid text.
func hiddenCharacter(rs []rune) string {
	tagStart, tagLen := -1, 0 // the open emoji tag sequence, if any
	for i, r := range rs {
		if tagStart >= 0 && !(r >= tagFirst && r <= tagLast) {
			return invisibleAt(rs[tagStart], tagStart)
		}
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("must not contain control characters (found %U at position %d)", r, i)
		case r == '\u2028' || r == '\u2029':
			return fmt.Sprintf("must be a single line (found the separator %U at position %d)", r, i)
		case r == zeroWidthNonJoiner || r == zeroWidthJoiner:
			if i == 0 || i == len(rs)-1 || !joinable(rs[i-1]) || !joinable(rs[i+1]) {
				return fmt.Sprintf("may hold %U (a zero-width joiner or non-joiner) only between two letters, marks, digits or symbols (found at position %d)", r, i)
			}
		case r == cancelTag:
			if tagStart < 0 || tagLen == 0 {
				return invisibleAt(r, i)
			}
			tagStart, tagLen = -1, 0
		case r >= tagFirst && r <= tagLast:
			letterOrDigit := r >= '\U000E0030' && r <= '\U000E0039' || r >= '\U000E0061' && r <= '\U000E007A'
			switch {
			case !letterOrDigit:
				return invisibleAt(r, i)
			case tagStart < 0 && (i == 0 || rs[i-1] != blackFlag):
				return invisibleAt(r, i)
			case tagStart < 0:
				tagStart = i
			}
			if tagLen++; tagLen > maxTagSpec {
				return invisibleAt(rs[tagStart], tagStart)
			}
		case unicode.Is(unicode.Cf, r), r == '\u3164', r == '\uFFA0':
			return invisibleAt(r, i)
		}
	}
	if tagStart >= 0 {
		return invisibleAt(rs[tagStart], tagStart)
	}
	return ""
}

// invisibleAt is the violation of the invisible or direction-changing
// character r at position i.
func invisibleAt(r rune, i int) string {
	return fmt.Sprintf("contains an invisible or direction-changing character %U at position %d", r, i)
}

// joinable reports whether a zero-width joiner or non-joiner may stand next
// to r: a letter, mark (virama, variation selector), digit or symbol
// (emoji).
func joinable(r rune) bool {
	return r != zeroWidthJoiner && r != zeroWidthNonJoiner &&
		(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsNumber(r) || unicode.IsSymbol(r))
}

// visible reports whether r shows something on its own: a letter, digit,
// punctuation mark or symbol that is neither default-ignorable nor the
// blank braille pattern.
func visible(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) &&
		!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) && r != '\u2800'
}
