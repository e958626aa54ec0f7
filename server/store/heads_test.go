package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// checkHeadsAndGates fails the test unless every thread has a head in
// threadHeads equal to what its record says (headOf), every theme a gate in
// themeGates equal to its record's (gateOf), and neither bucket holds an
// entry without its record.
func checkHeadsAndGates(t *testing.T, s *Store) {
	t.Helper()
	err := s.kv.View(t.Context(), func(tx kv.Tx) error {
		for _, c := range []struct {
			records, side kv.Bucket
			check         func(key, record, side []byte) error
		}{
			{bucketThreads, bucketThreadHeads, func(key, record, side []byte) error {
				th := new(forumv1.Thread)
				if err := proto.Unmarshal(record, th); err != nil {
					return err
				}
				h, err := parseThreadHead(side)
				if err != nil {
					return err
				}
				if want := headOf(th); h != want {
					return fmt.Errorf("head %+v, record says %+v", h, want)
				}
				return nil
			}},
			{bucketThemes, bucketThemeGates, func(key, record, side []byte) error {
				th := new(forumv1.Theme)
				if err := proto.Unmarshal(record, th); err != nil {
					return err
				}
				g, err := parseThemeGate(side)
				if err != nil {
					return err
				}
				if want := gateOf(th); g.visibility != want.visibility || !slices.Equal(g.groups, want.groups) {
					return fmt.Errorf("gate %v %q, record says %v %q", g.visibility, g.groups, want.visibility, want.groups)
				}
				return nil
			}},
		} {
			records := map[string]bool{}
			var ierr error
			if err := tx.Scan(c.records, nil, nil, false, func(k, v []byte) bool {
				records[string(k)] = true
				side, err := tx.Get(c.side, k)
				if err == nil && side == nil {
					err = errors.New("missing")
				}
				if err == nil {
					err = c.check(k, v, side)
				}
				if err != nil {
					ierr = fmt.Errorf("%s %x: %s: %w", c.records, k, c.side, err)
					return false
				}
				return true
			}); err != nil {
				return err
			}
			if ierr != nil {
				return ierr
			}
			if err := tx.Scan(c.side, nil, nil, false, func(k, _ []byte) bool {
				if !records[string(k)] {
					ierr = fmt.Errorf("%s %x has no record in %s", c.side, k, c.records)
					return false
				}
				return true
			}); err != nil {
				return err
			}
			if ierr != nil {
				return ierr
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// forumScenario fills s with what the head and gate tests need: users,
// a group, themes of each visibility, and threads that have been created,
// edited, pinned, locked, moved, deleted and undeleted, with replies.
type forumScenario struct {
	alice, bob, conv, admin authz.Actor
	threads                 []string // every thread created
	replies                 []string // a reply of each thread that has one
	locked, deleted         string   // a locked thread and a deleted one
}

func newForumScenario(t *testing.T, s *Store) *forumScenario {
	t.Helper()
	ctx := t.Context()
	f := &forumScenario{
		alice: member(t, s, "alice", forumv1.Role_ROLE_MEMBER),
		bob:   member(t, s, "bob", forumv1.Role_ROLE_MEMBER),
		conv:  member(t, s, "conv", forumv1.Role_ROLE_CONVENER),
		admin: member(t, s, "admin", forumv1.Role_ROLE_ADMIN),
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateGroup(ctx, f.admin, "board", &forumv1.Group{DisplayName: "Board", Members: []string{f.alice.User}}, "")
	must(err)
	_, err = s.CreateGroup(ctx, f.admin, "staff", &forumv1.Group{DisplayName: "Staff"}, "")
	must(err)
	_, err = s.CreateTheme(ctx, f.conv, "private", &forumv1.Theme{DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/board"}}, "")
	must(err)
	_, err = s.CreateTheme(ctx, f.conv, "members", &forumv1.Theme{DisplayName: "Members", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS}, "")
	must(err)
	_, err = s.CreateTheme(ctx, f.conv, "gone", &forumv1.Theme{DisplayName: "Gone"}, "")
	must(err)
	must(s.DeleteTheme(ctx, f.conv, resname.MustParseTheme("themes/gone"), ""))
	_, err = s.CreateTheme(ctx, f.conv, "later", &forumv1.Theme{DisplayName: "Later"}, "")
	must(err)
	_, err = s.UpdateTheme(ctx, f.admin, resname.MustParseTheme("themes/later"), &forumv1.Theme{Name: "themes/later", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/board", "groups/staff"}}, []string{"visibility", "groups"})
	must(err)
	_, err = s.UpdateTheme(ctx, f.admin, resname.MustParseTheme("themes/later"), &forumv1.Theme{Name: "themes/later", Description: "now described"}, []string{"description"})
	must(err)

	create := func(a authz.Actor, theme, title, followUpOf string) string {
		t.Helper()
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: theme, Title: title, Body: strings.Repeat("body ", 100), FollowUpOf: followUpOf}, "req-"+title)
		must(err)
		// A retry with the same request id writes nothing new.
		again, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: theme, Title: title, Body: strings.Repeat("body ", 100), FollowUpOf: followUpOf}, "req-"+title)
		must(err)
		if again.Name != th.Name {
			t.Fatalf("retry created %s, first call %s", again.Name, th.Name)
		}
		f.threads = append(f.threads, th.Name)
		r, err := s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "first reply to " + title}, "")
		must(err)
		f.replies = append(f.replies, r.Name)
		return th.Name
	}
	update := func(a authz.Actor, u *forumv1.Thread, paths ...string) {
		t.Helper()
		_, err := s.UpdateThread(ctx, a, resname.MustParseThread(u.Name), u, paths)
		must(err)
	}
	public := DemoThemes[0].Name
	open := create(f.alice, public, "open", "")
	pinned := create(f.bob, public, "pinned", "")
	update(f.conv, &forumv1.Thread{Name: pinned, Pinned: true}, "pinned")
	f.locked = create(f.alice, "themes/members", "locked", "")
	update(f.conv, &forumv1.Thread{Name: f.locked, State: stateLockedLegacy}, "state")
	moved := create(f.bob, public, "moved", open)
	update(f.conv, &forumv1.Thread{Name: moved, Theme: "themes/private", Title: "moved and renamed"}, "theme", "title")
	update(f.conv, &forumv1.Thread{Name: moved, Pinned: true, State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, "pinned", "state")
	f.deleted = create(f.bob, "themes/members", "deleted", "")
	_, err = s.DeleteThread(ctx, f.conv, resname.MustParseThread(f.deleted), "", "off topic")
	must(err)
	undeleted := create(f.alice, "themes/later", "undeleted", "")
	_, err = s.DeleteThread(ctx, f.alice, resname.MustParseThread(undeleted), "", "")
	must(err)
	_, err = s.UndeleteThread(ctx, f.alice, resname.MustParseThread(undeleted), "")
	must(err)
	update(f.alice, &forumv1.Thread{Name: undeleted, Tags: []string{"x"}, Body: "edited", BodyHtml: "<p>edited</p>"}, "tags", "body")
	back := create(f.alice, "themes/private", "moved back", "")
	update(f.conv, &forumv1.Thread{Name: back, Theme: public, Pinned: true}, "theme", "pinned")
	update(f.conv, &forumv1.Thread{Name: back, Pinned: false, State: stateLockedLegacy}, "pinned", "state")
	update(f.conv, &forumv1.Thread{Name: back, State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, "state")
	update(f.conv, &forumv1.Thread{Name: back, Locked: false}, "locked") // unlocked, still resolved
	_, err = s.DeleteThread(ctx, f.alice, resname.MustParseThread(back), "", "")
	must(err)
	return f
}

// TestHeadsAndGatesFollowRecords checks that every write of a thread or a
// theme (create, request replay, edit, pin, lock, move, delete, undelete,
// theme create, update and delete) leaves its head or gate equal to what
// its record says, and that reads decided by them answer as the records
// say.
func TestHeadsAndGatesFollowRecords(t *testing.T) {
	s, _ := openTest(t)
	checkHeadsAndGates(t, s) // the demo themes
	f := newForumScenario(t, s)
	checkHeadsAndGates(t, s)
	if v := rawGet(t, s, bucketThemeGates, []byte("gone")); v != nil {
		t.Errorf("the deleted theme's gate is still stored: %x", v)
	}
	checkScenarioRules(t, s, f)
}

// checkScenarioRules checks what the heads and gates of f's scenario
// decide: who sees what, and which threads take replies.
func checkScenarioRules(t *testing.T, s *Store, f *forumScenario) {
	t.Helper()
	ctx := t.Context()
	anon := authz.Actor{}
	for _, c := range []struct {
		actor  authz.Actor
		thread string
		want   bool
	}{
		{anon, f.threads[0], true},
		{anon, f.locked, false},                    // a members' theme
		{f.bob, f.locked, true},                    //
		{anon, f.threads[3], false},                // moved into the private theme
		{f.bob, f.threads[3], false},               // not in the board
		{f.alice, f.threads[3], true},              // in the board
		{f.conv, f.threads[3], true},               // moderators see every theme
		{f.alice, f.deleted, false},                // deleted: its author and moderators only
		{f.bob, f.deleted, true},                   //
		{f.bob, f.threads[5], false},               // the later theme: board and staff
		{f.alice, f.threads[5], true},              //
		{anon, f.threads[len(f.threads)-1], false}, // deleted by its author
	} {
		_, err := s.GetThread(ctx, c.actor, resname.MustParseThread(c.thread))
		if got := err == nil; got != c.want || (err != nil && !errors.Is(err, errs.NotFound)) {
			t.Errorf("%q GetThread %s: %v, want visible %t", c.actor.User, c.thread, err, c.want)
		}
		_, _, err = s.ListReplies(ctx, c.actor, resname.MustParseThread(c.thread), 10, "")
		if got := err == nil; got != c.want {
			t.Errorf("%q ListReplies %s: %v, want visible %t", c.actor.User, c.thread, err, c.want)
		}
		i := slices.Index(f.threads, c.thread)
		_, err = s.GetReply(ctx, c.actor, resname.MustParseReply(f.replies[i]))
		if got := err == nil; got != c.want {
			t.Errorf("%q GetReply %s: %v, want visible %t", c.actor.User, f.replies[i], err, c.want)
		}
	}
	if _, err := s.CreateReply(ctx, f.bob, resname.MustParseThread(f.locked), &forumv1.Reply{Body: "x"}, ""); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("a reply to a locked thread: %v, want FailedPrecondition", err)
	}
	if _, err := s.CreateReply(ctx, f.conv, resname.MustParseThread(f.deleted), &forumv1.Reply{Body: "x"}, ""); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("a reply to a deleted thread: %v, want FailedPrecondition", err)
	}
	if _, err := s.CreateReply(ctx, f.alice, resname.MustParseThread(f.threads[3]), &forumv1.Reply{Body: "x"}, ""); err != nil {
		t.Errorf("a reply to a resolved thread in a private theme, by a member of its group: %v", err)
	}
	// Bob may not see the private theme, so he does not find a reply in it
	// to edit.
	if _, err := s.UpdateReply(ctx, f.bob, resname.MustParseReply(f.replies[3]), &forumv1.Reply{Name: f.replies[3], Body: "y"}); !errors.Is(err, errs.NotFound) {
		t.Errorf("bob edits a reply in a theme he may not see: %v, want NotFound", err)
	}
}

// observeScenario returns what each actor of f reads of every thread of f,
// of its replies and of the thread list: the same database must read the
// same before and after a migration.
func observeScenario(t *testing.T, s *Store, f *forumScenario) []string {
	t.Helper()
	ctx := t.Context()
	marshal := func(m proto.Message) string {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", b)
	}
	var out []string
	for _, a := range []authz.Actor{{}, f.alice, f.bob, f.conv} {
		for i, name := range f.threads {
			th, err := s.GetThread(ctx, a, resname.MustParseThread(name))
			out = append(out, fmt.Sprintf("%s GetThread %s: %v %s", a.User, name, err, marshal(th)))
			rs, _, err := s.ListReplies(ctx, a, resname.MustParseThread(name), 10, "")
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%s ListReplies %s: %s", a.User, name, marshal(r)))
			}
			out = append(out, fmt.Sprintf("%s ListReplies %s: %v", a.User, name, err))
			r, err := s.GetReply(ctx, a, resname.MustParseReply(f.replies[i]))
			out = append(out, fmt.Sprintf("%s GetReply %s: %v %s", a.User, f.replies[i], err, marshal(r)))
		}
		for _, q := range []ThreadQuery{{PageSize: 100}, {PageSize: 100, ShowDeleted: true}, {PageSize: 100, Order: ByCreation}} {
			ts, _, err := s.ListThreads(ctx, a, q)
			for _, th := range ts {
				out = append(out, fmt.Sprintf("%s ListThreads %+v: %s", a.User, q, marshal(th)))
			}
			out = append(out, fmt.Sprintf("%s ListThreads %+v: %v", a.User, q, err))
		}
		ths, _, err := s.ListThemes(ctx, a, 100, "")
		for _, th := range ths {
			out = append(out, fmt.Sprintf("%s ListThemes: %s", a.User, marshal(th)))
		}
		out = append(out, fmt.Sprintf("%s ListThemes: %v", a.User, err))
	}
	return out
}

// TestMigrateFromSchema2 opens a database in the layout of schema version 2
// (no threadHeads or themeGates: readers decoded the heads and gates from
// the records) and checks that Open builds every head and gate and stamps
// the current version, and that every actor then reads what it read
// before, and that replies follow the threads' states.
func TestMigrateFromSchema2(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	f := newForumScenario(t, s)
	before := observeScenario(t, s, f)
	s.Close()

	// Rewrite the file in the version 2 layout.
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Update(ctx, func(tx kv.Tx) error {
		if err := clearBuckets(tx, bucketThreadHeads, bucketThemeGates); err != nil {
			return err
		}
		return tx.Put(bucketMeta, metaSchemaVersion, u64(2))
	}); err != nil {
		t.Fatal(err)
	}
	eng.Close()

	s = openMigrated(t, path)
	after := observeScenario(t, s, f)
	for i := range min(len(before), len(after)) {
		if after[i] != before[i] {
			t.Fatalf("after the migration, observation %d:\n got %s\nwant %s", i, after[i], before[i])
		}
	}
	if len(after) != len(before) {
		t.Fatalf("%d observations after the migration, %d before", len(after), len(before))
	}
	checkScenarioRules(t, s, f)
}

// clearBuckets deletes every key of buckets bs.
func clearBuckets(tx kv.Tx, bs ...kv.Bucket) error {
	for _, b := range bs {
		if err := deletePrefix(tx, b, nil); err != nil {
			return err
		}
	}
	return nil
}

// TestMigrationRefusesCorruptRecords checks that a record the migration
// cannot decode stops Open rather than leaving a thread without a head.
func TestMigrationRefusesCorruptRecords(t *testing.T) {
	s, path := openTest(t)
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	if _, err := s.CreateThread(t.Context(), a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "t"}, ""); err != nil {
		t.Fatal(err)
	}
	s.Close()
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.Put(bucketThreads, threadKey(99), []byte{0xff}); err != nil {
			return err
		}
		return tx.Put(bucketMeta, metaSchemaVersion, u64(2))
	}); err != nil {
		t.Fatal(err)
	}
	eng.Close()
	if s, err := Open(path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open migrated a database with a corrupt thread record")
	} else if !strings.Contains(err.Error(), "schema version 2") {
		t.Errorf("error %q does not say which migration failed", err)
	}
}

// TestCorruptHeadIsAnError checks that a reader that finds a thread's head
// corrupt says so instead of acting on part of it.
func TestCorruptHeadIsAnError(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "t"}, "")
	if err != nil {
		t.Fatal(err)
	}
	good := rawGet(t, s, bucketThreadHeads, threadKey(resname.MustParseThread(th.Name).ID))
	if err := s.kv.Update(ctx, func(tx kv.Tx) error {
		return tx.Put(bucketThreadHeads, threadKey(resname.MustParseThread(th.Name).ID), good[:len(good)-1])
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "x"}, ""); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("CreateReply on a corrupt head: %v, want an error naming the corruption", err)
	}
}

// openMigrated opens the database at path, which an older schema wrote,
// and checks that Open migrated it: the schema version is the current one
// and every head and gate matches its record. The store is closed when the
// test ends.
func openMigrated(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if v := readU64(rawGet(t, s, bucketMeta, metaSchemaVersion)); v != SchemaVersion {
		t.Errorf("schema version %d after Open, want %d", v, SchemaVersion)
	}
	checkHeadsAndGates(t, s)
	return s
}
