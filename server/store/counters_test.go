package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestThreadHeadValue checks that a thread's head survives its encoding
// (threadHeadValue, parseThreadHead) for threads with and without each head
// field, and that corrupt values are errors.
func TestThreadHeadValue(t *testing.T) {
	now := timestamppb.New(time.Unix(1700000000, 123))
	long := strings.Repeat("Long *Markdown* body. ", 3000)
	threads := []*forumv1.Thread{
		{},
		{Name: "threads/1", Theme: "themes/knowledge-exchange", Author: "users/7"},
		{Name: "threads/2", Theme: "themes/joint-programmes", Title: "T", Body: long, BodyHtml: "<p>" + long + "</p>", Author: "users/8",
			Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: "threads/1", State: stateLockedLegacy,
			Pinned: true, Tags: []string{"a", "b"}, ReplyCount: 12, LastActivityTime: now, CreateTime: now, UpdateTime: now, DeleteTime: now, Etag: `"x"`},
		{Theme: "themes/x", State: forumv1.ThreadState_THREAD_STATE_RESOLVED, DeleteTime: &timestamppb.Timestamp{}},
		{Theme: "themes/" + strings.Repeat("t", 200), Author: "users/18446744073709551615", State: forumv1.ThreadState(-7)}, // a long theme: a two-byte length
		{Theme: "themes/y", Pinned: true},
	}
	for i, th := range threads {
		want := threadHead{theme: th.Theme, author: th.Author, state: th.State, pinned: th.Pinned, deleted: th.DeleteTime != nil}
		if h := headOf(th); h != want {
			t.Errorf("thread %d: headOf %+v, want %+v", i, h, want)
		}
		v := threadHeadValue(want)
		h, err := parseThreadHead(v)
		if err != nil {
			t.Fatalf("thread %d: %v", i, err)
		}
		if h != want {
			t.Errorf("thread %d: head %+v, want %+v", i, h, want)
		}
		if len(v) > 10+len(th.Theme)+len(th.Author) {
			t.Errorf("thread %d: %d bytes for a head of %d bytes of names", i, len(v), len(th.Theme)+len(th.Author))
		}
		// A value cut short is an error, not a shorter name.
		for n := range len(v) {
			if _, err := parseThreadHead(v[:n]); err == nil {
				t.Errorf("thread %d: cut to %d bytes: no error", i, n)
			}
		}
	}

	valid := threadHeadValue(headOf(threads[2]))
	for name, b := range map[string][]byte{
		"empty":           nil,
		"version 0":       append([]byte{0}, valid[1:]...),
		"version 2":       append([]byte{2}, valid[1:]...),
		"unknown flag":    append([]byte{valid[0], valid[1] | 0x80}, valid[2:]...),
		"overlong theme":  append(slices.Clone(valid[:6]), 50, 'x'),
		"unended varint":  append(slices.Clone(valid[:6]), 0x80),
		"huge theme size": append(slices.Clone(valid[:6]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"trailing byte":   append(slices.Clone(valid), 0),
	} {
		if _, err := parseThreadHead(b); err == nil {
			t.Errorf("%s: parseThreadHead accepted a corrupt value", name)
		}
	}
}

// rawGet returns the stored value of key in bucket b.
func rawGet(t *testing.T, s *Store, b kv.Bucket, key []byte) []byte {
	t.Helper()
	var v []byte
	if err := s.kv.View(t.Context(), func(tx kv.Tx) error {
		got, err := tx.Get(b, key)
		v = bytes.Clone(got)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReplyLeavesThreadRecord checks that replies change only the counters
// of their thread and theme, not their records, and that the counters come
// back with the thread and the theme.
func TestReplyLeavesThreadRecord(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Long", Body: strings.Repeat("word ", 10000)}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := resname.MustParseThread(th.Name).ID
	record := rawGet(t, s, bucketThreads, threadKey(id))
	themeKey := []byte(themeSlug(DemoThemes[0].Name))
	themeRecord := rawGet(t, s, bucketThemes, themeKey)
	var last *forumv1.Reply
	for i := range 3 {
		if last, err = s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: fmt.Sprint("reply ", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteReply(ctx, a, resname.MustParseReply(last.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	if got := rawGet(t, s, bucketThreads, threadKey(id)); !bytes.Equal(got, record) {
		t.Error("replies rewrote the thread's record")
	}
	if got := rawGet(t, s, bucketThemes, themeKey); !bytes.Equal(got, themeRecord) {
		t.Error("replies rewrote the theme's record")
	}
	theme, err := s.GetTheme(ctx, a, resname.MustParseTheme(DemoThemes[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	if theme.ThreadCount != 1 || !theme.LastActivityTime.AsTime().Equal(last.CreateTime.AsTime()) {
		t.Errorf("theme: thread_count %d, last_activity_time %v; want 1 and %v", theme.ThreadCount, theme.LastActivityTime.AsTime(), last.CreateTime.AsTime())
	}
	storedTheme := new(forumv1.Theme)
	if err := proto.Unmarshal(themeRecord, storedTheme); err != nil {
		t.Fatal(err)
	}
	if storedTheme.ThreadCount != 0 || storedTheme.LastActivityTime != nil {
		t.Errorf("the theme's record holds counters: %v", storedTheme)
	}
	got, err := s.GetThread(ctx, a, resname.MustParseThread(th.Name))
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplyCount != 2 || !got.LastActivityTime.AsTime().Equal(last.CreateTime.AsTime()) {
		t.Errorf("reply_count %d, last_activity_time %v; want 2 and %v", got.ReplyCount, got.LastActivityTime.AsTime(), last.CreateTime.AsTime())
	}
	if got.Etag != th.Etag {
		t.Errorf("replies changed the thread's etag from %s to %s", th.Etag, got.Etag)
	}
	// The thread record itself carries no counters.
	stored := new(forumv1.Thread)
	if err := proto.Unmarshal(record, stored); err != nil {
		t.Fatal(err)
	}
	if stored.ReplyCount != 0 || stored.LastActivityTime != nil || len(stored.FollowUps) != 0 {
		t.Errorf("the thread's record holds counters: %v", stored)
	}
}

// TestMigrateFromSchema1 opens a database in the layout of schema version 1
// (counters in the thread and theme records, no threadStats or themeStats,
// no threadHeads or themeGates) and checks that Open moves the counters out,
// builds the heads and gates (migrations 2 and 3 in turn) and stamps the
// current version, and that threads and themes then read, list and take
// replies as before.
func TestMigrateFromSchema1(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	var want []*forumv1.Thread
	for i := range 5 {
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[i%2].Name, Title: fmt.Sprint("t", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		for j := range i {
			if _, err := s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: fmt.Sprint("r", j)}, ""); err != nil {
				t.Fatal(err)
			}
		}
		if th, err = s.GetThread(ctx, a, resname.MustParseThread(th.Name)); err != nil {
			t.Fatal(err)
		}
		want = append(want, th)
	}
	wantThemes, _, err := s.ListThemes(ctx, a, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if wantThemes[0].ThreadCount == 0 && wantThemes[1].ThreadCount == 0 {
		t.Fatal("no theme holds a thread: the test would check nothing")
	}
	s.Close()

	// Rewrite the file in the version 1 layout.
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = eng.Update(ctx, func(tx kv.Tx) error {
		for _, th := range want {
			old := proto.CloneOf(th)
			old.FollowUps = nil
			if err := putProto(tx, bucketThreads, threadKey(resname.MustParseThread(th.Name).ID), old); err != nil {
				return err
			}
			if err := tx.Delete(bucketThreadStats, threadKey(resname.MustParseThread(th.Name).ID)); err != nil {
				return err
			}
		}
		for _, th := range wantThemes {
			if err := putProto(tx, bucketThemes, []byte(themeSlug(th.Name)), th); err != nil {
				return err
			}
			if err := tx.Delete(bucketThemeStats, []byte(themeSlug(th.Name))); err != nil {
				return err
			}
		}
		if err := clearBuckets(tx, bucketThreadHeads, bucketThemeGates); err != nil {
			return err
		}
		return tx.Put(bucketMeta, metaSchemaVersion, u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.Close()

	s = openMigrated(t, path)
	for _, w := range want {
		got, err := s.GetThread(ctx, a, resname.MustParseThread(w.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, w) {
			t.Errorf("after migration:\n got %v\nwant %v", got, w)
		}
	}
	gotThemes, _, err := s.ListThemes(ctx, a, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotThemes) != len(wantThemes) {
		t.Fatalf("%d themes after migration, want %d", len(gotThemes), len(wantThemes))
	}
	for i, w := range wantThemes {
		if !proto.Equal(gotThemes[i], w) {
			t.Errorf("theme after migration:\n got %v\nwant %v", gotThemes[i], w)
		}
	}
	list, _, err := s.ListThreads(ctx, a, ThreadQuery{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(want) {
		t.Fatalf("ListThreads returned %d threads, want %d", len(list), len(want))
	}
	for _, got := range list {
		w := want[resname.MustParseThread(got.Name).ID-resname.MustParseThread(want[0].Name).ID]
		if got.ReplyCount != w.ReplyCount || !proto.Equal(got.LastActivityTime, w.LastActivityTime) {
			t.Errorf("listed %s with %d replies at %v, want %d at %v", got.Name, got.ReplyCount, got.LastActivityTime.AsTime(), w.ReplyCount, w.LastActivityTime.AsTime())
		}
	}
	r, err := s.CreateReply(ctx, a, resname.MustParseThread(want[4].Name), &forumv1.Reply{Body: "after"}, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetThread(ctx, a, resname.MustParseThread(want[4].Name))
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplyCount != want[4].ReplyCount+1 || !got.LastActivityTime.AsTime().Equal(r.CreateTime.AsTime()) {
		t.Errorf("after a reply: %d replies at %v, want %d at %v", got.ReplyCount, got.LastActivityTime.AsTime(), want[4].ReplyCount+1, r.CreateTime.AsTime())
	}
	// The most recently active thread lists first.
	list, _, err = s.ListThreads(ctx, a, ThreadQuery{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != want[4].Name {
		t.Errorf("first by activity: %v, want %s", list, want[4].Name)
	}
}
