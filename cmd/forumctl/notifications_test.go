package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestSubscriptionTarget checks how watch, track, mute and unwatch read
// their argument.
func TestSubscriptionTarget(t *testing.T) {
	for in, want := range map[string]string{
		"12":                        "threads/12",
		" threads/12 ":              "threads/12",
		"knowledge-exchange":        "themes/knowledge-exchange",
		"themes/knowledge-exchange": "themes/knowledge-exchange",
		"nairobi-2026":              "themes/nairobi-2026",
		"themes/2026":               "themes/2026",
	} {
		if got, err := subscriptionTarget(in); err != nil || got != want {
			t.Errorf("subscriptionTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "012", "threads/0", "threads/x", "themes/", "Knowledge", "two words", "-x", "x-", "a--b", "themes/a/b", "users/1"} {
		if got, err := subscriptionTarget(in); err == nil {
			t.Errorf("subscriptionTarget(%q) = %q, no error", in, got)
		}
	}
}

// TestNotificationName checks how notifications read names notifications.
func TestNotificationName(t *testing.T) {
	for in, want := range map[string]string{
		"3":                         "users/me/notifications/3",
		" 17 ":                      "users/me/notifications/17",
		"users/2/notifications/3":   "users/2/notifications/3",
		"users/me/notifications/30": "users/me/notifications/30",
	} {
		if got, err := notificationName(in); err != nil || got != want {
			t.Errorf("notificationName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "03", "abc", "users/2", "users/2/notifications/", "users/x/notifications/3", "notifications/3", "3/4"} {
		if got, err := notificationName(in); err == nil {
			t.Errorf("notificationName(%q) = %q, no error", in, got)
		}
	}
}

// waitNotifications waits, for up to 10 s, until the user of c has n
// notifications (the server makes them in the background, just after the
// post), and returns them as the API lists them.
func waitNotifications(t *testing.T, ctx context.Context, c *client.Client, n int) *forumv1.ListNotificationsResponse {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.NotificationService().ListNotifications(ctx, &forumv1.ListNotificationsRequest{Parent: "users/me", PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetNotifications()) >= n {
			if len(resp.GetNotifications()) > n {
				t.Fatalf("%d notifications, want %d: %v", len(resp.GetNotifications()), n, resp.GetNotifications())
			}
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications after 10s, want %d", len(resp.GetNotifications()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listSubscriptions runs subscriptions list -o json as u, and returns the
// subscriptions by target.
func listSubscriptions(t *testing.T, u *user) map[string]*forumv1.Subscription {
	t.Helper()
	var resp forumv1.ListSubscriptionsResponse
	out := u.ok("", "subscriptions", "list", "-o", "json")
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("subscriptions list -o json: %v\n%s", err, out)
	}
	subs := map[string]*forumv1.Subscription{}
	for _, s := range resp.GetSubscriptions() {
		subs[s.GetTarget()] = s
	}
	return subs
}

// TestNotifications runs the notification commands on their good path:
// watch a theme, a post there and a mention reach notifications list (text
// and -o json), read by number, by name and --all; mute, track, unwatch and
// subscriptions list; a muted thread tells nothing.
func TestNotifications(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	ctx, moClient := loggedInClient(t, server, "moses", memberPassword)
	_, aminaClient := loggedInClient(t, server, "amina", convenerPassword)

	// Nothing yet: said on standard error, and not an error.
	if r := mo.run("", "notifications", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No notifications.\n" {
		t.Errorf("notifications list with none: %v", r)
	}
	if r := mo.run("", "subscriptions", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No subscriptions.\n" {
		t.Errorf("subscriptions list with none: %v", r)
	}

	// Mo watches a theme; Amina starts a thread there, then mentions him
	// in a reply.
	if out := mo.ok("", "watch", "joint-programmes"); out != "Watching themes/joint-programmes.\n" {
		t.Errorf("watch: %q", out)
	}
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Mentoring plan", "--body", "The plan for\nhosting volunteers.")
	waitNotifications(t, ctx, moClient, 1)
	mention := posted(t, amina.ok("", "reply", "1", "--body", "What do you think, @moses?"), "threads/1")
	api := waitNotifications(t, ctx, moClient, 2)

	// -o json (and yaml) is the API's response, field for field.
	api.NextPageToken = ""
	raw := mo.ok("", "notifications", "list", "-o", "json")
	apiObject(t, "notifications list -o json", json.RawMessage(raw), &forumv1.ListNotificationsResponse{}, api)
	apiObject(t, "notifications list -o yaml", yamlToJSON(t, mo.ok("", "notifications", "list", "-o", "yaml")), &forumv1.ListNotificationsResponse{}, api)
	var fields struct {
		Notifications []map[string]any
		UnreadCount   string
	}
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || len(fields.Notifications) != 2 || fields.UnreadCount != "2" {
		t.Fatalf("notifications list -o json: %s (%v)", raw, err)
	}
	// Newest first: the mention, then the new thread.
	for i, want := range []map[string]any{
		{"kind": "NOTIFICATION_KIND_MENTION", "actor": aminaName, "post": mention, "thread": "threads/1",
			"threadTitle": "Mentoring plan", "theme": "themes/joint-programmes", "excerpt": "What do you think, @moses?"},
		{"kind": "NOTIFICATION_KIND_WATCHED_POST", "actor": aminaName, "post": "threads/1", "thread": "threads/1",
			"threadTitle": "Mentoring plan", "theme": "themes/joint-programmes"},
	} {
		got := fields.Notifications[i]
		for k, v := range want {
			if got[k] != v {
				t.Errorf("notification %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
		if !strings.HasPrefix(got["name"].(string), mosesName+"/notifications/") || got["createTime"] == nil || got["readTime"] != nil {
			t.Errorf("notification %d: %v", i, got)
		}
	}
	mentionName, postName := api.Notifications[0].GetName(), api.Notifications[1].GetName()
	postID := postName[strings.LastIndex(postName, "/")+1:]

	// The text: the unread count, then a block each.
	out := stamp.ReplaceAllString(mo.ok("", "notifications", "list"), "TIME")
	want := "2 unread\n" +
		"\n* mentioned you: Mentoring plan\n  by Amina Convener · " + mention + " · TIME · " + mentionName + "\n  What do you think, @moses?\n" +
		"\n* new post: Mentoring plan\n  by Amina Convener · threads/1 · TIME · " + postName + "\n  The plan for hosting volunteers.\n"
	if out != want {
		t.Errorf("notifications list:\n%s\nwant:\n%s", out, want)
	}

	// read by number: the older one is read, and listed after the unread.
	if out := mo.ok("", "notifications", "read", postID); out != "Marked 1 notification read; 1 unread.\n" {
		t.Errorf("notifications read %s: %q", postID, out)
	}
	out = mo.ok("", "notifications", "list")
	if blocks := strings.Split(out, "\n\n"); len(blocks) != 3 || blocks[0] != "1 unread" ||
		!strings.HasPrefix(blocks[1], "* mentioned you: ") || !strings.HasPrefix(blocks[2], "  new post: ") {
		t.Errorf("notifications list after read:\n%s", out)
	}
	out = mo.ok("", "notifications", "list", "--unread")
	if strings.Count(out, "\n\n") != 1 || !strings.HasPrefix(out, "1 unread\n\n* mentioned you: ") {
		t.Errorf("notifications list --unread:\n%s", out)
	}
	if out := mo.ok("", "notifications", "list", "--limit", "1"); strings.Count(out, "\n\n") != 1 || !strings.Contains(out, mentionName) {
		t.Errorf("notifications list --limit 1:\n%s", out)
	}
	// Again, by name: already read, nothing marked.
	if out := mo.ok("", "notifications", "read", "users/me/notifications/"+postID, postName); out != "Marked 0 notifications read; 1 unread.\n" {
		t.Errorf("notifications read again: %q", out)
	}

	// read --all: none unread.
	var marked forumv1.MarkNotificationsReadResponse
	if err := protojson.Unmarshal([]byte(mo.ok("", "notifications", "read", "--all", "-o", "json")), &marked); err != nil ||
		marked.GetMarked() != 1 || marked.GetUnreadCount() != 0 {
		t.Errorf("notifications read --all -o json: %v (%v)", &marked, err)
	}
	if n, err := moClient.UnreadNotifications(ctx); err != nil || n != 0 {
		t.Errorf("after read --all: %d unread (%v)", n, err)
	}
	if r := mo.run("", "notifications", "list", "--unread"); r.code != 0 || r.stdout != "" || r.stderr != "No unread notifications.\n" {
		t.Errorf("notifications list --unread with none unread: %v", r)
	}
	if out := mo.ok("", "notifications", "list"); !strings.HasPrefix(out, "0 unread\n\n  mentioned you: ") || strings.Contains(out, "* ") {
		t.Errorf("notifications list with all read:\n%s", out)
	}
	if out := mo.ok("", "notifications", "read", "--all"); out != "Marked 0 notifications read; 0 unread.\n" {
		t.Errorf("notifications read --all again: %q", out)
	}

	// Mo's reply makes a notification for Amina, who started the thread;
	// and makes Mo track it.
	moReply := posted(t, mo.ok("", "reply", "1", "--body", "Count me in."), "threads/1")
	waitNotifications(t, ctx, aminaClient, 1)
	out = stamp.ReplaceAllString(amina.ok("", "notifications", "list"), "TIME")
	if !strings.HasPrefix(out, "1 unread\n\n* replied to you: Mentoring plan\n  by Mo Member · "+moReply+" · TIME · "+aminaName+"/notifications/") ||
		!strings.HasSuffix(out, "\n  Count me in.\n") {
		t.Errorf("amina's notifications list:\n%s", out)
	}

	// subscriptions list: the theme Mo watches, the thread forum made him
	// track.
	subs := listSubscriptions(t, mo)
	if s := subs["themes/joint-programmes"]; len(subs) != 2 || s.GetLevel() != client.Watching || s.GetAutomatic() ||
		s.GetName() != mosesName+"/subscriptions/theme-joint-programmes" {
		t.Errorf("subscriptions: %v", subs)
	}
	if s := subs["threads/1"]; s.GetLevel() != client.Tracking || !s.GetAutomatic() {
		t.Errorf("subscription to threads/1: %v", s)
	}

	// mute: the thread tells Mo nothing, mentions included, though he
	// watches its theme.
	if out := mo.ok("", "mute", "1"); out != "Muted threads/1.\n" {
		t.Errorf("mute: %q", out)
	}
	subs = listSubscriptions(t, mo)
	if s := subs["threads/1"]; s.GetLevel() != client.Muted || s.GetAutomatic() || s.GetName() != mosesName+"/subscriptions/thread-1" {
		t.Errorf("subscription to threads/1 after mute: %v", s)
	}
	out = mo.ok("", "subscriptions", "list")
	if !regexp.MustCompile(`(?m)^TARGET +LEVEL +AUTOMATIC +UPDATED\nthemes/joint-programmes +watching +no +\d{4}-\d\d-\d\d \d\d:\d\d *\nthreads/1 +muted +no +\d{4}-\d\d-\d\d \d\d:\d\d *\n$`).MatchString(out) {
		t.Errorf("subscriptions list:\n%s", out)
	}
	amina.ok("", "reply", "1", "--body", "@moses, are you there?")
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Second thread", "--body", "Another.")
	// Notifications are made in the log's order: once the second thread's
	// is there, the reply's would have been.
	api = waitNotifications(t, ctx, moClient, 3)
	if p := api.Notifications[0].GetPost(); p != "threads/2" {
		t.Errorf("after mute, the newest notification is of %s, want threads/2", p)
	}

	// track and watch, with -o json: the subscription.
	if out := mo.ok("", "track", "themes/knowledge-exchange"); out != "Tracking themes/knowledge-exchange.\n" {
		t.Errorf("track: %q", out)
	}
	var sub forumv1.Subscription
	if err := protojson.Unmarshal([]byte(mo.ok("", "watch", "threads/1", "-o", "json")), &sub); err != nil ||
		sub.GetTarget() != "threads/1" || sub.GetLevel() != client.Watching || sub.GetName() != mosesName+"/subscriptions/thread-1" {
		t.Errorf("watch -o json: %v (%v)", &sub, err)
	}

	// unwatch removes it; again, there is nothing to remove.
	if out := mo.ok("", "unwatch", "1"); out != "Removed your subscription to threads/1.\n" {
		t.Errorf("unwatch: %q", out)
	}
	if subs := listSubscriptions(t, mo); subs["threads/1"] != nil || len(subs) != 2 || subs["themes/knowledge-exchange"].GetLevel() != client.Tracking {
		t.Errorf("subscriptions after unwatch: %v", subs)
	}
	if r := mo.run("", "unwatch", "threads/1"); r.code != 0 || r.stdout != "" || r.stderr != "You have no subscription to threads/1: nothing to remove.\n" {
		t.Errorf("unwatch with no subscription: %v", r)
	}
	if out := mo.ok("", "unsubscribe", "knowledge-exchange"); out != "Removed your subscription to themes/knowledge-exchange.\n" {
		t.Errorf("unsubscribe: %q", out)
	}
}

// TestNotificationsRefusals: bad inputs get a clear message and the right
// exit status, before any call where forumctl can tell.
func TestNotificationsRefusals(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	nobody := newUser(t, "FORUM_SERVER="+server)
	checkRefusals(t, []refusal{
		{"watch nothing", mo, exitUsage, "watch takes THREAD|THEME", []string{"watch"}},
		{"watch two", mo, exitUsage, "watch takes THREAD|THEME", []string{"watch", "1", "2"}},
		{"unwatch nothing", mo, exitUsage, "unwatch takes THREAD|THEME", []string{"unwatch"}},
		{"bad target", mo, exitUsage, `"Not A Slug" is neither a thread nor a theme`, []string{"mute", "Not A Slug"}},
		{"zero-padded thread", mo, exitUsage, `"012" is neither a thread nor a theme`, []string{"track", "012"}},
		{"missing thread", mo, exitNotFound, "threads/99999", []string{"watch", "threads/99999"}},
		{"missing theme", mo, exitNotFound, "themes/no-such-theme", []string{"mute", "no-such-theme"}},
		{"read nothing", mo, exitUsage, "or --all", []string{"notifications", "read"}},
		{"read names and all", mo, exitUsage, "not both", []string{"notifications", "read", "3", "--all"}},
		{"read a bad name", mo, exitUsage, `"abc" is not a notification`, []string{"notifications", "read", "abc"}},
		{"read zero", mo, exitUsage, `"users/2/notifications/0" is not a notification`, []string{"notifications", "read", "users/2/notifications/0"}},
		{"read a missing one", mo, exitInvalid, mosesName + "/notifications/999 does not exist", []string{"notifications", "read", "999"}},
		{"read someone else's", mo, exitInvalid, "is not a notification of " + mosesName, []string{"notifications", "read", aminaName + "/notifications/1"}},
		{"bad limit", mo, exitUsage, "--limit", []string{"notifications", "list", "--limit", "-1"}},
		{"settings: a bad switch", mo, exitUsage, `--replies "maybe": give on or off`, []string{"notifications", "settings", "--replies", "maybe"}},
		{"settings: a bad digest", mo, exitUsage, `--digest "hourly": give never, daily or weekly`, []string{"notifications", "settings", "--digest", "hourly"}},
		{"an argument to list", mo, exitUsage, "takes no arguments", []string{"notifications", "list", "1"}},
		{"an argument to subscriptions list", mo, exitUsage, "takes no arguments", []string{"subscriptions", "list", "1"}},
		{"unknown format", mo, exitUsage, "unknown output format", []string{"notifications", "list", "-o", "xml"}},
		{"unknown subcommand", mo, exitUsage, `unknown command "show"`, []string{"notifications", "show"}},
		{"list, not logged in", nobody, exitUnauth, "not logged in", []string{"notifications", "list"}},
		{"read, not logged in", nobody, exitUnauth, "not logged in", []string{"notifications", "read", "--all"}},
		{"watch, not logged in", nobody, exitUnauth, "not logged in", []string{"watch", "1"}},
		{"subscriptions, not logged in", nobody, exitUnauth, "not logged in", []string{"subscriptions", "list"}},
	})
	// Nothing was subscribed to by the refusals.
	if r := mo.run("", "subscriptions", "list"); r.code != 0 || r.stdout != "" || r.stderr != "No subscriptions.\n" {
		t.Errorf("subscriptions list after the refusals: %v", r)
	}
}

// TestNotificationSettings shows and changes the e-mail settings.
func TestNotificationSettings(t *testing.T) {
	server := startForum(t)
	mo := newUser(t)
	mo.login(server, "moses", memberPassword)
	want := "Mentions mailed at once: on\nReplies mailed at once:  on\nDigest: weekly\n"
	if r := mo.run("", "notifications", "settings"); r.code != 0 || r.stdout != want {
		t.Errorf("the defaults: %v, want %q", r, want)
	}
	want = "Mentions mailed at once: on\nReplies mailed at once:  off\nDigest: daily\n"
	if r := mo.run("", "notifications", "settings", "--replies", "off", "--digest", "daily"); r.code != 0 || r.stdout != want {
		t.Errorf("after changing: %v, want %q", r, want)
	}
	r := mo.run("", "notifications", "settings", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"emailDigest": "DIGEST_FREQUENCY_DAILY"`) || !strings.Contains(r.stdout, `"emailMentions": true`) || strings.Contains(r.stdout, `"emailReplies": true`) {
		t.Errorf("-o json after changing: %v", r)
	}
}

// TestThreadsRead marks a thread read to a reply and to its end, and
// checks what threads show and threads list then say, and the refusals.
func TestThreadsRead(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)
	amina.login(server, "amina", convenerPassword)
	mo.login(server, "moses", memberPassword)
	nobody := newUser(t, "FORUM_SERVER="+server)
	amina.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Mentoring plan", "--body", "The plan.")
	for _, b := range []string{"one", "two", "three"} {
		amina.ok("", "reply", "1", "--body", b)
	}
	// Never read: nothing is new (a position starts with the first read).
	if out := mo.ok("", "threads", "show", "1"); strings.Contains(out, "new") {
		t.Errorf("threads show before any read:\n%s", out)
	}
	if out := mo.ok("", "threads", "read", "1", "--to", "1"); out != "Read threads/1 to threads/1/replies/1; 2 replies unread after it.\n" {
		t.Errorf("threads read 1 --to 1: %q", out)
	}
	out := mo.ok("", "threads", "show", "threads/1")
	if !strings.Contains(out, " · 3 replies · 2 new\n") {
		t.Errorf("threads show after reading to the first reply: no \"2 new\"\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "── threads/1/replies/"); ok {
			if isNew := strings.HasSuffix(r, " · new"); isNew != (r[0] != '1') {
				t.Errorf("threads show after reading to the first reply: %q new %v", line, isNew)
			}
		}
	}
	if out := mo.ok("", "threads", "list"); !strings.Contains(out, "3 (2 new)") {
		t.Errorf("threads list after reading to the first reply:\n%s", out)
	}
	// An earlier reply: the position does not move back.
	var resp forumv1.MarkThreadReadResponse
	if err := protojson.Unmarshal([]byte(mo.ok("", "threads", "read", "1", "--to", "threads/1/replies/1", "-o", "json")), &resp); err != nil || resp.GetUnreadReplyCount() != 2 {
		t.Errorf("threads read --to the same reply -o json: %v (%v)", &resp, err)
	}
	if out := mo.ok("", "threads", "read", "threads/1", "--to", "1/2"); out != "Read threads/1 to threads/1/replies/2; 1 reply unread after it.\n" {
		t.Errorf("threads read --to 1/2: %q", out)
	}
	if out := mo.ok("", "threads", "read", "1"); out != "Read threads/1 to its last reply.\n" {
		t.Errorf("threads read 1: %q", out)
	}
	if out := mo.ok("", "threads", "show", "1"); strings.Contains(out, "new") {
		t.Errorf("threads show after reading to the end:\n%s", out)
	}
	// Amina's position is her own.
	if out := amina.ok("", "threads", "list"); strings.Contains(out, "new") {
		t.Errorf("threads list of another user:\n%s", out)
	}
	checkRefusals(t, []refusal{
		{"no thread", mo, exitUsage, "read takes THREAD", []string{"threads", "read"}},
		{"a bad reply", mo, exitUsage, `--to "x" is not a reply`, []string{"threads", "read", "1", "--to", "x"}},
		{"a reply of another thread", mo, exitUsage, "--to threads/2/replies/1 is not a reply of threads/1", []string{"threads", "read", "1", "--to", "2/1"}},
		{"a missing reply", mo, exitNotFound, "threads/1/replies/99", []string{"threads", "read", "1", "--to", "99"}},
		{"a missing thread", mo, exitNotFound, "threads/99", []string{"threads", "read", "99"}},
		{"not logged in", nobody, exitUnauth, "not logged in", []string{"threads", "read", "1"}},
	})
}
