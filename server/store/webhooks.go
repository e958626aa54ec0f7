package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// Webhooks: users' HTTP endpoints that receive the event log. The store
// keeps each webhook, its secret, its delivery state (the cursor: the last
// revision delivered or skipped; the attempts at the next one; when to try
// again) and the log of its last WebhookLogSize attempts. The delivery
// itself is another package's (a reader of the log); it reads its work
// with WebhookJobs and writes back each attempt with RecordWebhookAttempt,
// each in one transaction, so that a crash between an attempt and its
// record only makes the attempt happen again (at least once).
//
// The secret is stored as is, not hashed like API tokens: delivery must
// sign with it, so it has to be recoverable. Encrypting it with a key kept
// beside the database file would protect nothing that the file's
// permissions (0600, in a 0700 data directory) do not; a key from outside
// the data directory (a KMS, an environment variable) would, and is left
// for later. Secrets never appear in events or in any read but Create's and
// Rotate's responses.

// WebhookLogSize is how many attempts a webhook's delivery log keeps.
const WebhookLogSize = 100

// webhookState is a webhook's delivery state (bucket webhookStates).
type webhookState struct {
	Cursor       uint64 `json:"cursor"`                  // the last revision delivered or skipped
	Attempts     int    `json:"attempts,omitempty"`      // failed attempts at the event after Cursor
	NextTry      int64  `json:"next_try,omitempty"`      // unix ns; 0 means now
	FirstFailure int64  `json:"first_failure,omitempty"` // unix ns of the first failed attempt at that event
}

// queuedDelivery is a ping or a redelivery waiting for the worker
// (bucket webhookQueue).
type queuedDelivery struct {
	Revision   uint64 `json:"revision,omitempty"` // 0 for a ping
	DeliveryID string `json:"delivery_id"`
	Attempt    int32  `json:"attempt,omitempty"` // the attempt number of the redelivery
}

func webhookKey(n resname.Webhook) []byte { return append(u64(n.User.ID), u64(n.ID)...) }

func webhookLogKey(n resname.Webhook, id uint64) []byte { return append(webhookKey(n), u64(id)...) }

// WebhookDeliveryID is the Forum-Delivery header of revision rev's
// delivery to webhook n: the same for every attempt.
func WebhookDeliveryID(n resname.Webhook, rev uint64) string {
	return "wh" + strconv.FormatUint(n.ID, 10) + "-r" + strconv.FormatUint(rev, 10)
}

// webhookEvent is the event of a change to webhook w, never with its
// secret.
func webhookEvent(actor authz.Actor, typ forumv1.EventType, w *forumv1.Webhook, paths []string) *forumv1.Event {
	if w.Secret != "" {
		w = proto.CloneOf(w)
		w.Secret = ""
	}
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: w.Name, ChangedPaths: paths,
		ResourceState: &forumv1.Event_Webhook{Webhook: w},
	}
}

func getWebhook(tx kv.Tx, n resname.Webhook) (*forumv1.Webhook, error) {
	w := new(forumv1.Webhook)
	found, err := getProto(tx, bucketWebhooks, webhookKey(n), w)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: webhook %s", errs.NotFound, n)
	}
	return w, nil
}

func getWebhookState(tx kv.Tx, n resname.Webhook) (webhookState, error) {
	var st webhookState
	v, err := tx.Get(bucketWebhookStates, webhookKey(n))
	if err != nil || v == nil {
		return st, err
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("store: corrupt record in %s: %w", bucketWebhookStates, err)
	}
	return st, nil
}

func putWebhookState(tx kv.Tx, n resname.Webhook, st webhookState) error {
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Put(bucketWebhookStates, webhookKey(n), v)
}

// CreateWebhook stores a webhook of user's, active, with secret; its
// cursor is its own creation's revision, so it receives the changes made
// after it. The caller has checked the fields and that the actor may
// (authz.WebhookOwner). The webhook returned holds the secret.
func (s *Store) CreateWebhook(ctx context.Context, actor authz.Actor, user resname.User, spec *forumv1.Webhook, secret string) (*forumv1.Webhook, error) {
	var out *forumv1.Webhook
	err := s.update(ctx, func(tx kv.Tx) error {
		if u, err := tx.Get(bucketUsers, u64(user.ID)); err != nil {
			return err
		} else if u == nil {
			return fmt.Errorf("%w: user %s", errs.NotFound, user)
		}
		id, err := tx.NextSequence(bucketWebhooks)
		if err != nil {
			return err
		}
		n := resname.Webhook{User: user, ID: id}
		now := s.timestamp(nil)
		out = &forumv1.Webhook{
			Name: n.String(), TargetUrl: spec.TargetUrl,
			EventTypes: slices.Clone(spec.EventTypes), Themes: slices.Clone(spec.Themes),
			Active: true, CreateTime: now, UpdateTime: now, Etag: etag(now),
		}
		if err := putProto(tx, bucketWebhooks, webhookKey(n), out); err != nil {
			return err
		}
		if err := tx.Put(bucketWebhookSecrets, webhookKey(n), []byte(secret)); err != nil {
			return err
		}
		ev := webhookEvent(actor, forumv1.EventType_EVENT_TYPE_WEBHOOK_CREATED, out, nil)
		if err := s.appendEvent(tx, now, ev); err != nil {
			return err
		}
		return putWebhookState(tx, n, webhookState{Cursor: ev.Revision})
	})
	if err != nil {
		return nil, err
	}
	out = proto.CloneOf(out)
	out.Secret = secret
	return out, nil
}

// GetWebhook returns webhook n, without its secret.
func (s *Store) GetWebhook(ctx context.Context, n resname.Webhook) (*forumv1.Webhook, error) {
	var out *forumv1.Webhook
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		out, err = getWebhook(tx, n)
		return err
	})
	return out, err
}

// ListWebhooks returns user's webhooks, oldest first.
func (s *Store) ListWebhooks(ctx context.Context, user resname.User, pageSize int, pageToken string) ([]*forumv1.Webhook, string, error) {
	prefix := u64(user.ID)
	p := page{query: "ListWebhooks\x00" + user.String(), bucket: bucketWebhooks, start: prefix, end: prefixEnd(prefix), size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Webhook { return new(forumv1.Webhook) }, nil, nil)
}

// UpdateWebhook sets the fields paths of webhook w.Name from w (of
// target_url, event_types, themes, active), if w.Etag is empty or current.
// Activating a webhook resumes its delivery at once, from its cursor.
func (s *Store) UpdateWebhook(ctx context.Context, actor authz.Actor, n resname.Webhook, w *forumv1.Webhook, paths []string) (*forumv1.Webhook, error) {
	var out *forumv1.Webhook
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getWebhook(tx, n)
		if err != nil {
			return err
		}
		if err := checkEtag("webhook.etag", w.GetEtag(), cur.Etag); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "target_url":
				cur.TargetUrl = w.TargetUrl
			case "event_types":
				cur.EventTypes = slices.Clone(w.EventTypes)
			case "themes":
				cur.Themes = slices.Clone(w.Themes)
			case "active":
				if w.Active && !cur.Active {
					st, err := getWebhookState(tx, n)
					if err != nil {
						return err
					}
					st.Attempts, st.NextTry, st.FirstFailure = 0, 0, 0
					if err := putWebhookState(tx, n, st); err != nil {
						return err
					}
					cur.DisabledReason = ""
				}
				cur.Active = w.Active
			}
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		if err := putProto(tx, bucketWebhooks, webhookKey(n), cur); err != nil {
			return err
		}
		out = cur
		return s.appendEvent(tx, cur.UpdateTime, webhookEvent(actor, forumv1.EventType_EVENT_TYPE_WEBHOOK_UPDATED, cur, paths))
	})
	return out, err
}

// RotateWebhookSecret replaces webhook n's secret; the webhook returned
// holds the new one.
func (s *Store) RotateWebhookSecret(ctx context.Context, actor authz.Actor, n resname.Webhook, secret string) (*forumv1.Webhook, error) {
	var out *forumv1.Webhook
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getWebhook(tx, n)
		if err != nil {
			return err
		}
		cur.UpdateTime = s.timestamp(cur.UpdateTime)
		cur.Etag = etag(cur.UpdateTime)
		if err := putProto(tx, bucketWebhooks, webhookKey(n), cur); err != nil {
			return err
		}
		if err := tx.Put(bucketWebhookSecrets, webhookKey(n), []byte(secret)); err != nil {
			return err
		}
		out = cur
		return s.appendEvent(tx, cur.UpdateTime, webhookEvent(actor, forumv1.EventType_EVENT_TYPE_WEBHOOK_UPDATED, cur, []string{"secret"}))
	})
	if err != nil {
		return nil, err
	}
	out = proto.CloneOf(out)
	out.Secret = secret
	return out, nil
}

// DeleteWebhook deletes webhook n (if wantEtag is empty or current), its
// secret, state, queue and delivery log.
func (s *Store) DeleteWebhook(ctx context.Context, actor authz.Actor, n resname.Webhook, wantEtag string) error {
	return s.update(ctx, func(tx kv.Tx) error {
		cur, err := getWebhook(tx, n)
		if err != nil {
			return err
		}
		if err := checkEtag("etag", wantEtag, cur.Etag); err != nil {
			return err
		}
		k := webhookKey(n)
		for _, b := range []kv.Bucket{bucketWebhooks, bucketWebhookSecrets, bucketWebhookStates} {
			if err := tx.Delete(b, k); err != nil {
				return err
			}
		}
		for _, b := range []kv.Bucket{bucketWebhookLog, bucketWebhookQueue} {
			if err := deletePrefix(tx, b, k); err != nil {
				return err
			}
		}
		return s.appendEvent(tx, s.timestamp(nil), webhookEvent(actor, forumv1.EventType_EVENT_TYPE_WEBHOOK_DELETED, cur, nil))
	})
}

// deletePrefix deletes the keys of b that begin with prefix (every key,
// for a nil prefix).
func deletePrefix(tx kv.Tx, b kv.Bucket, prefix []byte) error {
	keys, err := keysIn(tx, b, prefix, prefixEnd(prefix), false)
	if err != nil {
		return err
	}
	return deleteKeys(tx, b, keys)
}

// keysIn returns copies of the keys of b in [start, end) (a nil end: to
// the last), ascending, or descending if reverse.
func keysIn(tx kv.Tx, b kv.Bucket, start, end []byte, reverse bool) ([][]byte, error) {
	var keys [][]byte
	err := tx.Scan(b, start, end, reverse, func(k, _ []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return true
	})
	return keys, err
}

// anyKey reports whether b holds a key that starts with prefix.
func anyKey(tx kv.Tx, b kv.Bucket, prefix []byte) (bool, error) {
	found := false
	err := tx.Scan(b, prefix, prefixEnd(prefix), false, func(_, _ []byte) bool {
		found = true
		return false
	})
	return found, err
}

// deleteKeys deletes keys from b.
func deleteKeys(tx kv.Tx, b kv.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := tx.Delete(b, k); err != nil {
			return err
		}
	}
	return nil
}

// ListWebhookDeliveries returns the attempts in webhook n's delivery log,
// newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, n resname.Webhook, pageSize int, pageToken string) ([]*forumv1.WebhookDelivery, string, error) {
	prefix := webhookKey(n)
	p := page{query: "ListWebhookDeliveries\x00" + n.String(), bucket: bucketWebhookLog, start: prefix, end: prefixEnd(prefix), reverse: true, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.WebhookDelivery { return new(forumv1.WebhookDelivery) }, func(tx kv.Tx) error {
		_, err := getWebhook(tx, n)
		return err
	}, nil)
}

// QueueWebhookDelivery queues, for webhook n's worker, a ping (redeliver
// nil) or the redelivery of the attempt redeliver, with its delivery id,
// and returns it as queued (no attempt time yet). A queued delivery is
// tried once, whether the webhook is active or not.
func (s *Store) QueueWebhookDelivery(ctx context.Context, n resname.Webhook, redeliver *resname.WebhookDelivery) (*forumv1.WebhookDelivery, error) {
	var out *forumv1.WebhookDelivery
	err := s.update(ctx, func(tx kv.Tx) error {
		if _, err := getWebhook(tx, n); err != nil {
			return err
		}
		seq, err := tx.NextSequence(bucketWebhookQueue)
		if err != nil {
			return err
		}
		q := queuedDelivery{DeliveryID: "ping-" + strconv.FormatUint(seq, 10), Attempt: 1}
		out = &forumv1.WebhookDelivery{EventType: "ping"}
		if redeliver != nil {
			prev := new(forumv1.WebhookDelivery)
			found, err := getProto(tx, bucketWebhookLog, webhookLogKey(n, redeliver.ID), prev)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: webhook delivery %s (the log keeps the last %d)", errs.NotFound, redeliver, WebhookLogSize)
			}
			q = queuedDelivery{Revision: prev.Revision, DeliveryID: prev.DeliveryId, Attempt: prev.Attempt + 1}
			out.EventType = prev.EventType
		}
		out.DeliveryId, out.Revision, out.Attempt = q.DeliveryID, q.Revision, q.Attempt
		v, err := json.Marshal(q)
		if err != nil {
			return err
		}
		return tx.Put(bucketWebhookQueue, webhookLogKey(n, seq), v)
	})
	if err == nil {
		s.queued.notify()
	}
	return out, err
}

// WebhookQueued returns a channel that the next QueueWebhookDelivery to
// commit closes. Webhook delivery waits on it beside Changed, which every
// write closes: a queued ping or redelivery should not wait for a pass
// that is running to end. Take it before reading the work (WebhookJobs), so
// that a delivery queued in between is not missed.
func (s *Store) WebhookQueued() <-chan struct{} { return s.queued.wait() }

// WebhookJob is one webhook's work, as WebhookJobs reads it.
type WebhookJob struct {
	Name    resname.Webhook
	Webhook *forumv1.Webhook
	Secret  string
	// Owner is who the webhook reads the log as: its owner, with their
	// role now.
	Owner authz.Actor
	// Cursor is the last revision delivered or skipped; Attempts the
	// failed attempts at the next, since FirstFailure; NextTry when to try
	// it again (zero: now).
	Cursor       uint64
	Attempts     int
	NextTry      time.Time
	FirstFailure time.Time
	// Queued are the pings and redeliveries waiting, oldest first.
	Queued []QueuedDelivery
}

// QueuedDelivery is a ping (Revision 0) or a redelivery.
type QueuedDelivery struct {
	Seq        uint64
	Revision   uint64
	DeliveryID string
	Attempt    int32
}

// WebhookJobs returns every webhook with work: the active ones (of owners
// who are not suspended) and those with queued deliveries.
func (s *Store) WebhookJobs(ctx context.Context) ([]WebhookJob, error) {
	var jobs []WebhookJob
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		jobs = nil
		var scanErr error
		err := tx.Scan(bucketWebhooks, nil, nil, false, func(k, v []byte) bool {
			w := new(forumv1.Webhook)
			if scanErr = proto.Unmarshal(v, w); scanErr != nil {
				return false
			}
			n := resname.Webhook{User: resname.User{ID: readU64(k[:8])}, ID: readU64(k[8:])}
			var j WebhookJob
			if j, scanErr = readWebhookJob(tx, n, w); scanErr != nil {
				return false
			}
			if (w.Active && j.Owner.User != "") || len(j.Queued) > 0 {
				jobs = append(jobs, j)
			}
			return true
		})
		if err == nil {
			err = scanErr
		}
		return err
	})
	return jobs, err
}

func readWebhookJob(tx kv.Tx, n resname.Webhook, w *forumv1.Webhook) (WebhookJob, error) {
	j := WebhookJob{Name: n, Webhook: w}
	secret, err := tx.Get(bucketWebhookSecrets, webhookKey(n))
	if err != nil {
		return j, err
	}
	j.Secret = string(secret)
	u, err := getUser(tx, n.User.ID)
	if err != nil {
		return j, err
	}
	if u.State != forumv1.UserState_USER_STATE_SUSPENDED {
		j.Owner = authz.Actor{User: u.Name, Role: u.Role}
	}
	st, err := getWebhookState(tx, n)
	if err != nil {
		return j, err
	}
	j.Cursor, j.Attempts = st.Cursor, st.Attempts
	if st.NextTry != 0 {
		j.NextTry = time.Unix(0, st.NextTry)
	}
	if st.FirstFailure != 0 {
		j.FirstFailure = time.Unix(0, st.FirstFailure)
	}
	prefix := webhookKey(n)
	var qerr error
	err = tx.Scan(bucketWebhookQueue, prefix, prefixEnd(prefix), false, func(k, v []byte) bool {
		var q queuedDelivery
		if qerr = json.Unmarshal(v, &q); qerr != nil {
			return false
		}
		j.Queued = append(j.Queued, QueuedDelivery{Seq: readU64(k[16:]), Revision: q.Revision, DeliveryID: q.DeliveryID, Attempt: q.Attempt})
		return true
	})
	if err == nil {
		err = qerr
	}
	return j, err
}

// WebhookAttempt is what the worker reports of one attempt
// (RecordWebhookAttempt).
type WebhookAttempt struct {
	// Delivery is the attempt, for the delivery log (its name is set
	// here).
	Delivery *forumv1.WebhookDelivery
	// Queued, if not 0, is the seq of the queued delivery this attempt
	// made: it leaves the queue, and the cursor stays.
	Queued uint64
	// Otherwise the attempt was at the event after the cursor, Delivery.
	// Revision: on success the cursor moves to it; on failure Attempts
	// grows and the next try is NextTry, unless Disable is set: then the
	// webhook is disabled (an EVENT_TYPE_WEBHOOK_DISABLED event) with
	// this reason.
	NextTry time.Time
	Disable string
}

// RecordWebhookAttempt records an attempt of webhook n's in one
// transaction: the delivery log (trimmed to WebhookLogSize), the state or
// the queue, and the disabling if it comes to that. A webhook deleted
// meanwhile records nothing.
func (s *Store) RecordWebhookAttempt(ctx context.Context, n resname.Webhook, a WebhookAttempt) error {
	return s.update(ctx, func(tx kv.Tx) error {
		w, err := getWebhook(tx, n)
		if errs.KindOf(err) == errs.NotFound {
			return nil
		} else if err != nil {
			return err
		}
		id, err := tx.NextSequence(bucketWebhookLog)
		if err != nil {
			return err
		}
		d := proto.CloneOf(a.Delivery)
		d.Name = resname.WebhookDelivery{Webhook: n, ID: id}.String()
		if err := putProto(tx, bucketWebhookLog, webhookLogKey(n, id), d); err != nil {
			return err
		}
		if err := trimWebhookLog(tx, n); err != nil {
			return err
		}
		if a.Queued != 0 {
			return tx.Delete(bucketWebhookQueue, webhookLogKey(n, a.Queued))
		}
		st, err := getWebhookState(tx, n)
		if err != nil {
			return err
		}
		if d.Revision <= st.Cursor {
			return nil // already recorded (a worker that raced itself)
		}
		switch {
		case d.Success:
			st = webhookState{Cursor: d.Revision}
		default:
			if st.FirstFailure == 0 {
				st.FirstFailure = d.AttemptTime.AsTime().UnixNano()
			}
			st.Attempts++
			st.NextTry = a.NextTry.UnixNano()
			if a.Disable != "" && w.Active {
				w.Active = false
				w.DisabledReason = a.Disable
				w.UpdateTime = s.timestamp(w.UpdateTime)
				w.Etag = etag(w.UpdateTime)
				if err := putProto(tx, bucketWebhooks, webhookKey(n), w); err != nil {
					return err
				}
				if err := s.appendEvent(tx, w.UpdateTime, webhookEvent(authz.SystemActor, forumv1.EventType_EVENT_TYPE_WEBHOOK_DISABLED, w, []string{"active"})); err != nil {
					return err
				}
			}
		}
		return putWebhookState(tx, n, st)
	})
}

// trimWebhookLog deletes the oldest attempts of webhook n beyond
// WebhookLogSize.
func trimWebhookLog(tx kv.Tx, n resname.Webhook) error {
	prefix := webhookKey(n)
	keys, err := keysIn(tx, bucketWebhookLog, prefix, prefixEnd(prefix), true)
	if err != nil {
		return err
	}
	return deleteKeys(tx, bucketWebhookLog, keys[min(len(keys), WebhookLogSize):])
}

// AdvanceWebhookCursor moves webhook n's cursor to rev, past events it
// does not send (filtered out, or not the owner's to read), if rev is
// ahead of it and no attempt at an event before rev is pending.
func (s *Store) AdvanceWebhookCursor(ctx context.Context, n resname.Webhook, rev uint64) error {
	return s.update(ctx, func(tx kv.Tx) error {
		st, err := getWebhookState(tx, n)
		if err != nil {
			return err
		}
		if v, err := tx.Get(bucketWebhooks, webhookKey(n)); err != nil || v == nil {
			return err
		}
		if rev <= st.Cursor || st.Attempts > 0 {
			return nil
		}
		return putWebhookState(tx, n, webhookState{Cursor: rev})
	})
}

// DisableWebhookBehindLog disables webhook n, with an
// EVENT_TYPE_WEBHOOK_DISABLED event and a reason, if the event after its
// cursor is older than the oldest the log keeps (the retention swept it
// before it was delivered): delivery cannot go on without skipping events,
// and skipping them silently would break the promise of at least once. The
// cursor moves to just before the oldest event kept, so that activating the
// webhook again resumes from there, past the gap the reason names. It
// reports whether it disabled the webhook (false if the cursor is not
// behind, or the webhook is gone or already inactive).
func (s *Store) DisableWebhookBehindLog(ctx context.Context, n resname.Webhook) (bool, error) {
	disabled := false
	err := s.update(ctx, func(tx kv.Tx) error {
		disabled = false
		w, err := getWebhook(tx, n)
		if errs.KindOf(err) == errs.NotFound {
			return nil
		} else if err != nil {
			return err
		}
		st, err := getWebhookState(tx, n)
		if err != nil {
			return err
		}
		_, oldest, err := eventBounds(tx)
		if err != nil {
			return err
		}
		if !w.Active || st.Cursor+1 >= oldest {
			return nil
		}
		w.Active = false
		w.DisabledReason = fmt.Sprintf("the event log no longer keeps the events after revision %d that this webhook had not yet received (revisions %d to %d are past the retention); activating it again resumes from revision %d",
			st.Cursor, st.Cursor+1, oldest-1, oldest)
		w.UpdateTime = s.timestamp(w.UpdateTime)
		w.Etag = etag(w.UpdateTime)
		if err := putProto(tx, bucketWebhooks, webhookKey(n), w); err != nil {
			return err
		}
		if err := putWebhookState(tx, n, webhookState{Cursor: oldest - 1}); err != nil {
			return err
		}
		disabled = true
		return s.appendEvent(tx, w.UpdateTime, webhookEvent(authz.SystemActor, forumv1.EventType_EVENT_TYPE_WEBHOOK_DISABLED, w, []string{"active"}))
	})
	return disabled, err
}

// Event of a webhook: seen by its owner and admins (see eventVisibility).
func webhookEventVisible(actor authz.Actor, ev *forumv1.Event) bool {
	n, err := resname.ParseWebhook(ev.Resource)
	return err == nil && authz.WebhookOwner(actor, n.User.String(), "see") == nil
}
