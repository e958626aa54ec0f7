package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The event log. Every change the store makes appends one Event in the
// transaction that makes it (appendEvent), so a change and its event are
// durable together or not at all. An event's revision is the head's plus
// one, read and written in that transaction: since the engine commits
// transactions one after another (kv), revisions follow commit order with
// no gap, and a transaction that fails takes its revision with it.
//
// Every write of a thread, reply, theme, group, organisation, user,
// invitation or API token appends exactly one event; a request_id replay
// writes nothing and appends nothing. Login sessions, passwords, request
// records, the sweep (which deletes only those), migrations and the demo
// themes of a new database make no events: the first event of a database,
// new or migrated to schema 4, is revision 1.
//
// Readers read the log through a View, which sees only what is durable
// (kv's contract), so no reader ever receives an event that a crash could
// take back. The store wakes them after every Update that returns
// (changes), and one goroutine of the store, the feed, reads each new
// event once and hands it to every live subscriber that may see it
// (Subscribe).

// DefaultEventRetention is how long events are kept when Options does not
// say.
const DefaultEventRetention = 90 * 24 * time.Hour

var (
	metaEventHead   = []byte("event_head")   // u64: the revision of the last event
	metaEventOldest = []byte("event_oldest") // u64: the oldest revision kept; absent means 1
)

// eventKey is the key of revision rev in the events bucket.
func eventKey(rev uint64) []byte { return u64(rev) }

// appendEvent appends ev to the log in tx, at the next revision, with the
// time now; it fills in ev's name, revision and time. ev is marshalled
// here, once, and not kept: its resource may be the very value the caller
// goes on to change or return (the write's `out`), without a copy, since
// no reference to it survives the call. Its cost on every write is that
// marshal, one Get and two Puts.
func (s *Store) appendEvent(tx kv.Tx, now *timestamppb.Timestamp, ev *forumv1.Event) error {
	return s.appendEvents(tx, now, ev)
}

// appendEvents appends events, in order, as appendEvent would one by one,
// writing the head once (a transaction that appends many, the
// notifications' deriver, pays one Get and one Put of the head in all).
func (s *Store) appendEvents(tx kv.Tx, now *timestamppb.Timestamp, events ...*forumv1.Event) error {
	if s.benchmarkWithoutEventLog || len(events) == 0 {
		return nil
	}
	head, err := tx.Get(bucketMeta, metaEventHead)
	if err != nil {
		return err
	}
	rev := readU64(head)
	for _, ev := range events {
		rev++
		ev.Revision = rev
		ev.Name = "events/" + strconv.FormatUint(rev, 10)
		ev.EventTime = now
		if err := putProto(tx, bucketEvents, eventKey(rev), ev); err != nil {
			return err
		}
	}
	return tx.Put(bucketMeta, metaEventHead, u64(rev))
}

// threadEvent is the event of a change to thread t. It holds t itself, not
// a copy (see appendEvent); appendThreadEvent leaves out what reads derive.
func threadEvent(actor authz.Actor, typ forumv1.EventType, t *forumv1.Thread, paths []string) *forumv1.Event {
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: t.Name, ChangedPaths: paths,
		Theme: t.Theme, Thread: t.Name,
		ResourceState: &forumv1.Event_ThreadResource{ThreadResource: t},
	}
}

// appendThreadEvent appends the event of a change to thread t, with t as
// stored (putThread): without the reply count, last activity and
// follow-ups that reads derive from other records. t is left as it was.
func (s *Store) appendThreadEvent(tx kv.Tx, now *timestamppb.Timestamp, actor authz.Actor, typ forumv1.EventType, t *forumv1.Thread, paths []string) error {
	replies, last, followUps := t.ReplyCount, t.LastActivityTime, t.FollowUps
	t.ReplyCount, t.LastActivityTime, t.FollowUps = 0, nil, nil
	err := s.appendEvent(tx, now, threadEvent(actor, typ, t, paths))
	t.ReplyCount, t.LastActivityTime, t.FollowUps = replies, last, followUps
	return err
}

// replyEvent is the event of a change to reply r, in a thread of theme,
// as it is stored: by reference, without r. CreateReply is the hot write
// path, and a reply's event holding the reply again (its body and its
// rendering) doubled what each reply wrote to the log and to bbolt. The
// event refers to the version of r its change wrote, whose update_time is
// the event's time; resolveReply finds it when the event is read, in the
// reply's record or, once a later edit has replaced it, in replyVersions
// (keepReplyVersion). So every reader, live or replaying, gets the reply
// exactly as the change left it.
func replyEvent(actor authz.Actor, typ forumv1.EventType, r *forumv1.Reply, theme string, paths []string) *forumv1.Event {
	thread, _, _ := strings.Cut(r.Name, "/replies/") // threads/{thread}, without parsing or allocating
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: r.Name, ChangedPaths: paths,
		Theme: theme, Thread: thread,
	}
}

// replyEventType reports whether t is the type of a reply's event.
func replyEventType(t forumv1.EventType) bool {
	switch t {
	case forumv1.EventType_EVENT_TYPE_REPLY_CREATED, forumv1.EventType_EVENT_TYPE_REPLY_UPDATED, forumv1.EventType_EVENT_TYPE_REPLY_DELETED:
		return true
	}
	return false
}

// replyVersionKey is the key in replyVersions of the version of reply
// (thread, reply) last updated at t.
func replyVersionKey(thread, reply uint64, t *timestamppb.Timestamp) []byte {
	k := make([]byte, 0, 24)
	k = binary.BigEndian.AppendUint64(k, thread)
	k = binary.BigEndian.AppendUint64(k, reply)
	return binary.BigEndian.AppendUint64(k, uint64(t.AsTime().UnixNano()))
}

// keepReplyVersion keeps cur, the version of reply (thread, reply) that an
// edit is about to replace, for the event that wrote it (resolveReply).
// DeleteReply does not call it: the events of a deleted reply before its
// deletion carry no content (eventVisibility.filter), so its last body is
// not kept either. A change that rewrites a reply record must call it
// first, unless it deletes the reply.
func keepReplyVersion(tx kv.Tx, thread, reply uint64, cur *forumv1.Reply) error {
	return putProto(tx, bucketReplyVersions, replyVersionKey(thread, reply, cur.UpdateTime), cur)
}

// resolveReply fills in the reply of ev, a reply's event stored by
// reference (replyEvent; earlier schemas stored the reply, and such events
// are left as they are): the version whose update time is the event's
// time. That is the reply's record, unless a later change replaced it;
// then it is in replyVersions. A reply deleted since is left out of its
// earlier events, which carry no content (filter). It records in gone
// whether the reply is deleted, for filter.
func resolveReply(tx kv.Tx, ev *forumv1.Event, gone map[string]bool) error {
	if ev.ResourceState != nil || !replyEventType(ev.Type) {
		return nil
	}
	n, err := resname.ParseReply(ev.Resource)
	if err != nil {
		return fmt.Errorf("store: event %d: %w", ev.Revision, err)
	}
	cur, err := getReply(tx, n.Thread.ID, n.ID)
	if errors.Is(err, errs.NotFound) {
		gone[ev.Resource] = true
		return nil
	} else if err != nil {
		return err
	}
	deleted := cur.DeleteTime != nil
	gone[ev.Resource] = deleted
	if sameTime(cur.UpdateTime, ev.EventTime) {
		ev.ResourceState = &forumv1.Event_Reply{Reply: cur}
		return nil
	}
	if deleted && ev.Type != forumv1.EventType_EVENT_TYPE_REPLY_DELETED {
		return nil
	}
	r := new(forumv1.Reply)
	ok, err := getProto(tx, bucketReplyVersions, replyVersionKey(n.Thread.ID, n.ID, ev.EventTime), r)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: event %d refers to the version of %s of %s, which is not kept", ev.Revision, ev.Resource, ev.EventTime.AsTime().Format(time.RFC3339Nano))
	}
	ev.ResourceState = &forumv1.Event_Reply{Reply: r}
	return nil
}

// lockedCompat returns ev as schema 9 shows it: an event written before,
// whose thread is of state LOCKED, as a copy with the thread OPEN and
// locked (migrateTo9); any other event as it is.
func lockedCompat(ev *forumv1.Event) *forumv1.Event {
	t := ev.GetThreadResource()
	if t.GetState() != stateLockedLegacy {
		return ev
	}
	ev = proto.CloneOf(ev)
	t = ev.GetThreadResource()
	t.State, t.Locked = forumv1.ThreadState_THREAD_STATE_OPEN, true
	return ev
}

// resolveNotification returns ev, the event of notification n's
// creation, with n as it was made. The event refers to n (deriver.tell,
// schema 8; earlier events hold it, and are returned as they are): n's
// record is as it was made but for its read_time, which is left out.
// A notification is never deleted, so the record is there.
func resolveNotification(tx kv.Tx, ev *forumv1.Event, n resname.Notification) (*forumv1.Event, error) {
	if ev.ResourceState != nil {
		return ev, nil
	}
	rec := new(forumv1.Notification)
	ok, err := getProto(tx, bucketNotifications, notificationKey(n), rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("store: event %d refers to %s, which is not kept", ev.Revision, ev.Resource)
	}
	rec.ReadTime = nil
	out := proto.CloneOf(ev) // ev may be shared by the readers of one pass (feed)
	out.ResourceState = &forumv1.Event_Notification{Notification: rec}
	return out, nil
}

// sameTime reports whether a and b are the same instant.
func sameTime(a, b *timestamppb.Timestamp) bool {
	return a.GetSeconds() == b.GetSeconds() && a.GetNanos() == b.GetNanos()
}

// replyPaths is the changed_paths of EVENT_TYPE_REPLY_UPDATED: a reply's
// body (with its rendering) is all that UpdateReply changes. Events only
// read it.
var replyPaths = []string{"body"}

// appendThemeEvent appends the event of a change to theme t, with t as
// stored (putTheme): without the thread count and last activity that
// reads derive. t is left as it was.
func (s *Store) appendThemeEvent(tx kv.Tx, now *timestamppb.Timestamp, actor authz.Actor, typ forumv1.EventType, t *forumv1.Theme, paths []string) error {
	count, last := t.ThreadCount, t.LastActivityTime
	t.ThreadCount, t.LastActivityTime = 0, nil
	err := s.appendEvent(tx, now, &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: t.Name, ChangedPaths: paths, Theme: t.Name,
		ResourceState: &forumv1.Event_ThemeResource{ThemeResource: t},
	})
	t.ThreadCount, t.LastActivityTime = count, last
	return err
}

// groupEvent is the event of a change to group g (its members included).
func groupEvent(actor authz.Actor, typ forumv1.EventType, g *forumv1.Group, paths []string) *forumv1.Event {
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: g.Name, ChangedPaths: paths,
		ResourceState: &forumv1.Event_Group{Group: g},
	}
}

// organizationEvent is the event of a change to organisation o.
func organizationEvent(actor authz.Actor, typ forumv1.EventType, o *forumv1.Organization, paths []string) *forumv1.Event {
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: o.Name, ChangedPaths: paths,
		ResourceState: &forumv1.Event_Organization{Organization: o},
	}
}

// userEvent is the event of a change to user u, made by actor (a user
// registering is their own actor): it carries u's public profile only
// (publicUser).
func userEvent(actor string, typ forumv1.EventType, u *forumv1.User, paths []string) *forumv1.Event {
	return &forumv1.Event{
		Actor: actor, Type: typ, Resource: u.Name, ChangedPaths: paths,
		ResourceState: &forumv1.Event_User{User: publicUser(u)},
	}
}

// invitationEvent is the event of a change to invitation inv, never with
// its code (the store keeps only the code's hash, so inv has none; this
// makes sure of it).
func invitationEvent(actor authz.Actor, typ forumv1.EventType, inv *forumv1.Invitation) *forumv1.Event {
	if inv.Code != "" {
		inv = proto.CloneOf(inv)
		inv.Code = ""
	}
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: inv.Name,
		ResourceState: &forumv1.Event_Invitation{Invitation: inv},
	}
}

// apiTokenEvent is the event of a change to API token t, never with its
// secret (the store keeps only the secret's hash, so t has none; this makes
// sure of it).
func apiTokenEvent(actor authz.Actor, typ forumv1.EventType, t *forumv1.ApiToken) *forumv1.Event {
	if t.Token != "" {
		t = proto.CloneOf(t)
		t.Token = ""
	}
	return &forumv1.Event{
		Actor: actor.User, Type: typ, Resource: t.Name,
		ResourceState: &forumv1.Event_ApiToken{ApiToken: t},
	}
}

// publicUser is the part of u that events carry: its public profile,
// never its e-mail address.
func publicUser(u *forumv1.User) *forumv1.User {
	if u.Email == "" {
		return u
	}
	p := proto.CloneOf(u)
	p.Email = ""
	return p
}

// notifier wakes the readers of the log when an Update returns.
type notifier struct {
	mu sync.Mutex
	ch chan struct{} // closed by the next notify; nil while no one waits
}

// wait returns a channel that is closed by the next notify.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// notify wakes everyone waiting.
func (n *notifier) notify() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// update is kv.Update, and then, when it returns nil, a wake-up for the
// readers of the event log: every write of the store goes through it.
func (s *Store) update(ctx context.Context, fn func(tx kv.Tx) error) error {
	err := s.kv.Update(ctx, fn)
	if err == nil {
		s.writes.Add(1)
		s.changes.notify()
	}
	return err
}

// Writes returns how many writes the store has committed since it opened
// (the calls that change the forum; not what its readers derive, such as
// notifications): a reader that gives way to a flood of writes measures
// it by this count, not by the log's head, which derived events grow too.
func (s *Store) Writes() uint64 { return s.writes.Load() }

// Changed returns a channel that the next write to commit closes (every
// write of the store goes through update). A reader of the log that keeps
// its own cursor and reads the events itself (webhook delivery) waits on
// it: a Subscription would make the feed read, resolve and judge every
// event for a reader that never takes them. Take it before reading, so
// that a write committed in between is not missed.
func (s *Store) Changed() <-chan struct{} { return s.changes.wait() }

// EventQuery selects events for ReadEvents.
type EventQuery struct {
	// From is the first revision to read; 0 means the oldest kept.
	From uint64
	// To, if not 0, is the last revision to read.
	To uint64
	// Limit bounds the events returned; 0 means 100.
	Limit int
	// Match, if set, keeps only the events it returns true for (a filter);
	// it is called inside the read, and must not block.
	Match func(*forumv1.Event) bool
}

// EventPage is what ReadEvents returns.
type EventPage struct {
	// Events are the events the actor may see, in revision order.
	Events []*forumv1.Event
	// Next is the revision to read from next: one past the last revision
	// read, seen or not.
	Next uint64
	// Head is the revision of the last event committed when read.
	Head uint64
}

// maxEventScan bounds the events ReadEvents reads in one call, visible or
// not, so that a reader who may see few of them gets short pages quickly
// instead of one call that reads the whole log.
const maxEventScan = 4096

// ReadEvents reads the log from q.From: the events actor may see now
// (eventVisible) and q.Match keeps, at most q.Limit of them, reading at
// most maxEventScan. A From older than the oldest revision kept is
// OUT_OF_RANGE, with the oldest revision in the error's metadata
// ("oldest_revision").
func (s *Store) ReadEvents(ctx context.Context, actor authz.Actor, q EventQuery) (EventPage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var page EventPage
	// Before the View: the theme gates it reads may be cached only under
	// the gate cache's generation from before it (themeAccess).
	vis := s.newEventVisibility(actor)
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		page = EventPage{}
		head, oldest, err := eventBounds(tx)
		if err != nil {
			return err
		}
		page.Head = head
		from := q.From
		if from == 0 {
			from = oldest
		}
		if from < oldest {
			return errs.WithMetadata(fmt.Errorf("%w: revision %d is older than the oldest the event log keeps, %d; read from there, or from the current state", errs.OutOfRange, from, oldest),
				"oldest_revision", strconv.FormatUint(oldest, 10))
		}
		page.Next = from
		end := head
		if q.To != 0 && q.To < end {
			end = q.To
		}
		if from > end {
			return nil
		}
		scanned := 0
		var scanErr error
		err = tx.Scan(bucketEvents, eventKey(from), eventKey(end+1), false, func(k, v []byte) bool {
			rev := readU64(k)
			page.Next = rev + 1
			scanned++
			ev := new(forumv1.Event)
			if scanErr = proto.Unmarshal(v, ev); scanErr != nil {
				scanErr = fmt.Errorf("store: corrupt record in %s: %w", bucketEvents, scanErr)
				return false
			}
			if scanErr = resolveReply(tx, ev, vis.gone); scanErr != nil {
				return false
			}
			ev, scanErr = vis.filter(tx, ev)
			if scanErr != nil {
				return false
			}
			if ev != nil && (q.Match == nil || q.Match(ev)) {
				page.Events = append(page.Events, ev)
			}
			return len(page.Events) < q.Limit && scanned < maxEventScan
		})
		if err == nil {
			err = scanErr
		}
		return err
	})
	return page, err
}

// eventBounds returns the head revision and the oldest kept.
func eventBounds(tx kv.Tx) (head, oldest uint64, err error) {
	h, err := tx.Get(bucketMeta, metaEventHead)
	if err != nil {
		return 0, 0, err
	}
	o, err := tx.Get(bucketMeta, metaEventOldest)
	if err != nil {
		return 0, 0, err
	}
	oldest = readU64(o)
	if oldest == 0 {
		oldest = 1
	}
	return readU64(h), oldest, nil
}

// EventHead returns the revision of the last event committed.
func (s *Store) EventHead(ctx context.Context) (uint64, error) {
	var head uint64
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		head, _, err = eventBounds(tx)
		return err
	})
	return head, err
}

// eventVisibility decides, for one reader and one read of the log, which
// events the reader may see, as they stand now.
type eventVisibility struct {
	actor  authz.Actor
	access *themeAccess
	heads  map[uint64]threadHead // threads read in this pass; readers of one transaction may share it
	gone   map[string]bool       // replies read in this pass: deleted since (a tombstone)
}

// newEventVisibility returns the eventVisibility of actor for one read
// transaction, which must start after this call (see themeAccess).
func (s *Store) newEventVisibility(actor authz.Actor) *eventVisibility {
	return &eventVisibility{actor: actor, access: s.themeAccess(actor), gone: map[string]bool{}}
}

// filter returns ev as the reader may see it: ev itself, ev without its
// resource (a deletion the reader may not see the content of), or nil (an
// event the reader may not see at all). The rules are those of reading the
// resource now (authz): a thread's or reply's event is seen by whoever may
// read its thread now (its theme's gate, and a deleted thread only by its
// author and moderators); a theme's by whoever may see the theme (one
// deleted since: the theme as the event holds it); a
// group's by its members and moderators; an organisation's by anyone; a
// user's by logged-in users (it carries the public profile only); an
// invitation's by moderators; an API token's and a webhook's by its owner
// and admins; a notification's by its recipient, while the recipient may
// read its post, and by admins without its content.
func (v *eventVisibility) filter(tx kv.Tx, ev *forumv1.Event) (*forumv1.Event, error) {
	ev = lockedCompat(ev)
	if ev.Type == forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED {
		// Its recipient's, while its post is readable; admins see that
		// there was one (the log stays gap-free to them), not what it
		// says.
		to, err := resname.ParseNotification(ev.Resource)
		if err != nil {
			return nil, nil
		}
		if v.actor == authz.SystemActor {
			return resolveNotification(tx, ev, to)
		}
		if v.actor.User != to.User.String() {
			if v.actor.Role == forumv1.Role_ROLE_ADMIN {
				return withoutResource(ev), nil
			}
			return nil, nil
		}
		if ok, err := notificationVisible(tx, v.access, ev.Thread); err != nil || !ok {
			return nil, err
		}
		return resolveNotification(tx, ev, to)
	}
	state := ev.ResourceState
	if state == nil && replyEventType(ev.Type) {
		state = &forumv1.Event_Reply{} // deleted since: resolveReply left it without
	}
	switch state.(type) {
	case *forumv1.Event_ThreadResource, *forumv1.Event_Reply, *forumv1.Event_Reactions, *forumv1.Event_ActionItem:
		t, err := resname.ParseThread(ev.Thread)
		if err != nil {
			return nil, nil
		}
		h, ok := v.heads[t.ID]
		if !ok {
			h, err = readThreadHead(tx, t.ID)
			if errors.Is(err, errs.NotFound) {
				return nil, nil // a thread that is gone: nothing to see
			} else if err != nil {
				return nil, err
			}
			if v.heads == nil {
				v.heads = map[uint64]threadHead{}
			}
			v.heads[t.ID] = h
		}
		if ok, err := v.access.allows(tx, h.theme); err != nil || !ok {
			return nil, err
		}
		if h.deleted && !authz.SeeDeleted(v.actor, h.author) {
			if ev.Type == forumv1.EventType_EVENT_TYPE_THREAD_DELETED {
				return withoutResource(ev), nil // the reader learns it is gone
			}
			return nil, nil
		}
		if ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_CREATED || ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_UPDATED {
			// A reply deleted since is a tombstone without its body, to
			// everyone: its earlier events no longer carry the body either.
			gone, err := v.replyGone(tx, ev.Resource)
			if err != nil {
				return nil, err
			}
			if gone {
				return withoutResource(ev), nil
			}
		}
		return ev, nil
	case *forumv1.Event_ThemeResource:
		if ev.Type != forumv1.EventType_EVENT_TYPE_THEME_DELETED {
			ok, err := v.access.allows(tx, ev.Resource)
			if err != nil {
				return nil, err
			} else if ok {
				return ev, nil
			}
			// Not visible, or gone: a theme deleted since is judged, like
			// its deletion, by what the event holds.
			if gate, err := tx.Get(bucketThemeGates, []byte(themeSlug(ev.Resource))); err != nil || gate != nil {
				return nil, err
			}
		}
		th := ev.GetThemeResource()
		ok, err := authz.SeeTheme(v.actor, th.Visibility, th.Groups, func(group string) (bool, error) {
			return isMember(tx, v.actor, groupSlug(group))
		})
		if err != nil || !ok {
			return nil, err
		}
		return ev, nil
	case *forumv1.Event_Group:
		ok, err := maySeeGroup(tx, v.actor, groupSlug(ev.Resource))
		if err != nil || !ok {
			return nil, err
		}
		return ev, nil
	case *forumv1.Event_Organization:
		return ev, nil
	case *forumv1.Event_Convening:
		// Anyone's, without the themes the reader may not see.
		c := ev.GetConvening()
		themes := c.Themes[:0:0]
		for _, th := range c.Themes {
			ok, err := v.access.allows(tx, th)
			if err != nil {
				return nil, err
			}
			if ok {
				themes = append(themes, th)
			}
		}
		if len(themes) == len(c.Themes) {
			return ev, nil
		}
		out := proto.CloneOf(ev)
		out.GetConvening().Themes = themes
		return out, nil
	case *forumv1.Event_User:
		if v.actor.User == "" && v.actor != authz.SystemActor {
			return nil, nil
		}
		return ev, nil
	case *forumv1.Event_Invitation:
		if !v.actor.Moderator() {
			return nil, nil
		}
		return ev, nil
	case *forumv1.Event_ApiToken:
		owner, err := resname.ParseAPIToken(ev.Resource)
		if err != nil || authz.TokenOwner(v.actor, owner.User.String(), "list") != nil {
			return nil, nil
		}
		return ev, nil
	case *forumv1.Event_Webhook:
		if !webhookEventVisible(v.actor, ev) {
			return nil, nil
		}
		return ev, nil
	}
	return nil, nil
}

// replyGone reports whether reply name is deleted now (or no longer
// exists), reading each reply once per pass.
func (v *eventVisibility) replyGone(tx kv.Tx, name string) (bool, error) {
	if gone, ok := v.gone[name]; ok {
		return gone, nil
	}
	n, err := resname.ParseReply(name)
	if err != nil {
		return true, nil
	}
	r, err := getReply(tx, n.Thread.ID, n.ID)
	gone := errors.Is(err, errs.NotFound)
	if err != nil && !gone {
		return false, err
	}
	gone = gone || r.DeleteTime != nil
	if v.gone == nil {
		v.gone = map[string]bool{}
	}
	v.gone[name] = gone
	return gone, nil
}

// withoutResource is ev without the resource's content.
func withoutResource(ev *forumv1.Event) *forumv1.Event {
	e := proto.CloneOf(ev)
	e.ResourceState = nil
	return e
}

// SweepEvents deletes the events committed before cutoff, at most limit
// of them (the oldest), and the reply versions that only they referred to
// (replyVersions), and returns how many events it deleted; the oldest
// revision kept moves past them.
func (s *Store) SweepEvents(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := s.update(ctx, func(tx kv.Tx) error {
		n = 0
		head, oldest, err := eventBounds(tx)
		if err != nil {
			return err
		}
		var doomed, versions [][]byte
		var scanErr error
		err = tx.Scan(bucketEvents, eventKey(oldest), eventKey(head+1), false, func(k, v []byte) bool {
			ev := new(forumv1.Event)
			if scanErr = proto.Unmarshal(v, ev); scanErr != nil {
				return false
			}
			if !ev.EventTime.AsTime().Before(cutoff) || len(doomed) >= limit {
				return false
			}
			doomed = append(doomed, append([]byte(nil), k...))
			if ev.ResourceState == nil && replyEventType(ev.Type) {
				// The version it refers to, if an edit kept it: only
				// this event refers to it.
				if n, err := resname.ParseReply(ev.Resource); err == nil {
					versions = append(versions, replyVersionKey(n.Thread.ID, n.ID, ev.EventTime))
				}
			}
			return true
		})
		if err == nil {
			err = scanErr
		}
		if err != nil || len(doomed) == 0 {
			return err
		}
		for _, k := range doomed {
			if err := tx.Delete(bucketEvents, k); err != nil {
				return err
			}
		}
		for _, k := range versions {
			if err := tx.Delete(bucketReplyVersions, k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return tx.Put(bucketMeta, metaEventOldest, u64(readU64(doomed[len(doomed)-1])+1))
	})
	return n, err
}
