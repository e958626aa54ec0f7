package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// rawEvents returns every event the log holds, in key order, read from its
// bucket (no visibility rules), and the head revision. It fails the test
// unless each is stored under its revision, in the bytes proto.Marshal
// (deterministic) gives of it, and a reply's or a notification's event by
// reference (without its resource); it returns reply events resolved
// (resolveReply), and notification events as they are stored.
func rawEvents(t testing.TB, s *Store) ([]*forumv1.Event, uint64) {
	t.Helper()
	var events []*forumv1.Event
	var head uint64
	err := s.kv.View(t.Context(), func(tx kv.Tx) error {
		events = nil
		var err error
		if head, _, err = eventBounds(tx); err != nil {
			return err
		}
		var decodeErr error
		err = tx.Scan(bucketEvents, nil, nil, false, func(k, v []byte) bool {
			ev := new(forumv1.Event)
			if decodeErr = proto.Unmarshal(v, ev); decodeErr != nil {
				return false
			}
			if readU64(k) != ev.Revision {
				decodeErr = fmt.Errorf("event under key %d has revision %d", readU64(k), ev.Revision)
				return false
			}
			// Stored as proto.Marshal gives it, also when its resource's
			// bytes were spliced in (appendEventRecord).
			if b, err := (proto.MarshalOptions{Deterministic: true}).Marshal(ev); err != nil || !bytes.Equal(b, v) {
				decodeErr = fmt.Errorf("event %d is stored as %x, proto.Marshal gives %x (%v)", ev.Revision, v, b, err)
				return false
			}
			if replyEventType(ev.Type) && ev.ResourceState != nil {
				decodeErr = fmt.Errorf("reply event %d is stored with its reply, not by reference", ev.Revision)
				return false
			}
			if ev.Type == forumv1.EventType_EVENT_TYPE_NOTIFICATION_CREATED && ev.ResourceState != nil {
				decodeErr = fmt.Errorf("notification event %d is stored with its notification, not by reference", ev.Revision)
				return false
			}
			if decodeErr = resolveReply(tx, ev, map[string]bool{}); decodeErr != nil {
				return false
			}
			events = append(events, ev)
			return true
		})
		if err == nil {
			err = decodeErr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return events, head
}

// eventState is the resource an event holds, or nil.
func eventState(ev *forumv1.Event) proto.Message {
	switch r := ev.ResourceState.(type) {
	case *forumv1.Event_ThreadResource:
		return r.ThreadResource
	case *forumv1.Event_Reply:
		return r.Reply
	case *forumv1.Event_ThemeResource:
		return r.ThemeResource
	case *forumv1.Event_Group:
		return r.Group
	case *forumv1.Event_Organization:
		return r.Organization
	case *forumv1.Event_User:
		return r.User
	case *forumv1.Event_Invitation:
		return r.Invitation
	case *forumv1.Event_ApiToken:
		return r.ApiToken
	}
	return nil
}

// stored returns what an event of a write that returned m must hold: m
// without what reads derive (a thread's reply count, last activity and
// follow-ups, a theme's thread count and last activity) and without a
// user's e-mail address.
func stored(m proto.Message) proto.Message {
	m = proto.Clone(m)
	switch m := m.(type) {
	case *forumv1.Thread:
		m.ReplyCount, m.LastActivityTime, m.FollowUps = 0, nil, nil
	case *forumv1.Theme:
		m.ThreadCount, m.LastActivityTime = 0, nil
	case *forumv1.User:
		m.Email = ""
	}
	return m
}

// contentGone reports whether ev is the creation or an edit of a reply
// deleted since, whose content no reader gets (resolveReply): the only
// events that hold no resource.
func contentGone(t testing.TB, s *Store, ev *forumv1.Event) bool {
	t.Helper()
	if ev.Type != forumv1.EventType_EVENT_TYPE_REPLY_CREATED && ev.Type != forumv1.EventType_EVENT_TYPE_REPLY_UPDATED {
		return false
	}
	n, err := resname.ParseReply(ev.Resource)
	if err != nil {
		t.Fatal(err)
	}
	var r *forumv1.Reply
	err = s.kv.View(t.Context(), func(tx kv.Tx) error {
		r, err = getReply(tx, n.Thread.ID, n.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r.DeleteTime != nil
}

// ack is an acknowledged write and the event it must have appended.
type ack struct {
	typ      forumv1.EventType
	resource string
	actor    string
	paths    []string      // changed_paths, for updates
	state    proto.Message // the resource the event holds (stored form), nil not to check
}

// ackLog collects the acknowledged writes of a test, from any goroutine.
type ackLog struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ackLog) add(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.state != nil {
		a.state = stored(a.state)
	}
	l.acks = append(l.acks, a)
}

// checkLog fails the test unless the log holds revisions 1..head with no
// gap, each a well-formed event, and exactly one event for every
// acknowledged write of l, of its type, resource, actor and state, and no
// other event.
func checkLog(t *testing.T, s *Store, l *ackLog) []*forumv1.Event {
	t.Helper()
	events, head := rawEvents(t, s)
	if uint64(len(events)) != head {
		t.Errorf("the log holds %d events, its head is %d", len(events), head)
	}
	for i, ev := range events {
		if want := uint64(i + 1); ev.Revision != want || ev.Name != fmt.Sprintf("events/%d", want) {
			t.Fatalf("event %d has revision %d, name %q", i, ev.Revision, ev.Name)
		}
		if ev.EventTime == nil {
			t.Errorf("event %d has no time", ev.Revision)
		}
		switch st := eventState(ev).(type) {
		case nil:
			if !contentGone(t, s, ev) {
				t.Errorf("event %d (%v %s) holds no resource", ev.Revision, ev.Type, ev.Resource)
			}
		case *forumv1.Thread:
			if ev.Thread != ev.Resource || ev.Theme != st.Theme || st.Name != ev.Resource {
				t.Errorf("thread event %d: resource %s, thread %q, theme %q; the thread's theme is %s", ev.Revision, ev.Resource, ev.Thread, ev.Theme, st.Theme)
			}
		case *forumv1.Reply:
			if !strings.HasPrefix(ev.Resource, ev.Thread+"/replies/") || ev.Thread == "" || ev.Theme == "" {
				t.Errorf("reply event %d: resource %s, thread %q, theme %q", ev.Revision, ev.Resource, ev.Thread, ev.Theme)
			}
		case *forumv1.User:
			if st.Email != "" {
				t.Errorf("user event %d carries the e-mail address %q", ev.Revision, st.Email)
			}
		case *forumv1.Invitation:
			if st.Code != "" {
				t.Errorf("invitation event %d carries its code", ev.Revision)
			}
		case *forumv1.ApiToken:
			if st.Token != "" {
				t.Errorf("token event %d carries its secret", ev.Revision)
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	left := slices.Clone(l.acks)
	for _, ev := range events {
		i := slices.IndexFunc(left, func(a ack) bool {
			return a.typ == ev.Type && a.resource == ev.Resource && a.actor == ev.Actor &&
				slices.Equal(a.paths, ev.ChangedPaths) &&
				(a.state == nil || proto.Equal(a.state, eventState(ev)) || (eventState(ev) == nil && contentGone(t, s, ev)))
		})
		if i < 0 {
			t.Errorf("event %d (%v %s by %q, paths %q) is no acknowledged write's: %v", ev.Revision, ev.Type, ev.Resource, ev.Actor, ev.ChangedPaths, eventState(ev))
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, a := range left {
		t.Errorf("acknowledged write %v %s by %q has no event", a.typ, a.resource, a.actor)
	}
	return events
}

// newUser creates a user as the system and records its event.
func newUser(t testing.TB, s *Store, l *ackLog, username string, role forumv1.Role) authz.Actor {
	t.Helper()
	u, err := s.CreateUser(t.Context(), authz.SystemActor, &forumv1.User{Username: username, DisplayName: username, Role: role}, "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	l.add(ack{typ: forumv1.EventType_EVENT_TYPE_USER_CREATED, resource: u.Name, state: u})
	return authz.Actor{User: u.Name, Role: u.Role}
}

// TestEventsConcurrentWriters runs 64 writers of mixed mutations (threads,
// replies, edits, locks, deletions, themes, groups, organisations, users,
// invitations, tokens, request_id replays, and writes that fail) and checks
// that every acknowledged write has exactly one event of its type, resource,
// actor and state, that the revisions are 1..N with no gap, that failed
// writes and replays appended nothing, and that an admin's ReadEvents pages
// through all of them.
func TestEventsConcurrentWriters(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	l := &ackLog{}
	var users [4]authz.Actor
	for i := range users {
		users[i] = newUser(t, s, l, fmt.Sprint("user", i), forumv1.Role_ROLE_MEMBER)
	}
	conv := newUser(t, s, l, "conv", forumv1.Role_ROLE_CONVENER)
	admin := newUser(t, s, l, "admin", forumv1.Role_ROLE_ADMIN)
	g, err := s.CreateGroup(ctx, admin, "board", &forumv1.Group{DisplayName: "Board", Members: []string{users[0].User}}, "")
	if err != nil {
		t.Fatal(err)
	}
	l.add(ack{typ: forumv1.EventType_EVENT_TYPE_GROUP_CREATED, resource: g.Name, actor: admin.User, state: g})
	th, err := s.CreateTheme(ctx, conv, "private", &forumv1.Theme{DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{g.Name}}, "")
	if err != nil {
		t.Fatal(err)
	}
	l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THEME_CREATED, resource: th.Name, actor: conv.User, state: th})

	const writers = 64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			// check fails the writer on an unexpected error.
			check := func(what string, err error) bool {
				if err != nil {
					t.Errorf("writer %d: %s: %v", w, what, err)
				}
				return err == nil
			}
			// refused checks that a write that must fail fails as expected.
			refused := func(what string, err error, kind error) {
				if !errors.Is(err, kind) {
					t.Errorf("writer %d: %s: %v, want %v", w, what, err, kind)
				}
			}
			a := users[w%4]
			theme := DemoThemes[w%2].Name
			if w%8 == 7 {
				a, theme = users[0], th.Name // the private theme, by a member of its group
			}
			req := fmt.Sprint("thread-", w)
			thread, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: theme, Title: fmt.Sprint("thread ", w), Body: "body"}, req)
			if !check("CreateThread", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THREAD_CREATED, resource: thread.Name, actor: a.User, state: thread})
			again, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: theme, Title: fmt.Sprint("thread ", w), Body: "body"}, req)
			if check("CreateThread replayed", err) && again.Name != thread.Name {
				t.Errorf("writer %d: the replay created %s, the first call %s", w, again.Name, thread.Name)
			}
			tn := resname.MustParseThread(thread.Name)
			r1, err := s.CreateReply(ctx, a, tn, &forumv1.Reply{Body: "one", BodyHtml: "<p>one</p>"}, "")
			if !check("CreateReply", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_REPLY_CREATED, resource: r1.Name, actor: a.User, state: r1})
			other := users[(w+1)%4]
			if w%8 == 7 {
				other = conv
			}
			r2, err := s.CreateReply(ctx, other, tn, &forumv1.Reply{Body: "two", InReplyTo: r1.Name}, fmt.Sprint("reply-", w))
			if !check("CreateReply", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_REPLY_CREATED, resource: r2.Name, actor: other.User, state: r2})
			if again, err := s.CreateReply(ctx, other, tn, &forumv1.Reply{Body: "two", InReplyTo: r1.Name}, fmt.Sprint("reply-", w)); check("CreateReply replayed", err) && again.Name != r2.Name {
				t.Errorf("writer %d: the replay created %s, the first call %s", w, again.Name, r2.Name)
			}
			r1, err = s.UpdateReply(ctx, a, resname.MustParseReply(r1.Name), &forumv1.Reply{Name: r1.Name, Body: "one, edited", Etag: r1.Etag})
			if !check("UpdateReply", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_REPLY_UPDATED, resource: r1.Name, actor: a.User, paths: []string{"body"}, state: r1})
			_, err = s.UpdateThread(ctx, a, tn, &forumv1.Thread{Name: thread.Name, Title: "stale", Etag: `"stale"`}, []string{"title"})
			refused("UpdateThread with a stale etag", err, errs.Aborted)
			thread, err = s.UpdateThread(ctx, a, tn, &forumv1.Thread{Name: thread.Name, Title: "renamed", Tags: []string{"t"}, Etag: thread.Etag}, []string{"title", "tags"})
			if !check("UpdateThread", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, resource: thread.Name, actor: a.User, paths: []string{"title", "tags"}, state: thread})
			r2, err = s.DeleteReply(ctx, other, resname.MustParseReply(r2.Name), "", "")
			if !check("DeleteReply", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_REPLY_DELETED, resource: r2.Name, actor: other.User, state: r2})
			thread, err = s.UpdateThread(ctx, conv, tn, &forumv1.Thread{Name: thread.Name, State: stateLockedLegacy}, []string{"state"})
			if !check("UpdateThread (lock)", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THREAD_UPDATED, resource: thread.Name, actor: conv.User, paths: []string{"state"}, state: thread})
			_, err = s.CreateReply(ctx, a, tn, &forumv1.Reply{Body: "locked out"}, "")
			refused("CreateReply to a locked thread", err, errs.FailedPrecondition)
			_, err = s.UpdateReply(ctx, a, resname.MustParseReply(r1.Name), &forumv1.Reply{Name: r1.Name, Body: "locked out"})
			refused("UpdateReply in a locked thread", err, errs.FailedPrecondition)
			thread, err = s.DeleteThread(ctx, conv, tn, "", "spam")
			if !check("DeleteThread", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THREAD_DELETED, resource: thread.Name, actor: conv.User, state: thread})
			_, err = s.DeleteThread(ctx, conv, tn, "", "again")
			refused("DeleteThread of a deleted thread", err, errs.FailedPrecondition)
			thread, err = s.UndeleteThread(ctx, conv, tn, thread.Etag)
			if !check("UndeleteThread", err) {
				return
			}
			l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THREAD_UNDELETED, resource: thread.Name, actor: conv.User, state: thread})

			switch w % 8 {
			case 0: // a theme's life
				slug := fmt.Sprint("theme-", w)
				th, err := s.CreateTheme(ctx, conv, slug, &forumv1.Theme{DisplayName: slug}, "")
				if !check("CreateTheme", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THEME_CREATED, resource: th.Name, actor: conv.User, state: th})
				_, err = s.UpdateTheme(ctx, conv, resname.MustParseTheme(th.Name), &forumv1.Theme{Name: th.Name, Description: "x", Etag: `"stale"`}, []string{"description"})
				refused("UpdateTheme with a stale etag", err, errs.Aborted)
				th, err = s.UpdateTheme(ctx, conv, resname.MustParseTheme(th.Name), &forumv1.Theme{Name: th.Name, Description: "described"}, []string{"description"})
				if !check("UpdateTheme", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THEME_UPDATED, resource: th.Name, actor: conv.User, paths: []string{"description"}, state: th})
				if !check("DeleteTheme", s.DeleteTheme(ctx, admin, resname.MustParseTheme(th.Name), th.Etag)) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_THEME_DELETED, resource: th.Name, actor: admin.User, state: th})
				refused("DeleteTheme of a theme with threads", s.DeleteTheme(ctx, admin, resname.MustParseTheme(DemoThemes[0].Name), ""), errs.FailedPrecondition)
			case 1: // a group's life, its members included
				slug := fmt.Sprint("group-", w)
				g, err := s.CreateGroup(ctx, admin, slug, &forumv1.Group{DisplayName: slug}, "")
				if !check("CreateGroup", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_GROUP_CREATED, resource: g.Name, actor: admin.User, state: g})
				_, err = s.UpdateGroup(ctx, admin, resname.Group{Slug: slug}, &forumv1.Group{Name: g.Name, Members: []string{"users/999999"}}, []string{"members"})
				refused("UpdateGroup with a member who does not exist", err, errs.InvalidArgument)
				g, err = s.UpdateGroup(ctx, admin, resname.Group{Slug: slug}, &forumv1.Group{Name: g.Name, Members: []string{users[1].User, users[2].User}}, []string{"members"})
				if !check("UpdateGroup", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_GROUP_UPDATED, resource: g.Name, actor: admin.User, paths: []string{"members"}, state: g})
				if !check("DeleteGroup", s.DeleteGroup(ctx, admin, resname.Group{Slug: slug}, g.Etag)) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_GROUP_DELETED, resource: g.Name, actor: admin.User, state: g})
			case 2: // an organisation's life
				slug := fmt.Sprint("org-", w)
				o, err := s.CreateOrganization(ctx, admin, slug, &forumv1.Organization{DisplayName: slug, Country: "FR"}, fmt.Sprint("org-", w))
				if !check("CreateOrganization", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_ORGANIZATION_CREATED, resource: o.Name, actor: admin.User, state: o})
				if _, err := s.CreateOrganization(ctx, admin, slug, &forumv1.Organization{DisplayName: slug, Country: "FR"}, fmt.Sprint("org-", w)); !check("CreateOrganization replayed", err) {
					return
				}
				o, err = s.UpdateOrganization(ctx, admin, resname.Organization{Slug: slug}, &forumv1.Organization{Name: o.Name, Country: "SN"}, []string{"country"})
				if !check("UpdateOrganization", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_ORGANIZATION_UPDATED, resource: o.Name, actor: admin.User, paths: []string{"country"}, state: o})
				if !check("DeleteOrganization", s.DeleteOrganization(ctx, admin, resname.Organization{Slug: slug}, "")) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_ORGANIZATION_DELETED, resource: o.Name, actor: admin.User, state: o})
			case 3: // a user, created and changed (e-mail included)
				u, err := s.CreateUser(ctx, admin, &forumv1.User{Username: fmt.Sprint("new", w), DisplayName: "New", Role: forumv1.Role_ROLE_MEMBER}, "hash", "")
				if !check("CreateUser", err) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_USER_CREATED, resource: u.Name, actor: admin.User, state: u})
				_, err = s.CreateUser(ctx, admin, &forumv1.User{Username: fmt.Sprint("new", w)}, "hash", "")
				refused("CreateUser with a username taken", err, errs.AlreadyExists)
				self := authz.Actor{User: u.Name, Role: u.Role}
				u, err = s.UpdateUser(ctx, self, resname.MustParseUser(u.Name), &forumv1.User{Name: u.Name, DisplayName: "Renamed", Email: fmt.Sprintf("new%d@example.org", w)}, []string{"display_name", "email"})
				if !check("UpdateUser", err) {
					return
				}
				if u.Email == "" {
					t.Errorf("writer %d: UpdateUser returned no e-mail address", w)
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_USER_UPDATED, resource: u.Name, actor: self.User, paths: []string{"display_name", "email"}, state: u})
				if !check("SetPassword", s.SetPassword(ctx, resname.MustParseUser(u.Name), "new hash")) { // no event
					return
				}
			case 4: // an invitation, created and withdrawn
				inv, created, err := s.CreateInvitation(ctx, conv, &forumv1.Invitation{Role: forumv1.Role_ROLE_MEMBER, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, fmt.Appendf(nil, "code-%d", w), fmt.Sprint("inv-", w))
				if !check("CreateInvitation", err) || !created {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_INVITATION_CREATED, resource: inv.Name, actor: conv.User, state: inv})
				if _, created, err := s.CreateInvitation(ctx, conv, &forumv1.Invitation{Role: forumv1.Role_ROLE_MEMBER, ExpireTime: inv.ExpireTime}, fmt.Appendf(nil, "code-%d-again", w), fmt.Sprint("inv-", w)); !check("CreateInvitation replayed", err) || created {
					t.Errorf("writer %d: the replayed CreateInvitation created one", w)
				}
				refused("DeleteInvitation by a member", s.DeleteInvitation(ctx, a, mustParse(resname.ParseInvitation(inv.Name))), errs.PermissionDenied)
				if !check("DeleteInvitation", s.DeleteInvitation(ctx, conv, mustParse(resname.ParseInvitation(inv.Name)))) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_INVITATION_DELETED, resource: inv.Name, actor: conv.User})
			case 5: // an API token, created and revoked; a login session, which makes no event
				owner := resname.MustParseUser(a.User)
				tok, created, err := s.CreateAPIToken(ctx, a, owner, &forumv1.ApiToken{DisplayName: "ci", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour)), TokenPrefix: "fk_"}, fmt.Appendf(nil, "token-%d", w), "")
				if !check("CreateAPIToken", err) || !created {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_API_TOKEN_CREATED, resource: tok.Name, actor: a.User, state: tok})
				if !check("DeleteAPIToken", s.DeleteAPIToken(ctx, a, mustParse(resname.ParseAPIToken(tok.Name)))) {
					return
				}
				l.add(ack{typ: forumv1.EventType_EVENT_TYPE_API_TOKEN_DELETED, resource: tok.Name, actor: a.User, state: tok})
				refused("DeleteAPIToken again", s.DeleteAPIToken(ctx, a, mustParse(resname.ParseAPIToken(tok.Name))), errs.NotFound)
				hash := fmt.Appendf(nil, "session-%d", w)
				_, err = s.CreateSession(ctx, owner, hash, time.Hour, time.Hour)
				if check("CreateSession", err) {
					check("DeleteSession", s.DeleteSession(ctx, hash))
				}
			case 6: // a group change that fails, and a reply to a thread that is not there
				_, err := s.UpdateGroup(ctx, admin, resname.Group{Slug: "board"}, &forumv1.Group{Name: "groups/board", Etag: `"stale"`}, []string{"description"})
				refused("UpdateGroup with a stale etag", err, errs.Aborted)
				_, err = s.CreateReply(ctx, a, resname.Thread{ID: 999999}, &forumv1.Reply{Body: "x"}, "")
				refused("CreateReply to a thread that does not exist", err, errs.NotFound)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	events := checkLog(t, s, l)
	if len(events) < writers*10 {
		t.Fatalf("only %d events", len(events))
	}

	// An admin may see every event: ReadEvents pages through them all,
	// in order, with no gap between pages.
	next, seen := uint64(0), uint64(0)
	for {
		page, err := s.ReadEvents(ctx, admin, EventQuery{From: next, Limit: 97})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if seen++; ev.Revision != seen {
				t.Fatalf("ReadEvents gave revision %d after %d", ev.Revision, seen-1)
			}
		}
		if page.Head != uint64(len(events)) {
			t.Fatalf("ReadEvents head %d, the log has %d", page.Head, len(events))
		}
		if page.Next > page.Head {
			break
		}
		next = page.Next
	}
	if seen != uint64(len(events)) {
		t.Fatalf("ReadEvents gave %d events, the log has %d", seen, len(events))
	}
}

// TestEventVisibility checks who reads which event, as ReadEvents gives
// them: by the rules of reading the resource now.
func TestEventVisibility(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	anon := authz.Actor{}
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER) // in the board
	bob := member(t, s, "bob", forumv1.Role_ROLE_MEMBER)
	carol := member(t, s, "carol", forumv1.Role_ROLE_MEMBER) // owns a token
	conv := member(t, s, "conv", forumv1.Role_ROLE_CONVENER)
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN)

	board, err := s.CreateGroup(ctx, admin, "board", &forumv1.Group{DisplayName: "Board", Members: []string{alice.User}}, "")
	must(err)
	private, err := s.CreateTheme(ctx, conv, "private", &forumv1.Theme{DisplayName: "Private", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_GROUPS, Groups: []string{board.Name}}, "")
	must(err)
	members, err := s.CreateTheme(ctx, conv, "members", &forumv1.Theme{DisplayName: "Members", Visibility: forumv1.ThemeVisibility_THEME_VISIBILITY_MEMBERS}, "")
	must(err)
	gone, err := s.CreateTheme(ctx, conv, "gone", &forumv1.Theme{DisplayName: "Gone"}, "")
	must(err)
	must(s.DeleteTheme(ctx, conv, resname.MustParseTheme(gone.Name), ""))
	priv, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: private.Name, Title: "board only"}, "")
	must(err)
	privReply, err := s.CreateReply(ctx, alice, resname.MustParseThread(priv.Name), &forumv1.Reply{Body: "board only"}, "")
	must(err)
	memb, err := s.CreateThread(ctx, bob, &forumv1.Thread{Theme: members.Name, Title: "members only"}, "")
	must(err)
	pub, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "public"}, "")
	must(err)
	del, err := s.CreateThread(ctx, bob, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "deleted by its author"}, "")
	must(err)
	delReply, err := s.CreateReply(ctx, bob, resname.MustParseThread(del.Name), &forumv1.Reply{Body: "in a deleted thread"}, "")
	must(err)
	_, err = s.DeleteThread(ctx, bob, resname.MustParseThread(del.Name), "", "")
	must(err)
	_, err = s.UpdateUser(ctx, alice, resname.MustParseUser(alice.User), &forumv1.User{Name: alice.User, Email: "alice@example.org", Bio: "hello"}, []string{"email", "bio"})
	must(err)
	dave, _, err := s.Register(ctx, Registration{User: &forumv1.User{Username: "dave", DisplayName: "Dave", Email: "dave@example.org"}, PasswordHash: "hash", SessionHash: []byte("dave's session"), Idle: time.Hour, MaxAge: time.Hour})
	must(err)
	org, err := s.CreateOrganization(ctx, admin, "unv", &forumv1.Organization{DisplayName: "UNV"}, "")
	must(err)
	inv, _, err := s.CreateInvitation(ctx, conv, &forumv1.Invitation{Role: forumv1.Role_ROLE_MEMBER, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, []byte("code hash"), "")
	must(err)
	tok, _, err := s.CreateAPIToken(ctx, carol, resname.MustParseUser(carol.User), &forumv1.ApiToken{DisplayName: "ci", Scopes: []forumv1.TokenScope{forumv1.TokenScope_TOKEN_SCOPE_READ}, ExpireTime: timestamppb.New(time.Now().Add(time.Hour))}, []byte("token hash"), "")
	must(err)

	all, _ := rawEvents(t, s)
	rev := func(typ forumv1.EventType, resource string) uint64 {
		t.Helper()
		for _, ev := range all {
			if ev.Type == typ && ev.Resource == resource {
				return ev.Revision
			}
		}
		t.Fatalf("no event %v %s", typ, resource)
		return 0
	}
	for _, ev := range all {
		if u, ok := eventState(ev).(*forumv1.User); ok && u.Email != "" {
			t.Errorf("event %d carries the e-mail address %q", ev.Revision, u.Email)
		}
	}
	if r := rev(forumv1.EventType_EVENT_TYPE_USER_CREATED, dave.Name); all[r-1].Actor != dave.Name {
		t.Errorf("the registration's actor is %q, want the new user %s", all[r-1].Actor, dave.Name)
	}

	// read returns, by revision, the events actor reads.
	read := func(actor authz.Actor) map[uint64]*forumv1.Event {
		t.Helper()
		page, err := s.ReadEvents(ctx, actor, EventQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if page.Next != page.Head+1 {
			t.Fatalf("%q: one page ends at %d, the head is %d", actor.User, page.Next, page.Head)
		}
		out := map[uint64]*forumv1.Event{}
		for _, ev := range page.Events {
			out[ev.Revision] = ev
		}
		return out
	}
	const (
		hidden = iota // the reader does not get the event
		bare          // the reader gets it without the resource
		full          // the reader gets it whole
	)
	type who struct {
		name  string
		actor authz.Actor
	}
	readers := []who{{"anon", anon}, {"alice", alice}, {"bob", bob}, {"carol", carol}, {"conv", conv}, {"admin", admin}}
	check := func(t *testing.T, got map[string]map[uint64]*forumv1.Event, what string, r uint64, want map[string]int) {
		t.Helper()
		for _, rd := range readers {
			ev, ok := got[rd.name][r]
			g := hidden
			switch {
			case ok && eventState(ev) == nil:
				g = bare
			case ok:
				g = full
			}
			if g != want[rd.name] {
				t.Errorf("%s reads %s (revision %d) %s, want %s", rd.name, what, r, []string{"not at all", "without its resource", "whole"}[g], []string{"not at all", "without its resource", "whole"}[want[rd.name]])
			}
			if ok && !proto.Equal(ev, all[r-1]) && g == full {
				t.Errorf("%s reads %s as %v, the log holds %v", rd.name, what, ev, all[r-1])
			}
		}
	}
	everyone := map[string]int{"anon": full, "alice": full, "bob": full, "carol": full, "conv": full, "admin": full}
	loggedIn := map[string]int{"alice": full, "bob": full, "carol": full, "conv": full, "admin": full}
	boardAndModerators := map[string]int{"alice": full, "conv": full, "admin": full}
	authorAndModerators := map[string]int{"bob": full, "conv": full, "admin": full}
	moderators := map[string]int{"conv": full, "admin": full}
	cases := []struct {
		what string
		rev  uint64
		want map[string]int
	}{
		{"the private theme's creation", rev(forumv1.EventType_EVENT_TYPE_THEME_CREATED, private.Name), boardAndModerators},
		{"the board's creation", rev(forumv1.EventType_EVENT_TYPE_GROUP_CREATED, board.Name), boardAndModerators},
		{"a thread of the private theme", rev(forumv1.EventType_EVENT_TYPE_THREAD_CREATED, priv.Name), boardAndModerators},
		{"a reply in the private theme", rev(forumv1.EventType_EVENT_TYPE_REPLY_CREATED, privReply.Name), boardAndModerators},
		{"the members' theme's creation", rev(forumv1.EventType_EVENT_TYPE_THEME_CREATED, members.Name), loggedIn},
		{"a thread of the members' theme", rev(forumv1.EventType_EVENT_TYPE_THREAD_CREATED, memb.Name), loggedIn},
		{"a public thread", rev(forumv1.EventType_EVENT_TYPE_THREAD_CREATED, pub.Name), everyone},
		{"a public theme created and deleted since", rev(forumv1.EventType_EVENT_TYPE_THEME_CREATED, gone.Name), everyone},
		{"a public theme's deletion", rev(forumv1.EventType_EVENT_TYPE_THEME_DELETED, gone.Name), everyone},
		{"the creation of a thread deleted since", rev(forumv1.EventType_EVENT_TYPE_THREAD_CREATED, del.Name), authorAndModerators},
		{"a reply in a thread deleted since", rev(forumv1.EventType_EVENT_TYPE_REPLY_CREATED, delReply.Name), authorAndModerators},
		{"a thread's deletion", rev(forumv1.EventType_EVENT_TYPE_THREAD_DELETED, del.Name), map[string]int{"anon": bare, "alice": bare, "bob": full, "carol": bare, "conv": full, "admin": full}},
		{"a profile's change", rev(forumv1.EventType_EVENT_TYPE_USER_UPDATED, alice.User), loggedIn},
		{"a registration", rev(forumv1.EventType_EVENT_TYPE_USER_CREATED, dave.Name), loggedIn},
		{"an organisation's creation", rev(forumv1.EventType_EVENT_TYPE_ORGANIZATION_CREATED, org.Name), everyone},
		{"an invitation", rev(forumv1.EventType_EVENT_TYPE_INVITATION_CREATED, inv.Name), moderators},
		{"an API token", rev(forumv1.EventType_EVENT_TYPE_API_TOKEN_CREATED, tok.Name), map[string]int{"carol": full, "admin": full}},
	}
	got := map[string]map[uint64]*forumv1.Event{}
	for _, rd := range readers {
		got[rd.name] = read(rd.actor)
	}
	for _, c := range cases {
		check(t, got, c.what, c.rev, c.want)
	}

	// Alice leaves the board: she no longer reads what happened in its
	// theme, not even what she wrote there, nor the board's own events.
	_, err = s.UpdateGroup(ctx, admin, resname.Group{Slug: "board"}, &forumv1.Group{Name: board.Name}, []string{"members"})
	must(err)
	got["alice"] = read(alice)
	left := map[string]int{"conv": full, "admin": full}
	for _, c := range cases[:4] {
		check(t, got, c.what+" after alice left the board", c.rev, left)
	}

	// Match keeps what it returns true for, among what the reader sees.
	page, err := s.ReadEvents(ctx, bob, EventQuery{Match: func(ev *forumv1.Event) bool { return ev.Type == forumv1.EventType_EVENT_TYPE_REPLY_CREATED }})
	must(err)
	if len(page.Events) != 1 || page.Events[0].Resource != delReply.Name {
		t.Errorf("bob's replies: %v, want only %s", page.Events, delReply.Name)
	}
}

// TestSweepEventsOutOfRange checks that SweepEvents deletes the oldest
// events committed before its cutoff, and that reading from before the
// oldest revision kept is OUT_OF_RANGE with that revision in the error's
// metadata.
func TestSweepEventsOutOfRange(t *testing.T) {
	s, clock := openClocked(t)
	ctx := t.Context()
	t0 := clock.now()
	admin := member(t, s, "admin", forumv1.Role_ROLE_ADMIN) // revision 1, at t0
	clock.advance(time.Hour)
	for i := range 4 { // revisions 2-5, at t0+1h
		if _, err := s.CreateThread(ctx, admin, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: fmt.Sprint(i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		cutoff  time.Time
		limit   int
		deleted int
		oldest  uint64
	}{
		{t0, 100, 0, 1},                         // nothing before t0
		{t0.Add(time.Minute), 100, 1, 2},        // revision 1
		{t0.Add(2 * time.Hour), 2, 2, 4},        // the limit
		{t0.Add(time.Hour), 100, 0, 4},          // the cutoff is not before t0+1h
		{t0.Add(2 * time.Hour), 100, 2, 6},      // the rest: the log is empty
		{t0.Add(365 * 24 * time.Hour), 1, 0, 6}, // nothing left
	} {
		n, err := s.SweepEvents(ctx, c.cutoff, c.limit)
		if err != nil || n != c.deleted {
			t.Fatalf("SweepEvents(%v, %d) = %d, %v; want %d", c.cutoff.Sub(t0), c.limit, n, err, c.deleted)
		}
		// From before the oldest kept: OUT_OF_RANGE.
		for from := uint64(1); from < c.oldest; from++ {
			_, err := s.ReadEvents(ctx, admin, EventQuery{From: from})
			if !errors.Is(err, errs.OutOfRange) || errs.KindOf(err) != errs.OutOfRange {
				t.Fatalf("ReadEvents from %d, the oldest kept %d: %v, want OUT_OF_RANGE", from, c.oldest, err)
			}
			if got := errs.MetadataOf(err)["oldest_revision"]; got != fmt.Sprint(c.oldest) {
				t.Errorf("oldest_revision %q, want %d", got, c.oldest)
			}
		}
		// From 0 and from the oldest: what is kept.
		for _, from := range []uint64{0, c.oldest} {
			page, err := s.ReadEvents(ctx, admin, EventQuery{From: from})
			if err != nil {
				t.Fatalf("ReadEvents from %d: %v", from, err)
			}
			if want := 6 - int(c.oldest); len(page.Events) != want || (want > 0 && page.Events[0].Revision != c.oldest) {
				t.Errorf("ReadEvents from %d after sweeping to %d: %d events, want %d from %d", from, c.oldest, len(page.Events), want, c.oldest)
			}
			if page.Head != 5 || page.Next != 6 {
				t.Errorf("ReadEvents from %d: head %d, next %d; want 5, 6", from, page.Head, page.Next)
			}
		}
	}
	// The log goes on from its head.
	th, err := s.CreateThread(ctx, admin, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "after"}, "")
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ReadEvents(ctx, admin, EventQuery{})
	if err != nil || len(page.Events) != 1 || page.Events[0].Revision != 6 || page.Events[0].Resource != th.Name {
		t.Fatalf("after the sweep, the log reads %v, %v; want revision 6, %s", page.Events, err, th.Name)
	}
}

// TestEventRevisionsSurviveReopen checks that after Close and Open the
// revisions continue from the head, also when the sweep had emptied the
// log: no revision is used twice.
func TestEventRevisionsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "forum.db")
	open := func() *Store {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := t.Context()
	s := open()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	write := func(s *Store, want uint64) {
		t.Helper()
		th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: fmt.Sprint(want)}, "")
		if err != nil {
			t.Fatal(err)
		}
		events, head := rawEvents(t, s)
		if head != want || len(events) == 0 || events[len(events)-1].Revision != want || events[len(events)-1].Resource != th.Name {
			t.Fatalf("the write made revision %d (head %d), want %d", events[len(events)-1].Revision, head, want)
		}
	}
	write(s, 2)
	write(s, 3)
	s.Close()
	s = open()
	if head, err := s.EventHead(ctx); err != nil || head != 3 {
		t.Fatalf("EventHead after reopening: %d, %v; want 3", head, err)
	}
	write(s, 4)
	if n, err := s.SweepEvents(ctx, time.Now().Add(time.Hour), 100); err != nil || n != 4 {
		t.Fatalf("SweepEvents: %d, %v; want 4", n, err)
	}
	s.Close()
	s = open()
	write(s, 5)
	if _, err := s.ReadEvents(ctx, a, EventQuery{From: 4}); !errors.Is(err, errs.OutOfRange) {
		t.Fatalf("ReadEvents from a swept revision after reopening: %v, want OUT_OF_RANGE", err)
	}
}

// TestMigrateFromSchema3 opens a database of schema version 3 (no event
// log) and checks that Open stamps version 4 without making events, and
// that the first change then gets revision 1.
func TestMigrateFromSchema3(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	f := newForumScenario(t, s)
	before := observeScenario(t, s, f)
	s.Close()

	// Rewrite the file in the version 3 layout: no events, no head.
	eng, err := kv.OpenBolt(path, allBuckets, kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Update(ctx, func(tx kv.Tx) error {
		if err := clearBuckets(tx, bucketEvents); err != nil {
			return err
		}
		for _, k := range [][]byte{metaEventHead, metaEventOldest} {
			if err := tx.Delete(bucketMeta, k); err != nil {
				return err
			}
		}
		return tx.Put(bucketMeta, metaSchemaVersion, u64(3))
	}); err != nil {
		t.Fatal(err)
	}
	eng.Close()

	s = openMigrated(t, path)
	if events, head := rawEvents(t, s); len(events) != 0 || head != 0 {
		t.Fatalf("after the migration the log holds %d events, head %d; want none", len(events), head)
	}
	if after := observeScenario(t, s, f); !slices.Equal(after, before) {
		t.Error("the migration changed what readers read")
	}
	r, err := s.CreateReply(ctx, f.alice, resname.MustParseThread(f.threads[0]), &forumv1.Reply{Body: "the first change"}, "")
	if err != nil {
		t.Fatal(err)
	}
	events, head := rawEvents(t, s)
	if head != 1 || len(events) != 1 || events[0].Revision != 1 || events[0].Type != forumv1.EventType_EVENT_TYPE_REPLY_CREATED || events[0].Resource != r.Name {
		t.Fatalf("the first change after the migration: head %d, %v; want revision 1, REPLY_CREATED %s", head, events, r.Name)
	}
}

// TestEventHoldsNoAliasOfTheResult checks that the event of a write holds
// the resource as the write returned it, and that changing the value
// returned (as the server may) changes nothing in the log: appendEvent
// marshals at once and keeps no reference.
func TestEventHoldsNoAliasOfTheResult(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "t", Body: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateReply(ctx, a, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "r"}, "")
	if err != nil {
		t.Fatal(err)
	}
	wantThread, wantReply := stored(th), stored(r)
	th.Title, r.Body = "changed by the caller", "changed by the caller"
	events, _ := rawEvents(t, s)
	if got := eventState(events[1]); !proto.Equal(got, wantThread) {
		t.Errorf("thread event holds %v, want %v", got, wantThread)
	}
	if got := eventState(events[2]); !proto.Equal(got, wantReply) {
		t.Errorf("reply event holds %v, want %v", got, wantReply)
	}
	// A thread's event leaves out what reads derive, and the value
	// returned keeps it.
	u, err := s.UpdateThread(ctx, a, resname.MustParseThread(th.Name), &forumv1.Thread{Name: th.Name, Title: "t2"}, []string{"title"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ReplyCount != 1 || u.LastActivityTime == nil {
		t.Errorf("UpdateThread returned reply count %d, last activity %v", u.ReplyCount, u.LastActivityTime)
	}
	events, _ = rawEvents(t, s)
	if got := eventState(events[3]).(*forumv1.Thread); got.ReplyCount != 0 || got.LastActivityTime != nil || !proto.Equal(got, stored(u)) {
		t.Errorf("thread update event holds %v, want %v", got, stored(u))
	}
}

// BenchmarkCreateReplyParallel measures CreateReply, the hot write path,
// from 64 goroutines, with fsync (the default) and without.
func BenchmarkCreateReplyParallel(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%t", noSync), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "forum.db"), Options{NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a := member(b, s, "alice", forumv1.Role_ROLE_MEMBER)
			th, err := s.CreateThread(b.Context(), a, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "bench"}, "")
			if err != nil {
				b.Fatal(err)
			}
			parent := resname.MustParseThread(th.Name)
			body := strings.Repeat("A reply of a typical length. ", 20)
			r := &forumv1.Reply{Body: body, BodyHtml: "<p>" + body + "</p>"}
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)) // 64 goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.CreateReply(b.Context(), a, parent, r, ""); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestDeletedReplyEventsLoseTheBody checks that once a reply is deleted,
// its earlier events no longer carry its body, to anyone: the tombstone is
// all that is left of it, in the log as in GetReply.
func TestDeletedReplyEventsLoseTheBody(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	alice := member(t, s, "alice", forumv1.Role_ROLE_MEMBER)
	th, err := s.CreateThread(ctx, alice, &forumv1.Thread{Theme: DemoThemes[0].Name, Title: "t", Body: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateReply(ctx, alice, resname.MustParseThread(th.Name), &forumv1.Reply{Body: "a secret I regret"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateReply(ctx, alice, resname.MustParseReply(r.Name), &forumv1.Reply{Name: r.Name, Body: "still regretted"}); err != nil {
		t.Fatal(err)
	}
	bodies := func(a authz.Actor) []string {
		page, err := s.ReadEvents(ctx, a, EventQuery{From: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, ev := range page.Events {
			if ev.Resource == r.Name {
				out = append(out, ev.Type.String()+":"+ev.GetReply().GetBody())
			}
		}
		return out
	}
	if got := bodies(authz.Actor{}); len(got) != 2 || got[0] != "EVENT_TYPE_REPLY_CREATED:a secret I regret" {
		t.Fatalf("before the deletion: %q", got)
	}
	if _, err := s.DeleteReply(ctx, alice, resname.MustParseReply(r.Name), "", ""); err != nil {
		t.Fatal(err)
	}
	for _, a := range []authz.Actor{{}, alice, authz.SystemActor} {
		got := bodies(a)
		if len(got) != 3 {
			t.Fatalf("%q sees %q, want three events of the reply", a.User, got)
		}
		for _, b := range got {
			if strings.Contains(b, "regret") {
				t.Errorf("%q still reads the deleted reply's body in %q", a.User, b)
			}
		}
	}
}
