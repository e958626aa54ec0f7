package store

import (
	"maps"
	"sync"
	"sync/atomic"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// themeGate is the part of a theme that decides who may see it: its
// visibility and, for THEME_VISIBILITY_GROUPS, the groups whose members may.
// Every read of a thread or reply checks its theme's gate, so the gate is
// a small record of its own in themeGates (themeGateValue), which putTheme
// keeps equal to the theme's record, and themeAccess reads that instead of
// the theme.
type themeGate struct {
	visibility forumv1.ThemeVisibility
	groups     []string // group names, groups/{slug}
}

// gateOf returns the gate of theme t.
func gateOf(t *forumv1.Theme) themeGate {
	return themeGate{visibility: t.GetVisibility(), groups: t.GetGroups()}
}

// allows reports whether the actor may pass the gate: authz.SeeTheme, with
// the actor's membership of the gate's groups read in tx.
func (g themeGate) allows(tx kv.Tx, actor authz.Actor) (bool, error) {
	return authz.SeeTheme(actor, g.visibility, g.groups, func(group string) (bool, error) {
		return isMember(tx, actor, groupSlug(group))
	})
}

// gateCache keeps the gates of existing themes between transactions, so that
// reading a thread or reply does not open the themeGates bucket. Gates change
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
