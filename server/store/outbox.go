package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
)

// MailKey returns the key that signs the forum's unsubscribe links: derived
// from the store's own secret, so that it lives with the data (a restored
// backup keeps honouring its links) and needs no setting.
func (s *Store) MailKey() []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte("forum mail unsubscribe v1"))
	return m.Sum(nil)
}

// settingsName is the name of user's notification settings.
func settingsName(user resname.User) string { return user.String() + "/notificationSettings" }

// defaultSettings are a user's settings until they change them.
func defaultSettings(user resname.User) *forumv1.NotificationSettings {
	return &forumv1.NotificationSettings{
		Name: settingsName(user), EmailMentions: true, EmailReplies: true,
		EmailDigest: forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY,
	}
}

func getSettings(tx kv.Tx, user resname.User) (*forumv1.NotificationSettings, error) {
	out := new(forumv1.NotificationSettings)
	ok, err := getProto(tx, bucketSettings, u64(user.ID), out)
	if err != nil {
		return nil, err
	}
	if !ok {
		return defaultSettings(user), nil
	}
	return out, nil
}

// GetNotificationSettings returns user's notification settings.
func (s *Store) GetNotificationSettings(ctx context.Context, user resname.User) (*forumv1.NotificationSettings, error) {
	var out *forumv1.NotificationSettings
	err := s.kv.View(ctx, func(tx kv.Tx) (err error) {
		if _, err := getUser(tx, user.ID); err != nil {
			return err
		}
		out, err = getSettings(tx, user)
		return err
	})
	return out, err
}

// UpdateNotificationSettings sets the fields paths of user's settings to
// in's.
func (s *Store) UpdateNotificationSettings(ctx context.Context, user resname.User, in *forumv1.NotificationSettings, paths []string) (*forumv1.NotificationSettings, error) {
	var out *forumv1.NotificationSettings
	err := s.kv.Update(ctx, func(tx kv.Tx) (err error) {
		if _, err := getUser(tx, user.ID); err != nil {
			return err
		}
		if out, err = getSettings(tx, user); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "email_mentions":
				out.EmailMentions = in.EmailMentions
			case "email_replies":
				out.EmailReplies = in.EmailReplies
			case "email_digest":
				out.EmailDigest = in.EmailDigest
			}
		}
		out.UpdateTime = s.timestamp(out.UpdateTime)
		return putProto(tx, bucketSettings, u64(user.ID), out)
	})
	return out, err
}

// Mail scopes an unsubscribe link turns off (mail.ScopeAll and the others).
const (
	UnsubscribeAll       = "all"
	UnsubscribeDigest    = "digest"
	UnsubscribeImmediate = "immediate"
)

// Unsubscribe turns off the mail of scope for user.
func (s *Store) Unsubscribe(ctx context.Context, user resname.User, scope string) (*forumv1.NotificationSettings, error) {
	var paths []string
	in := &forumv1.NotificationSettings{EmailDigest: forumv1.DigestFrequency_DIGEST_FREQUENCY_NEVER}
	switch scope {
	case UnsubscribeAll:
		paths = []string{"email_mentions", "email_replies", "email_digest"}
	case UnsubscribeDigest:
		paths = []string{"email_digest"}
	case UnsubscribeImmediate:
		paths = []string{"email_mentions", "email_replies"}
	default:
		return nil, errs.InvalidField("token", "names no mail to stop")
	}
	return s.UpdateNotificationSettings(ctx, user, in, paths)
}

// outboxEntry is a mail waiting in the outbox (JSON, in bucket outbox
// under its id).
type outboxEntry struct {
	User         uint64 `json:"user"`
	Notification uint64 `json:"notification,omitempty"` // an immediate mail's
	// Digest, for a digest, holds the notifications it lists.
	Digest   []uint64 `json:"digest,omitempty"`
	Period   string   `json:"period,omitempty"`
	Attempts int      `json:"attempts,omitempty"`
	NextTry  int64    `json:"next_try,omitempty"` // unix ns; 0: at once
	Created  int64    `json:"created"`
}

// queueMail puts e in the outbox, in tx.
func queueMail(tx kv.Tx, e outboxEntry) error {
	id, err := tx.NextSequence(bucketOutbox)
	if err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Put(bucketOutbox, u64(id), v)
}

// wantsMail reports whether user's settings ask for immediate mail of
// kind.
func wantsMail(tx kv.Tx, user resname.User, kind forumv1.NotificationKind) (bool, error) {
	st, err := getSettings(tx, user)
	if err != nil {
		return false, err
	}
	switch kind {
	case forumv1.NotificationKind_NOTIFICATION_KIND_MENTION:
		return st.EmailMentions, nil
	case forumv1.NotificationKind_NOTIFICATION_KIND_REPLY:
		return st.EmailReplies, nil
	}
	return false, nil
}

// Mail is a mail of the outbox, ready to be written: its recipient and
// what it is about, checked when it was read.
type Mail struct {
	// ID is the outbox's id of the mail: the same across retries.
	ID uint64
	// User is the recipient, with their e-mail address.
	User *forumv1.User
	// Notifications are what the mail tells: one, or a digest's.
	Notifications []*forumv1.Notification
	// Period is a digest's ("daily", "weekly"); empty for an immediate
	// mail.
	Period string
	// Attempts is how many attempts failed before.
	Attempts int
}

// OutboxState is what DueMail found.
type OutboxState struct {
	// Due are the mails to send now.
	Due []Mail
	// Waiting is how many mails wait in the outbox.
	Waiting int
	// Next is when the earliest mail not due is (zero if none).
	Next time.Time
}

// DueMail returns at most limit mails due at now, in the order they were
// queued, and drops from the outbox, as it reads them, those that are no
// longer to be sent: to a user suspended, gone or without an address,
// about posts the user may no longer read (a digest keeps the rest).
func (s *Store) DueMail(ctx context.Context, now time.Time, limit int) (OutboxState, error) {
	var (
		st   OutboxState
		drop []uint64
	)
	// A read: it runs after every commit that wakes the mailer, and must
	// not queue behind the writers. What is to be dropped is deleted
	// after, in a write, when there is any.
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		st, drop = OutboxState{}, nil
		type item struct {
			id uint64
			e  outboxEntry
		}
		var items []item
		var perr error
		err := tx.Scan(bucketOutbox, nil, nil, false, func(k, v []byte) bool {
			var e outboxEntry
			if perr = json.Unmarshal(v, &e); perr != nil {
				perr = fmt.Errorf("store: corrupt record in %s: %w", bucketOutbox, perr)
				return false
			}
			st.Waiting++
			if e.NextTry > now.UnixNano() {
				if t := time.Unix(0, e.NextTry); st.Next.IsZero() || t.Before(st.Next) {
					st.Next = t
				}
				return true
			}
			if len(items) < limit {
				items = append(items, item{readU64(k), e})
			}
			return true
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		for _, it := range items {
			m, ok, err := readMail(s, tx, it.id, it.e)
			if err != nil {
				return err
			}
			if !ok {
				st.Waiting--
				drop = append(drop, it.id)
				continue
			}
			st.Due = append(st.Due, m)
		}
		return nil
	})
	if err != nil || len(drop) == 0 {
		return st, err
	}
	return st, s.kv.Update(ctx, func(tx kv.Tx) error {
		for _, id := range drop {
			if err := tx.Delete(bucketOutbox, u64(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// readMail reads the mail of outbox entry e, and whether it is still to be
// sent.
func readMail(s *Store, tx kv.Tx, id uint64, e outboxEntry) (Mail, bool, error) {
	u, err := getUser(tx, e.User)
	if errors.Is(err, errs.NotFound) {
		return Mail{}, false, nil
	} else if err != nil {
		return Mail{}, false, err
	}
	if u.State == forumv1.UserState_USER_STATE_SUSPENDED || u.Email == "" {
		return Mail{}, false, nil
	}
	access := s.themeAccess(authz.Actor{User: u.Name, Role: u.Role})
	ids := e.Digest
	if e.Notification != 0 {
		ids = []uint64{e.Notification}
	}
	m := Mail{ID: id, User: u, Period: e.Period, Attempts: e.Attempts}
	for _, nid := range ids {
		n := new(forumv1.Notification)
		ok, err := getProto(tx, bucketNotifications, notificationKey(resname.Notification{User: resname.User{ID: e.User}, ID: nid}), n)
		if err != nil {
			return Mail{}, false, err
		}
		if !ok {
			continue
		}
		if ok, err := notificationVisible(tx, access, n.Thread); err != nil {
			return Mail{}, false, err
		} else if ok {
			m.Notifications = append(m.Notifications, n)
		}
	}
	return m, len(m.Notifications) > 0, nil
}

// MailSent removes mail id from the outbox.
func (s *Store) MailSent(ctx context.Context, id uint64) error {
	return s.kv.Update(ctx, func(tx kv.Tx) error { return tx.Delete(bucketOutbox, u64(id)) })
}

// MailFailed records a failed attempt of mail id: tried again at next.
func (s *Store) MailFailed(ctx context.Context, id uint64, next time.Time) error {
	return s.kv.Update(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bucketOutbox, u64(id))
		if err != nil || v == nil {
			return err
		}
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("store: corrupt record in %s: %w", bucketOutbox, err)
		}
		e.Attempts++
		e.NextTry = next.UnixNano()
		if v, err = json.Marshal(e); err != nil {
			return err
		}
		return tx.Put(bucketOutbox, u64(id), v)
	})
}

// digestDue is the key of meta's last digest pass.
var metaDigestPass = []byte("digest_pass")

// QueueDigests puts in the outbox, once a day for DAILY and once a week for
// WEEKLY users, a digest of their unread notifications of new posts in
// what they watch made since their last digest (none when there are
// none). It runs at most once an hour; it returns how many it queued.
//
// Who is due and what each digest holds is read in a read transaction:
// every user's settings and the unread notifications of those due, too
// much for the committer, which every write waits for. The digests are
// then written digestsPerUpdate to a transaction, each only if the user's
// last digest is still the one read (so a pass cut short by a crash and
// run again queues no digest twice); the last one records the pass.
func (s *Store) QueueDigests(ctx context.Context, now time.Time) (int, error) {
	type due struct {
		user, last uint64 // last: the user's last digest (unix ns), as read
		period     string
		ids        []uint64
	}
	var dues []due
	skip := false
	err := s.kv.View(ctx, func(tx kv.Tx) error {
		dues = dues[:0]
		last, _, err := getU64(tx, bucketMeta, metaDigestPass)
		if err != nil {
			return err
		}
		if skip = last != 0 && now.UnixNano()-int64(last) < int64(time.Hour); skip {
			return nil
		}
		var perr error
		err = tx.Scan(bucketUsers, nil, nil, false, func(k, _ []byte) bool {
			st, err := getSettings(tx, resname.User{ID: readU64(k)})
			if err != nil {
				perr = err
				return false
			}
			every, period := time.Duration(0), ""
			switch st.EmailDigest {
			case forumv1.DigestFrequency_DIGEST_FREQUENCY_DAILY:
				every, period = 24*time.Hour, "daily"
			case forumv1.DigestFrequency_DIGEST_FREQUENCY_WEEKLY:
				every, period = 7*24*time.Hour, "weekly"
			default:
				return true
			}
			lastU, _, err := getU64(tx, bucketDigests, k)
			if err != nil {
				perr = err
				return false
			}
			if last := int64(lastU); last == 0 || now.UnixNano()-last >= int64(every) {
				dues = append(dues, due{user: readU64(k), last: lastU, period: period})
			}
			return true
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			return err
		}
		for i := range dues {
			d := &dues[i]
			prefix := u64(d.user)
			err := tx.Scan(bucketUnread, prefix, prefixEnd(prefix), false, func(k, _ []byte) bool {
				n := new(forumv1.Notification)
				ok, err := getProto(tx, bucketNotifications, k, n)
				if err != nil {
					perr = err
					return false
				}
				if ok && n.Kind == forumv1.NotificationKind_NOTIFICATION_KIND_WATCHED_POST && n.CreateTime.AsTime().UnixNano() > int64(d.last) {
					d.ids = append(d.ids, readU64(k[8:]))
				}
				return len(d.ids) < maxDigestPosts
			})
			if err == nil {
				err = perr
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || skip {
		return 0, err
	}
	queued := 0
	for start := 0; start == 0 || start < len(dues); start += digestsPerUpdate {
		chunk := dues[start:min(start+digestsPerUpdate, len(dues))]
		lastChunk := start+digestsPerUpdate >= len(dues)
		n := 0
		err := s.kv.Update(ctx, func(tx kv.Tx) error {
			n = 0
			for _, d := range chunk {
				prefix := u64(d.user)
				if cur, _, err := getU64(tx, bucketDigests, prefix); err != nil {
					return err
				} else if cur != d.last {
					continue // digested since it was read
				}
				if err := tx.Put(bucketDigests, prefix, u64(uint64(now.UnixNano()))); err != nil {
					return err
				}
				if len(d.ids) == 0 {
					continue
				}
				ids := slices.Sorted(slices.Values(d.ids))
				if err := queueMail(tx, outboxEntry{User: d.user, Digest: ids, Period: d.period, Created: now.UnixNano()}); err != nil {
					return err
				}
				n++
			}
			if lastChunk {
				return tx.Put(bucketMeta, metaDigestPass, u64(uint64(now.UnixNano())))
			}
			return nil
		})
		if err != nil {
			return queued, err
		}
		queued += n
	}
	return queued, nil
}

// maxDigestPosts bounds the posts of one digest.
const maxDigestPosts = 500

// digestsPerUpdate bounds the digests QueueDigests writes in one
// transaction.
const digestsPerUpdate = 200
