package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stamp matches the times forumctl prints in reports and tables (TZ=UTC).
var stamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?`)

// TestConvenerSession runs forumctl as a convener following up a
// conference thread: log in, read, open a follow-up, reply, resolve, lock,
// export to Markdown and JSON, log out.
func TestConvenerSession(t *testing.T) {
	server := startForum(t)
	amina, mo := newUser(t), newUser(t)

	// Log in; the configuration file holds the server and the token, mode
	// 0600.
	amina.login(server, "amina", convenerPassword)
	cfgPath := filepath.Join(amina.config, "forumctl", "config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	var cfg config
	data, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Server != server || cfg.Token == "" {
		t.Fatalf("config %s: %v", data, err)
	}
	if strings.Contains(amina.ok("", "whoami"), cfg.Token) {
		t.Error("whoami shows the token")
	}
	who := amina.ok("", "whoami")
	for _, want := range []string{"Username:  amina", "Name:      Amina Convener", "Role:      convener", "Server:    " + server} {
		if !strings.Contains(who, want) {
			t.Errorf("whoami output lacks %q:\n%s", want, who)
		}
	}

	// A delegate starts a thread (body from standard input) and replies to
	// it.
	mo.login(server, "moses", memberPassword)
	out := mo.ok("What worked for you when hosting volunteers from abroad?\n",
		"threads", "create", "--theme", "reciprocal-volunteering", "--title", "Hosting volunteers", "--tag", "hosting", "--body-file", "-")
	if out != "Created threads/1: Hosting volunteers\n" {
		t.Fatalf("threads create: %q", out)
	}
	first := posted(t, mo.ok("", "reply", "1", "--body", "We pair each volunteer with a **mentor**."), "threads/1")

	// The convener lists the theme's open threads.
	list := amina.ok("", "threads", "list", "--theme", "reciprocal-volunteering", "--state", "open")
	lines := strings.Split(strings.TrimSpace(stamp.ReplaceAllString(list, "TIME")), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^THREAD\s+KIND\s+STATE\s+REPLIES\s+AUTHOR\s+LAST ACTIVITY\s+TITLE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^threads/1\s+discussion\s+open\s+1\s+Mo Member\s+TIME\s+Hosting volunteers$`).MatchString(lines[1]) {
		t.Errorf("threads list:\n%s", list)
	}

	// A follow-up, a reply to it (edited once), a reply deleted.
	out = amina.ok("", "threads", "follow-up", "1", "--title", "Follow-up: hosting", "--body", "Actions agreed in Nairobi:\n\n1. Share the mentoring guide.")
	if out != "Created follow-up threads/2 of threads/1: Follow-up: hosting\n" {
		t.Fatalf("threads follow-up: %q", out)
	}
	followUpReply := posted(t, amina.ok("", "reply", "2", "--body", "Guide shared."), "threads/2")
	short := strings.TrimPrefix(strings.Replace(followUpReply, "/replies/", "/", 1), "threads/") // 2/N
	if out := amina.ok("", "reply", "edit", short, "--body", "Guide shared with all members."); out != "Edited "+followUpReply+" (edit 1)\n" {
		t.Fatalf("reply edit: %q", out)
	}
	oops := posted(t, mo.ok("", "reply", "1", "--body", "Oops, wrong thread."), "threads/1")
	if out := mo.ok("", "reply", "delete", oops); out != "Deleted "+oops+"\n" {
		t.Fatalf("reply delete: %q", out)
	}

	// Filters: by kind, by author (username or me), with a limit.
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--kind", "follow-up"}, []string{"threads/2"}},
		{[]string{"--author", "moses"}, []string{"threads/1"}},
		{[]string{"--author", "me"}, []string{"threads/2"}},
		{[]string{"--limit", "1", "--order", "created"}, []string{"threads/2"}},
		{[]string{"--theme", "themes/reciprocal-volunteering", "--tag", "hosting"}, []string{"threads/1"}},
	} {
		var got struct{ Threads []struct{ Name string } }
		out := amina.ok("", append([]string{"threads", "list", "-o", "json"}, c.args...)...)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, th := range got.Threads {
			names = append(names, th.Name)
		}
		if strings.Join(names, " ") != strings.Join(c.want, " ") {
			t.Errorf("threads list %v: %v, want %v", c.args, names, c.want)
		}
	}

	// Resolve the thread, lock the follow-up.
	if out := amina.ok("", "threads", "resolve", "1"); out != "threads/1 is now resolved: Hosting volunteers\n" {
		t.Errorf("threads resolve: %q", out)
	}
	if out := amina.ok("", "threads", "lock", "threads/2"); out != "threads/2 is now locked: Follow-up: hosting\n" {
		t.Errorf("threads lock: %q", out)
	}

	// Read it in the terminal.
	show := stamp.ReplaceAllString(amina.ok("", "threads", "show", "1"), "TIME")
	wantShow := `Hosting volunteers
threads/1 · themes/reciprocal-volunteering · discussion · resolved · 1 reply
by Mo Member, TIME
tags: hosting
follow-ups: threads/2

What worked for you when hosting volunteers from abroad?

── ` + first + ` · Mo Member · TIME
We pair each volunteer with a **mentor**.

── ` + oops + ` · Mo Member · TIME
[deleted]
`
	if show != wantShow {
		t.Errorf("threads show:\n%s\nwant:\n%s", show, wantShow)
	}

	// Export to Markdown for the conference report.
	md := stamp.ReplaceAllString(amina.ok("", "export", "1", "--format", "markdown"), "TIME")
	wantMD := `# Hosting volunteers

- **Thread:** threads/1
- **Theme:** Reciprocal volunteering (themes/reciprocal-volunteering)
- **Kind:** discussion · **State:** resolved
- **Opened by:** Mo Member, TIME
- **Tags:** hosting
- **Follow-ups:** Follow-up: hosting (threads/2)

What worked for you when hosting volunteers from abroad?

## Replies (1)

### 1. Mo Member, TIME

We pair each volunteer with a **mentor**.

### 2. Mo Member, TIME

*This reply was deleted.*

---

# Follow-up: hosting

- **Thread:** threads/2
- **Theme:** Reciprocal volunteering (themes/reciprocal-volunteering)
- **Kind:** follow-up · **State:** open, locked
- **Opened by:** Amina Convener, TIME
- **Follows up:** threads/1

Actions agreed in Nairobi:

1. Share the mentoring guide.

## Replies (1)

### 1. Amina Convener, TIME

Guide shared with all members.
`
	if md != wantMD {
		t.Errorf("export markdown:\n%s\nwant:\n%s", md, wantMD)
	}

	// And to JSON.
	var exp struct {
		Thread struct {
			Name, Title, State string
			FollowUps          []string
		}
		Replies   []map[string]any
		FollowUps []struct {
			Thread struct {
				Name, FollowUpOf, Kind string
			}
			Replies   []struct{ Body string }
			FollowUps []any
		}
	}
	if err := json.Unmarshal([]byte(amina.ok("", "export", "1", "--format", "json")), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Thread.Name != "threads/1" || exp.Thread.State != "THREAD_STATE_RESOLVED" || len(exp.Replies) != 2 ||
		len(exp.FollowUps) != 1 || exp.FollowUps[0].Thread.FollowUpOf != "threads/1" ||
		exp.FollowUps[0].Thread.Kind != "THREAD_KIND_FOLLOW_UP" || len(exp.FollowUps[0].Replies) != 1 ||
		exp.FollowUps[0].Replies[0].Body != "Guide shared with all members." {
		t.Errorf("export json: %+v", exp)
	}

	// Log out: the token is revoked and forgotten, the server kept.
	if out := amina.ok("", "logout"); out != "Logged out of "+server+".\n" {
		t.Errorf("logout: %q", out)
	}
	data, _ = os.ReadFile(cfgPath)
	var after config
	if err := json.Unmarshal(data, &after); err != nil || after.Token != "" || after.Server != server {
		t.Errorf("config after logout: %s", data)
	}
	amina.fails(exitUnauth, "not logged in to "+server, "whoami")
	// The revoked token no longer works, even if kept elsewhere.
	newUser(t, "FORUM_SERVER="+server, "FORUM_TOKEN="+cfg.Token).fails(exitUnauth, "refused the token", "threads", "list")
}

// posted checks the output of `forumctl reply` and returns the reply's
// name, which must be in thread.
func posted(t *testing.T, out, thread string) string {
	t.Helper()
	m := regexp.MustCompile(`^Posted (` + thread + `/replies/[0-9]+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("reply output %q, want Posted %s/replies/N", out, thread)
	}
	return m[1]
}
