package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/filter"
	"github.com/forumhq/forum/server/webhook"
)

// maxWebhookFilters bounds a webhook's event_types and themes.
const maxWebhookFilters = 50

// webhookUpdatable are the fields UpdateWebhook changes.
var webhookUpdatable = []string{"target_url", "event_types", "themes", "active"}

type webhookService struct {
	forumv1.UnsafeWebhookServiceServer
	s *Server
}

// newWebhookSecret returns a new signing secret: 32 random bytes, in hex,
// after "whsec_".
func newWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + hex.EncodeToString(b)
}

// checkWebhookFields checks the fields paths of w (all of them on create),
// recording each violation under prefix.
func (w *webhookService) checkWebhookFields(ctx context.Context, v *errs.Violations, in *forumv1.Webhook, paths []string) {
	for _, p := range paths {
		switch p {
		case "target_url":
			if in.GetTargetUrl() == "" {
				v.Add("webhook.target_url", "is required")
			} else if err := webhook.CheckURL(ctx, in.GetTargetUrl(), w.s.webhookPrivate); err != nil {
				v.Add("webhook.target_url", "%v", err)
			}
		case "event_types":
			if len(in.GetEventTypes()) > maxWebhookFilters {
				v.Add("webhook.event_types", "at most %d", maxWebhookFilters)
			}
			for i, t := range in.GetEventTypes() {
				if _, ok := filter.ParseEventType(t); !ok {
					v.Add(fmt.Sprintf("webhook.event_types[%d]", i), "%q is not an event type (short forms such as \"reply.created\")", t)
				} else if slices.Contains(in.GetEventTypes()[:i], t) {
					v.Add(fmt.Sprintf("webhook.event_types[%d]", i), "%q appears twice", t)
				}
			}
		case "themes":
			if len(in.GetThemes()) > maxWebhookFilters {
				v.Add("webhook.themes", "at most %d", maxWebhookFilters)
			}
			for i, t := range in.GetThemes() {
				if _, err := resname.ParseTheme(t); err != nil {
					v.Add(fmt.Sprintf("webhook.themes[%d]", i), "%v", err)
				} else if slices.Contains(in.GetThemes()[:i], t) {
					v.Add(fmt.Sprintf("webhook.themes[%d]", i), "%q appears twice", t)
				}
			}
		}
	}
}

// normalizeEventTypes rewrites event types to their short forms.
func normalizeEventTypes(in *forumv1.Webhook) {
	for i, t := range in.EventTypes {
		if et, ok := filter.ParseEventType(t); ok {
			in.EventTypes[i] = filter.EventTypeName(et)
		}
	}
}

func (w *webhookService) CreateWebhook(ctx context.Context, req *forumv1.CreateWebhookRequest) (*forumv1.Webhook, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	in := req.GetWebhook()
	if in == nil {
		v.Add("webhook", "is required")
		return nil, v.Err()
	}
	w.checkWebhookFields(ctx, &v, in, []string{"target_url", "event_types", "themes"})
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.WebhookOwner(a, parent.String(), "create"); err != nil {
		return nil, err
	}
	spec := &forumv1.Webhook{TargetUrl: in.GetTargetUrl(), EventTypes: slices.Clone(in.GetEventTypes()), Themes: in.GetThemes()}
	normalizeEventTypes(spec)
	return w.s.store.CreateWebhook(ctx, a, parent, spec, newWebhookSecret())
}

// parseWebhook parses a webhook's name in field and checks the actor may
// act on it (verb).
func parseWebhook(ctx context.Context, field, name, verb string) (resname.Webhook, error) {
	n, err := resname.ParseWebhook(name)
	if err != nil {
		return n, errs.InvalidField(field, "%v", err)
	}
	return n, authz.WebhookOwner(actorFrom(ctx), n.User.String(), verb)
}

func (w *webhookService) GetWebhook(ctx context.Context, req *forumv1.GetWebhookRequest) (*forumv1.Webhook, error) {
	n, err := parseWebhook(ctx, "name", req.GetName(), "read")
	if err != nil {
		return nil, err
	}
	return w.s.store.GetWebhook(ctx, n)
}

func (w *webhookService) ListWebhooks(ctx context.Context, req *forumv1.ListWebhooksRequest) (*forumv1.ListWebhooksResponse, error) {
	var v errs.Violations
	a := actorFrom(ctx)
	parent := resolveUser(&v, "parent", req.GetParent(), a)
	size := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := authz.WebhookOwner(a, parent.String(), "list"); err != nil {
		return nil, err
	}
	hooks, next, err := w.s.store.ListWebhooks(ctx, parent, size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListWebhooksResponse{Webhooks: hooks, NextPageToken: next}, nil
}

func (w *webhookService) UpdateWebhook(ctx context.Context, req *forumv1.UpdateWebhookRequest) (*forumv1.Webhook, error) {
	in := req.GetWebhook()
	if in == nil {
		return nil, errs.InvalidField("webhook", "is required")
	}
	n, err := parseWebhook(ctx, "webhook.name", in.GetName(), "change")
	if err != nil {
		return nil, err
	}
	paths, err := updatePaths(req.GetUpdateMask(), in, webhookUpdatable, "etag", "name")
	if err != nil {
		return nil, err
	}
	var v errs.Violations
	w.checkWebhookFields(ctx, &v, in, paths)
	if err := v.Err(); err != nil {
		return nil, err
	}
	spec := &forumv1.Webhook{TargetUrl: in.GetTargetUrl(), EventTypes: slices.Clone(in.GetEventTypes()), Themes: in.GetThemes(), Active: in.GetActive(), Etag: in.GetEtag()}
	normalizeEventTypes(spec)
	return w.s.store.UpdateWebhook(ctx, actorFrom(ctx), n, spec, paths)
}

func (w *webhookService) DeleteWebhook(ctx context.Context, req *forumv1.DeleteWebhookRequest) (*forumv1.DeleteWebhookResponse, error) {
	n, err := parseWebhook(ctx, "name", req.GetName(), "delete")
	if err != nil {
		return nil, err
	}
	if err := w.s.store.DeleteWebhook(ctx, actorFrom(ctx), n, req.GetEtag()); err != nil {
		return nil, err
	}
	return &forumv1.DeleteWebhookResponse{}, nil
}

func (w *webhookService) RotateWebhookSecret(ctx context.Context, req *forumv1.RotateWebhookSecretRequest) (*forumv1.Webhook, error) {
	n, err := parseWebhook(ctx, "name", req.GetName(), "change")
	if err != nil {
		return nil, err
	}
	return w.s.store.RotateWebhookSecret(ctx, actorFrom(ctx), n, newWebhookSecret())
}

func (w *webhookService) ListWebhookDeliveries(ctx context.Context, req *forumv1.ListWebhookDeliveriesRequest) (*forumv1.ListWebhookDeliveriesResponse, error) {
	var v errs.Violations
	size := pageSize(&v, req.GetPageSize())
	if err := v.Err(); err != nil {
		return nil, err
	}
	n, err := parseWebhook(ctx, "parent", req.GetParent(), "read")
	if err != nil {
		return nil, err
	}
	ds, next, err := w.s.store.ListWebhookDeliveries(ctx, n, size, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &forumv1.ListWebhookDeliveriesResponse{Deliveries: ds, NextPageToken: next}, nil
}

func (w *webhookService) RedeliverWebhookDelivery(ctx context.Context, req *forumv1.RedeliverWebhookDeliveryRequest) (*forumv1.WebhookDelivery, error) {
	d, err := resname.ParseWebhookDelivery(req.GetName())
	if err != nil {
		return nil, errs.InvalidField("name", "%v", err)
	}
	if err := authz.WebhookOwner(actorFrom(ctx), d.Webhook.User.String(), "redeliver"); err != nil {
		return nil, err
	}
	return w.s.store.QueueWebhookDelivery(ctx, d.Webhook, &d)
}

func (w *webhookService) PingWebhook(ctx context.Context, req *forumv1.PingWebhookRequest) (*forumv1.WebhookDelivery, error) {
	n, err := parseWebhook(ctx, "name", req.GetName(), "ping")
	if err != nil {
		return nil, err
	}
	return w.s.store.QueueWebhookDelivery(ctx, n, nil)
}
