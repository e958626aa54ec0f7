package store

import (
	"fmt"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// themeGate is the part of a theme that decides who may see it: its
// visibility and, for THEME_VISIBILITY_GROUPS, the groups whose members may.
// Every read of a thread or reply checks its theme's gate, so readThemeGate
// takes it from the stored record without decoding the rest of the theme.
type themeGate struct {
	visibility forumv1.ThemeVisibility
	groups     []string // group names, groups/{slug}
}

// allows reports whether the actor may pass the gate.
func (g themeGate) allows(tx kv.Tx, actor Actor) (bool, error) {
	switch g.visibility {
	case forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS:
		return actor.User != "", nil
	case forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS:
		if actor.Moderator() {
			return true, nil
		}
		for _, name := range g.groups {
			if ok, err := isMember(tx, actor, groupSlug(name)); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return true, nil
}

// The field numbers readThemeGate looks for, taken from the generated
// descriptor so that they cannot drift from resources.proto.
var (
	themeVisibilityField = themeField("visibility")
	themeGroupsField     = themeField("groups")
)

func themeField(name protoreflect.Name) protowire.Number {
	f := (&forumv1.Theme{}).ProtoReflect().Descriptor().Fields().ByName(name)
	if f == nil {
		panic("store: forum.v1.Theme has no field " + string(name))
	}
	return f.Number()
}

// readThemeGate reads the gate from a stored forum.v1.Theme (the bytes
// putProto wrote), skipping every other field. It reads what proto.Unmarshal
// would: the last visibility value wins, groups accumulate.
func readThemeGate(b []byte) (themeGate, error) {
	var g themeGate
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return g, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == themeVisibilityField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return g, protowire.ParseError(n)
			}
			g.visibility, b = forumv1.ThemeVisibility(int32(v)), b[n:]
		case num == themeGroupsField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return g, protowire.ParseError(n)
			}
			g.groups, b = append(g.groups, string(v)), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return g, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return g, nil
}
