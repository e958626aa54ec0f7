package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/render"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// notifyEnv is a store with users, and what each has been told so far.
type notifyEnv struct {
	t     *testing.T
	s     *Store
	r     *render.Renderer
	users map[string]authz.Actor
	seen  map[string]int // notifications each user has had checked
}

func newNotifyEnv(t *testing.T, names ...string) *notifyEnv {
	s, _ := openTest(t)
	e := &notifyEnv{t: t, s: s, r: render.New(), users: map[string]authz.Actor{}, seen: map[string]int{}}
	for _, n := range names {
		role := forumv1.Role_ROLE_MEMBER
		if n == "mod" {
			role = forumv1.Role_ROLE_CONVENER
		}
		e.users[n] = member(t, s, n, role)
	}
	return e
}

func (e *notifyEnv) user(name string) resname.User { return resname.MustParseUser(e.users[name].User) }

// derive derives every notification due.
func (e *notifyEnv) derive() {
	e.t.Helper()
	for range 100 {
		res, err := e.s.DeriveNotifications(e.t.Context(), DeriveOptions{Mentions: e.r.Mentions, MaxNotifications: 3})
		if err != nil {
			e.t.Fatal(err)
		}
		if res.Cursor >= res.Head {
			return
		}
	}
	e.t.Fatal("the notifications did not catch up with the log")
}

// fresh returns, for each user, the kinds of the notifications made since
// the last call (newest last), and checks each names the post.
func (e *notifyEnv) fresh() map[string][]string {
	e.t.Helper()
	e.derive()
	out := map[string][]string{}
	for name := range e.users {
		var all []*forumv1.Notification
		token := ""
		for {
			page, next, _, err := e.s.ListNotifications(e.t.Context(), e.user(name), 100, token, false)
			if err != nil {
				e.t.Fatal(err)
			}
			all = append(all, page...)
			if token = next; token == "" {
				break
			}
		}
		slices.SortFunc(all, func(a, b *forumv1.Notification) int {
			return int(mustParse(resname.ParseNotification(a.Name)).ID) - int(mustParse(resname.ParseNotification(b.Name)).ID)
		})
		for _, n := range all[min(e.seen[name], len(all)):] {
			out[name] = append(out[name], fmt.Sprintf("%s %s", short(n.Kind), n.Post))
		}
		e.seen[name] = len(all)
	}
	return out
}

func short(k forumv1.NotificationKind) string {
	return map[forumv1.NotificationKind]string{
		forumv1.NotificationKind_NOTIFICATION_KIND_REPLY: "reply", forumv1.NotificationKind_NOTIFICATION_KIND_MENTION: "mention",
		forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST: "watched", forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP: "follow-up",
		forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED: "resolved", forumv1.NotificationKind_NOTIFICATION_KIND_ANSWER_ACCEPTED: "answer",
	}[k]
}

func (e *notifyEnv) expect(step string, want map[string][]string) {
	e.t.Helper()
	got := e.fresh()
	if !maps.EqualFunc(got, want, slices.Equal) {
		e.t.Errorf("%s: told %v, want %v", step, got, want)
	}
}

func (e *notifyEnv) subscribe(user, target string, level forumv1.SubscriptionLevel) error {
	n, err := resname.SubscriptionTo(e.user(user), target)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.s.SetSubscription(e.t.Context(), n, level, true)
	return err
}

func (e *notifyEnv) thread(who string, t *forumv1.Thread) *forumv1.Thread {
	e.t.Helper()
	html, _, _ := e.r.Post(t.Body)
	t.BodyHtml = html
	out, err := e.s.CreateThread(e.t.Context(), e.users[who], t, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *notifyEnv) reply(who, thread, body, inReplyTo string) *forumv1.Reply {
	e.t.Helper()
	html, _, _ := e.r.Post(body)
	out, err := e.s.CreateReply(e.t.Context(), e.users[who], resname.MustParseThread(thread), &forumv1.Reply{Body: body, BodyHtml: html, InReplyTo: inReplyTo}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

const (
	watching = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING
	tracking = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_TRACKING
	muted    = forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED
)

// TestDeliveryMatrix checks who is told of what, for each kind of event
// and subscription level: watched themes and threads, muted overriding
// watched, a thread's own level winning over its theme's, mentions (in
// quotes and code not; an edit tells only the new ones), groups, private
// themes, suspended users, and no one told of their own post.
func TestDeliveryMatrix(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob", "carol", "dave", "erin", "frank", "grace", "henry", "mod")
	ctx := t.Context()
	theme := DemoThemes[0].Name
	for _, u := range []string{"carol", "dave", "erin"} {
		if err := e.subscribe(u, theme, watching); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.UpdateUser(ctx, authz.SystemActor, e.user("erin"), &forumv1.User{Name: e.users["erin"].User, State: forumv1.UserState_USER_STATE_SUSPENDED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateGroup(ctx, authz.SystemActor, "partners", &forumv1.Group{DisplayName: "Partners", Members: []string{e.users["grace"].User, e.users["frank"].User}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateTheme(ctx, authz.SystemActor, "private", &forumv1.Theme{DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{"groups/partners"}}, ""); err != nil {
		t.Fatal(err)
	}

	t1 := e.thread("alice", &forumv1.Thread{Theme: theme, Title: "Host families", Body: "Hello @frank and @alice; not `@bob`.\n\n> @henry said"})
	e.expect("a new thread", map[string][]string{
		"carol": {"watched " + t1.Name}, "dave": {"watched " + t1.Name}, "frank": {"mention " + t1.Name},
	})
	if sub, err := e.s.GetSubscription(ctx, resname.Subscription{User: e.user("alice"), Thread: resname.MustParseThread(t1.Name)}); err != nil || sub.Level != watching || !sub.Automatic {
		t.Errorf("the author's subscription: %v, %v; want automatic watching", sub, err)
	}

	if err := e.subscribe("dave", t1.Name, muted); err != nil {
		t.Fatal(err)
	}
	r1 := e.reply("bob", t1.Name, "Thanks, @frank and @dave.", "")
	e.expect("a reply", map[string][]string{
		"alice": {"reply " + r1.Name}, "carol": {"watched " + r1.Name}, "frank": {"mention " + r1.Name},
	})
	if sub, err := e.s.GetSubscription(ctx, resname.Subscription{User: e.user("bob"), Thread: resname.MustParseThread(t1.Name)}); err != nil || sub.Level != tracking || !sub.Automatic {
		t.Errorf("the replier's subscription: %v, %v; want automatic tracking", sub, err)
	}

	if err := e.subscribe("carol", t1.Name, tracking); err != nil {
		t.Fatal(err)
	}
	r2 := e.reply("alice", t1.Name, "Glad to help.", r1.Name)
	e.expect("a reply to a reply; carol tracks the thread of a theme she watches", map[string][]string{
		"bob": {"reply " + r2.Name},
	})

	html, _, _ := e.r.Post("Thanks, @frank, @dave and @grace.")
	if _, err := e.s.UpdateReply(ctx, e.users["bob"], resname.MustParseReply(r1.Name), &forumv1.Reply{Name: r1.Name, Body: "Thanks, @frank, @dave and @grace.", BodyHtml: html}); err != nil {
		t.Fatal(err)
	}
	e.expect("an edit that adds a mention", map[string][]string{"grace": {"mention " + r1.Name}})
	html, _, _ = e.r.Post("Thanks.")
	if _, err := e.s.UpdateReply(ctx, e.users["bob"], resname.MustParseReply(r1.Name), &forumv1.Reply{Name: r1.Name, Body: "Thanks.", BodyHtml: html}); err != nil {
		t.Fatal(err)
	}
	html, _, _ = e.r.Post("Thanks, @grace.")
	if _, err := e.s.UpdateReply(ctx, e.users["bob"], resname.MustParseReply(r1.Name), &forumv1.Reply{Name: r1.Name, Body: "Thanks, @grace.", BodyHtml: html}); err != nil {
		t.Fatal(err)
	}
	e.expect("edits that remove a mention and put it back", map[string][]string{})

	if err := e.subscribe("henry", "themes/private", watching); !errors.Is(err, errs.NotFound) {
		t.Errorf("henry watching a theme he may not see: %v, want NotFound", err)
	}
	p1 := e.thread("grace", &forumv1.Thread{Theme: "themes/private", Title: "Between partners", Body: "@henry, @frank: see this. And @partners."})
	e.expect("a private theme", map[string][]string{"frank": {"mention " + p1.Name}})
	e.reply("alice", t1.Name, "Calling @partners.", "")
	e.expect("a group a non-member may not mention (bob and carol track the thread)", map[string][]string{})
	r4 := e.reply("grace", t1.Name, "Partners, see this: @partners.", "")
	e.expect("a group its member mentions", map[string][]string{"frank": {"mention " + r4.Name}, "alice": {"reply " + r4.Name}})

	if _, err := e.s.UpdateThread(ctx, e.users["mod"], resname.MustParseThread(t1.Name), &forumv1.Thread{Name: t1.Name, State: forumv1.ThreadState_THREAD_STATE_RESOLVED}, []string{"state"}); err != nil {
		t.Fatal(err)
	}
	e.expect("a thread resolved", map[string][]string{"alice": {"resolved " + t1.Name}})

	f1 := e.thread("mod", &forumv1.Thread{Theme: theme, Title: "Follow-up", Body: "What we agreed.", Kind: forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP, FollowUpOf: t1.Name})
	e.expect("a follow-up", map[string][]string{
		"alice": {"follow-up " + f1.Name}, "carol": {"watched " + f1.Name}, "dave": {"watched " + f1.Name},
	})

	// Visibility when listed: frank leaves the group and no longer sees,
	// nor counts, the private theme's notification.
	_, _, unread, err := e.s.ListNotifications(ctx, e.user("frank"), 100, "", false)
	if err != nil || unread != 4 {
		t.Fatalf("frank's unread count %d, %v; want 4", unread, err)
	}
	if _, err := e.s.UpdateGroup(ctx, authz.SystemActor, resname.Group{Slug: "partners"}, &forumv1.Group{Members: []string{e.users["grace"].User}}, []string{"members"}); err != nil {
		t.Fatal(err)
	}
	list, _, unread, err := e.s.ListNotifications(ctx, e.user("frank"), 100, "", false)
	if err != nil || unread != 3 || len(list) != 3 {
		t.Fatalf("frank outside the group: %d listed, %d unread, %v; want 3 and 3", len(list), unread, err)
	}
	for _, n := range list {
		if n.Theme == "themes/private" {
			t.Errorf("listed %v of the private theme", n)
		}
	}
}

// TestMarkNotificationsRead checks unread first, marking by name and by
// time, and the counts.
func TestMarkNotificationsRead(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob")
	ctx := t.Context()
	th := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"})
	var replies []*forumv1.Reply
	for i := range 4 {
		replies = append(replies, e.reply("bob", th.Name, fmt.Sprintf("reply %d", i), ""))
	}
	e.derive()
	list, _, unread, err := e.s.ListNotifications(ctx, e.user("alice"), 10, "", false)
	if err != nil || unread != 4 || len(list) != 4 {
		t.Fatalf("%d listed, %d unread, %v", len(list), unread, err)
	}
	// Newest first: the last reply's.
	if list[0].Post != replies[3].Name {
		t.Errorf("first listed %s, want %s", list[0].Post, replies[3].Name)
	}
	marked, unread, err := e.s.MarkNotificationsRead(ctx, e.user("alice"), []resname.Notification{mustParse(resname.ParseNotification(list[0].Name))}, nil)
	if err != nil || marked != 1 || unread != 3 {
		t.Fatalf("marking one: %d marked, %d unread, %v", marked, unread, err)
	}
	// Unread first: the one just read comes last.
	list, _, _, _ = e.s.ListNotifications(ctx, e.user("alice"), 10, "", false)
	if list[3].Post != replies[3].Name || list[3].ReadTime == nil || list[0].ReadTime != nil {
		t.Errorf("after marking, listed %v", list)
	}
	// Paging crosses from unread to read.
	var paged []string
	token := ""
	for {
		page, next, _, err := e.s.ListNotifications(ctx, e.user("alice"), 3, token, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page {
			paged = append(paged, n.Name)
		}
		if token = next; token == "" {
			break
		}
	}
	var want []string
	for _, n := range list {
		want = append(want, n.Name)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged %v, want %v", paged, want)
	}
	if only, _, _, _ := e.s.ListNotifications(ctx, e.user("alice"), 10, "", true); len(only) != 3 {
		t.Errorf("unread only: %d, want 3", len(only))
	}
	marked, unread, err = e.s.MarkNotificationsRead(ctx, e.user("alice"), nil, timestamppb.New(time.Now().Add(time.Minute)))
	if err != nil || marked != 3 || unread != 0 {
		t.Errorf("marking all: %d marked, %d unread, %v", marked, unread, err)
	}
	if _, _, err := e.s.MarkNotificationsRead(ctx, e.user("alice"), []resname.Notification{{User: e.user("alice"), ID: 999}}, nil); !errors.Is(err, errs.InvalidArgument) {
		t.Errorf("marking a notification that does not exist: %v", err)
	}
}

// TestNotificationEvents checks that a notification's event is seen by
// its recipient, by admins without the notification, and by no one else;
// that it is stored by reference and read with the notification as it
// was made, also once the notification is read; and that the cursor
// passes the notifications' own events.
func TestNotificationEvents(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob", "admin")
	e.users["admin"] = authz.Actor{User: e.users["admin"].User, Role: forumv1.Role_ROLE_ADMIN}
	th := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"})
	e.reply("bob", th.Name, "hi   there\n\nalice", "")
	e.derive()
	if cur, err := e.s.NotificationCursor(t.Context()); err != nil {
		t.Fatal(err)
	} else if head, _ := e.s.EventHead(t.Context()); cur != head {
		t.Errorf("after deriving, the cursor is at %d, the log's head at %d (the notification's own event)", cur, head)
	}
	list, _, _, err := e.s.ListNotifications(t.Context(), e.user("alice"), 10, "", false)
	if err != nil || len(list) != 1 {
		t.Fatalf("alice's notifications: %v, %v", list, err)
	}
	made := list[0]
	if made.Excerpt != "hi there alice" {
		t.Errorf("excerpt %q", made.Excerpt)
	}
	rawEvents(t, e.s) // stored by reference
	check := func(step string) {
		t.Helper()
		for who, want := range map[string]int{"alice": 1, "bob": 0, "admin": 1, "system": 1} {
			actor := e.users[who]
			if who == "system" {
				actor = authz.SystemActor
			}
			page, err := e.s.ReadEvents(t.Context(), actor, EventQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range page.Events {
				if ev.Type != forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED {
					continue
				}
				n++
				got := ev.GetNotification()
				if has := got != nil; has != (who == "alice" || who == "system") {
					t.Errorf("%s: %s sees the notification event with its notification %v: %v", step, who, has, ev)
				} else if has && !proto.Equal(got, made) {
					t.Errorf("%s: %s sees the notification event with\n%v\nwant as it was made,\n%v", step, who, got, made)
				}
			}
			if n != want {
				t.Errorf("%s: %s sees %d notification events, want %d", step, who, n, want)
			}
		}
	}
	check("unread")
	if _, _, err := e.s.MarkNotificationsRead(t.Context(), e.user("alice"), []resname.Notification{mustNotification(t, made.Name)}, nil); err != nil {
		t.Fatal(err)
	}
	check("read")
}

// TestReadMarks checks a thread's unread count for a reader who marked
// it read, and that the mark only moves forward.
func TestReadMarks(t *testing.T) {
	e := newNotifyEnv(t, "alice", "bob")
	ctx := t.Context()
	th := e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"})
	var rs []*forumv1.Reply
	for i := range 5 {
		rs = append(rs, e.reply("alice", th.Name, fmt.Sprintf("r%d", i), ""))
	}
	name := resname.MustParseThread(th.Name)
	got, _ := e.s.GetThread(ctx, e.users["bob"], name)
	if got.UnreadReplyCount != 0 || got.FirstUnreadReply != "" {
		t.Errorf("never read: %d unread, first %q", got.UnreadReplyCount, got.FirstUnreadReply)
	}
	n, err := e.s.MarkThreadRead(ctx, e.users["bob"], name, resname.MustParseReply(rs[1].Name).ID)
	if err != nil || n != 3 {
		t.Fatalf("marked to the second reply: %d unread, %v", n, err)
	}
	got, _ = e.s.GetThread(ctx, e.users["bob"], name)
	if got.UnreadReplyCount != 3 || got.FirstUnreadReply != rs[2].Name {
		t.Errorf("GetThread: %d unread, first %q; want 3, %s", got.UnreadReplyCount, got.FirstUnreadReply, rs[2].Name)
	}
	list, _, err := e.s.ListThreads(ctx, e.users["bob"], ThreadQuery{PageSize: 10})
	if err != nil || len(list) == 0 || list[0].UnreadReplyCount != 3 {
		t.Errorf("ListThreads: %v, %v", list, err)
	}
	if n, _ := e.s.MarkThreadRead(ctx, e.users["bob"], name, resname.MustParseReply(rs[0].Name).ID); n != 3 {
		t.Errorf("the mark moved back: %d unread", n)
	}
	if n, _ := e.s.MarkThreadRead(ctx, e.users["bob"], name, 0); n != 0 {
		t.Errorf("marked to the end: %d unread", n)
	}
	if _, err := e.s.MarkThreadRead(ctx, e.users["bob"], name, 99); !errors.Is(err, errs.NotFound) {
		t.Errorf("a reply that does not exist: %v", err)
	}
	if got, _ := e.s.GetThread(ctx, e.users["alice"], name); got.UnreadReplyCount != 0 {
		t.Errorf("alice, who never marked it, sees %d unread", got.UnreadReplyCount)
	}
}

// TestDeriveInParts checks that an event with more recipients than one
// call tells is told across calls, each recipient once, and that the
// cursor passes it only when all are told.
func TestDeriveInParts(t *testing.T) {
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("watcher%02d", i))
	}
	e := newNotifyEnv(t, append(names, "alice")...)
	for _, n := range names {
		if err := e.subscribe(n, DemoThemes[0].Name, watching); err != nil {
			t.Fatal(err)
		}
	}
	e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "T", Body: "b"})
	calls := 0
	for {
		res, err := e.s.DeriveNotifications(t.Context(), DeriveOptions{Mentions: e.r.Mentions, MaxNotifications: 4})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if res.Cursor >= res.Head {
			break
		}
	}
	if calls < 7 {
		t.Errorf("25 recipients in %d calls of at most 4", calls)
	}
	for _, n := range names {
		list, _, _, err := e.s.ListNotifications(t.Context(), e.user(n), 10, "", false)
		if err != nil || len(list) != 1 {
			t.Errorf("%s told %d times, %v", n, len(list), err)
		}
	}
}

// TestExcerpt checks a notification's excerpt: one line, at most n
// characters, whole characters even when the post is cut in the middle of
// one.
func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 5000)
	for _, c := range []struct{ in, want string }{
		{"a  b\n\n c", "a b c"},
		{"", ""},
		{strings.Repeat("ab ", 10), "ab ab ab…"},
		{"ab ab ab", "ab ab ab"},
		{long, strings.Repeat("é", 9) + "…"},
		{"x" + long, "x" + strings.Repeat("é", 8) + "…"},
		{"abcdefghij", "abcdefghij"},
		{" \t abcdefghij \n", "abcdefghij"},
		{"abcdefghijk", "abcdefghi…"},
		{"abcdefgh jk", "abcdefgh…"},
		{"a b c d e  f", "a b c d e…"},
	} {
		if got := excerpt(c.in, 10); got != c.want {
			t.Errorf("excerpt(%.20q…) = %q, want %q", c.in, got, c.want)
		}
	}
	// The same as the plain definition: fields joined by one space, cut
	// to n-1 characters and "…" when longer than n.
	plain := func(s string, n int) string {
		s = strings.Join(strings.Fields(s), " ")
		if r := []rune(s); len(r) > n {
			return strings.TrimSpace(string(r[:n-1])) + "…"
		}
		return s
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "bc", " ", "  ", "\n", "\t", "é", "語", "\u00a0", "\u3000", "@x"}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		n := 1 + rng.IntN(12)
		if got, want := excerpt(b.String(), n), plain(b.String(), n); got != want {
			t.Fatalf("excerpt(%q, %d) = %q, want %q", b.String(), n, got, want)
		}
	}
}

func mustNotification(t *testing.T, name string) resname.Notification {
	t.Helper()
	n, err := resname.ParseNotification(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// outboxDigests returns the digests in the outbox: their posts' count by
// user id.
func outboxDigests(t *testing.T, s *Store) map[uint64]int {
	t.Helper()
	out := map[uint64]int{}
	err := s.kv.View(t.Context(), func(tx kv.Tx) error {
		var perr error
		err := tx.Scan(bucketOutbox, nil, nil, false, func(_, v []byte) bool {
			var e outboxEntry
			if perr = json.Unmarshal(v, &e); perr != nil {
				return false
			}
			if len(e.Digest) > 0 {
				if _, twice := out[e.User]; twice {
					perr = fmt.Errorf("two digests to user %d", e.User)
					return false
				}
				out[e.User] = len(e.Digest)
			}
			return true
		})
		if err == nil {
			err = perr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQueueDigests checks digests across more users than one transaction
// writes: each due user gets one digest of the watched posts since their
// last, once; a pass within the hour does nothing, and a day later only
// what is new is digested.
func TestQueueDigests(t *testing.T) {
	var names []string
	for i := range digestsPerUpdate + 5 {
		names = append(names, fmt.Sprintf("w%03d", i))
	}
	e := newNotifyEnv(t, append(names, "alice", "weekly")...)
	ctx := t.Context()
	for _, n := range append(names, "weekly") {
		freq := forumv1.DigestFrequency_DIGEST_FREQUENCY_DAILY
		if n == "weekly" {
			freq = forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY
		}
		if _, err := e.s.UpdateNotificationSettings(ctx, e.user(n), &forumv1.NotificationSettings{EmailDigest: freq}, []string{"email_digest"}); err != nil {
			t.Fatal(err)
		}
		if err := e.subscribe(n, DemoThemes[0].Name, watching); err != nil {
			t.Fatal(err)
		}
	}
	e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "One", Body: "b"})
	e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Two", Body: "b"})
	deriveAll(t, e)
	now := time.Now() // the notifications made after it are new to the next digest
	n, err := e.s.QueueDigests(ctx, now)
	if err != nil || n != len(names)+1 {
		t.Fatalf("first pass: %d digests, %v; want %d", n, err, len(names)+1)
	}
	got := outboxDigests(t, e.s)
	for _, name := range append(names, "weekly") {
		if got[e.user(name).ID] != 2 {
			t.Errorf("%s's digest lists %d posts, want 2", name, got[e.user(name).ID])
		}
	}
	if _, ok := got[e.user("alice").ID]; ok {
		t.Error("alice, who asked for no digest, got one")
	}
	if n, err := e.s.QueueDigests(ctx, now.Add(30*time.Minute)); err != nil || n != 0 {
		t.Errorf("a pass within the hour: %d digests, %v", n, err)
	}
	// A day on, a new post: one more digest each of the daily users, of
	// that post only; the weekly user waits.
	e.thread("alice", &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "Three", Body: "b"})
	deriveAll(t, e)
	if err := e.s.kv.Update(ctx, func(tx kv.Tx) error { return clearBuckets(tx, bucketOutbox) }); err != nil {
		t.Fatal(err)
	}
	later := now.Add(25 * time.Hour)
	if n, err := e.s.QueueDigests(ctx, later); err != nil || n != len(names) {
		t.Errorf("a day later: %d digests, %v; want %d", n, err, len(names))
	}
	got = outboxDigests(t, e.s)
	if got[e.user(names[0]).ID] != 1 || got[e.user(names[len(names)-1]).ID] != 1 {
		t.Errorf("a day later the digests list %d and %d posts, want 1", got[e.user(names[0]).ID], got[e.user(names[len(names)-1]).ID])
	}
	if _, ok := got[e.user("weekly").ID]; ok {
		t.Error("the weekly user got a digest after a day")
	}
	// A pass cut short before it recorded itself (a crash after some of its
	// transactions) runs again: the users digested are not digested twice.
	if err := e.s.kv.Update(ctx, func(tx kv.Tx) error { return tx.Delete(bucketMeta, metaDigestPass) }); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.QueueDigests(ctx, later.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("the pass again: %d digests, %v; want none", n, err)
	}
	outboxDigests(t, e.s) // fails on two digests to one user
}

// deriveAll derives every notification due, many to a call.
func deriveAll(t *testing.T, e *notifyEnv) {
	t.Helper()
	for range 100 {
		res, err := e.s.DeriveNotifications(t.Context(), DeriveOptions{Mentions: e.r.Mentions})
		if err != nil {
			t.Fatal(err)
		}
		if res.Cursor >= res.Head {
			return
		}
	}
	t.Fatal("the notifications did not catch up with the log")
}
