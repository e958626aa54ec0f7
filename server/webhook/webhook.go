// Package webhook delivers the event log to users' webhooks: a reader of
// the log with a durable cursor per webhook, kept in the store (store.
// WebhookJobs, RecordWebhookAttempt), woken by every commit (store.
// Changed). It runs beside the commit path and does not hold up a write. Each webhook reads the
// log as its owner (store.ReadEvents with the owner's actor), so an event
// the owner may not read is never sent; events go in revision order, one
// at a time per webhook, at least once: a crash between an attempt and its
// record repeats the attempt, with the same Forum-Delivery id.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/store"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Defaults of Options.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultRetryFor  = 24 * time.Hour
	DefaultPoll      = 5 * time.Second
	maxResponseSaved = 1024
	maxPerPass       = 100 // events one webhook sends in one pass
)

// Options configure a Worker.
type Options struct {
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses.
	AllowPrivate bool
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// RetryFor is how long an event is retried before the webhook is
	// disabled; 0 means DefaultRetryFor.
	RetryFor time.Duration
	// Backoff is the delay before attempt n+1 after n failed attempts; nil
	// means Backoff (exponential with jitter). Tests make it short.
	Backoff func(n int) time.Duration
	// Poll is how often the worker looks for work when nothing wakes it
	// (pings, redeliveries, retries); 0 means DefaultPoll.
	Poll time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Client, if set, replaces the HTTP client (its transport must check
	// addresses itself).
	Client *http.Client
}

// Backoff is the default delay after n failed attempts: 10 s doubled per
// attempt, at most an hour, with ±20 % jitter.
func Backoff(n int) time.Duration {
	d := 10 * time.Second << min(n-1, 20)
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Worker delivers events to every active webhook.
type Worker struct {
	st   *store.Store
	opt  Options
	http *http.Client
	log  *slog.Logger
	poke chan struct{}
}

// New returns a Worker for st; Run runs it.
func New(st *store.Store, opt Options) *Worker {
	if opt.Timeout == 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.RetryFor == 0 {
		opt.RetryFor = DefaultRetryFor
	}
	if opt.Backoff == nil {
		opt.Backoff = Backoff
	}
	if opt.Poll == 0 {
		opt.Poll = DefaultPoll
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	c := opt.Client
	if c == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil // a proxy would dial for us, past the address check
		tr.DialContext = Dialer(opt.AllowPrivate).DialContext
		c = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Worker{st: st, opt: opt, http: c, log: opt.Logger, poke: make(chan struct{}, 1)}
}

// Poke wakes the worker. A ping or a redelivery queued in the store wakes
// it without one (store.WebhookQueued), as a new commit does (store.
// Changed).
func (w *Worker) Poke() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done. It reads the log itself, from each
// webhook's cursor, and is woken by every commit (store.Changed), by a
// queued ping or redelivery, by Poke, and when a retry is due.
func (w *Worker) Run(ctx context.Context) {
	for {
		// Taken before the pass reads the work, so that a change or a
		// delivery queued during the pass wakes the next one.
		changed, queued := w.st.Changed(), w.st.WebhookQueued()
		next := w.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := w.opt.Poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(w.opt.Now()), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-queued:
		case <-w.poke:
		case <-t.C:
		}
		t.Stop()
	}
}

// pass does the work that is due now, every webhook in its own goroutine,
// and returns when the earliest retry is due (zero if none).
func (w *Worker) pass(ctx context.Context) time.Time {
	jobs, err := w.st.WebhookJobs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("webhooks: reading the work", "err", err)
		}
		return time.Time{}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next time.Time
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := w.run(ctx, j)
			if !t.IsZero() {
				mu.Lock()
				if next.IsZero() || t.Before(next) {
					next = t
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return next
}

// run does one webhook's due work: its queued deliveries, then the events
// after its cursor, until one fails or none is left. It returns when to
// try again after a failure (zero if none).
func (w *Worker) run(ctx context.Context, j store.WebhookJob) time.Time {
	for _, q := range j.Queued {
		var ev *forumv1.Event
		typ := "ping"
		if q.Revision != 0 {
			page, err := w.st.ReadEvents(ctx, j.Owner, store.EventQuery{From: q.Revision, To: q.Revision, Limit: 1})
			if err != nil || len(page.Events) == 0 || j.Owner.User == "" {
				w.record(ctx, j, store.WebhookAttempt{Queued: q.Seq, Delivery: &forumv1.WebhookDelivery{
					DeliveryId: q.DeliveryID, Revision: q.Revision, Attempt: q.Attempt,
					AttemptTime: timestamppb.New(w.opt.Now()), Error: "the event is no longer in the log, or no longer the owner's to read"}})
				continue
			}
			ev = page.Events[0]
			typ = filter.EventTypeName(ev.Type)
		} else {
			ev = &forumv1.Event{Name: "events/0", EventTime: timestamppb.New(w.opt.Now()), Resource: j.Webhook.Name}
		}
		d := w.attempt(ctx, j, ev, typ, q.DeliveryID, q.Attempt)
		w.record(ctx, j, store.WebhookAttempt{Queued: q.Seq, Delivery: d})
	}
	if !j.Webhook.Active || j.Owner.User == "" {
		return time.Time{}
	}
	if now := w.opt.Now(); j.NextTry.After(now) {
		return j.NextTry
	}
	match := matcher(j.Webhook)
	for range maxPerPass {
		if ctx.Err() != nil {
			return time.Time{}
		}
		page, err := w.st.ReadEvents(ctx, j.Owner, store.EventQuery{From: j.Cursor + 1, Limit: 1, Match: match})
		if errs.KindOf(err) == errs.OutOfRange {
			// The retention swept events this webhook had not received:
			// it is disabled, with the gap in its reason and an event.
			disabled, derr := w.st.DisableWebhookBehindLog(ctx, j.Name)
			if derr != nil {
				if ctx.Err() == nil {
					w.log.Error("webhooks: disabling a webhook behind the log", "webhook", j.Webhook.Name, "err", derr)
				}
			} else if disabled {
				w.log.Warn("webhooks: disabled, the event log no longer keeps the events after its cursor", "webhook", j.Webhook.Name, "cursor", j.Cursor, "err", err)
			}
			return time.Time{}
		}
		if err != nil {
			w.log.Warn("webhooks: reading the log", "webhook", j.Webhook.Name, "err", err)
			return time.Time{}
		}
		if len(page.Events) == 0 {
			if page.Next-1 > j.Cursor {
				if err := w.st.AdvanceWebhookCursor(ctx, j.Name, page.Next-1); err != nil {
					return time.Time{}
				}
				j.Cursor = page.Next - 1
				if page.Next <= page.Head {
					continue // the scan stopped at its bound: read on
				}
			}
			return time.Time{}
		}
		ev := page.Events[0]
		d := w.attempt(ctx, j, ev, filter.EventTypeName(ev.Type), store.WebhookDeliveryID(j.Name, ev.Revision), int32(j.Attempts+1))
		a := store.WebhookAttempt{Delivery: d}
		if !d.Success {
			now := w.opt.Now()
			first := j.FirstFailure
			if first.IsZero() {
				first = now
			}
			a.NextTry = now.Add(w.opt.Backoff(j.Attempts + 1))
			if now.Sub(first) >= w.opt.RetryFor {
				a.Disable = fmt.Sprintf("deliveries of revision %d failed for %v (last: %s)", ev.Revision, now.Sub(first).Round(time.Second), d.Error)
			}
		}
		if err := w.record(ctx, j, a); err != nil || !d.Success {
			if a.Disable != "" {
				return time.Time{}
			}
			return a.NextTry
		}
		j.Cursor, j.Attempts, j.FirstFailure = ev.Revision, 0, time.Time{}
	}
	return w.opt.Now() // more to send: come back at once
}

func (w *Worker) record(ctx context.Context, j store.WebhookJob, a store.WebhookAttempt) error {
	// An attempt made is recorded even as the worker stops, so that a
	// clean shutdown does not send it again (a crash still may: at least
	// once).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := w.st.RecordWebhookAttempt(ctx, j.Name, a)
	if err != nil && ctx.Err() == nil {
		w.log.Error("webhooks: recording an attempt", "webhook", j.Webhook.Name, "err", err)
	}
	return err
}

// matcher returns the filter of webhook h's event types and themes.
func matcher(h *forumv1.Webhook) func(*forumv1.Event) bool {
	types, themes := h.EventTypes, h.Themes
	return func(ev *forumv1.Event) bool {
		if len(types) > 0 && !slices.Contains(types, filter.EventTypeName(ev.Type)) {
			return false
		}
		return len(themes) == 0 || slices.Contains(themes, ev.Theme)
	}
}

// marshal is the JSON of an event, as the gateway writes it.
var marshal = protojson.MarshalOptions{}

// Sign returns the Forum-Signature header of body at time t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// attempt POSTs ev to j's target once and returns the attempt.
func (w *Worker) attempt(ctx context.Context, j store.WebhookJob, ev *forumv1.Event, typ, id string, n int32) *forumv1.WebhookDelivery {
	start := w.opt.Now()
	d := &forumv1.WebhookDelivery{DeliveryId: id, Revision: ev.Revision, EventType: typ, Attempt: n, AttemptTime: timestamppb.New(start)}
	body, err := marshal.Marshal(ev)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	// An attempt begun is finished (within Timeout) even as the worker
	// stops, so that a clean shutdown does not cut a delivery the
	// receiver may have processed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Webhook.TargetUrl, bytes.NewReader(body))
	if err != nil {
		d.Error = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "forum-webhooks/1")
	req.Header.Set("Forum-Signature", Sign(j.Secret, start, body))
	req.Header.Set("Forum-Delivery", id)
	req.Header.Set("Forum-Event", typ)
	resp, err := w.http.Do(req)
	if err == nil {
		d.StatusCode = int32(resp.StatusCode)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseSaved))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		d.ResponseBody = string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			d.Success = true
		} else {
			d.Error = "HTTP status " + resp.Status
		}
	} else {
		d.Error = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			d.Error = fmt.Sprintf("no response within %v", w.opt.Timeout)
		}
	}
	d.Latency = durationpb.New(w.opt.Now().Sub(start))
	return d
}
