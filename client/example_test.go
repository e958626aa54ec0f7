package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// These examples need a running forum server, so they are compiled but not
// run.

// Log in with a username and password. The Client sends the token it got
// from then on; keep resp.Token to log in later with WithToken instead.
func ExampleClient_Login() {
	ctx := context.Background()
	c, err := client.New(ctx, "127.0.0.1:7070", client.WithTimeout(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	resp, err := c.Login(ctx, "amina", os.Getenv("FORUM_PASSWORD"))
	if errors.Is(err, client.ErrUnauthenticated) {
		log.Fatal("wrong username or password")
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("logged in as %s until %s\n", resp.GetUser().GetDisplayName(), resp.GetExpireTime().AsTime())
}

// List the open threads of a theme, most recently active first. The
// iterator fetches the pages as the loop needs them.
func ExampleClient_Threads() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	req := &forumv1.ListThreadsRequest{
		Filter: `theme = "themes/reciprocal-volunteering" AND state = OPEN`,
	}
	for thread, err := range c.Threads(ctx, req) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\t%d replies\t%s\n", thread.GetName(), thread.GetReplyCount(), thread.GetTitle())
	}
}

// Search the posts of a theme for a phrase in either of two languages,
// newest first, and print the first 50 hits with their snippets. The
// iterator fetches the pages as the loop needs them; breaking out of it
// fetches no more.
func ExampleClient_Search() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	opts := &client.SearchOptions{
		Filter:  `theme = "themes/reciprocal-volunteering" AND create_time >= "2026-01-01"`,
		OrderBy: "create_time desc",
	}
	n := 0
	for hit, err := range c.Search(ctx, `"host family" OR "famille d'accueil" -draft`, opts) {
		if errors.Is(err, client.ErrInvalidArgument) {
			for _, v := range client.FieldViolations(err) {
				log.Printf("%s: %s", v.Field, v.Description) // query: column 14: …
			}
			os.Exit(1)
		} else if err != nil {
			log.Fatal(err)
		}
		// snippet_html is escaped HTML, what matched in <mark>…</mark>.
		fmt.Printf("%s\t%s\t%s\n", hit.GetName(), hit.GetThreadTitle(), hit.GetSnippetHtml())
		if n++; n == 50 {
			break
		}
	}
}

// List the groups you may see with their members, in name order: all of
// them for a convener or an admin, the ones you belong to otherwise.
func ExampleClient_Groups() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for group, err := range c.Groups(ctx, nil) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\t%s\t%d members\n", group.GetName(), group.GetDisplayName(), len(group.GetMembers()))
	}
}

// List the invitations nobody has registered with yet, newest first, as a
// convener or an admin does before withdrawing stale ones.
func ExampleClient_Invitations() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for inv, err := range c.Invitations(ctx, &forumv1.ListInvitationsRequest{PageSize: 100}) {
		if errors.Is(err, client.ErrPermissionDenied) {
			log.Fatal("only conveners and admins list invitations")
		} else if err != nil {
			log.Fatal(err)
		}
		if inv.GetUsedBy() == "" {
			fmt.Printf("%s\t%s\texpires %s\n", inv.GetName(), inv.GetRole(), inv.GetExpireTime().AsTime())
		}
	}
}

// List your own API tokens, newest first: parent names the user, and
// users/me is the caller. The secrets are not listed, only their first
// characters.
func ExampleClient_ApiTokens() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for tok, err := range c.ApiTokens(ctx, &forumv1.ListApiTokensRequest{Parent: "users/me"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\t%s\t%s...\texpires %s\n", tok.GetName(), tok.GetDisplayName(), tok.GetTokenPrefix(), tok.GetExpireTime().AsTime())
	}
}

// Post a reply. CreateReply gives the request a request_id, so the retries
// after a lost connection never post it twice.
func ExampleClient_CreateReply() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	reply, err := c.CreateReply(ctx, "threads/12", &forumv1.Reply{
		Body: "We pair each volunteer with a **mentor** from the host organisation.",
	})
	switch {
	case errors.Is(err, client.ErrFailedPrecondition):
		log.Fatal("the thread is locked")
	case errors.Is(err, client.ErrInvalidArgument):
		for _, v := range client.FieldViolations(err) {
			log.Printf("%s: %s", v.Field, v.Description)
		}
		os.Exit(1)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println("posted", reply.GetName())
}

// Open a follow-up of a conference thread, as a convener does after the
// conference, and mark the original thread resolved.
func ExampleClient_CreateFollowUp() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	followUp, err := c.CreateFollowUp(ctx, "threads/12", &forumv1.Thread{
		Title: "Follow-up: mentoring hosted volunteers",
		Body:  "Actions agreed in Nairobi:\n\n1. Share the mentoring guide.\n2. Report back in June.",
	})
	if errors.Is(err, client.ErrPermissionDenied) {
		log.Fatal("only conveners and admins open follow-ups")
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println("opened", followUp.GetName())

	thread, err := c.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: "threads/12"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.ThreadService().UpdateThread(ctx, &forumv1.UpdateThreadRequest{
		Thread: &forumv1.Thread{Name: thread.GetName(), State: forumv1.ThreadState_THREAD_STATE_RESOLVED, Etag: thread.GetEtag()},
	})
	if errors.Is(err, client.ErrConflict) {
		log.Fatal("someone changed the thread meanwhile; read it again")
	} else if err != nil {
		log.Fatal(err)
	}
}

// Wait as long as the server asks when it is rate limiting.
func ExampleRetryDelay() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for {
		theme, err := c.ThemeService().GetTheme(ctx, &forumv1.GetThemeRequest{Name: "themes/joint-programmes"})
		if errors.Is(err, client.ErrRateLimited) {
			delay, ok := client.RetryDelay(err)
			if !ok {
				delay = time.Second
			}
			time.Sleep(delay)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(theme.GetDisplayName())
		return
	}
}

// Follow the replies of a theme as they are posted, from revision 1 (the
// whole log kept), printing each. The stream resumes by itself when the
// connection drops; keep the last revision printed to start from the next
// one after a restart of the program.
func ExampleClient_Events() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	filter := `type = "reply.created" AND theme = "themes/knowledge-exchange"`
	for ev, err := range c.Events(ctx, 1, filter) {
		if errors.Is(err, client.ErrOutOfRange) {
			oldest, _ := client.OldestRevision(err)
			log.Fatalf("the log no longer keeps revision 1; start from %d", oldest)
		} else if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d\t%s\t%s\t%s\n", ev.GetRevision(), client.EventTypeName(ev.GetType()), ev.GetThread(), ev.GetReply().GetBody())
	}
}

// Read the events committed since the last run, as a job run every hour
// does, and remember where it stopped.
func ExampleClient_ListEvents() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	next := uint64(1) // one past the last revision the previous run read
	for ev, err := range c.ListEvents(ctx, &forumv1.ListEventsRequest{StartRevision: next, PageSize: 500}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d\t%s\t%s\n", ev.GetRevision(), client.EventTypeName(ev.GetType()), ev.GetResource())
		next = ev.GetRevision() + 1
	}
	fmt.Println("next run starts at", next)
}

// Create a webhook that receives the replies of one theme, keep its
// secret, and send it a ping to check that the receiver answers.
func ExampleClient_CreateWebhook() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	hook, err := c.CreateWebhook(ctx, "users/me", &forumv1.Webhook{
		TargetUrl:  "https://hooks.example.org/forum",
		EventTypes: []string{"reply.created"},
		Themes:     []string{"themes/knowledge-exchange"},
	})
	if errors.Is(err, client.ErrInvalidArgument) {
		log.Fatalf("refused: %v", client.FieldViolations(err)) // a private address, an unknown type, …
	} else if err != nil {
		log.Fatal(err)
	}
	// Shown only now: store it where the receiver reads it.
	fmt.Println("secret:", hook.GetSecret())

	if _, err := c.PingWebhook(ctx, hook.GetName()); err != nil {
		log.Fatal(err)
	}
}

// List the last attempts of each of your webhooks, newest first, and
// queue again the ones that failed.
func ExampleClient_WebhookDeliveries() {
	ctx := context.Background()
	c, err := client.New(ctx, "forum.example.org:443", client.WithToken(os.Getenv("FORUM_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for hook, err := range c.Webhooks(ctx, &forumv1.ListWebhooksRequest{Parent: "users/me"}) {
		if err != nil {
			log.Fatal(err)
		}
		for d, err := range c.WebhookDeliveries(ctx, &forumv1.ListWebhookDeliveriesRequest{Parent: hook.GetName()}) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("%s\t%s\t%d\t%s\n", d.GetDeliveryId(), d.GetEventType(), d.GetStatusCode(), d.GetError())
			if !d.GetSuccess() {
				if _, err := c.RedeliverWebhookDelivery(ctx, d.GetName()); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
}

// Check a delivery's signature in the receiver's HTTP handler before
// trusting its body, and drop the deliveries already processed.
func ExampleVerifyWebhookSignature() {
	secret := []byte(os.Getenv("FORUM_WEBHOOK_SECRET")) // whsec_…
	seen := map[string]bool{}                           // use a store shared by the receiver's instances
	var mu sync.Mutex
	http.HandleFunc("POST /forum", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		sig := r.Header.Get(client.WebhookSignatureHeader)
		if err := client.VerifyWebhookSignature(secret, sig, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		dup := seen[r.Header.Get(client.WebhookDeliveryHeader)]
		seen[r.Header.Get(client.WebhookDeliveryHeader)] = true
		mu.Unlock()
		if !dup {
			fmt.Println(r.Header.Get(client.WebhookEventHeader), string(body))
		}
		w.WriteHeader(http.StatusNoContent) // any 2xx within 10 s
	})
	log.Fatal(http.ListenAndServe(":8443", nil))
}
