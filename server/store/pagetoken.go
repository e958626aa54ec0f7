package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
	bad := InvalidField("page_token", "the page token is not valid for this request; start again without one")
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

// after returns the smallest key greater than k.
func after(k []byte) []byte { return append(append([]byte(nil), k...), 0) }
