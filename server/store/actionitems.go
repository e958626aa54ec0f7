package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// Action items (schema 9) are kept in actionItems (thread id, item id →
// ActionItem, without thread_title, theme and convening, which come from
// the thread when read) and actionItemReminders (thread id, item id,
// stage → nil: the reminders sent, QueueActionItemReminders).

func actionItemKey(n resname.ActionItem) []byte { return append(u64(n.Thread.ID), u64(n.ID)...) }

// ActionItemMatch decides whether a list keeps an item (the server's
// parsed filter), given the names `owner = me` stands for (the caller and
// their organisation); nil keeps every item.
type ActionItemMatch func(item *forumv1.ActionItem, me []string) bool

// ownerExists checks that owner, `users/{id}` or
// `organizations/{slug}`, exists (INVALID_ARGUMENT on field).
func ownerExists(tx kv.Tx, field, owner string) error {
	var err error
	if u, perr := resname.ParseUser(owner); perr == nil {
		_, err = getUser(tx, u.ID)
	} else {
		_, err = getOrganizationNamed(tx, owner)
	}
	if errors.Is(err, errs.NotFound) {
		return errs.InvalidField(field, "%s does not exist", owner)
	}
	return err
}

// inOwner reports whether actor is a member of owner, when owner is an
// organisation (authz.CloseActionItem).
func inOwner(tx kv.Tx, actor authz.Actor, owner string) (bool, error) {
	org, err := resname.ParseOrganization(owner)
	if err != nil {
		return false, nil
	}
	u, err := resname.ParseUser(actor.User)
	if err != nil {
		return false, nil
	}
	v, err := tx.Get(bucketOrgUsers, orgUserKey(org.Slug, u.ID))
	return v != nil, err
}

// itemView returns item as readers get it: with its thread's title, theme
// and convening.
func itemView(item *forumv1.ActionItem, t *forumv1.Thread) *forumv1.ActionItem {
	out := proto.CloneOf(item)
	out.ThreadTitle, out.Theme, out.Convening = t.Title, t.Theme, t.Convening
	return out
}

// visibleItemThread returns thread n if actor may read it (NOT_FOUND if
// not).
func (s *Store) visibleItemThread(tx kv.Tx, actor authz.Actor, n resname.Thread) (*forumv1.Thread, error) {
	t, _, err := visibleThread(tx, s.themeAccess(actor), n)
	return t, err
}

// CreateActionItem creates an action item on follow-up thread parent.
// The caller checked its fields and that actor is a moderator; the store
// checks the thread (a FOLLOW_UP, not deleted) and the owner.
func (s *Store) CreateActionItem(ctx context.Context, actor authz.Actor, parent resname.Thread, in *forumv1.ActionItem, paths []string, requestID string) (*forumv1.ActionItem, error) {
	var out *forumv1.ActionItem
	req := s.newRequest("CreateActionItem", requestID, parent.String(), in)
	err := s.update(ctx, func(tx kv.Tx) error {
		t, err := s.visibleItemThread(tx, actor, parent)
		if err != nil {
			return err
		}
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseActionItem(name)
			item := new(forumv1.ActionItem)
			if _, err := getProto(tx, bucketActionItems, actionItemKey(n), item); err != nil {
				return err
			}
			out = itemView(item, t)
			return nil
		}
		if t.Kind != forumv1.ThreadKind_THREAD_KIND_FOLLOW_UP {
			return fmt.Errorf("%w: %s is a %s, not a FOLLOW_UP: only follow-up threads have action items", errs.FailedPrecondition, parent, kindWord(t.Kind))
		}
		if t.DeleteTime != nil {
			return fmt.Errorf("%w: thread %s is deleted", errs.FailedPrecondition, parent)
		}
		if err := ownerExists(tx, "action_item.owner", in.Owner); err != nil {
			return err
		}
		id, err := tx.NextSequence(bucketActionItems)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		item := &forumv1.ActionItem{
			Name: resname.ActionItem{Thread: parent, ID: id}.String(), Title: in.Title, Owner: in.Owner,
			DueDate: in.DueDate, State: forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN, ClosingNote: in.ClosingNote,
			Creator: actor.User, CreateTime: now, UpdateTime: now, Etag: etag(now),
		}
		if in.State != forumv1.ActionItemState_ACTION_ITEM_STATE_UNSPECIFIED {
			item.State = in.State
		}
		item.History = []*forumv1.ActionItemChange{change(actor, paths, item, in.ClosingNote)}
		if err := putProto(tx, bucketActionItems, actionItemKey(resname.ActionItem{Thread: parent, ID: id}), item); err != nil {
			return err
		}
		out = itemView(item, t)
		if err := s.appendEvent(tx, now, actionItemEvent(actor, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_CREATED, out, paths)); err != nil {
			return err
		}
		return remember(tx, actor, req, item.Name)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// change is the history entry of a change of item's paths by actor, made
// at item's update time.
func change(actor authz.Actor, paths []string, item *forumv1.ActionItem, note string) *forumv1.ActionItemChange {
	return &forumv1.ActionItemChange{
		Actor: actor.User, Time: item.UpdateTime, ChangedPaths: slices.Clone(paths),
		State: item.State, Owner: item.Owner, DueDate: item.DueDate, Title: item.Title, Note: note,
	}
}

// actionItemEvent is the event of a change to item (as readers get it).
func actionItemEvent(actor authz.Actor, typ forumv1.EventType, item *forumv1.ActionItem, paths []string) *forumv1.Event {
	n, _ := resname.ParseActionItem(item.Name)
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: item.Name, ChangedPaths: paths,
		Theme: item.Theme, Thread: n.Thread.String(),
		ResourceState: &forumv1.Event_ActionItem{ActionItem: item},
	}
}

// UpdateActionItem changes the fields of item name named in paths (checked
// by the caller). Title, owner and due_date are the moderators'; state and
// closing_note the owner's (mayClose). in.Etag, if set, must be current.
func (s *Store) UpdateActionItem(ctx context.Context, actor authz.Actor, name resname.ActionItem, in *forumv1.ActionItem, paths []string) (*forumv1.ActionItem, error) {
	var out *forumv1.ActionItem
	err := s.update(ctx, func(tx kv.Tx) error {
		t, err := s.visibleItemThread(tx, actor, name.Thread)
		if err != nil {
			return err
		}
		cur := new(forumv1.ActionItem)
		if ok, err := getProto(tx, bucketActionItems, actionItemKey(name), cur); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: action item %s", errs.NotFound, name)
		}
		if err := checkEtag("action_item.etag", in.Etag, cur.Etag); err != nil {
			return err
		}
		next := proto.CloneOf(cur)
		for _, p := range paths {
			switch p {
			case "title", "owner", "due_date":
				if err := authz.AssignActionItem(actor, p); err != nil {
					return err
				}
			case "state", "closing_note":
				in, err := inOwner(tx, actor, cur.Owner)
				if err != nil {
					return err
				}
				if err := authz.CloseActionItem(actor, cur.Owner, in); err != nil {
					return err
				}
			}
			switch p {
			case "title":
				next.Title = in.Title
			case "owner":
				if err := ownerExists(tx, "action_item.owner", in.Owner); err != nil {
					return err
				}
				next.Owner = in.Owner
			case "due_date":
				next.DueDate = in.DueDate
			case "state":
				next.State = in.State
			case "closing_note":
				next.ClosingNote = in.ClosingNote
			default:
				return errs.InvalidField("update_mask", "%q cannot be updated", p)
			}
		}
		if t.DeleteTime != nil {
			return fmt.Errorf("%w: thread %s is deleted", errs.FailedPrecondition, name.Thread)
		}
		next.UpdateTime = s.timestamp(cur.UpdateTime)
		next.Etag = etag(next.UpdateTime)
		note := ""
		if slices.Contains(paths, "closing_note") {
			note = next.ClosingNote
		}
		next.History = append(next.History, change(actor, paths, next, note))
		if err := putProto(tx, bucketActionItems, actionItemKey(name), next); err != nil {
			return err
		}
		out = itemView(next, t)
		return s.appendEvent(tx, next.UpdateTime, actionItemEvent(actor, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_UPDATED, out, paths))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetActionItem returns item name, if actor may read its thread.
func (s *Store) GetActionItem(ctx context.Context, actor authz.Actor, name resname.ActionItem) (*forumv1.ActionItem, error) {
	var out *forumv1.ActionItem
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		t, err := s.visibleItemThread(tx, actor, name.Thread)
		if err != nil {
			return err
		}
		item := new(forumv1.ActionItem)
		if ok, err := getProto(tx, bucketActionItems, actionItemKey(name), item); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: action item %s", errs.NotFound, name)
		}
		out = itemView(item, t)
		return nil
	})
	return out, err
}

// itemOrder orders items as lists give them: the earliest due first,
// those without a date last, then by thread and id.
func itemOrder(a, b *forumv1.ActionItem) int {
	if (a.DueDate == "") != (b.DueDate == "") {
		if a.DueDate == "" {
			return 1 // no date: last
		}
		return -1
	}
	if c := cmp.Compare(a.DueDate, b.DueDate); c != 0 {
		return c
	}
	an, _ := resname.ParseActionItem(a.Name)
	bn, _ := resname.ParseActionItem(b.Name)
	if c := cmp.Compare(an.Thread.ID, bn.Thread.ID); c != 0 {
		return c
	}
	return cmp.Compare(an.ID, bn.ID)
}

// itemSortKey is the page token's key of item: what itemOrder compares.
func itemSortKey(item *forumv1.ActionItem) []byte {
	n, _ := resname.ParseActionItem(item.Name)
	flag := byte(0)
	if item.DueDate == "" {
		flag = 1
	}
	return append(append(append([]byte{flag}, item.DueDate...), 0), append(u64(n.Thread.ID), u64(n.ID)...)...)
}

// ListActionItems returns up to pageSize items of thread (every thread
// actor may read when thread is nil) that match keeps, in itemOrder, and
// the token of the next page. query identifies the request's parameters
// (the filter's canonical form), which the token is bound to.
func (s *Store) ListActionItems(ctx context.Context, actor authz.Actor, thread *resname.Thread, match ActionItemMatch, query string, pageSize int, pageToken string) ([]*forumv1.ActionItem, string, error) {
	query = "ListActionItems\x00" + actor.User + "\x00" + query
	if thread != nil {
		query += "\x00" + thread.String()
	}
	cursor, err := s.decodeToken(query, pageToken)
	if err != nil {
		return nil, "", err
	}
	access := s.themeAccess(actor)
	var out []*forumv1.ActionItem
	var next string
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		var start, end []byte
		if thread != nil {
			if _, _, err := visibleThread(tx, access, *thread); err != nil {
				return err
			}
			start = u64(thread.ID)
			end = prefixEnd(start)
		}
		var me []string
		if u, err := resname.ParseUser(actor.User); err == nil {
			me = append(me, actor.User)
			if user, err := getUser(tx, u.ID); err == nil && user.Organization != "" {
				me = append(me, user.Organization)
			} else if err != nil && !errors.Is(err, errs.NotFound) {
				return err
			}
		}
		threads := map[uint64]*forumv1.Thread{} // nil: not visible
		var all []*forumv1.ActionItem
		var perr error
		err := tx.Scan(bucketActionItems, start, end, false, func(k, v []byte) bool {
			tid := readU64(k)
			t, seen := threads[tid]
			if !seen {
				t, perr = getThread(tx, tid)
				if errors.Is(perr, errs.NotFound) {
					t, perr = nil, nil
				}
				if perr != nil {
					return false
				}
				if t != nil {
					ok, err := access.allows(tx, t.Theme)
					if err != nil {
						perr = err
						return false
					}
					if !ok || t.DeleteTime != nil && !authz.SeeDeleted(actor, t.Author) {
						t = nil
					}
				}
				threads[tid] = t
			}
			if t == nil {
				return true
			}
			item := new(forumv1.ActionItem)
			if perr = proto.Unmarshal(v, item); perr != nil {
				perr = fmt.Errorf("store: corrupt record in %s: %w", bucketActionItems, perr)
				return false
			}
			item = itemView(item, t)
			if match == nil || match(item, me) {
				all = append(all, item)
			}
			return true
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		slices.SortFunc(all, itemOrder)
		for _, item := range all {
			if cursor != nil && string(itemSortKey(item)) <= string(cursor) {
				continue
			}
			if len(out) == pageSize {
				next = s.encodeToken(query, itemSortKey(out[len(out)-1]))
				break
			}
			out = append(out, item)
		}
		return nil
	})
	return out, next, err
}

// The stages of an item's reminders (actionItemReminders).
const (
	reminderDueSoon = 1 // due in two days or less
	reminderOverdue = 2 // a day or more past due
)

// QueueActionItemReminders appends an EVENT_TYPE_ACTION_ITEM_DUE event,
// once each, for every open item due within two days of now (changed_paths
// "due_soon") and every open item a day or more past due ("overdue"): the
// notifier tells their owners. Dates are days in UTC. Who is due is read
// in a read transaction, and the events are written in one write (each
// only if its reminder is still unsent); it returns how many it wrote.
func (s *Store) QueueActionItemReminders(ctx context.Context, now time.Time) (int, error) {
	today := now.UTC().Format(time.DateOnly)
	soon := now.UTC().AddDate(0, 0, 2).Format(time.DateOnly)
	late := now.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	type due struct {
		key   []byte
		item  *forumv1.ActionItem
		stage byte
	}
	var dues []due
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		dues = dues[:0]
		threads := map[uint64]*forumv1.Thread{}
		var perr error
		err := tx.Scan(bucketActionItems, nil, nil, false, func(k, v []byte) bool {
			item := new(forumv1.ActionItem)
			if perr = proto.Unmarshal(v, item); perr != nil {
				return false
			}
			if item.State != forumv1.ActionItemState_ACTION_ITEM_STATE_OPEN || item.DueDate == "" {
				return true
			}
			stage := byte(0)
			switch {
			case item.DueDate <= late:
				stage = reminderOverdue
			case item.DueDate >= today && item.DueDate <= soon:
				stage = reminderDueSoon
			default:
				return true
			}
			key := append(slices.Clone(k), stage)
			if sent, err := tx.Get(bucketItemReminders, key); err != nil || sent != nil {
				perr = err
				return err == nil
			}
			tid := readU64(k)
			t, ok := threads[tid]
			if !ok {
				if t, perr = getThread(tx, tid); perr != nil && !errors.Is(perr, errs.NotFound) {
					return false
				}
				perr = nil
				threads[tid] = t
			}
			if t == nil || t.DeleteTime != nil {
				return true
			}
			dues = append(dues, due{key, itemView(item, t), stage})
			return true
		})
		if err == nil {
			err = perr
		}
		return err
	})
	if err != nil || len(dues) == 0 {
		return 0, err
	}
	n := 0
	err = s.update(ctx, func(tx kv.Tx) error {
		n = 0
		now := s.timestamp(nil)
		for _, d := range dues {
			if sent, err := tx.Get(bucketItemReminders, d.key); err != nil {
				return err
			} else if sent != nil {
				continue
			}
			if err := tx.Put(bucketItemReminders, d.key, nil); err != nil {
				return err
			}
			path := "due_soon"
			if d.stage == reminderOverdue {
				path = "overdue"
			}
			if err := s.appendEvent(tx, now, actionItemEvent(authz.Actor{}, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_DUE, d.item, []string{path})); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
