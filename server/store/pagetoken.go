package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/store/kv"
	"google.golang.org/protobuf/proto"
)

// Page tokens are opaque to clients: base64url(cursor key ‖ MAC), where the
// MAC (HMAC-SHA-256, truncated to 16 bytes, keyed by a random key kept in the
// meta bucket) covers the query the token belongs to and the cursor. A token
// that was altered, or that comes from another list or another filter, fails
// the MAC and is rejected with INVALID_ARGUMENT.

const tokenMACSize = 16

func (s *Store) tokenMAC(query string, key []byte) []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(query))
	m.Write([]byte{0})
	m.Write(key)
	return m.Sum(nil)[:tokenMACSize]
}

// encodeToken returns the page token that resumes query after key.
func (s *Store) encodeToken(query string, key []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), key...), s.tokenMAC(query, key)...))
}

// decodeToken returns the cursor key of token, or nil for an empty token.
func (s *Store) decodeToken(query, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	bad := errs.InvalidField("page_token", "the page token is not valid for this request; start again without one")
	if len(token) > 1024 {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) <= tokenMACSize {
		return nil, bad
	}
	key, mac := raw[:len(raw)-tokenMACSize], raw[len(raw)-tokenMACSize:]
	if !hmac.Equal(mac, s.tokenMAC(query, key)) {
		return nil, bad
	}
	return key, nil
}

// MaxPageBytes bounds the size of a page of a list, as well as its page
// size: a page ends before the item that would take its items (encoded)
// past this many bytes, with a next_page_token, even if it holds fewer
// items than were asked for; a page holds at least one item. A post is at
// most a few hundred KiB, with its rendered HTML (render.MaxHTML), so every
// answer stays below the 4 MiB that gRPC clients accept by default,
// whatever the posts hold.
const MaxPageBytes = 3 << 20

// after returns the smallest key greater than k.
func after(k []byte) []byte { return append(append([]byte(nil), k...), 0) }

// page describes one page of a list: a key range of a bucket, in order,
// resumed from a page token.
type page struct {
	query      string    // binds the page tokens to this list
	bucket     kv.Bucket // where the items are
	start, end []byte    // the key range [start, end); nil is unbounded
	reverse    bool      // descending key order
	size       int       // the most items returned
	token      string    // the page token of the request
	// after, if not nil, runs last in the same read transaction, once the
	// items are read (to add to them what other records hold).
	after func(kv.Tx) error
}

// listPage returns one page of the items of p, decoded with newItem, that
// keep accepts (all if keep is nil), and the token of the next page. check,
// if not nil, runs first in the same read transaction (to check that the
// caller may see the list at all). Tokens hold the key of the last item
// returned, so items added later never shift a page.
func listPage[M proto.Message](ctx context.Context, s *Store, p page, newItem func() M, check func(kv.Tx) error, keep func(kv.Tx, M) (bool, error)) ([]M, string, error) {
	cursor, err := s.decodeToken(p.query, p.token)
	if err != nil {
		return nil, "", err
	}
	start, end := p.start, p.end
	if cursor != nil {
		if p.reverse {
			end = cursor
		} else {
			start = after(cursor)
		}
	}
	var out []M
	var next string
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		out, next = nil, ""
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		var last []byte
		var ierr error
		pageBytes := 0 // of the items in out
		err := tx.Scan(p.bucket, start, end, p.reverse, func(k, v []byte) bool {
			m := newItem()
			if ierr = proto.Unmarshal(v, m); ierr != nil {
				ierr = fmt.Errorf("store: corrupt record in %s: %w", p.bucket, ierr)
				return false
			}
			if keep != nil {
				var ok bool
				if ok, ierr = keep(tx, m); ierr != nil || !ok {
					return ierr == nil
				}
			}
			if len(out) == p.size || (len(out) > 0 && pageBytes+len(v) > MaxPageBytes) {
				next = s.encodeToken(p.query, last)
				return false
			}
			last = append(last[:0], k...)
			out = append(out, m)
			pageBytes += len(v)
			return true
		})
		if err == nil {
			err = ierr
		}
		if err == nil && p.after != nil {
			err = p.after(tx)
		}
		return err
	})
	return out, next, err
}
