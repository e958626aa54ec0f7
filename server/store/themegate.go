package store

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
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
	themeVisibilityField = fieldNumber(&forumv1.Theme{}, "visibility")
	themeGroupsField     = fieldNumber(&forumv1.Theme{}, "groups")
)

// fieldNumber returns the number of m's field name; it panics if m has no
// such field.
func fieldNumber(m proto.Message, name protoreflect.Name) protowire.Number {
	d := m.ProtoReflect().Descriptor()
	f := d.Fields().ByName(name)
	if f == nil {
		panic("store: " + string(d.FullName()) + " has no field " + string(name))
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

// gateCache keeps the gates of existing themes between transactions, so that
// reading a thread or reply does not open the themes bucket. Gates change
// only when a theme is created, deleted or has its visibility or groups
// updated, which is rare; group membership is not cached (themeGate.allows
// reads it in the transaction).
//
// Invariants:
//   - Every Store method that may change a theme's gate calls invalidate
//     after its kv Update returns, whatever the outcome (a batch that ran
//     the change but failed to commit may have cached the uncommitted gate).
//   - A gate read in a transaction is put with the generation taken before
//     the transaction started (Store.themeAccess); put drops it if an
//     invalidate happened since, as the transaction may predate the change.
//     In a read-write transaction the generation may be taken inside it: it
//     sees every committed change.
//   - Only gates of themes that exist are cached, so names that callers
//     make up cannot grow the cache.
type gateCache struct {
	snap atomic.Pointer[gateSnapshot]
	mu   sync.Mutex // serialises put and invalidate
}

type gateSnapshot struct {
	gen   uint64
	gates map[string]themeGate // by theme slug; never changed once published
}

// generation returns the current generation.
func (c *gateCache) generation() uint64 {
	if s := c.snap.Load(); s != nil {
		return s.gen
	}
	return 0
}

// get returns the cached gate of the theme with this slug.
func (c *gateCache) get(slug string) (themeGate, bool) {
	s := c.snap.Load()
	if s == nil {
		return themeGate{}, false
	}
	g, ok := s.gates[slug]
	return g, ok
}

// put caches g, read at generation gen, unless the cache has been
// invalidated since.
func (c *gateCache) put(gen uint64, slug string, g themeGate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.snap.Load()
	if c.generation() != gen {
		return
	}
	next := &gateSnapshot{gen: gen, gates: make(map[string]themeGate, 1+len(curGates(cur)))}
	maps.Copy(next.gates, curGates(cur))
	next.gates[slug] = g
	c.snap.Store(next)
}

func curGates(s *gateSnapshot) map[string]themeGate {
	if s == nil {
		return nil
	}
	return s.gates
}

// invalidate forgets every cached gate.
func (c *gateCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.Store(&gateSnapshot{gen: c.generation() + 1})
}
