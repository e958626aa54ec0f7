package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Webhooks: forumd POSTs the events of the log, as JSON, to a user's own
// HTTP endpoints, signed with the webhook's secret (see
// VerifyWebhookSignature). A webhook reads the log as its owner would, from
// its own durable cursor, in revision order and at least once.
//
// Webhook names are `users/{user}/webhooks/{webhook}` with the user's
// number; `users/me` is accepted only as the parent of CreateWebhook and
// Webhooks.

// CreateWebhook creates a webhook of the user named parent (`users/{user}`,
// or `users/me` for the Client's user) and returns it with its signing
// secret (`whsec_…`), which no other call returns until RotateWebhookSecret:
// keep it now. Set target_url (http or https; hosts on loopback, private or
// link-local addresses are refused with ErrInvalidArgument unless forumd
// runs with --webhook-allow-private) and optionally event_types (short
// forms such as "reply.created"; none sends every type) and themes
// (`themes/{theme}`; none sends every theme's events). The webhook starts
// active, with the events committed after it.
//
// CreateWebhook is not retried after ErrUnavailable (its request has no
// request_id, and its response holds the secret): list the webhooks and
// delete an orphan, or rotate its secret.
func (c *Client) CreateWebhook(ctx context.Context, parent string, webhook *forumv1.Webhook) (*forumv1.Webhook, error) {
	return c.hooks.CreateWebhook(ctx, &forumv1.CreateWebhookRequest{Parent: parent, Webhook: webhook})
}

// GetWebhook returns the webhook named name
// (`users/{user}/webhooks/{webhook}`), without its secret. Users read their
// own webhooks, admins anyone's (else ErrPermissionDenied).
func (c *Client) GetWebhook(ctx context.Context, name string) (*forumv1.Webhook, error) {
	return c.hooks.GetWebhook(ctx, &forumv1.GetWebhookRequest{Name: name})
}

// UpdateWebhook changes the fields paths of the webhook named by
// webhook.name to webhook's: any of "target_url", "event_types", "themes"
// and "active" (empty event_types or themes send every type or theme).
// Setting active on a webhook forumd disabled resumes delivery from its
// cursor, the event that kept failing first. If webhook.etag is set, the
// change is made only while it is the current etag, else ErrConflict.
// webhook is not changed; the result is the webhook after the change.
func (c *Client) UpdateWebhook(ctx context.Context, webhook *forumv1.Webhook, paths ...string) (*forumv1.Webhook, error) {
	return c.hooks.UpdateWebhook(ctx, &forumv1.UpdateWebhookRequest{Webhook: webhook, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
}

// DeleteWebhook deletes the webhook named name, its delivery state and its
// delivery log; nothing more is sent to it. etag, if not empty, must be its
// current etag (else ErrConflict).
func (c *Client) DeleteWebhook(ctx context.Context, name, etag string) error {
	_, err := c.hooks.DeleteWebhook(ctx, &forumv1.DeleteWebhookRequest{Name: name, Etag: etag})
	return err
}

// RotateWebhookSecret gives the webhook named name a new signing secret and
// returns the webhook with it, shown only this once. Deliveries are signed
// with the new secret from then on, retries of earlier events included.
// It is not retried after ErrUnavailable: call it again.
func (c *Client) RotateWebhookSecret(ctx context.Context, name string) (*forumv1.Webhook, error) {
	return c.hooks.RotateWebhookSecret(ctx, &forumv1.RotateWebhookSecretRequest{Name: name})
}

// PingWebhook queues a test delivery to the webhook named name, sent once
// (Forum-Event: ping), even while the webhook is inactive, and returns it
// as queued: its delivery_id and attempt, no attempt_time yet. Its outcome
// shows in WebhookDeliveries.
func (c *Client) PingWebhook(ctx context.Context, name string) (*forumv1.WebhookDelivery, error) {
	return c.hooks.PingWebhook(ctx, &forumv1.PingWebhookRequest{Name: name})
}

// RedeliverWebhookDelivery queues the delivery named name
// (`users/{user}/webhooks/{webhook}/deliveries/{delivery}`, as
// WebhookDeliveries lists it) to be sent again, once, with the same
// Forum-Delivery id, and returns it as queued. Only the last 100 attempts
// are kept: an older one is ErrNotFound.
func (c *Client) RedeliverWebhookDelivery(ctx context.Context, name string) (*forumv1.WebhookDelivery, error) {
	return c.hooks.RedeliverWebhookDelivery(ctx, &forumv1.RedeliverWebhookDeliveryRequest{Name: name})
}

// Webhooks returns the webhooks of a user, oldest first, without their
// secrets, following next_page_token. req names the user in parent,
// users/{user} or users/me for the caller, and may set page_size; it is not
// changed. parent is required: a nil req or an empty parent fails with
// ErrInvalidArgument. Users list their own webhooks, admins anyone's;
// other callers get ErrPermissionDenied. Iteration stops at the first
// error, yielded with a nil webhook.
func (c *Client) Webhooks(ctx context.Context, req *forumv1.ListWebhooksRequest) iter.Seq2[*forumv1.Webhook, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.Webhook, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.hooks.ListWebhooks(ctx, r)
		return resp.GetWebhooks(), resp.GetNextPageToken(), err
	})
}

// WebhookDeliveries returns the delivery attempts of the webhook named in
// req's parent (`users/{user}/webhooks/{webhook}`), newest first,
// following next_page_token; the last 100 attempts are kept. req may set
// page_size and is not changed; a nil req or an empty parent fails with
// ErrInvalidArgument. Iteration stops at the first error, yielded with a
// nil delivery.
func (c *Client) WebhookDeliveries(ctx context.Context, req *forumv1.ListWebhookDeliveriesRequest) iter.Seq2[*forumv1.WebhookDelivery, error] {
	base := cloneOr(req)
	return paginate(base.GetPageToken(), func(token string) ([]*forumv1.WebhookDelivery, string, error) {
		r := proto.CloneOf(base)
		r.PageToken = token
		resp, err := c.hooks.ListWebhookDeliveries(ctx, r)
		return resp.GetDeliveries(), resp.GetNextPageToken(), err
	})
}

// The headers of a webhook delivery, besides Content-Type:
// application/json and User-Agent: forum-webhooks/1.
const (
	// WebhookSignatureHeader is `t=<unix seconds>,v1=<hex>`: the
	// HMAC-SHA256, keyed with the webhook's secret, of the time, a dot and
	// the body (see VerifyWebhookSignature).
	WebhookSignatureHeader = "Forum-Signature"
	// WebhookDeliveryHeader is the delivery's id, the same for every
	// attempt to deliver one event (and for a redelivery): a receiver
	// drops a delivery whose id it has processed already.
	WebhookDeliveryHeader = "Forum-Delivery"
	// WebhookEventHeader is the event's short type ("reply.created",
	// EventTypeName), or "ping".
	WebhookEventHeader = "Forum-Event"
)

// DefaultWebhookTolerance is the tolerance VerifyWebhookSignature applies
// when given none: how far a signature's time may be from the receiver's
// clock.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrWebhookSignature is what every error of VerifyWebhookSignature
// matches (errors.Is): the delivery is not to be trusted, and the
// receiver answers it with an error status (400 or 401).
var ErrWebhookSignature = errors.New("client: webhook signature refused")

// VerifyWebhookSignature checks header, a delivery's Forum-Signature
// (`t=<unix seconds>,v1=<hex HMAC-SHA256>`), against body, the request's
// body exactly as received (before any JSON decoding), and secret, the
// webhook's whole secret as CreateWebhook or RotateWebhookSecret returned
// it ("whsec_" included). It returns nil if one v1 value is the
// HMAC-SHA256 of "<t>.<body>" keyed with secret, compared in constant
// time, and t is within tolerance of now, either way; tolerance zero or
// negative means DefaultWebhookTolerance. Otherwise it returns an error
// that matches ErrWebhookSignature and says why (malformed, too old or in
// the future, no match). The time check bounds replays of a captured
// delivery; the Forum-Delivery id lets the receiver drop duplicates.
//
// Every attempt, retries and redeliveries included, is signed afresh at
// the time it is sent, so a receiver whose clock is right accepts it.
func VerifyWebhookSignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrWebhookSignature)
	}
	var (
		ts     string
		hasT   bool
		hashes [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed %s header %q", ErrWebhookSignature, WebhookSignatureHeader, header)
		}
		switch k {
		case "t":
			if hasT {
				return fmt.Errorf("%w: %s header has two times", ErrWebhookSignature, WebhookSignatureHeader)
			}
			ts, hasT = v, true
		case "v1":
			h, err := hex.DecodeString(v)
			if err != nil || len(h) != sha256.Size {
				return fmt.Errorf("%w: %s v1 %q is not a hex SHA-256", ErrWebhookSignature, WebhookSignatureHeader, v)
			}
			hashes = append(hashes, h)
		}
		// Other keys (later schemes) are ignored.
	}
	if !hasT || len(hashes) == 0 {
		return fmt.Errorf("%w: %s header %q lacks t= or v1=", ErrWebhookSignature, WebhookSignatureHeader, header)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s time %q is not a number of seconds", ErrWebhookSignature, WebhookSignatureHeader, ts)
	}
	// Compare in seconds, so that a huge t cannot overflow a Duration.
	diff := now.Unix() - sec
	limit := int64(tolerance / time.Second)
	if diff > limit || -diff > limit {
		return fmt.Errorf("%w: signed at %s, more than %v from now (%s)", ErrWebhookSignature,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), tolerance, now.UTC().Format(time.RFC3339))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	want := m.Sum(nil)
	ok := false
	for _, h := range hashes {
		// Check them all, so that the time taken does not say which
		// matched.
		if hmac.Equal(h, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches the body", ErrWebhookSignature)
	}
	return nil
}
