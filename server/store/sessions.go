package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/resname"
	"github.com/forumhq/forum/server/authz"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// sessionRecord is what the sessions bucket keeps under the hash of a
// bearer token: a login session or an API token.
type sessionRecord struct {
	User     uint64  `json:"u"`
	Token    uint64  `json:"t,omitempty"` // API token id; 0 for a login session
	Created  int64   `json:"c"`           // unix ns
	LastUsed int64   `json:"l"`           // unix ns, updated at most once a minute
	Expire   int64   `json:"e"`           // absolute expiry, unix ns
	Idle     int64   `json:"i,omitempty"` // idle limit in ns; 0 means none
	Scopes   []int32 `json:"s,omitempty"` // API token scopes
}

// lastUseGranularity is how stale a session's last-use time may get before
// a call writes it again.
const lastUseGranularity = time.Minute

// Credential is what a bearer token stands for.
type Credential struct {
	// User is the name (`users/{id}`) of the user the token acts for.
	User string
	// Role is the user's role.
	Role forumv1.Role
	// Suspended reports whether the user is suspended.
	Suspended bool
	// APIToken is the token's name for an API token, empty for a login
	// session.
	APIToken string
	// Scopes are an API token's scopes; nil for a login session, which may
	// do everything its user may.
	Scopes []forumv1.TokenScope
}

func getSession(tx kv.Tx, hash []byte) (*sessionRecord, error) {
	v, err := tx.Get(bucketSessions, hash)
	if err != nil || v == nil {
		return nil, err
	}
	r := new(sessionRecord)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, fmt.Errorf("store: corrupt session: %w", err)
	}
	return r, nil
}

func putSession(tx kv.Tx, hash []byte, r *sessionRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Put(bucketSessions, hash, v)
}

// expired reports whether r has expired at now.
func (r *sessionRecord) expired(now int64) bool {
	return now >= r.Expire || (r.Idle > 0 && now >= r.LastUsed+r.Idle)
}

// CreateSession stores a login session for user, keyed by the hash of its
// token. It ends after idle without use, or at the latest after maxAge.
// It returns the absolute expiry.
func (s *Store) CreateSession(ctx context.Context, user resname.User, tokenHash []byte, idle, maxAge time.Duration) (time.Time, error) {
	id := user.ID
	now := s.now()
	expire := now.Add(maxAge)
	r := &sessionRecord{User: id, Created: now.UnixNano(), LastUsed: now.UnixNano(), Expire: expire.UnixNano(), Idle: int64(idle)}
	return expire, s.update(ctx, func(tx kv.Tx) error {
		if err := putSession(tx, tokenHash, r); err != nil {
			return err
		}
		return tx.Put(bucketUserSessions, append(u64(id), tokenHash...), nil)
	})
}

// Authenticate returns what the token hashing to tokenHash stands for. A
// missing, expired or revoked token is errs.Unauthenticated. It records the
// time of use, at most once a minute.
//
// Every authenticated call comes through here, so what a token stands for
// is kept in memory (credCache) for as long as nothing has been written to
// the sessions and users buckets; any such write (a logout, a revocation, a
// role change, a suspension, a recorded use) makes the next call read them
// again.
func (s *Store) Authenticate(ctx context.Context, tokenHash []byte) (*Credential, error) {
	now := s.now().UnixNano()
	gen := s.credGeneration()
	e, ok := s.creds.get(tokenHash, gen)
	if !ok {
		err := s.kv.View(ctx, func(tx kv.Tx) error {
			r, err := getSession(tx, tokenHash)
			if err != nil || r == nil {
				return err
			}
			u, err := getUser(tx, r.User)
			if err != nil {
				return err
			}
			e = credEntry{session: *r, cred: Credential{User: u.Name, Role: u.Role, Suspended: u.State == forumv1.UserState_USER_STATE_SUSPENDED}}
			if r.Token != 0 {
				e.cred.APIToken = resname.APIToken{User: resname.User{ID: r.User}, ID: r.Token}.String()
				e.cred.Scopes = make([]forumv1.TokenScope, 0, len(r.Scopes))
				for _, sc := range r.Scopes {
					e.cred.Scopes = append(e.cred.Scopes, forumv1.TokenScope(sc))
				}
			}
			ok = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		// A write since gen may have changed what e says: keep it only if
		// the buckets are still at gen.
		if ok && s.credGeneration() == gen {
			s.creds.put(tokenHash, gen, e)
		}
	}
	if !ok || e.session.expired(now) {
		return nil, fmt.Errorf("%w: the token is unknown, revoked or expired; log in again", errs.Unauthenticated)
	}
	// Once a storage error has stopped the writes (Err), the use is not
	// recorded, and not warned about on every call either.
	if now-e.session.LastUsed > int64(lastUseGranularity) && s.kv.Err() == nil {
		if err := s.touch(ctx, tokenHash, now); err != nil {
			s.log.WarnContext(ctx, "cannot record a token's use", "err", err)
		}
	}
	cred := e.cred
	cred.Scopes = slices.Clone(cred.Scopes) // the cached slice stays unshared
	return &cred, nil
}

// credGeneration is the write count of the buckets Authenticate reads.
func (s *Store) credGeneration() credGen {
	return credGen{s.kv.Writes(bucketSessions), s.kv.Writes(bucketUsers)}
}

// credGen identifies a state of the sessions and users buckets: their
// kv write counts.
type credGen struct{ sessions, users uint64 }

// credEntry is what credCache keeps of a token.
type credEntry struct {
	session sessionRecord
	cred    Credential
}

// maxCachedCreds bounds credCache; past it the cache starts over.
const maxCachedCreds = 10000

// credCache keeps, by token hash, what Authenticate read of tokens that
// exist, all read while the sessions and users buckets were at one
// generation. An entry is used only while the buckets are still at it:
// kv.Engine.Writes grows before any write to them is acknowledged, so a
// generation read before a lookup that still matches proves the entry
// current. Unknown tokens are never cached.
type credCache struct {
	mu  sync.Mutex
	gen credGen
	m   map[string]credEntry
}

func (c *credCache) get(hash []byte, gen credGen) (credEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return credEntry{}, false
	}
	e, ok := c.m[string(hash)]
	return e, ok
}

// put caches e, read at generation gen; entries of other generations are
// dropped. The caller has checked that the buckets are still at gen.
func (c *credCache) put(hash []byte, gen credGen, e credEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.gen != gen || len(c.m) >= maxCachedCreds {
		c.gen, c.m = gen, make(map[string]credEntry)
	}
	c.m[string(hash)] = e
}

// touch records that a token was used at now.
func (s *Store) touch(ctx context.Context, tokenHash []byte, now int64) error {
	return s.update(ctx, func(tx kv.Tx) error {
		r, err := getSession(tx, tokenHash)
		if err != nil || r == nil || r.expired(now) {
			return err
		}
		r.LastUsed = now
		if r.Token != 0 {
			t := new(forumv1.ApiToken)
			k := apiTokenKey(r.User, r.Token)
			if ok, err := getProto(tx, bucketAPITokens, k, t); err != nil || !ok {
				return err
			}
			t.LastUseTime = timestamppb.New(time.Unix(0, now).Truncate(lastUseGranularity))
			if err := putProto(tx, bucketAPITokens, k, t); err != nil {
				return err
			}
		}
		return putSession(tx, tokenHash, r)
	})
}

// DeleteSession revokes the login session whose token hashes to tokenHash.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	return s.update(ctx, func(tx kv.Tx) error {
		r, err := getSession(tx, tokenHash)
		if err != nil || r == nil {
			return err
		}
		if r.Token != 0 {
			return fmt.Errorf("%w: this is an API token; revoke it with DeleteApiToken", errs.FailedPrecondition)
		}
		if err := tx.Delete(bucketUserSessions, append(u64(r.User), tokenHash...)); err != nil {
			return err
		}
		return tx.Delete(bucketSessions, tokenHash)
	})
}

// revokeSessions deletes every login session of user id.
func revokeSessions(tx kv.Tx, id uint64) error {
	p := u64(id)
	var hashes [][]byte
	if err := tx.Scan(bucketUserSessions, p, prefixEnd(p), false, func(k, _ []byte) bool {
		hashes = append(hashes, slices.Clone(k[8:]))
		return true
	}); err != nil {
		return err
	}
	for _, h := range hashes {
		if err := tx.Delete(bucketSessions, h); err != nil {
			return err
		}
		if err := tx.Delete(bucketUserSessions, append(u64(id), h...)); err != nil {
			return err
		}
	}
	return nil
}

// SetPassword replaces user's password hash and revokes all their login
// sessions in the same transaction.
func (s *Store) SetPassword(ctx context.Context, user resname.User, passwordHash string) error {
	id := user.ID
	return s.update(ctx, func(tx kv.Tx) error {
		if _, err := getUser(tx, id); err != nil {
			return err
		}
		if err := tx.Put(bucketCredentials, u64(id), []byte(passwordHash)); err != nil {
			return err
		}
		return revokeSessions(tx, id)
	})
}

func apiTokenKey(user, token uint64) []byte {
	return append(u64(user), u64(token)...)
}

// CreateAPIToken stores an API token for user, keyed by the hash of its
// secret. t holds the display name, scopes, expiry and the secret's prefix;
// the caller has checked that the actor may (authz.CreateToken: for
// themselves, with scopes within their role). The token
// returned has no secret. created is false when requestID replays an
// earlier call: the token returned is that call's, and tokenHash was not
// stored.
func (s *Store) CreateAPIToken(ctx context.Context, actor authz.Actor, user resname.User, t *forumv1.ApiToken, tokenHash []byte, requestID string) (out *forumv1.ApiToken, created bool, err error) {
	uid, name := user.ID, user.String()
	req := s.newRequest("CreateApiToken", requestID, name, &forumv1.ApiToken{DisplayName: t.DisplayName, Scopes: t.Scopes})
	err = s.update(ctx, func(tx kv.Tx) error {
		created = false // this function may run more than once
		if name, err := replay(tx, actor, req); err != nil {
			return err
		} else if name != "" {
			n, _ := resname.ParseAPIToken(name)
			out = new(forumv1.ApiToken)
			_, err := getProto(tx, bucketAPITokens, apiTokenKey(n.User.ID, n.ID), out)
			return err
		}
		created = true
		id, err := tx.NextSequence(bucketAPITokens)
		if err != nil {
			return err
		}
		now := s.timestamp(nil)
		out = &forumv1.ApiToken{
			Name:        resname.APIToken{User: user, ID: id}.String(),
			DisplayName: t.DisplayName,
			Scopes:      slices.Clone(t.Scopes),
			ExpireTime:  t.ExpireTime,
			CreateTime:  now,
			TokenPrefix: t.TokenPrefix,
		}
		r := &sessionRecord{User: uid, Token: id, Created: now.AsTime().UnixNano(), LastUsed: now.AsTime().UnixNano(), Expire: t.ExpireTime.AsTime().UnixNano()}
		for _, sc := range t.Scopes {
			r.Scopes = append(r.Scopes, int32(sc))
		}
		if err := putSession(tx, tokenHash, r); err != nil {
			return err
		}
		if err := putProto(tx, bucketAPITokens, apiTokenKey(uid, id), out); err != nil {
			return err
		}
		if err := tx.Put(bucketAPITokenHashes, apiTokenKey(uid, id), tokenHash); err != nil {
			return err
		}
		if err := s.appendEvent(tx, now, apiTokenEvent(actor, forumv1.EventType_EVENT_TYPE_API_TOKEN_CREATED, out)); err != nil {
			return err
		}
		return remember(tx, actor, req, out.Name)
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// ListAPITokens returns user's API tokens, newest first. The caller has
// checked that the actor may (authz.TokenOwner).
func (s *Store) ListAPITokens(ctx context.Context, actor authz.Actor, user resname.User, pageSize int, pageToken string) ([]*forumv1.ApiToken, string, error) {
	prefix := u64(user.ID)
	p := page{query: "ListApiTokens\x00" + user.String(), bucket: bucketAPITokens, start: prefix, end: prefixEnd(prefix), reverse: true, size: pageSize, token: pageToken}
	return listPage(ctx, s, p, func() *forumv1.ApiToken { return new(forumv1.ApiToken) }, nil, nil)
}

// DeleteAPIToken revokes an API token. The caller has checked that the
// actor may (authz.TokenOwner).
func (s *Store) DeleteAPIToken(ctx context.Context, actor authz.Actor, name resname.APIToken) error {
	uid, id := name.User.ID, name.ID
	return s.update(ctx, func(tx kv.Tx) error {
		k := apiTokenKey(uid, id)
		hash, err := tx.Get(bucketAPITokenHashes, k)
		if err != nil {
			return err
		}
		if hash == nil {
			return fmt.Errorf("%w: API token %s", errs.NotFound, name)
		}
		tok := new(forumv1.ApiToken) // for its event, as it was
		if _, err := getProto(tx, bucketAPITokens, k, tok); err != nil {
			return err
		}
		if tok.Name == "" {
			tok.Name = name.String()
		}
		for _, op := range []struct {
			b kv.Bucket
			k []byte
		}{{bucketSessions, hash}, {bucketAPITokens, k}, {bucketAPITokenHashes, k}} {
			if err := tx.Delete(op.b, op.k); err != nil {
				return err
			}
		}
		return s.appendEvent(tx, s.timestamp(nil), apiTokenEvent(actor, forumv1.EventType_EVENT_TYPE_API_TOKEN_DELETED, tok))
	})
}
