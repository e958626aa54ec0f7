package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// Convenings (schema 9) are kept in three buckets: convenings (slug →
// Convening, without thread_count), conveningsByStart (start date 0x00
// slug → nil: the list's order, most recent first) and conveningThreads
// (slug 0x00 thread id → nil: the threads that belong to each).

// conveningSlug returns the slug of `convenings/{slug}`.
func conveningSlug(name string) string { return strings.TrimPrefix(name, "convenings/") }

func conveningStartKey(c *forumv1.Convening) []byte {
	return append(append([]byte(c.StartDate), 0), conveningSlug(c.Name)...)
}

func conveningThreadKey(slug string, thread uint64) []byte {
	return append(append([]byte(slug), 0), u64(thread)...)
}

func getConvening(tx kv.Tx, slug string) (*forumv1.Convening, error) {
	c := new(forumv1.Convening)
	ok, err := getProto(tx, bucketConvenings, []byte(slug), c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: convening convenings/%s", errs.NotFound, slug)
	}
	return c, nil
}

// conveningView returns c as actor reads it: without the themes actor may
// not see, with the count of its threads actor may see.
func conveningView(tx kv.Tx, access *themeAccess, c *forumv1.Convening) (*forumv1.Convening, error) {
	out := proto.CloneOf(c)
	out.Themes = out.Themes[:0]
	for _, th := range c.Themes {
		ok, err := access.allows(tx, th)
		if err != nil {
			return nil, err
		}
		if ok {
			out.Themes = append(out.Themes, th)
		}
	}
	slug := conveningSlug(c.Name)
	prefix := append([]byte(slug), 0)
	var ids []uint64
	if err := tx.Scan(bucketConveningThreads, prefix, prefixEnd(prefix), false, func(k, _ []byte) bool {
		ids = append(ids, readU64(k[len(prefix):]))
		return true
	}); err != nil {
		return nil, err
	}
	for _, id := range ids {
		h, err := readThreadHead(tx, id)
		if errors.Is(err, errs.NotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if h.deleted {
			continue
		}
		if ok, err := access.allows(tx, h.theme); err != nil {
			return nil, err
		} else if ok {
			out.ThreadCount++
		}
	}
	return out, nil
}

// GetConvening returns convening name as actor reads it (conveningView).
func (s *Store) GetConvening(ctx context.Context, actor authz.Actor, name resname.Convening) (*forumv1.Convening, error) {
	var out *forumv1.Convening
	access := s.themeAccess(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		c, err := getConvening(tx, name.Slug)
		if err != nil {
			return err
		}
		out, err = conveningView(tx, access, c)
		return err
	})
	return out, err
}

// ListConvenings returns up to pageSize convenings, the most recent start
// first (then by name), of state (all if unspecified), and the token of
// the next page.
func (s *Store) ListConvenings(ctx context.Context, actor authz.Actor, state forumv1.ConveningState, pageSize int, pageToken string) ([]*forumv1.Convening, string, error) {
	query := fmt.Sprintf("ListConvenings\x00%d", state)
	cursor, err := s.decodeToken(query, pageToken)
	if err != nil {
		return nil, "", err
	}
	access := s.themeAccess(actor)
	var out []*forumv1.Convening
	var next string
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		var keys [][]byte
		if err := tx.Scan(bucketConveningsByStart, nil, cursor, true, func(k, _ []byte) bool {
			keys = append(keys, slices.Clone(k))
			return true
		}); err != nil {
			return err
		}
		var last []byte // the key of the last convening in out
		for _, k := range keys {
			i := strings.IndexByte(string(k), 0)
			c, err := getConvening(tx, string(k[i+1:]))
			if err != nil {
				return err
			}
			if state != forumv1.ConveningState_CONVENING_STATE_UNSPECIFIED && c.State != state {
				continue
			}
			if len(out) == pageSize {
				next = s.encodeToken(query, last)
				return nil
			}
			v, err := conveningView(tx, access, c)
			if err != nil {
				return err
			}
			out, last = append(out, v), k
		}
		return nil
	})
	return out, next, err
}

// checkConveningRefs checks that c's organizers and themes exist (the
// server checked their form), naming the field of the first that does not.
func checkConveningRefs(tx kv.Tx, c *forumv1.Convening) error {
	for i, o := range c.Organizers {
		if err := ownerExists(tx, fmt.Sprintf("convening.organizers[%d]", i), o); err != nil {
			return err
		}
	}
	for i, th := range c.Themes {
		n, err := resname.ParseTheme(th)
		if err == nil {
			_, err = getTheme(tx, n)
		}
		if errors.Is(err, errs.NotFound) {
			return errs.InvalidField(fmt.Sprintf("convening.themes[%d]", i), "%s does not exist", th)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// CreateConvening creates `convenings/{slug}` from c, checked by the
// caller but for whether its organizers and themes exist.
func (s *Store) CreateConvening(ctx context.Context, actor authz.Actor, slug string, c *forumv1.Convening, requestID string) (*forumv1.Convening, error) {
	var out *forumv1.Convening
	req := s.newRequest("CreateConvening", requestID, slug, c)
	err := s.update(ctx, func(tx kv.Tx) error {
		access := s.themeAccess(actor)
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			cur, err := getConvening(tx, conveningSlug(name))
			if err != nil {
				return err
			}
			out, err = conveningView(tx, access, cur)
			return err
		}
		if v, err := tx.Get(bucketConvenings, []byte(slug)); err != nil {
			return err
		} else if v != nil {
			return fmt.Errorf("%w: convening convenings/%s", errs.AlreadyExists, slug)
		}
		if err := checkConveningRefs(tx, c); err != nil {
			return err
		}
		now := s.timestamp(nil)
		rec := proto.CloneOf(c)
		rec.Name = resname.Convening{Slug: slug}.String()
		rec.ThreadCount = 0
		if rec.State == forumv1.ConveningState_CONVENING_STATE_UNSPECIFIED {
			rec.State = forumv1.ConveningState_CONVENING_STATE_PLANNED
		}
		rec.CreateTime, rec.UpdateTime, rec.Etag = now, now, etag(now)
		if err := putProto(tx, bucketConvenings, []byte(slug), rec); err != nil {
			return err
		}
		if err := tx.Put(bucketConveningsByStart, conveningStartKey(rec), nil); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, conveningEvent(actor, forumv1.EventType_EVENT_TYPE_CONVENING_CREATED, rec, nil)); err != nil {
			return err
		}
		if err := remember(tx, actor, req, rec.Name); err != nil {
			return err
		}
		var err error
		out, err = conveningView(tx, access, rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateConvening changes the fields of convening name named in paths
// (checked by the caller); c.Etag, if set, must be the current one. An
// end date before the start date, once the change is applied, is
// INVALID_ARGUMENT on end_date.
func (s *Store) UpdateConvening(ctx context.Context, actor authz.Actor, name resname.Convening, c *forumv1.Convening, paths []string) (*forumv1.Convening, error) {
	var out *forumv1.Convening
	err := s.update(ctx, func(tx kv.Tx) error {
		cur, err := getConvening(tx, name.Slug)
		if err != nil {
			return err
		}
		if err := checkEtag("convening.etag", c.GetEtag(), cur.Etag); err != nil {
			return err
		}
		next := proto.CloneOf(cur)
		for _, p := range paths {
			switch p {
			case "title":
				next.Title = c.Title
			case "description":
				next.Description, next.DescriptionHtml = c.Description, c.DescriptionHtml
			case "start_date":
				next.StartDate = c.StartDate
			case "end_date":
				next.EndDate = c.EndDate
			case "place":
				next.Place = c.Place
			case "country":
				next.Country = c.Country
			case "organizers":
				next.Organizers = slices.Clone(c.Organizers)
			case "themes":
				next.Themes = slices.Clone(c.Themes)
			case "state":
				next.State = c.State
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		if next.EndDate < next.StartDate {
			return errs.InvalidField("convening.end_date", "%s is before the start date, %s", next.EndDate, next.StartDate)
		}
		if err := checkConveningRefs(tx, next); err != nil {
			return err
		}
		if next.StartDate != cur.StartDate {
			if err := tx.Delete(bucketConveningsByStart, conveningStartKey(cur)); err != nil {
				return err
			}
			if err := tx.Put(bucketConveningsByStart, conveningStartKey(next), nil); err != nil {
				return err
			}
		}
		next.UpdateTime = s.timestamp(cur.UpdateTime)
		next.Etag = etag(next.UpdateTime)
		if err := putProto(tx, bucketConvenings, []byte(name.Slug), next); err != nil {
			return err
		}
		if err := s.appendEvent(tx, next.UpdateTime, conveningEvent(actor, forumv1.EventType_EVENT_TYPE_CONVENING_UPDATED, next, paths)); err != nil {
			return err
		}
		out, err = conveningView(tx, s.themeAccess(actor), next)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteConvening deletes a convening no thread belongs to, deleted
// threads included (FAILED_PRECONDITION: archive it instead).
func (s *Store) DeleteConvening(ctx context.Context, actor authz.Actor, name resname.Convening, wantEtag string) error {
	return s.update(ctx, func(tx kv.Tx) error {
		cur, err := getConvening(tx, name.Slug)
		if err != nil {
			return err
		}
		if err := checkEtag("etag", wantEtag, cur.Etag); err != nil {
			return err
		}
		if threads, err := anyKey(tx, bucketConveningThreads, append([]byte(name.Slug), 0)); err != nil {
			return err
		} else if threads {
			return fmt.Errorf("%w: threads belong to %s: archive it (state ARCHIVED) instead", errs.FailedPrecondition, name)
		}
		if err := tx.Delete(bucketConvenings, []byte(name.Slug)); err != nil {
			return err
		}
		if err := tx.Delete(bucketConveningsByStart, conveningStartKey(cur)); err != nil {
			return err
		}
		return s.appendEvent(tx, s.timestamp(nil), conveningEvent(actor, forumv1.EventType_EVENT_TYPE_CONVENING_DELETED, cur, nil))
	})
}

// conveningEvent is the event of a change to convening c.
func conveningEvent(actor authz.Actor, typ forumv1.EventType, c *forumv1.Convening, paths []string) *forumv1.Event {
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: c.Name, ChangedPaths: paths,
		ResourceState: &forumv1.Event_Convening{Convening: c},
	}
}

// setThreadConvening moves thread id from convening from to convening to
// (names; empty: none) in the conveningThreads index, checking that to
// exists (INVALID_ARGUMENT on field).
func setThreadConvening(tx kv.Tx, id uint64, from, to, field string) error {
	if from == to {
		return nil
	}
	if to != "" {
		if _, err := getConvening(tx, conveningSlug(to)); errors.Is(err, errs.NotFound) {
			return errs.InvalidField(field, "%s does not exist", to)
		} else if err != nil {
			return err
		}
		if err := tx.Put(bucketConveningThreads, conveningThreadKey(conveningSlug(to), id), nil); err != nil {
			return err
		}
	}
	if from != "" {
		return tx.Delete(bucketConveningThreads, conveningThreadKey(conveningSlug(from), id))
	}
	return nil
}

// readThreadConvening returns the convening recorded in thread id's record
// (forumv1.Thread field 26), read from the wire; empty if none or if the
// thread is gone.
func readThreadConvening(tx kv.Tx, id uint64) (string, error) {
	return readThreadString(tx, id, 26)
}
