package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
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
//	themes               slug → Theme (thread_count, last_activity_time left empty; gate cached: gateCache)
//	themeStats           slug → counters: thread count, last activity; none before its first thread (schema 2)
//	threads              thread id → Thread (follow_ups, reply_count and last_activity_time left empty)
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
const (
	bucketMeta           kv.Bucket = "meta"
	bucketThemes         kv.Bucket = "themes"
	bucketThreads        kv.Bucket = "threads"
	bucketThreadStats    kv.Bucket = "thread_stats"
	bucketThemeStats     kv.Bucket = "theme_stats"
	bucketThreadActivity kv.Bucket = "thread_activity"
	bucketThemeActivity  kv.Bucket = "theme_activity"
	bucketThemeCreated   kv.Bucket = "theme_created"
	bucketFollowUps      kv.Bucket = "follow_ups"
	bucketReplies        kv.Bucket = "replies"
	bucketUsers          kv.Bucket = "users"
	bucketUsernames      kv.Bucket = "usernames"
	bucketCredentials    kv.Bucket = "credentials"
	bucketSessions       kv.Bucket = "sessions"
	bucketRequests       kv.Bucket = "requests"
	bucketOrganizations  kv.Bucket = "organizations"
	bucketOrgUsers       kv.Bucket = "organization_users"
	bucketUserSessions   kv.Bucket = "user_sessions"
	bucketAPITokens      kv.Bucket = "api_tokens"
	bucketAPITokenHashes kv.Bucket = "api_token_hashes"
	bucketInvitations    kv.Bucket = "invitations"
	bucketInviteCodes    kv.Bucket = "invitation_codes"
	bucketGroups         kv.Bucket = "groups"
	bucketGroupMembers   kv.Bucket = "group_members"
	bucketGroupThemes    kv.Bucket = "group_themes"
)

// allBuckets lists every bucket; Open creates the missing ones.
var allBuckets = []kv.Bucket{
	bucketMeta, bucketThemes, bucketThreads, bucketThreadActivity, bucketThemeActivity,
	bucketThemeCreated, bucketFollowUps, bucketReplies, bucketUsers, bucketUsernames,
	bucketCredentials, bucketSessions, bucketRequests, bucketOrganizations, bucketOrgUsers,
	bucketUserSessions, bucketAPITokens, bucketAPITokenHashes, bucketInvitations, bucketInviteCodes,
	bucketGroups, bucketGroupMembers, bucketGroupThemes, bucketThreadStats, bucketThemeStats,
}

// SchemaVersion is the version of the key layout above. Open stamps it in a
// new file, brings an older file up to it (migrate) and refuses a file with
// a newer one.
const SchemaVersion = 2

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
// tx, and returns how many records (threads and themes) it changed.
//
// Version 1 kept the counters of threads and themes in their records;
// version 2 keeps them in threadStats and themeStats. The records keep their
// old copies, which nothing reads (getThread and getTheme take the stats'),
// until their next write drops them.
func migrate(tx kv.Tx, from uint64) (int, error) {
	if from != 1 {
		return 0, fmt.Errorf("no migration from schema version %d", from)
	}
	n := 0
	for _, b := range []struct {
		records, stats kv.Bucket
		read           func(v []byte) (counters, error)
	}{
		{bucketThreads, bucketThreadStats, func(v []byte) (counters, error) {
			t := new(forumv1.Thread)
			err := proto.Unmarshal(v, t)
			return counters{count: t.ReplyCount, lastActivity: activityNanos(t.LastActivityTime)}, err
		}},
		{bucketThemes, bucketThemeStats, func(v []byte) (counters, error) {
			t := new(forumv1.Theme)
			err := proto.Unmarshal(v, t)
			return counters{count: t.ThreadCount, lastActivity: activityNanos(t.LastActivityTime)}, err
		}},
	} {
		type entry struct {
			key []byte
			c   counters
		}
		var all []entry
		var perr error
		err := tx.Scan(b.records, nil, nil, false, func(k, v []byte) bool {
			c, err := b.read(v)
			if err != nil {
				perr = fmt.Errorf("corrupt record in %s: %w", b.records, err)
				return false
			}
			all = append(all, entry{bytes.Clone(k), c})
			return true
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return 0, err
		}
		for _, e := range all {
			if err := tx.Put(b.stats, e.key, countersValue(e.c)); err != nil {
				return 0, err
			}
		}
		n += len(all)
	}
	return n, tx.Put(bucketMeta, metaSchemaVersion, u64(SchemaVersion))
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

// Resource names.

func themeName(slug string) string     { return "themes/" + slug }
func threadName(id uint64) string      { return "threads/" + strconv.FormatUint(id, 10) }
func userName(id uint64) string        { return "users/" + strconv.FormatUint(id, 10) }
func replyName(t, r uint64) string     { return threadName(t) + "/replies/" + strconv.FormatUint(r, 10) }
func themeSlug(name string) string     { return strings.TrimPrefix(name, "themes/") }
func parseThreadID(name string) uint64 { id, _ := ParseThreadName(name); return id }

// ParseThemeName returns the slug of `themes/{slug}`.
func ParseThemeName(name string) (string, error) {
	slug, ok := strings.CutPrefix(name, "themes/")
	if !ok || !ValidSlug(slug, 63) {
		return "", fmt.Errorf("%q is not a theme name (themes/{slug})", name)
	}
	return slug, nil
}

// ParseOrganizationName returns the slug of `organizations/{slug}`.
func ParseOrganizationName(name string) (string, error) {
	slug, ok := strings.CutPrefix(name, "organizations/")
	if !ok || !ValidSlug(slug, 63) {
		return "", fmt.Errorf("%q is not an organization name (organizations/{slug})", name)
	}
	return slug, nil
}

// ParseAPITokenName returns the ids of `users/{user}/tokens/{token}`.
func ParseAPITokenName(name string) (user, token uint64, err error) {
	u, t, ok := strings.Cut(name, "/tokens/")
	if ok {
		user, err = ParseUserName(u)
		if err == nil {
			token, err = parseID(t)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q is not an API token name (users/{user}/tokens/{token})", name)
	}
	return user, token, nil
}

// ParseGroupName returns the slug of `groups/{slug}`.
func ParseGroupName(name string) (string, error) {
	slug, ok := strings.CutPrefix(name, "groups/")
	if !ok || !ValidSlug(slug, 63) {
		return "", fmt.Errorf("%q is not a group name (groups/{slug})", name)
	}
	return slug, nil
}

// ParseThreadName returns the id of `threads/{id}`.
func ParseThreadName(name string) (uint64, error) {
	s, ok := strings.CutPrefix(name, "threads/")
	if !ok {
		return 0, fmt.Errorf("%q is not a thread name (threads/{id})", name)
	}
	id, err := parseID(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a thread name (threads/{id})", name)
	}
	return id, nil
}

// ParseReplyName returns the ids of `threads/{thread}/replies/{reply}`.
func ParseReplyName(name string) (thread, reply uint64, err error) {
	t, r, ok := strings.Cut(name, "/replies/")
	if ok {
		thread, err = ParseThreadName(t)
		if err == nil {
			reply, err = parseID(r)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q is not a reply name (threads/{thread}/replies/{reply})", name)
	}
	return thread, reply, nil
}

// ParseUserName returns the id of `users/{id}`.
func ParseUserName(name string) (uint64, error) {
	s, ok := strings.CutPrefix(name, "users/")
	if ok {
		if id, err := parseID(s); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%q is not a user name (users/{id})", name)
}

// parseID parses a positive decimal id without sign, leading zeros or spaces.
func parseID(s string) (uint64, error) {
	if s == "" || len(s) > 20 || s[0] == '0' {
		return 0, fmt.Errorf("invalid id %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid id %q", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// ValidSlug reports whether s is a lowercase slug of at most max bytes:
// `[a-z0-9]+(-[a-z0-9]+)*`.
func ValidSlug(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}
