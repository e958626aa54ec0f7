package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/auth"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/render"
	"github.com/forumhq/forum/server/store"
)

// Defaults shared by populate and startup: populate creates this member,
// startup logs in as it to write.
const (
	defaultLoadUser     = "loader"
	defaultLoadPassword = "load test password"
)

// populateConfig is the command line of forumload populate.
type populateConfig struct {
	data, username, password, theme string
	replies, perThread, bodyBytes   int
	workers                         int
	requestIDs                      bool
	progress                        time.Duration
}

func parsePopulateArgs(args []string, stderr io.Writer) (populateConfig, error) {
	var c populateConfig
	fs := flag.NewFlagSet("forumload populate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: forumload populate --data DIR [flags]

Fills the data directory DIR of a stopped forumd with --replies replies of
about --body-bytes of Markdown each (rendered once per variant, as forumd
would), spread over threads of --per-thread replies in --theme, written by
the member --username (created with --password if missing, so that
forumload startup can log in). It opens DIR/forum.db in this process through
the store package with fsync off and --workers concurrent writers, prints
progress, closes the database cleanly (everything checkpointed into
forum.db, the log emptied) and flushes it to disk. An existing database is
added to. Not for a database that matters: a crash meanwhile may corrupt it.

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.data, "data", "", "the data directory (forum.db in it); required")
	fs.IntVar(&c.replies, "replies", 10000, "how many replies to add")
	fs.IntVar(&c.perThread, "per-thread", 1000, "replies per thread (threads = replies / per-thread, rounded up)")
	fs.IntVar(&c.bodyBytes, "body-bytes", 1000, "the size of each reply's Markdown")
	fs.IntVar(&c.workers, "workers", 64, "concurrent writers")
	fs.StringVar(&c.theme, "theme", "themes/knowledge-exchange", "the theme of the threads")
	fs.StringVar(&c.username, "username", defaultLoadUser, "the member who writes (created if missing)")
	fs.StringVar(&c.password, "password", defaultLoadPassword, "the password of a member created")
	fs.BoolVar(&c.requestIDs, "request-ids", false, "give every reply a request_id, as the forum's clients do (their records stay for the request retention, 24 h)")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "how often to print progress")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() != 0:
		return c, usagef("populate takes no arguments, got %q", fs.Args())
	case c.data == "":
		return c, usagef("populate needs --data DIR")
	case c.replies < 0:
		return c, usagef("--replies %d: must not be negative", c.replies)
	case c.perThread < 1:
		return c, usagef("--per-thread %d: use at least 1", c.perThread)
	case c.bodyBytes < 1 || c.bodyBytes > 64<<10:
		return c, usagef("--body-bytes %d: use 1 to 65536 (a post's limit)", c.bodyBytes)
	case c.workers < 1 || c.workers > 10000:
		return c, usagef("--workers %d: use 1 to 10000", c.workers)
	case c.progress <= 0:
		return c, usagef("--progress %v: must be positive", c.progress)
	}
	return c, nil
}

// runPopulate runs forumload populate and returns its exit status.
func runPopulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parsePopulateArgs(args, stderr)
	if code, done := usageExit("populate", err, stderr); done {
		return code
	}
	if err := populate(ctx, c, stdout); err != nil {
		fmt.Fprintln(stderr, "forumload populate:", err)
		return 1
	}
	return 0
}

// bodyVariants is how many different reply bodies populate renders; reply i
// uses variant i % bodyVariants.
const bodyVariants = 64

func populate(ctx context.Context, c populateConfig, out io.Writer) (err error) {
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return err
	}
	dbPath := filepath.Join(c.data, "forum.db")
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	st, err := store.Open(dbPath, store.Options{NoSync: true, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if st == nil {
			return // closed below
		}
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
	}()

	author, err := populateUser(ctx, st, c)
	if err != nil {
		return err
	}
	r := render.New()
	type body struct{ md, html string }
	bodies := make([]body, bodyVariants)
	for i := range bodies {
		md := variantBody(i, c.bodyBytes)
		html, err := r.HTML(md)
		if err != nil {
			return err
		}
		bodies[i] = body{md, html}
	}

	nThreads := (c.replies + c.perThread - 1) / c.perThread
	threads := make([]resname.Thread, nThreads)
	threadBody := variantBody(bodyVariants, 2*c.bodyBytes)
	threadHTML, err := r.HTML(threadBody)
	if err != nil {
		return err
	}
	stamp := time.Now().UTC().Format(time.RFC3339)
	for i := range threads {
		th, err := st.CreateThread(ctx, author, &forumv1.Thread{Theme: c.theme, Title: fmt.Sprintf("forumload populate %s, thread %d", stamp, i+1),
			Body: threadBody, BodyHtml: threadHTML}, "")
		if err != nil {
			return fmt.Errorf("create thread %d: %w", i+1, err)
		}
		if threads[i], err = resname.ParseThread(th.GetName()); err != nil {
			return fmt.Errorf("create thread %d: %w", i+1, err)
		}
	}
	fmt.Fprintf(out, "populate %s: %d replies of %d bytes into %d threads in %s as %s, %d writers\n",
		dbPath, c.replies, c.bodyBytes, nThreads, c.theme, c.username, c.workers)

	var next, done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	fill := time.Now()
	for range c.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= c.replies {
					return
				}
				b := bodies[i%len(bodies)]
				var id string
				if c.requestIDs {
					id = client.NewRequestID()
				}
				// Reply i goes to thread i % nThreads: every thread grows at once,
				// as on a live forum.
				_, err := st.CreateReply(ctx, author, threads[i%nThreads], &forumv1.Reply{Body: b.md, BodyHtml: b.html}, id)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("reply %d: %w", i, err); cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(c.progress)
		defer t.Stop()
		last, lastT := int64(0), fill
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := done.Load()
				fmt.Fprintf(out, "  %10d replies (%5.1f %%), %6.0f/s now, forum.db %s\n", n, 100*float64(n)/float64(max(1, c.replies)),
					float64(n-last)/now.Sub(lastT).Seconds(), fileSize(dbPath))
				last, lastT = n, now
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-progressDone
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fillTime := time.Since(fill)
	t0 := time.Now()
	err = st.Close()
	st = nil
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	closeTime := time.Since(t0)
	// fsync was off: flush the files now, so that what comes next (a
	// measurement after dropping the page cache) does not pay for it.
	t0 = time.Now()
	syscall.Sync()
	fmt.Fprintf(out, "done: %d replies in %.1f s (%.0f/s), close %.1f s, sync %.1f s, total %.1f s; forum.db %s\n",
		done.Load(), fillTime.Seconds(), float64(done.Load())/fillTime.Seconds(), closeTime.Seconds(), time.Since(t0).Seconds(),
		time.Since(start).Seconds(), fileSize(dbPath))
	return nil
}

// populateUser returns the member populate writes as, creating it (with
// c.password) if the database does not have it.
func populateUser(ctx context.Context, st *store.Store, c populateConfig) (authz.Actor, error) {
	u, _, err := st.Credentials(ctx, c.username)
	if errors.Is(err, errs.NotFound) {
		hash, herr := auth.HashPassword(c.password)
		if herr != nil {
			return authz.Actor{}, herr
		}
		u, err = st.CreateUser(ctx, authz.SystemActor, &forumv1.User{Username: c.username, DisplayName: "Load Generator", Role: forumv1.Role_ROLE_MEMBER}, hash, "")
	}
	if err != nil {
		return authz.Actor{}, fmt.Errorf("user %q: %w", c.username, err)
	}
	return authz.Actor{User: u.GetName(), Role: u.GetRole()}, nil
}

// variantBody returns Markdown of about n bytes, different for each i: a
// heading-less post of a few paragraphs, some emphasis, a link and a list,
// as forum replies are.
func variantBody(i, n int) string {
	paras := []string{
		"Thanks for the notes from the *closing plenary*. Our volunteers found the host-family model useful; see the checklist we shared last year.",
		"We tried a similar schedule in %d and it worked well for groups under thirty. Larger groups needed a second coordinator on site.",
		"Happy to compare **timelines** next week. The draft is at https://example.org/drafts/%d and comments are open.",
		"- arrival on Friday\n- workshops Saturday and Sunday\n- evaluation call two weeks later",
		"One thing we would change: send the reading list earlier, at least a month before, so that people can prepare in their own language.",
		"Reply %d: the budget line for interpretation was the hardest to defend, but the feedback made the case for it.",
	}
	var b strings.Builder
	for k := 0; b.Len() < n; k++ {
		p := paras[(i+k)%len(paras)]
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, 2000+i+k)
		}
		b.WriteString(p)
		b.WriteString("\n\n")
	}
	return strings.TrimSpace(b.String()[:n])
}

// fileSize formats the size of the file at path, or "?" if it cannot be
// read.
func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return formatSize(fi.Size())
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
