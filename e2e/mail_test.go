package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/mailtest"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Bounds of TestNotificationsAndMailAcrossKill.
const (
	mailWriters   = 4
	mailWriteFor  = 1500 * time.Millisecond
	mailSettleFor = 60 * time.Second
)

// TestNotificationsAndMailAcrossKill: writers reply to a thread whose
// author has an e-mail address, while forumd mails each reply to a real
// SMTP server on 127.0.0.1; forumd is killed with SIGKILL mid-flow and
// restarted on the same data. Afterwards every stored reply has exactly
// one notification for the author (none lost, none doubled), and a mail
// that reached the SMTP server (each at least once; at most one twice: the
// one the kill cut between the server taking it and the outbox forgetting
// it).
func TestNotificationsAndMailAcrossKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	sink := mailtest.Start(t)
	dataDir := t.TempDir()
	mustCreateUserCLI(t, dataDir, "owner", "Owner", "member", delegatePassword("owner"))
	for i := range mailWriters {
		name := fmt.Sprintf("mailwriter%d", i)
		mustCreateUserCLI(t, dataDir, name, "Writer "+name, "member", delegatePassword(name))
	}
	args := []string{noRateLimits, "--smtp-addr", sink.Addr(), "--smtp-from", "forum@forum.example.org", "--smtp-tls", "none", "--public-url", "http://127.0.0.1:8080"}
	p := startForumd(t, dataDir, args...)
	g := p.dial(t)
	owner := loginGRPC(ctx, t, g, "owner", delegatePassword("owner"))
	cctx, ccancel := callCtx(ctx, owner.token)
	if _, err := g.users.UpdateUser(cctx, &forumv1.UpdateUserRequest{User: &forumv1.User{Name: owner.name, Email: "owner@example.org"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}}}); err != nil {
		t.Fatal(err)
	}
	ccancel()
	thread := createThreadGRPC(ctx, t, g, owner.token, &forumv1.Thread{Theme: demoThemes[0], Title: "Mail me", Body: "Replies are mailed."}, "")

	var writers []user
	for i := range mailWriters {
		name := fmt.Sprintf("mailwriter%d", i)
		writers = append(writers, loginGRPC(ctx, t, g, name, delegatePassword(name)))
	}
	// Writers until the kill; what they were told is not needed: the
	// check is against what the restarted forumd stores.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := callCtx(ctx, w.token)
				_, err := g.replies.CreateReply(cctx, &forumv1.CreateReplyRequest{Parent: thread.GetName(), Reply: &forumv1.Reply{Body: fmt.Sprintf("reply %d", i)}})
				cancel()
				if err != nil {
					return // the kill
				}
			}
		})
	}
	time.Sleep(mailWriteFor)
	before := len(sink.Messages())
	p.Kill()
	close(stop)
	wg.Wait()
	t.Logf("killed with %d mails received", before)

	p = startForumd(t, dataDir, args...)
	g = p.dial(t)
	owner = loginGRPC(ctx, t, g, "owner", delegatePassword("owner"))
	var replies []string
	for token := ""; ; {
		cctx, cancel := callCtx(ctx, owner.token)
		resp, err := g.replies.ListReplies(cctx, &forumv1.ListRepliesRequest{Parent: thread.GetName(), PageSize: 100, PageToken: token})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetReplies() {
			replies = append(replies, r.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(replies) < 100 {
		t.Fatalf("only %d replies stored: the test needs more to mean anything", len(replies))
	}
	// Every stored reply's mail reaches the server, within the bound.
	link := regexp.MustCompile(`/` + regexp.QuoteMeta(thread.GetName()) + `#r-([0-9]+)`)
	var mails map[string]int
	for deadline := time.Now().Add(mailSettleFor); ; time.Sleep(50 * time.Millisecond) {
		mails = map[string]int{}
		for _, m := range sink.Messages() {
			text, err := m.Text()
			if err != nil {
				t.Fatal(err)
			}
			if mm := link.FindStringSubmatch(text); mm != nil {
				mails[thread.GetName()+"/replies/"+mm[1]]++
			}
		}
		missing := 0
		for _, r := range replies {
			if mails[r] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d replies' mails missing after %v", missing, len(replies), mailSettleFor)
		}
	}
	twice := 0
	for r, n := range mails {
		if n > 1 {
			twice += n - 1
			t.Logf("%s mailed %d times", r, n)
		}
	}
	if twice > 1 {
		t.Errorf("%d mails sent more than once; at most the one cut by the kill may be", twice)
	}
	// Every stored reply has exactly one notification of the owner's.
	told := map[string]int{}
	for token := ""; ; {
		cctx, cancel := callCtx(ctx, owner.token)
		resp, err := forumv1.NewNotificationServiceClient(g.conn).ListNotifications(cctx, &forumv1.ListNotificationsRequest{Parent: "users/me", PageSize: 100, PageToken: token})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range resp.GetNotifications() {
			told[n.GetPost()]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	stored := map[string]bool{}
	for _, r := range replies {
		stored[r] = true
		if told[r] != 1 {
			t.Errorf("%s: %d notifications, want 1", r, told[r])
		}
	}
	for post := range told {
		if !stored[post] {
			t.Errorf("a notification of %s, which is not stored", post)
		}
	}
	t.Logf("%d replies, each notified once and mailed (%d mails, %d received before the kill)", len(replies), len(sink.Messages()), before)
}
