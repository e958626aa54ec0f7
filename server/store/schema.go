package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The key layout. Every bucket name and key encoding used by the store lives
// in this file; nothing else writes a bucket name or builds a key by hand.
//
// Integers in keys are 8-byte big-endian, so byte order is numeric order and
// a cursor walks them in creation order. Values are protobuf messages of
// package forum.v1 unless noted.
//
//	meta                 "schema_version" → u64; "page_token_key" → 32 random bytes
//	themes               slug → Theme (thread_count, last_activity_time left empty)
//	themeGates           slug → gate: the theme's visibility and groups (schema 3; cached: gateCache)
//	themeStats           slug → counters: thread count, last activity; none before its first thread (schema 2)
//	threads              thread id → Thread (follow_ups, reply_count and last_activity_time left empty)
//	threadHeads          thread id → head: theme, author, state, pinned, locked, deleted (schema 3; locked 9)
//	threadStats          thread id → counters: reply count, last activity           (schema 2)
//	threadActivity       rank(pinned, last activity, thread id) → nil        (all threads)
//	themeActivity        slug 0x00 rank(...) → nil                           (threads of a theme)
//	themeCreated         slug 0x00 thread id → nil                           (threads of a theme, by creation)
//	followUps            parent thread id, follow-up thread id → deleted (1 byte), theme name
//	replies              thread id, reply id → Reply
//	users                user id → User
//	usernames            username → user id
//	credentials          user id → password hash (PHC string)
//	sessions             SHA-256(token) → sessionRecord (JSON): login sessions and API tokens
//	userSessions         user id, SHA-256(token) → nil                       (a user's login sessions)
//	apiTokens            user id, token id → ApiToken (without its secret)
//	apiTokenHashes       user id, token id → SHA-256(token)
//	invitations          invitation id → Invitation (without its code)
//	invitationCodes      SHA-256(code) → invitation id
//	groups               slug → Group
//	groupMembers         group slug 0x00 user id → nil
//	groupThemes          group slug 0x00 theme slug → nil                     (themes restricted to a group)
//	requests             user name 0x00 method 0x00 request id → resource name
//	organizations        slug → Organization
//	organizationUsers    slug 0x00 user id → nil                             (members of an organisation)
//	events               revision → Event (the event log, schema 4; meta "event_head", "event_oldest");
//	                     a reply's event without its reply (by reference, schema 6: resolveReply),
//	                     a notification's without the notification (schema 8: resolveNotification)
//	replyVersions        thread id, reply id, update time (unix ns) → Reply: a version of a reply that
//	                     its event refers to and a later edit replaced (schema 6)
//	webhooks             user id, webhook id → Webhook (without its secret)            (schema 5)
//	webhookSecrets       user id, webhook id → the signing secret, as is               (schema 5)
//	webhookStates        user id, webhook id → webhookState (JSON): cursor, attempts, next try (schema 5)
//	webhookDeliveries    user id, webhook id, delivery id → WebhookDelivery (the last 100) (schema 5)
//	webhookQueue         user id, webhook id, seq → queuedDelivery (JSON): pings, redeliveries (schema 5)
//	subscriptions        user id, target → Subscription                          (schema 7)
//	subscribers          target, user id → level (1 byte): who subscribes to what (schema 7)
//	notifications        user id, notification id → Notification                 (schema 7)
//	notificationsUnread  user id, notification id → nil: the unread ones          (schema 7)
//	mentioned            thread id, reply id (0 for the thread), user id → nil: who was told of
//	                     a mention in a post, so that an edit tells only the new ones (schema 7)
//	readMarks            user id, thread id → u64: the last reply the user read   (schema 7)
//	notificationSettings user id → NotificationSettings (absent: the defaults)   (schema 7)
//	outbox               mail id → outboxEntry (JSON): mail waiting to be sent    (schema 7)
//	digests              user id → u64: unix ns of the user's last digest         (schema 7)
//	reactions            thread id, reply id (0: the thread), user id, reaction (1 byte) → nil (schema 9)
//	reactionCounts       thread id, reply id → 5 big-endian u32: a post's count of each reaction (schema 9)
//	convenings           slug → Convening                                        (schema 9)
//	conveningsByStart    start date (YYYY-MM-DD) 0x00 slug → nil: the list's order (schema 9)
//	conveningThreads     slug 0x00 thread id → nil: the threads of a convening   (schema 9)
//	actionItems          thread id, item id → ActionItem (its history within)    (schema 9)
//	actionItemReminders  thread id, item id, stage (1 due soon, 2 overdue) → nil: reminders sent (schema 9)
//	revisions            thread id, reply id (0: the thread), revision number → Revision: a post's
//	                     versions, stored from its first edit on; number 0 → u64, the last (schema 9)
//
// A target in subscriptions and subscribers is [1][thread id] for a thread,
// [0][slug][0x00] for a theme (subscriptionTarget). meta
// "notification_cursor" (u64) is the last revision the notifications were
// derived from; "notification_partial" (u64 revision, u64 user id) marks an
// event whose recipients were only partly told, and the last one told.
//
// rank is [0 if pinned else 1][^last activity unix ns][thread id], so an
// ascending scan yields pinned threads first, then the most recently active.
//
// counters are 16 bytes: a count (u64) and the unix ns of the last activity
// (u64, 0 for none). A thread's and a theme's counters live apart from their
// records, so that a reply rewrites 32 bytes instead of its thread, whose
// body and rendered HTML may be 128 KiB, and its theme (schema version 2;
// in version 1 the counters were in the records, and Open copies them out,
// see migrate).
//
// A thread's head and a theme's gate are what every read of a thread or
// reply checks (who may see it, whether it takes replies). They are copies of
// fields of the full records, kept beside them so that those checks read a
// few dozen bytes instead of decoding a thread whose body may be 128 KiB
// (schema version 3; before it the store picked the fields out of the
// encoded records by hand). Every write of a thread or a theme writes its
// head or gate in the same transaction (putThread, putTheme; DeleteTheme
// deletes the gate); see threadHeadValue and themeGateValue for their
// encodings.
const (
	bucketMeta              kv.Bucket = "meta"
	bucketThemes            kv.Bucket = "themes"
	bucketThreads           kv.Bucket = "threads"
	bucketThreadStats       kv.Bucket = "thread_stats"
	bucketThemeStats        kv.Bucket = "theme_stats"
	bucketThreadHeads       kv.Bucket = "thread_heads"
	bucketThemeGates        kv.Bucket = "theme_gates"
	bucketThreadActivity    kv.Bucket = "thread_activity"
	bucketThemeActivity     kv.Bucket = "theme_activity"
	bucketThemeCreated      kv.Bucket = "theme_created"
	bucketFollowUps         kv.Bucket = "follow_ups"
	bucketReplies           kv.Bucket = "replies"
	bucketUsers             kv.Bucket = "users"
	bucketUsernames         kv.Bucket = "usernames"
	bucketCredentials       kv.Bucket = "credentials"
	bucketSessions          kv.Bucket = "sessions"
	bucketRequests          kv.Bucket = "requests"
	bucketOrganizations     kv.Bucket = "organizations"
	bucketOrgUsers          kv.Bucket = "organization_users"
	bucketUserSessions      kv.Bucket = "user_sessions"
	bucketAPITokens         kv.Bucket = "api_tokens"
	bucketAPITokenHashes    kv.Bucket = "api_token_hashes"
	bucketInvitations       kv.Bucket = "invitations"
	bucketInviteCodes       kv.Bucket = "invitation_codes"
	bucketGroups            kv.Bucket = "groups"
	bucketGroupMembers      kv.Bucket = "group_members"
	bucketGroupThemes       kv.Bucket = "group_themes"
	bucketEvents            kv.Bucket = "events"
	bucketWebhooks          kv.Bucket = "webhooks"
	bucketWebhookSecrets    kv.Bucket = "webhook_secrets"
	bucketWebhookStates     kv.Bucket = "webhook_states"
	bucketWebhookLog        kv.Bucket = "webhook_deliveries"
	bucketWebhookQueue      kv.Bucket = "webhook_queue"
	bucketReplyVersions     kv.Bucket = "reply_versions"
	bucketSubscriptions     kv.Bucket = "subscriptions"
	bucketSubscribers       kv.Bucket = "subscribers"
	bucketNotifications     kv.Bucket = "notifications"
	bucketUnread            kv.Bucket = "notifications_unread"
	bucketMentioned         kv.Bucket = "mentioned"
	bucketReadMarks         kv.Bucket = "read_marks"
	bucketSettings          kv.Bucket = "notification_settings"
	bucketOutbox            kv.Bucket = "outbox"
	bucketDigests           kv.Bucket = "digests"
	bucketReactions         kv.Bucket = "reactions"
	bucketReactionCounts    kv.Bucket = "reaction_counts"
	bucketConvenings        kv.Bucket = "convenings"
	bucketConveningsByStart kv.Bucket = "convenings_by_start"
	bucketConveningThreads  kv.Bucket = "convening_threads"
	bucketActionItems       kv.Bucket = "action_items"
	bucketItemReminders     kv.Bucket = "action_item_reminders"
	bucketRevisions         kv.Bucket = "revisions"
)

// allBuckets lists every bucket; Open creates the missing ones.
var allBuckets = []kv.Bucket{
	bucketMeta, bucketThemes, bucketThreads, bucketThreadActivity, bucketThemeActivity,
	bucketThemeCreated, bucketFollowUps, bucketReplies, bucketUsers, bucketUsernames,
	bucketCredentials, bucketSessions, bucketRequests, bucketOrganizations, bucketOrgUsers,
	bucketUserSessions, bucketAPITokens, bucketAPITokenHashes, bucketInvitations, bucketInviteCodes,
	bucketGroups, bucketGroupMembers, bucketGroupThemes, bucketThreadStats, bucketThemeStats,
	bucketThreadHeads, bucketThemeGates, bucketEvents,
	bucketWebhooks, bucketWebhookSecrets, bucketWebhookStates, bucketWebhookLog, bucketWebhookQueue,
	bucketReplyVersions,
	bucketSubscriptions, bucketSubscribers, bucketNotifications, bucketUnread,
	bucketMentioned, bucketReadMarks, bucketSettings, bucketOutbox, bucketDigests,
	bucketReactions, bucketReactionCounts,
	bucketConvenings, bucketConveningsByStart, bucketConveningThreads,
	bucketActionItems, bucketItemReminders, bucketRevisions,
}

// SchemaVersion is the version of the key layout above. Open stamps it in a
// new file, brings an older file up to it (migrate) and refuses a file with
// a newer one.
const SchemaVersion = 9

var (
	metaSchemaVersion = []byte("schema_version")
	metaPageTokenKey  = []byte("page_token_key")
)

func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

func readU64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// threadKey is the key of a thread in the threads bucket.
func threadKey(id uint64) []byte { return u64(id) }

// migrate brings a database of schema version from up to SchemaVersion in
// tx, one version at a time (migrations), and returns how many records it
// wrote.
func migrate(tx kv.Tx, from uint64) (int, error) {
	if from < 1 || from >= SchemaVersion {
		return 0, fmt.Errorf("no migration from schema version %d", from)
	}
	n := 0
	for v := from; v < SchemaVersion; v++ {
		step := migrations[v]
		if step == nil {
			return 0, fmt.Errorf("no migration from schema version %d", v)
		}
		m, err := step(tx)
		if err != nil {
			return 0, fmt.Errorf("to schema version %d: %w", v+1, err)
		}
		n += m
	}
	return n, tx.Put(bucketMeta, metaSchemaVersion, u64(SchemaVersion))
}

// migrations[v] brings a database of schema version v to version v+1 and
// returns how many records it wrote; migrate stamps the version.
var migrations = [SchemaVersion]func(tx kv.Tx) (int, error){
	1: migrateTo2,
	2: migrateTo3,
	3: migrateTo4,
	4: migrateTo5,
	5: migrateTo6,
	6: migrateTo7,
	7: migrateTo8,
	8: migrateTo9,
}

// migrateTo2: version 1 kept the counters of threads and themes in their
// records; version 2 keeps them in threadStats and themeStats. The records
// keep their old copies, which nothing reads (getThread and getTheme take
// the stats'), until their next write drops them.
func migrateTo2(tx kv.Tx) (int, error) {
	n, err := deriveRecords(tx, bucketThreads, bucketThreadStats, func(v []byte) ([]byte, error) {
		t := new(forumv1.Thread)
		err := proto.Unmarshal(v, t)
		return countersValue(counters{count: t.ReplyCount, lastActivity: activityNanos(t.LastActivityTime)}), err
	})
	if err != nil {
		return 0, err
	}
	m, err := deriveRecords(tx, bucketThemes, bucketThemeStats, func(v []byte) ([]byte, error) {
		t := new(forumv1.Theme)
		err := proto.Unmarshal(v, t)
		return countersValue(counters{count: t.ThreadCount, lastActivity: activityNanos(t.LastActivityTime)}), err
	})
	return n + m, err
}

// migrateTo3: version 3 adds threadHeads and themeGates, which until then
// were read out of the thread and theme records themselves.
func migrateTo3(tx kv.Tx) (int, error) {
	n, err := deriveRecords(tx, bucketThreads, bucketThreadHeads, func(v []byte) ([]byte, error) {
		t := new(forumv1.Thread)
		err := proto.Unmarshal(v, t)
		return threadHeadValue(headOf(t)), err
	})
	if err != nil {
		return 0, err
	}
	m, err := deriveRecords(tx, bucketThemes, bucketThemeGates, func(v []byte) ([]byte, error) {
		t := new(forumv1.Theme)
		err := proto.Unmarshal(v, t)
		return themeGateValue(gateOf(t)), err
	})
	return n + m, err
}

// migrateTo4: version 4 adds the event log (events, and the meta keys
// event_head and event_oldest), which starts empty: the first change after
// the migration is revision 1.
func migrateTo4(kv.Tx) (int, error) { return 0, nil }

// migrateTo5: version 5 adds webhooks (webhooks, webhookSecrets,
// webhookStates, webhookDeliveries, webhookQueue), which Open creates
// empty: there is nothing to move.
func migrateTo5(kv.Tx) (int, error) { return 0, nil }

// migrateTo6: version 6 stores the events of replies by reference
// (appendReplyEvent) and adds replyVersions, which Open creates empty. The
// reply events of earlier versions hold their replies and are read as
// they are: there is nothing to move. The version is stamped so that an
// older forumd, which would read a reply event without its reply as an
// event of nothing, refuses the file.
func migrateTo6(kv.Tx) (int, error) { return 0, nil }

// migrateTo7: version 7 adds subscriptions, notifications and read marks
// (buckets Open creates empty), and starts deriving notifications from
// the log's head: the posts made before the upgrade notify no one.
func migrateTo7(tx kv.Tx) (int, error) {
	head, err := tx.Get(bucketMeta, metaEventHead)
	if err != nil {
		return 0, err
	}
	return 0, tx.Put(bucketMeta, metaNotificationCursor, u64(readU64(head)))
}

// migrateTo8: version 8 stores the events of notifications by reference
// (deriver.tell). The events of earlier versions hold their notifications
// and are read as they are. The version is stamped so that an older
// forumd, which would read such an event as an event of nothing, refuses
// the file.
func migrateTo8(kv.Tx) (int, error) { return 0, nil }

// migrateTo9: version 9 keeps a thread's lock apart from its state
// (Thread.locked): a thread of state LOCKED becomes OPEN and locked, in its
// record and its head. (Whether a locked thread had been resolved before
// was not kept: it opens as OPEN.) The thread events of earlier versions
// that hold a LOCKED thread are read as they are, and shown as OPEN and
// locked (lockedCompat).
func migrateTo9(tx kv.Tx) (int, error) {
	type entry struct {
		id uint64
		t  *forumv1.Thread
	}
	var locked []entry
	var perr error
	err := tx.Scan(bucketThreads, nil, nil, false, func(k, v []byte) bool {
		t := new(forumv1.Thread)
		if perr = proto.Unmarshal(v, t); perr != nil {
			perr = fmt.Errorf("store: corrupt record in %s: %w", bucketThreads, perr)
			return false
		}
		if t.State == stateLockedLegacy {
			locked = append(locked, entry{readU64(k), t})
		}
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return 0, err
	}
	for _, e := range locked {
		e.t.State, e.t.Locked = forumv1.ThreadState_THREAD_STATE_OPEN, true
		if err := putThread(tx, e.id, e.t); err != nil {
			return 0, err
		}
	}
	return len(locked), nil
}

// deriveRecords puts, for every record of bucket records, derive(its
// value) under the same key in bucket side, and returns how many it put.
func deriveRecords(tx kv.Tx, records, side kv.Bucket, derive func(v []byte) ([]byte, error)) (int, error) {
	type entry struct{ key, value []byte }
	var all []entry
	var perr error
	err := tx.Scan(records, nil, nil, false, func(k, v []byte) bool {
		d, err := derive(v)
		if err != nil {
			perr = fmt.Errorf("corrupt record in %s: %w", records, err)
			return false
		}
		all = append(all, entry{bytes.Clone(k), d})
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return 0, err
	}
	for _, e := range all {
		if err := tx.Put(side, e.key, e.value); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// counters are the counters of a thread (in threadStats) or a theme (in
// themeStats).
type counters struct {
	count        int64 // a thread's replies, a theme's threads; deleted ones are not counted
	lastActivity int64 // unix ns of the latest post; 0 for none
}

// countersValue encodes c as its threadStats or themeStats value.
func countersValue(c counters) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(c.count))
	return binary.BigEndian.AppendUint64(v, uint64(c.lastActivity))
}

// parseCounters decodes a value of bucket b, threadStats or themeStats.
func parseCounters(b kv.Bucket, v []byte) (counters, error) {
	if len(v) != 16 {
		return counters{}, fmt.Errorf("store: corrupt record in %s: %d bytes", b, len(v))
	}
	return counters{count: int64(binary.BigEndian.Uint64(v)), lastActivity: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

// The encodings of threadHeads and themeGates values. They are written by
// hand rather than as protobuf messages: the records are a handful of fixed
// fields that only this package reads, a fixed layout decodes with bounds
// checks and no reflection (the head is read by every reply), and the
// generated code of gen/ is the public API, where a store-internal message
// does not belong. The first byte is the layout's version, so that a later
// layout can be told from this one; a reader refuses versions it does not
// know, as Open refuses a newer schema. Counts and lengths are unsigned
// varints (encoding/binary's AppendUvarint); integers are big-endian. Every
// string carries its length and nothing may follow the last one, so a value
// cut short or run on is an error rather than a shorter name (an author
// "users/1" read out of "users/12" would pass another user's ownership
// check).
//
// threadHeads, version 1:
//
//	[0]      1
//	[1]      flags: 1 pinned, 2 deleted (delete_time set), 4 locked (schema 9);
//	         other bits 0
//	[2:6]    state: forumv1.ThreadState as int32 (OPEN or RESOLVED from schema 9)
//	uvarint  n, then n bytes: theme, the theme's resource name
//	uvarint  n, then n bytes: author, the author's resource name
//
// themeGates, version 1:
//
//	[0]      1
//	[1:5]    visibility: forumv1.ThemeVisibility as int32
//	uvarint  the number of groups; for each: uvarint n, then n bytes: the
//	         group's resource name
const (
	threadHeadVersion = 1
	themeGateVersion  = 1

	headPinned  = 1
	headDeleted = 2
	headLocked  = 4 // schema 9
)

// threadHeadValue encodes h (without its id) as its threadHeads value.
func threadHeadValue(h threadHead) []byte {
	v := make([]byte, 0, 6+2*binary.MaxVarintLen16+len(h.theme)+len(h.author))
	var flags byte
	if h.pinned {
		flags |= headPinned
	}
	if h.deleted {
		flags |= headDeleted
	}
	if h.locked {
		flags |= headLocked
	}
	v = append(v, threadHeadVersion, flags)
	v = binary.BigEndian.AppendUint32(v, uint32(h.state))
	v = appendUvarintString(v, h.theme)
	return appendUvarintString(v, h.author)
}

// parseThreadHead decodes a threadHeads value; the id is left 0.
func parseThreadHead(v []byte) (threadHead, error) {
	if len(v) < 6 || v[0] != threadHeadVersion || v[1]&^(headPinned|headDeleted|headLocked) != 0 {
		return threadHead{}, fmt.Errorf("not a thread head of version %d (%d bytes)", threadHeadVersion, len(v))
	}
	h := threadHead{
		pinned:  v[1]&headPinned != 0,
		deleted: v[1]&headDeleted != 0,
		locked:  v[1]&headLocked != 0,
		state:   forumv1.ThreadState(int32(binary.BigEndian.Uint32(v[2:6]))),
	}
	theme, rest, err := cutUvarintBytes(v[6:])
	if err != nil {
		return threadHead{}, fmt.Errorf("thread head: theme: %w", err)
	}
	author, rest, err := cutUvarintBytes(rest)
	if err != nil {
		return threadHead{}, fmt.Errorf("thread head: author: %w", err)
	}
	if len(rest) != 0 {
		return threadHead{}, fmt.Errorf("thread head: %d bytes after the author", len(rest))
	}
	h.theme, h.author = string(theme), string(author)
	return h, nil
}

// themeGateValue encodes g as its themeGates value.
func themeGateValue(g themeGate) []byte {
	n := 5 + binary.MaxVarintLen16
	for _, name := range g.groups {
		n += binary.MaxVarintLen16 + len(name)
	}
	v := append(make([]byte, 0, n), themeGateVersion)
	v = binary.BigEndian.AppendUint32(v, uint32(g.visibility))
	v = binary.AppendUvarint(v, uint64(len(g.groups)))
	for _, name := range g.groups {
		v = appendUvarintString(v, name)
	}
	return v
}

// parseThemeGate decodes a themeGates value.
func parseThemeGate(v []byte) (themeGate, error) {
	if len(v) < 5 || v[0] != themeGateVersion {
		return themeGate{}, fmt.Errorf("not a theme gate of version %d (%d bytes)", themeGateVersion, len(v))
	}
	g := themeGate{visibility: forumv1.ThemeVisibility(int32(binary.BigEndian.Uint32(v[1:5])))}
	count, k := binary.Uvarint(v[5:])
	rest := v[5+max(k, 0):]
	// Each group takes at least a byte, which bounds the count before
	// anything is allocated for it.
	if k <= 0 || count > uint64(len(rest)) {
		return themeGate{}, fmt.Errorf("theme gate: bad group count at %d bytes", len(v)-5)
	}
	if count > 0 {
		g.groups = make([]string, 0, count)
	}
	for range count {
		name, r, err := cutUvarintBytes(rest)
		if err != nil {
			return themeGate{}, fmt.Errorf("theme gate: group %d: %w", len(g.groups), err)
		}
		g.groups, rest = append(g.groups, string(name)), r
	}
	if len(rest) != 0 {
		return themeGate{}, fmt.Errorf("theme gate: %d bytes after the last group", len(rest))
	}
	return g, nil
}

// appendUvarintString appends s to v after its length, a uvarint.
func appendUvarintString(v []byte, s string) []byte {
	return append(binary.AppendUvarint(v, uint64(len(s))), s...)
}

// cutUvarintBytes splits b after a uvarint length n and the n bytes that
// follow it, which it returns with the rest.
func cutUvarintBytes(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("bad length at %d bytes", len(b))
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// activityNanos returns t in unix ns, 0 if t is nil.
func activityNanos(t *timestamppb.Timestamp) int64 {
	if t == nil {
		return 0
	}
	return t.AsTime().UnixNano()
}

// activityTime is the inverse of activityNanos.
func activityTime(ns int64) *timestamppb.Timestamp {
	if ns == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(0, ns))
}

// rankKey orders threads: pinned first, then by last activity, newest first.
func rankKey(pinned bool, lastActivityNanos int64, id uint64) []byte {
	k := make([]byte, 0, 17)
	if pinned {
		k = append(k, 0)
	} else {
		k = append(k, 1)
	}
	k = binary.BigEndian.AppendUint64(k, ^uint64(lastActivityNanos))
	return binary.BigEndian.AppendUint64(k, id)
}

// idFromRankKey returns the thread id at the end of a rank key (with or
// without a theme prefix).
func idFromRankKey(k []byte) uint64 { return readU64(k[len(k)-8:]) }

// themePrefix starts every key of a theme in themeActivity and themeCreated.
func themePrefix(slug string) []byte {
	return append([]byte(slug), 0)
}

func themeActivityKey(slug string, pinned bool, lastActivityNanos int64, id uint64) []byte {
	return append(themePrefix(slug), rankKey(pinned, lastActivityNanos, id)...)
}

func themeCreatedKey(slug string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(themePrefix(slug), id)
}

func followUpKey(parent, child uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(parent), child)
}

// followUpValue is the followUps value: whether the follow-up is deleted,
// and its theme.
func followUpValue(deleted bool, theme string) []byte {
	v := []byte{0}
	if deleted {
		v[0] = 1
	}
	return append(v, theme...)
}

func replyKey(thread, reply uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(thread), reply)
}

func orgUserKey(slug string, user uint64) []byte {
	return binary.BigEndian.AppendUint64(themePrefix(slug), user)
}

func requestKey(user, method, requestID string) []byte {
	return []byte(user + "\x00" + method + "\x00" + requestID)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// themeSlug returns the slug of theme name, a name read from storage or
// already parsed (resname.ParseTheme) where the request came in.
func themeSlug(name string) string { return strings.TrimPrefix(name, "themes/") }
