package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	metaNotificationCursor  = []byte("notification_cursor")
	metaNotificationPartial = []byte("notification_partial")
)

// subscriptionTarget is the key part naming what n is on: [1][thread id]
// or [0][slug][0x00].
func subscriptionTarget(n resname.Subscription) []byte {
	if n.Thread.ID != 0 {
		return append([]byte{1}, u64(n.Thread.ID)...)
	}
	return append(append([]byte{0}, n.Theme.Slug...), 0)
}

func subscriptionKey(n resname.Subscription) []byte {
	return append(u64(n.User.ID), subscriptionTarget(n)...)
}

func subscriberKey(n resname.Subscription) []byte {
	return append(subscriptionTarget(n), u64(n.User.ID)...)
}

func notificationKey(n resname.Notification) []byte {
	return append(u64(n.User.ID), u64(n.ID)...)
}

// subscriptionLevel returns user's level on target (0 if none).
func subscriptionLevel(tx kv.Tx, n resname.Subscription) (forumv1.SubscriptionLevel, error) {
	v, err := tx.Get(bucketSubscribers, subscriberKey(n))
	if err != nil || len(v) != 1 {
		return 0, err
	}
	return forumv1.SubscriptionLevel(v[0]), nil
}

// putSubscription writes sub (named n) and its subscribers entry.
func putSubscription(tx kv.Tx, n resname.Subscription, sub *forumv1.Subscription) error {
	if err := putProto(tx, bucketSubscriptions, subscriptionKey(n), sub); err != nil {
		return err
	}
	return tx.Put(bucketSubscribers, subscriberKey(n), []byte{byte(sub.Level)})
}

// subscriptionTargetVisible checks that n's thread or theme exists and
// that its user may see it: NotFound otherwise, naming the target.
func (s *Store) subscriptionTargetVisible(tx kv.Tx, n resname.Subscription) error {
	u, err := getUser(tx, n.User.ID)
	if err != nil {
		return err
	}
	access := s.themeAccess(authz.Actor{User: u.Name, Role: u.Role})
	if n.Thread.ID != 0 {
		_, err := visibleThreadHead(tx, access, n.Thread.ID)
		return err
	}
	ok, err := access.allows(tx, n.Theme.String())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: theme %s", errs.NotFound, n.Theme)
	}
	return nil
}

// GetSubscription returns subscription n.
func (s *Store) GetSubscription(ctx context.Context, n resname.Subscription) (*forumv1.Subscription, error) {
	out := new(forumv1.Subscription)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		ok, err := getProto(tx, bucketSubscriptions, subscriptionKey(n), out)
		if err == nil && !ok {
			err = fmt.Errorf("%w: subscription %s", errs.NotFound, n)
		}
		return err
	})
	return out, err
}

// ListSubscriptions returns user's subscriptions: themes first, then
// threads, oldest thread first.
func (s *Store) ListSubscriptions(ctx context.Context, user resname.User, pageSize int, pageToken string) ([]*forumv1.Subscription, string, error) {
	prefix := u64(user.ID)
	p := page{query: "ListSubscriptions\x00" + user.String(), bucket: bucketSubscriptions, start: prefix, end: prefixEnd(prefix), size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.Subscription { return new(forumv1.Subscription) }, nil, nil)
}

// SetSubscription sets subscription n's level; with allowMissing it
// creates one when there is none, on a thread or theme its user may see
// (NotFound otherwise). A subscription the user sets is no longer
// automatic.
func (s *Store) SetSubscription(ctx context.Context, n resname.Subscription, level forumv1.SubscriptionLevel, allowMissing bool) (*forumv1.Subscription, error) {
	var out *forumv1.Subscription
	err := s.kv.Update(ctx, func(tx kv.Tx) error {
		out = new(forumv1.Subscription)
		ok, err := getProto(tx, bucketSubscriptions, subscriptionKey(n), out)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		if !ok {
			if !allowMissing {
				return fmt.Errorf("%w: subscription %s (set allow_missing to create it)", errs.NotFound, n)
			}
			if err := s.subscriptionTargetVisible(tx, n); err != nil {
				return err
			}
			out = &forumv1.Subscription{Name: n.String(), Target: n.Target(), CreateTime: now}
		}
		out.Level = level
		out.Automatic = false
		out.UpdateTime = now
		return putSubscription(tx, n, out)
	})
	return out, err
}

// DeleteSubscription removes subscription n; with allowMissing, a missing
// one is no error.
func (s *Store) DeleteSubscription(ctx context.Context, n resname.Subscription, allowMissing bool) error {
	return s.kv.Update(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bucketSubscriptions, subscriptionKey(n))
		if err != nil {
			return err
		}
		if v == nil {
			if allowMissing {
				return nil
			}
			return fmt.Errorf("%w: subscription %s", errs.NotFound, n)
		}
		if err := tx.Delete(bucketSubscriptions, subscriptionKey(n)); err != nil {
			return err
		}
		return tx.Delete(bucketSubscribers, subscriberKey(n))
	})
}

// notificationVisible reports whether the user (access's actor) may read
// the post of a notification of thread now: its theme, a thread not
// deleted.
func notificationVisible(tx kv.Tx, access *themeAccess, thread string) (bool, error) {
	t, err := resname.ParseThread(thread)
	if err != nil {
		return false, nil
	}
	h, err := readThreadHead(tx, t.ID)
	if errors.Is(err, errs.NotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if h.deleted {
		return false, nil
	}
	return access.allows(tx, h.theme)
}

// ListNotifications returns user's notifications, unread first, newest
// first within each, with the count of unread ones; those whose post the
// user may no longer read are left out. The page token holds the phase
// (unread, then all) and the last key.
func (s *Store) ListNotifications(ctx context.Context, user resname.User, pageSize int, pageToken string, unreadOnly bool) ([]*forumv1.Notification, string, int64, error) {
	query := fmt.Sprintf("ListNotifications\x00%s\x00%v", user, unreadOnly)
	cursor, err := s.decodeToken(query, pageToken)
	if err != nil {
		return nil, "", 0, err
	}
	phase := byte(0) // 0: unread, 1: read
	var last []byte
	if len(cursor) > 0 {
		phase, last = cursor[0], cursor[1:]
	}
	var (
		out    []*forumv1.Notification
		next   string
		unread int64
	)
	prefix := u64(user.ID)
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		u, err := getUser(tx, user.ID)
		if err != nil {
			return err
		}
		access := s.themeAccess(authz.Actor{User: u.Name, Role: u.Role})
		if unread, err = countUnread(tx, access, user); err != nil {
			return err
		}
		for ; phase < 2 && next == ""; phase, last = phase+1, nil {
			if phase == 1 && unreadOnly {
				break
			}
			end := prefixEnd(prefix)
			if len(last) > 0 {
				end = last
			}
			var ierr error
			scan := func(k []byte) bool {
				n := new(forumv1.Notification)
				if ok, err := getProto(tx, bucketNotifications, k, n); err != nil || !ok {
					ierr = err
					return err == nil
				}
				if phase == 1 && n.ReadTime == nil {
					return true // listed with the unread
				}
				if ok, err := notificationVisible(tx, access, n.Thread); err != nil || !ok {
					ierr = err
					return err == nil
				}
				if len(out) == pageSize {
					next = s.encodeToken(query, append([]byte{phase}, last...))
					return false
				}
				last = bytes.Clone(k)
				out = append(out, n)
				return true
			}
			b := bucketUnread
			if phase == 1 {
				b = bucketNotifications
			}
			err := tx.Scan(b, prefix, end, true, func(k, _ []byte) bool { return scan(k) })
			if err == nil {
				err = ierr
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, next, unread, err
}

// MaxUnreadCounted bounds the unread notifications counted: a count of
// MaxUnreadCounted means at least that many.
const MaxUnreadCounted = 1000

// countUnread counts user's unread notifications whose post the user may
// read now, up to MaxUnreadCounted.
func countUnread(tx kv.Tx, access *themeAccess, user resname.User) (int64, error) {
	prefix := u64(user.ID)
	var n int64
	var ierr error
	err := tx.Scan(bucketUnread, prefix, prefixEnd(prefix), true, func(k, _ []byte) bool {
		m := new(forumv1.Notification)
		ok, err := getProto(tx, bucketNotifications, k, m)
		if err == nil && ok {
			ok, err = notificationVisible(tx, access, m.Thread)
		}
		if err != nil {
			ierr = err
			return false
		}
		if ok {
			n++
		}
		return n < MaxUnreadCounted
	})
	if err == nil {
		err = ierr
	}
	return n, err
}

// getU64 reads the u64 at key k of bucket b: 0 and false when there is
// none. An error of the read is returned, never read as 0: a cursor read
// as 0 would make the notifications of the whole log again.
func getU64(tx kv.Tx, b kv.Bucket, k []byte) (uint64, bool, error) {
	v, err := tx.Get(b, k)
	if err != nil || v == nil {
		return 0, false, err
	}
	return readU64(v), true, nil
}

// MarkNotificationsRead marks read user's notifications named (each must
// be the user's), or, when before is set, every one created at or before
// it. It returns how many it marked and how many remain unread.
func (s *Store) MarkNotificationsRead(ctx context.Context, user resname.User, names []resname.Notification, before *timestamppb.Timestamp) (marked, unread int64, err error) {
	err = s.kv.Update(ctx, func(tx kv.Tx) error {
		marked = 0
		prefix := u64(user.ID)
		u, err := getUser(tx, user.ID)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		mark := func(k []byte) error {
			n := new(forumv1.Notification)
			if ok, err := getProto(tx, bucketNotifications, k, n); err != nil || !ok {
				return err
			}
			if n.ReadTime != nil {
				return nil
			}
			n.ReadTime = now
			if err := putProto(tx, bucketNotifications, k, n); err != nil {
				return err
			}
			marked++
			return tx.Delete(bucketUnread, k)
		}
		if before != nil {
			var keys [][]byte
			var ierr error
			err := tx.Scan(bucketUnread, prefix, prefixEnd(prefix), false, func(k, _ []byte) bool {
				n := new(forumv1.Notification)
				ok, err := getProto(tx, bucketNotifications, k, n)
				if err != nil {
					ierr = err
					return false
				}
				if ok && !n.CreateTime.AsTime().After(before.AsTime()) {
					keys = append(keys, bytes.Clone(k))
				}
				return true
			})
			if err == nil {
				err = ierr
			}
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := mark(k); err != nil {
					return err
				}
			}
		}
		for _, n := range names {
			v, err := tx.Get(bucketNotifications, notificationKey(n))
			if err != nil {
				return err
			}
			if v == nil {
				return errs.InvalidField("names", "%s does not exist", n)
			}
			if err := mark(notificationKey(n)); err != nil {
				return err
			}
		}
		unread, err = countUnread(tx, s.themeAccess(authz.Actor{User: u.Name, Role: u.Role}), user)
		return err
	})
	return marked, unread, err
}

// readMarkKey is the key of user's read mark on thread.
func readMarkKey(user, thread uint64) []byte { return append(u64(user), u64(thread)...) }

// MarkThreadRead records that user has read thread up to reply (0: its
// last reply); the mark only moves forward. It returns how many replies
// remain unread after it.
func (s *Store) MarkThreadRead(ctx context.Context, actor authz.Actor, thread resname.Thread, reply uint64) (int32, error) {
	user, err := resname.ParseUser(actor.User)
	if err != nil {
		return 0, fmt.Errorf("%w: only a signed-in user has a read position", errs.PermissionDenied)
	}
	var unread int32
	err = s.kv.Update(ctx, func(tx kv.Tx) error {
		if _, err := visibleThreadHead(tx, s.themeAccess(actor), thread.ID); err != nil {
			return err
		}
		lastID, err := lastReplyID(tx, thread.ID)
		if err != nil {
			return err
		}
		if reply == 0 {
			reply = lastID
		} else if _, err := getReply(tx, thread.ID, reply); err != nil {
			return err
		}
		cur, marked, err := getU64(tx, bucketReadMarks, readMarkKey(user.ID, thread.ID))
		if err != nil {
			return err
		}
		if reply > cur || !marked {
			if err := tx.Put(bucketReadMarks, readMarkKey(user.ID, thread.ID), u64(max(reply, cur))); err != nil {
				return err
			}
			cur = max(reply, cur)
		}
		n, _, err := unreadAfter(tx, thread.ID, cur)
		unread = n
		return err
	})
	return unread, err
}

// lastReplyID returns the id of thread's last reply (0 if none).
func lastReplyID(tx kv.Tx, thread uint64) (uint64, error) {
	prefix := u64(thread)
	var last uint64
	err := tx.Scan(bucketReplies, prefix, prefixEnd(prefix), true, func(k, _ []byte) bool {
		last = binary.BigEndian.Uint64(k[8:])
		return false
	})
	return last, err
}

// maxUnreadCount bounds the replies unreadAfter counts.
const maxUnreadCount = 1000

// unreadAfter counts thread's replies after reply id mark (at most
// maxUnreadCount), and returns the first of them (0 if none).
func unreadAfter(tx kv.Tx, thread, mark uint64) (int32, uint64, error) {
	var n int32
	var first uint64
	prefix := u64(thread)
	err := tx.Scan(bucketReplies, append(u64(thread), u64(mark+1)...), prefixEnd(prefix), false, func(k, _ []byte) bool {
		if first == 0 {
			first = binary.BigEndian.Uint64(k[8:])
		}
		n++
		return n < maxUnreadCount
	})
	return n, first, err
}

// setUnread fills t's unread_reply_count and first_unread_reply for the
// actor, if the actor has a read mark on it.
func setUnread(tx kv.Tx, actor authz.Actor, t *forumv1.Thread) error {
	user, err := resname.ParseUser(actor.User)
	if err != nil {
		return nil
	}
	th, err := resname.ParseThread(t.Name)
	if err != nil {
		return nil
	}
	v, err := tx.Get(bucketReadMarks, readMarkKey(user.ID, th.ID))
	if err != nil || v == nil {
		return err
	}
	n, first, err := unreadAfter(tx, th.ID, readU64(v))
	if err != nil {
		return err
	}
	t.UnreadReplyCount = n
	if first != 0 {
		t.FirstUnreadReply = resname.Reply{Thread: th, ID: first}.String()
	}
	return nil
}

// NotificationCursor returns the last revision notifications were derived
// from.
func (s *Store) NotificationCursor(ctx context.Context) (uint64, error) {
	var cur uint64
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		cur, _, err = getU64(tx, bucketMeta, metaNotificationCursor)
		return err
	})
	return cur, err
}

// Mentioner returns the names a post's Markdown mentions (render.Mentions).
type Mentioner func(markdown string) []string

// DeriveOptions bound one DeriveNotifications call.
type DeriveOptions struct {
	// MaxEvents is the most events read; 0 means 256.
	MaxEvents int
	// MaxNotifications is about the most notifications made: the call
	// stops after the event that passes it, and an event with more
	// recipients is told in parts, across calls; 0 means 2,000.
	MaxNotifications int
	// Mentions finds a post's mentions.
	Mentions Mentioner
	// Mail queues in the outbox the mail of the notifications their
	// recipients' settings ask mail for (mentions, replies). Off when
	// forumd has no SMTP server: the outbox does not fill up with mail that
	// cannot leave.
	Mail bool
}

// DeriveResult is what DeriveNotifications did.
type DeriveResult struct {
	// Start is the cursor before the call.
	Start uint64
	// Cursor is the last revision fully derived after the call.
	Cursor uint64
	// Head is the log's head when read, or, when the cursor passed the
	// events of the notifications the call made, as the call left it.
	Head uint64
	// Made is how many notifications were made.
	Made int
}

// DeriveNotifications makes the notifications of the events after the
// notification cursor, and moves the cursor past them, in one
// transaction: a crash leaves either all of it or none, so no
// notification is lost or made twice. See the NotificationService's
// documentation for who is told of what.
func (s *Store) DeriveNotifications(ctx context.Context, opt DeriveOptions) (DeriveResult, error) {
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 256
	}
	if opt.MaxNotifications <= 0 {
		opt.MaxNotifications = 2000
	}
	var res DeriveResult
	// First a read: nothing to do is the common case of a wake-up, and a
	// read does not queue behind the writers as a write does.
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		if res.Cursor, _, err = getU64(tx, bucketMeta, metaNotificationCursor); err != nil {
			return err
		}
		res.Head, _, err = getU64(tx, bucketMeta, metaEventHead)
		return err
	})
	res.Start = res.Cursor
	if err != nil || res.Cursor >= res.Head {
		return res, err
	}
	made := false
	err = s.kv.Update(ctx, func(tx kv.Tx) error {
		d := &deriver{s: s, tx: tx, opt: opt}
		var err error
		res, err = d.run()
		made = res.Made > 0
		return err
	})
	if err == nil && made {
		s.changes.notify() // the notifications' events
	}
	return res, err
}

// deriver derives the notifications of one transaction.
type deriver struct {
	s       *Store
	tx      kv.Tx
	opt     DeriveOptions
	made    int
	users   map[uint64]*forumv1.User
	threads map[uint64]*forumv1.Thread // read in this transaction
	// watching holds the watchers of each target read in this
	// transaction, by subscriptionTarget (see watchers).
	watching map[string][]uint64
	// events are the notifications' events, which run appends.
	events []*forumv1.Event
	now    *timestamppb.Timestamp
	// partialUser, when the event being told was told in part before, is
	// the last recipient told.
	partialUser uint64
	// stopAt, when the event's recipients pass MaxNotifications, is the
	// last recipient told in this call (0 if all were).
	stopAt uint64
}

func (d *deriver) run() (DeriveResult, error) {
	tx := d.tx
	cur, _, err := getU64(tx, bucketMeta, metaNotificationCursor)
	if err != nil {
		return DeriveResult{}, err
	}
	head, _, err := getU64(tx, bucketMeta, metaEventHead)
	if err != nil {
		return DeriveResult{}, err
	}
	res := DeriveResult{Start: cur, Cursor: cur, Head: head}
	if cur >= head {
		return res, nil
	}
	oldest, _, err := getU64(tx, bucketMeta, metaEventOldest)
	if err != nil {
		return res, err
	}
	if oldest > cur+1 {
		cur = oldest - 1 // swept before it was read: nothing to tell of those
	}
	partialRev, partialUser := uint64(0), uint64(0)
	v, err := tx.Get(bucketMeta, metaNotificationPartial)
	if err != nil {
		return res, err
	}
	if len(v) == 16 {
		partialRev, partialUser = readU64(v), readU64(v[8:])
	}
	d.now = d.s.timestamp(nil)
	d.users = map[uint64]*forumv1.User{}
	d.threads = map[uint64]*forumv1.Thread{}
	d.watching = map[string][]uint64{}
	var events []*forumv1.Event
	var perr error
	var last uint64 // the last event scanned, if it notifies no one
	scanned := 0
	err = tx.Scan(bucketEvents, eventKey(cur+1), nil, false, func(k, v []byte) bool {
		scanned++
		// Most events notify no one (half of them are notifications'
		// own): their type is read from the wire, and only the others are
		// unmarshalled.
		typ, err := eventTypeOf(v)
		if err != nil {
			perr = fmt.Errorf("store: corrupt record in %s: %w", bucketEvents, err)
			return false
		}
		if notifies(typ) {
			ev := new(forumv1.Event)
			if perr = proto.Unmarshal(v, ev); perr != nil {
				perr = fmt.Errorf("store: corrupt record in %s: %w", bucketEvents, perr)
				return false
			}
			events = append(events, ev)
		} else {
			last = readU64(k)
		}
		return scanned < d.opt.MaxEvents
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return res, err
	}
	for _, ev := range events {
		d.partialUser, d.stopAt = 0, 0
		if ev.Revision == partialRev {
			d.partialUser = partialUser
		}
		if err := d.event(ev); err != nil {
			return res, fmt.Errorf("store: notifications of revision %d: %w", ev.Revision, err)
		}
		if d.stopAt != 0 {
			// Told in part: the cursor stays before it.
			if err := tx.Put(bucketMeta, metaNotificationPartial, append(u64(ev.Revision), u64(d.stopAt)...)); err != nil {
				return res, err
			}
			break
		}
		cur = ev.Revision
		if d.made >= d.opt.MaxNotifications {
			break
		}
	}
	if d.stopAt == 0 && (len(events) == 0 || cur == events[len(events)-1].Revision) && last > cur {
		cur = last // the events after the last that notifies: none to tell
	}
	if d.stopAt == 0 && partialRev != 0 && cur >= partialRev {
		if err := tx.Delete(bucketMeta, metaNotificationPartial); err != nil {
			return res, err
		}
	}
	if err := d.s.appendEvents(tx, d.now, d.events...); err != nil {
		return res, err
	}
	if cur == head && len(d.events) > 0 && d.events[len(d.events)-1].Revision > head {
		// Every event is told: the notifications' own events, appended
		// after head, notify no one either, and the cursor passes them
		// (the next pass need not read them).
		cur = d.events[len(d.events)-1].Revision
		res.Head = cur
	}
	res.Cursor, res.Made = cur, d.made
	return res, tx.Put(bucketMeta, metaNotificationCursor, u64(cur))
}

// notifies reports whether an event of type t may notify anyone
// (deriver.event).
func notifies(t forumv1.EventType) bool {
	switch t {
	case forumv1.EventType_EVENT_TYPE_THREAD_CREATED, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED,
		forumv1.EventType_EVENT_TYPE_REPLY_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED,
		forumv1.EventType_EVENT_TYPE_ACTION_ITEM_CREATED, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_UPDATED, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_DUE:
		return true
	}
	return false
}

// actionItem tells the owners of an action item (the user, or the members
// of the owning organisation) that it was given to them (created, or its
// owner changed) or that it is due.
func (d *deriver) actionItem(ev *forumv1.Event) error {
	item := ev.GetActionItem()
	th, err := resname.ParseThread(ev.Thread)
	if item == nil || err != nil {
		return nil
	}
	kind := forumv1.NotificationKind_NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED
	switch {
	case ev.Type == forumv1.EventType_EVENT_TYPE_ACTION_ITEM_DUE:
		kind = forumv1.NotificationKind_NOTIFICATION_KIND_ACTION_ITEM_DUE
	case ev.Type == forumv1.EventType_EVENT_TYPE_ACTION_ITEM_UPDATED && !slices.Contains(ev.ChangedPaths, "owner"):
		return nil
	}
	actor, _ := resname.ParseUser(ev.Actor) // none for forumd's reminders
	var owners []uint64
	if u, err := resname.ParseUser(item.Owner); err == nil {
		owners = append(owners, u.ID)
	} else if o, err := resname.ParseOrganization(item.Owner); err == nil {
		prefix := themePrefix(o.Slug)
		if err := d.tx.Scan(bucketOrgUsers, prefix, prefixEnd(prefix), false, func(k, _ []byte) bool {
			owners = append(owners, readU64(k[len(prefix):]))
			return true
		}); err != nil {
			return err
		}
	}
	body := item.Title
	if item.DueDate != "" {
		body += " (" + item.DueDate + ")"
	}
	p := notifyPost{name: th.String(), thread: th.String(), title: item.ThreadTitle, theme: item.Theme, body: body, threadID: th.ID}
	p.excerpt = excerpt(body, 200)
	themeName := resname.Theme{Slug: themeSlug(item.Theme)}
	slices.Sort(owners)
	told, last := 0, uint64(0)
	for _, u := range owners {
		if u == actor.ID || u <= d.partialUser {
			continue
		}
		if told == d.opt.MaxNotifications {
			d.stopAt = last // the rest in the next call
			return nil
		}
		if err := d.tell(ev, p, th, themeName, u, kind); err != nil {
			return err
		}
		told, last = told+1, u
	}
	return nil
}

// kindRank orders the kinds when one user would be told of one event in
// several ways: the most personal wins.
func kindRank(k forumv1.NotificationKind) int {
	switch k {
	case forumv1.NotificationKind_NOTIFICATION_KIND_MENTION:
		return 5
	case forumv1.NotificationKind_NOTIFICATION_KIND_REPLY, forumv1.NotificationKind_NOTIFICATION_KIND_ANSWER_ACCEPTED:
		return 4
	case forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP:
		return 3
	case forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED:
		return 2
	}
	return 1
}

// post is what a notification says of the post it is about.
type notifyPost struct {
	name, thread, title, theme, body string
	excerpt                          string // of body
	threadID, replyID                uint64
	author                           uint64
}

func (d *deriver) event(ev *forumv1.Event) error {
	switch ev.Type {
	case forumv1.EventType_EVENT_TYPE_ACTION_ITEM_CREATED, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_UPDATED, forumv1.EventType_EVENT_TYPE_ACTION_ITEM_DUE:
		return d.actionItem(ev)
	case forumv1.EventType_EVENT_TYPE_THREAD_CREATED, forumv1.EventType_EVENT_TYPE_THREAD_UPDATED,
		forumv1.EventType_EVENT_TYPE_REPLY_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED:
	default:
		return nil
	}
	actor, err := resname.ParseUser(ev.Actor)
	if err != nil {
		return nil // forumd's own commands notify no one
	}
	th, err := resname.ParseThread(ev.Thread)
	if err != nil {
		return nil
	}
	t, err := d.thread(th.ID, ev)
	if errors.Is(err, errs.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if t.DeleteTime != nil {
		return nil
	}
	p := notifyPost{name: t.Name, thread: t.Name, title: t.Title, theme: t.Theme, body: t.Body, threadID: th.ID}
	if a, err := resname.ParseUser(t.Author); err == nil {
		p.author = a.ID
	}
	rcpt := map[uint64]forumv1.NotificationKind{}
	add := func(user uint64, kind forumv1.NotificationKind) {
		if user == 0 || user == actor.ID {
			return
		}
		if k, ok := rcpt[user]; !ok || kindRank(kind) > kindRank(k) {
			rcpt[user] = kind
		}
	}
	themeName := resname.Theme{Slug: themeSlug(t.Theme)}
	switch ev.Type {
	case forumv1.EventType_EVENT_TYPE_THREAD_CREATED:
		if err := d.defaultSubscription(actor, th, forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING); err != nil {
			return err
		}
		if err := d.mentions(p, actor, p.body, add); err != nil {
			return err
		}
		if err := d.watchers(resname.Subscription{Theme: themeName}, forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST, add); err != nil {
			return err
		}
		if parent, err := resname.ParseThread(t.FollowUpOf); err == nil {
			pt, err := getThread(d.tx, parent.ID)
			if err == nil {
				if a, err := resname.ParseUser(pt.Author); err == nil {
					add(a.ID, forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP)
				}
				if err := d.watchers(resname.Subscription{Thread: parent}, forumv1.NotificationKind_NOTIFICATION_KIND_FOLLOW_UP, add); err != nil {
					return err
				}
			} else if !errors.Is(err, errs.NotFound) {
				return err
			}
		}
	case forumv1.EventType_EVENT_TYPE_THREAD_UPDATED:
		if slices.Contains(ev.ChangedPaths, "body") {
			if err := d.mentions(p, actor, p.body, add); err != nil {
				return err
			}
		}
		if slices.Contains(ev.ChangedPaths, "accepted_answer") {
			// The answer's author, told of the answer (the event changes
			// nothing else).
			if rn, err := resname.ParseReply(ev.GetThreadResource().GetAcceptedAnswer()); err == nil && rn.Thread.ID == th.ID {
				r, err := readReplyHead(d.tx, th.ID, rn.ID)
				if err != nil && !errors.Is(err, errs.NotFound) {
					return err
				}
				if err == nil && !r.deleted {
					p.name, p.body, p.replyID = r.name, r.body, rn.ID
					if a, err := resname.ParseUser(r.author); err == nil {
						add(a.ID, forumv1.NotificationKind_NOTIFICATION_KIND_ANSWER_ACCEPTED)
					}
				}
			}
		}
		if slices.Contains(ev.ChangedPaths, "state") && ev.GetThreadResource().GetState() == forumv1.ThreadState_THREAD_STATE_RESOLVED {
			add(p.author, forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED)
			if err := d.watchers(resname.Subscription{Thread: th}, forumv1.NotificationKind_NOTIFICATION_KIND_RESOLVED, add); err != nil {
				return err
			}
		}
	case forumv1.EventType_EVENT_TYPE_REPLY_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED:
		rn, err := resname.ParseReply(ev.Resource)
		if err != nil {
			return nil
		}
		r, err := readReplyHead(d.tx, th.ID, rn.ID)
		if errors.Is(err, errs.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if r.deleted {
			return nil
		}
		p.name, p.body, p.replyID = r.name, r.body, rn.ID
		if ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_UPDATED {
			if err := d.mentions(p, actor, p.body, add); err != nil {
				return err
			}
			break
		}
		if err := d.defaultSubscription(actor, th, forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_TRACKING); err != nil {
			return err
		}
		if err := d.mentions(p, actor, p.body, add); err != nil {
			return err
		}
		to := p.author
		if irt, err := resname.ParseReply(r.inReplyTo); r.inReplyTo != "" && err == nil {
			if pr, err := readReplyHead(d.tx, irt.Thread.ID, irt.ID); err == nil {
				if a, err := resname.ParseUser(pr.author); err == nil {
					to = a.ID
				}
			} else if !errors.Is(err, errs.NotFound) {
				return err
			}
		}
		add(to, forumv1.NotificationKind_NOTIFICATION_KIND_REPLY)
		if err := d.watchers(resname.Subscription{Thread: th}, forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST, add); err != nil {
			return err
		}
		if err := d.watchers(resname.Subscription{Theme: themeName}, forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST, add); err != nil {
			return err
		}
	}
	users := make([]uint64, 0, len(rcpt))
	for u := range rcpt {
		if u > d.partialUser {
			users = append(users, u)
		}
	}
	slices.Sort(users)
	if len(users) > 0 {
		p.excerpt = excerpt(p.body, 200) // once for every recipient
	}
	told, last := 0, uint64(0)
	for _, u := range users {
		if told == d.opt.MaxNotifications {
			d.stopAt = last // the rest in the next call
			return nil
		}
		if err := d.tell(ev, p, th, themeName, u, rcpt[u]); err != nil {
			return err
		}
		told, last = told+1, u
	}
	return nil
}

// thread returns thread id as it is now, read once per transaction (an
// event of the thread itself reads it again: it may have changed it).
func (d *deriver) thread(id uint64, ev *forumv1.Event) (*forumv1.Thread, error) {
	if t, ok := d.threads[id]; ok && ev.GetThreadResource() == nil {
		return t, nil
	}
	t, err := getThread(d.tx, id)
	if err != nil {
		return nil, err
	}
	d.threads[id] = t
	return t, nil
}

// defaultSubscription subscribes user to thread at level, unless the user
// has a subscription to it already.
func (d *deriver) defaultSubscription(user resname.User, thread resname.Thread, level forumv1.SubscriptionLevel) error {
	n := resname.Subscription{User: user, Thread: thread}
	if v, err := d.tx.Get(bucketSubscriptions, subscriptionKey(n)); err != nil || v != nil {
		return err
	}
	delete(d.watching, string(subscriptionTarget(n)))
	return putSubscription(d.tx, n, &forumv1.Subscription{
		Name: n.String(), Target: n.Target(), Level: level, Automatic: true, CreateTime: d.now, UpdateTime: d.now,
	})
}

// watchers adds the users who watch target (no user set) as kind. The
// watchers of a target are read once per transaction (a busy thread has
// many replies in one); defaultSubscription, the one writer of
// subscriptions in it, forgets what it changes.
func (d *deriver) watchers(target resname.Subscription, kind forumv1.NotificationKind, add func(uint64, forumv1.NotificationKind)) error {
	prefix := subscriptionTarget(target)
	users, ok := d.watching[string(prefix)]
	if !ok {
		err := d.tx.Scan(bucketSubscribers, prefix, prefixEnd(prefix), false, func(k, v []byte) bool {
			if len(v) == 1 && forumv1.SubscriptionLevel(v[0]) == forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING && len(k) == len(prefix)+8 {
				users = append(users, binary.BigEndian.Uint64(k[len(prefix):]))
			}
			return true
		})
		if err != nil {
			return err
		}
		d.watching[string(prefix)] = users
	}
	for _, u := range users {
		add(u, kind)
	}
	return nil
}

// mentionKey is the key of user in the mentioned bucket of post p.
func mentionKey(p notifyPost, user uint64) []byte {
	return append(append(u64(p.threadID), u64(p.replyID)...), u64(user)...)
}

// mentions adds the users that body mentions and were not told of a
// mention in this post before: users by username, and the members of a
// group the author may mention (a member of it, or a moderator).
func (d *deriver) mentions(p notifyPost, author resname.User, body string, add func(uint64, forumv1.NotificationKind)) error {
	if d.opt.Mentions == nil {
		return nil
	}
	names := d.opt.Mentions(body)
	if len(names) > maxDerivedMentions {
		names = names[:maxDerivedMentions]
	}
	mention := func(user uint64) error {
		if user == author.ID {
			return nil
		}
		if v, err := d.tx.Get(bucketMentioned, mentionKey(p, user)); err != nil || v != nil {
			return err
		}
		add(user, forumv1.NotificationKind_NOTIFICATION_KIND_MENTION)
		return nil // tell records it
	}
	for _, name := range names {
		if v, err := d.tx.Get(bucketUsernames, []byte(name)); err != nil {
			return err
		} else if v != nil {
			if err := mention(readU64(v)); err != nil {
				return err
			}
			continue
		}
		if !resname.ValidSlug(name, resname.MaxSlugLen) {
			continue
		}
		g, err := getGroup(d.tx, resname.Group{Slug: name})
		if errors.Is(err, errs.NotFound) {
			continue
		} else if err != nil {
			return err
		}
		au, err := d.user(author.ID)
		if err != nil || au == nil {
			return err
		}
		a := authz.Actor{User: au.Name, Role: au.Role}
		if member, err := isMember(d.tx, a, name); err != nil {
			return err
		} else if !member && !a.Moderator() {
			continue
		}
		for _, m := range g.Members {
			if u, err := resname.ParseUser(m); err == nil {
				if err := mention(u.ID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// maxDerivedMentions bounds the names of one post that are looked up
// (the server refuses a post with more than render.MaxMentions; this
// guards posts written before that bound).
const maxDerivedMentions = 50

// user returns user id's record (nil if there is none), read once per
// transaction.
func (d *deriver) user(id uint64) (*forumv1.User, error) {
	if u, ok := d.users[id]; ok {
		return u, nil
	}
	u, err := getUser(d.tx, id)
	if errors.Is(err, errs.NotFound) {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.users[id] = u
	return u, nil
}

// tell makes user's notification of kind about post p (event ev), unless
// the user is suspended, has muted the thread (or its theme, without a
// level on the thread), or may not read the post.
func (d *deriver) tell(ev *forumv1.Event, p notifyPost, thread resname.Thread, theme resname.Theme, user uint64, kind forumv1.NotificationKind) error {
	u, err := d.user(user)
	if err != nil || u == nil || u.State == forumv1.UserState_USER_STATE_SUSPENDED {
		return err
	}
	uname := resname.User{ID: user}
	tl, err := subscriptionLevel(d.tx, resname.Subscription{User: uname, Thread: thread})
	if err != nil {
		return err
	}
	hl, err := subscriptionLevel(d.tx, resname.Subscription{User: uname, Theme: theme})
	if err != nil {
		return err
	}
	muted := forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_MUTED
	if tl == muted || tl == 0 && hl == muted {
		return nil
	}
	if kind == forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST && tl != 0 && tl != forumv1.SubscriptionLevel_SUBSCRIPTION_LEVEL_WATCHING && p.replyID != 0 {
		return nil // the thread's own level (tracking) wins over a watched theme
	}
	access := d.s.themeAccess(authz.Actor{User: u.Name, Role: u.Role})
	if ok, err := access.allows(d.tx, p.theme); err != nil || !ok {
		return err
	}
	id, err := d.tx.NextSequence(bucketNotifications)
	if err != nil {
		return err
	}
	n := resname.Notification{User: uname, ID: id}
	out := &forumv1.Notification{
		Name: n.String(), Kind: kind, Actor: ev.Actor, Post: p.name, Thread: p.thread,
		ThreadTitle: p.title, Theme: p.theme, Excerpt: p.excerpt,
		Revision: ev.Revision, CreateTime: d.now,
	}
	k := notificationKey(n)
	if err := putProto(d.tx, bucketNotifications, k, out); err != nil {
		return err
	}
	if err := d.tx.Put(bucketUnread, k, nil); err != nil {
		return err
	}
	if kind == forumv1.NotificationKind_NOTIFICATION_KIND_MENTION {
		if err := d.tx.Put(bucketMentioned, mentionKey(p, user), nil); err != nil {
			return err
		}
	}
	if d.opt.Mail && u.Email != "" {
		if want, err := wantsMail(d.tx, uname, kind); err != nil {
			return err
		} else if want {
			if err := queueMail(d.tx, outboxEntry{User: user, Notification: id, Created: d.now.AsTime().UnixNano()}); err != nil {
				return err
			}
		}
	}
	d.made++
	// By reference, as replies' events are (replyEvent): the notification
	// is in its own record, which changes only when it is read
	// (resolveNotification). run appends them all at the end.
	d.events = append(d.events, &forumv1.Event{
		Actor: ev.Actor, Type: forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED, Resource: out.Name,
		Theme: p.theme, Thread: p.thread,
	})
	return nil
}

// excerpt returns the start of markdown as one line of at most n
// characters: runs of white space become one space, and a line cut short
// ends in "…". It reads no more of markdown than it needs (a post may be
// 64 KiB).
func excerpt(markdown string, n int) string {
	buf := make([]byte, 0, min(len(markdown), 4*n)+len("…"))
	count, cut := 0, 0 // characters in buf; buf's length at n-1 of them
	space := false
	for _, r := range markdown {
		if unicode.IsSpace(r) {
			space = count > 0
			continue
		}
		if space {
			buf = append(buf, ' ')
			space = false
			if count++; count == n-1 {
				cut = len(buf)
			}
		}
		buf = utf8.AppendRune(buf, r)
		if count++; count == n-1 {
			cut = len(buf)
		} else if count > n {
			return string(append(bytes.TrimRight(buf[:cut], " "), "…"...))
		}
	}
	return string(buf)
}
