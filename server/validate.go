package server

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Limits on request fields.
const (
	maxTitleChars       = 300
	maxBodyBytes        = 64 << 10
	maxTags             = 10
	maxTagLen           = 32
	maxDisplayName      = 100
	maxOrganizationName = 200
	maxDescription      = 2000
	maxThemeSlugLen     = 63
	defaultPageSize     = 25
	maxPageSize         = 100
	maxRequestIDLen     = 128
	maxFilterBytes      = 1000
	maxUsernameBytes    = 32
)

// checkText records a violation unless s is valid UTF-8 text of minChars to
// maxChars characters (runes) without control characters; multiline text may
// hold newlines and tabs. Text that is only white space counts as empty.
//
// Single-line text is a name or a title, and follows checkName's rules
// (an empty s is accepted when minChars is 0); multiline text (bodies,
// descriptions, bios) is prose and may hold any printable character.
func checkText(v *errs.Violations, field, s string, minChars, maxChars int, multiline bool) {
	if !multiline {
		if minChars > 0 || s != "" {
			checkName(v, field, s, maxChars)
		}
		return
	}
	if !utf8.ValidString(s) {
		v.Add(field, "must be valid UTF-8")
		return
	}
	n := utf8.RuneCountInString(s)
	switch {
	case minChars > 0 && strings.TrimSpace(s) == "":
		v.Add(field, "must not be empty")
		return
	case n > maxChars:
		v.Add(field, "must be at most %d characters long (it has %d)", maxChars, n)
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(r == '\n' || r == '\t' || r == '\r') {
			v.Add(field, "must not contain control characters (found %U)", r)
			return
		}
	}
}

// checkBody records a violation unless s is valid Markdown source: UTF-8, at
// most 64 KiB, no NUL or other control characters but newlines and tabs.
func checkBody(v *errs.Violations, field, s string, required bool) {
	if len(s) > maxBodyBytes {
		v.Add(field, "must be at most %d bytes (64 KiB) long (it has %d)", maxBodyBytes, len(s))
		return
	}
	min := 0
	if required {
		min = 1
	}
	checkText(v, field, s, min, maxBodyBytes, true)
}

// pageSize validates a page_size and applies the default and the maximum.
func pageSize(v *errs.Violations, n int32) int {
	switch {
	case n < 0:
		v.Add("page_size", "must not be negative")
		return 0
	case n == 0:
		return defaultPageSize
	case n > maxPageSize:
		return maxPageSize
	}
	return int(n)
}

// checkRequestID records a violation unless id is empty or a usable
// idempotency key: at most 128 characters of letters, digits and `-_.:`.
func checkRequestID(v *errs.Violations, id string) {
	if len(id) > maxRequestIDLen {
		v.Add("request_id", "must be at most %d characters long", maxRequestIDLen)
		return
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			v.Add("request_id", "may hold only letters, digits and - _ . : (a UUID is ideal)")
			return
		}
	}
}

// checkTags validates and returns tags.
func checkTags(v *errs.Violations, field string, tags []string) {
	if len(tags) > maxTags {
		v.Add(field, "at most %d tags are allowed (got %d)", maxTags, len(tags))
		return
	}
	for i, t := range tags {
		if !resname.ValidSlug(t, maxTagLen) {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "%q is not a tag: use lowercase letters, digits and single hyphens, at most %d characters", t, maxTagLen)
			return
		}
		if slices.Contains(tags[:i], t) {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "tag %q appears twice", t)
			return
		}
	}
}

// updatePaths resolves an update_mask against msg (the resource in the
// request; prefix is its field name in the request, e.g. "thread").
// updatable lists the fields a client may change; ignored lists fields that
// may appear in a mask but change nothing (etag, which rides along in PATCH
// bodies). An empty mask means every updatable field that is set in msg;
// `*` means every updatable field. Unknown fields, and known ones that
// cannot be changed, are INVALID_ARGUMENT.
// snakePath returns a field mask path as the proto's field name: a path
// in the JSON spelling (`closingNote`, as an HTTP client writes
// `?updateMask=closingNote`; the gateway passes query parameters through
// as they are) becomes `closing_note`.
func snakePath(p string) string {
	if !strings.ContainsFunc(p, unicode.IsUpper) {
		return p
	}
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func updatePaths(mask *fieldmaskpb.FieldMask, msg proto.Message, updatable []string, ignored ...string) ([]string, error) {
	var v errs.Violations
	fields := msg.ProtoReflect().Descriptor().Fields()
	var paths []string
	if len(mask.GetPaths()) == 0 {
		m := msg.ProtoReflect()
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if slices.Contains(updatable, string(fd.Name())) {
				paths = append(paths, string(fd.Name()))
			}
			return true
		})
		if len(paths) == 0 {
			v.Add("update_mask", "nothing to update: set update_mask or one of the fields %s", strings.Join(updatable, ", "))
		}
		return paths, v.Err()
	}
	for _, p := range mask.GetPaths() {
		p = snakePath(p)
		switch {
		case p == "*":
			return updatable, nil
		case slices.Contains(ignored, p):
		case slices.Contains(updatable, p):
			if !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		case fields.ByName(protoreflect.Name(p)) != nil:
			v.Add("update_mask", "%q cannot be updated; updatable fields are %s", p, strings.Join(updatable, ", "))
		default:
			v.Add("update_mask", "%q is not a field of %s", p, msg.ProtoReflect().Descriptor().Name())
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errs.InvalidField("update_mask", "nothing to update")
	}
	return paths, nil
}
