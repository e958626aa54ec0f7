package mail

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/forumhq/forum/internal/errs"
)

// The scopes of an unsubscribe token: what it turns off.
const (
	ScopeAll       = "all"       // every e-mail
	ScopeDigest    = "digest"    // the digests
	ScopeImmediate = "immediate" // the mails of single notifications
)

// MinKeyLen is the shortest key NewSigner accepts, in bytes.
const MinKeyLen = 32

// MaxTokenUserLen is the longest user id a token carries, in bytes.
const MaxTokenUserLen = 255

// ErrTokenExpired is the error of Verify for an authentic token past its
// expiry. It is of kind errs.FailedPrecondition (the token is valid but no
// longer usable: the page should offer the settings instead), distinct
// from a forged or malformed token, which is of kind errs.InvalidArgument.
var ErrTokenExpired = fmt.Errorf("%w: the unsubscribe link has expired", errs.FailedPrecondition)

// tokenVersion is the first byte of a token's payload; another version is
// malformed.
const tokenVersion = 1

// tokenContext separates the MAC of unsubscribe tokens from any other use
// of the same key.
const tokenContext = "forum unsubscribe token\x00"

// The token's layout: version (1 byte), expiry in Unix seconds (8, big
// endian), scope (1), user (the rest), then the HMAC-SHA256 of all that
// (32). All in URL-safe base64 without padding.
const (
	headerLen = 1 + 8 + 1
	macLen    = sha256.Size
	// maxTokenLen bounds the encoded token Verify reads.
	maxTokenLen = (headerLen + MaxTokenUserLen + macLen + 2) / 3 * 4
)

// scopeCodes and scopeNames map scopes to their byte in a token.
var (
	scopeCodes = map[string]byte{ScopeAll: 1, ScopeDigest: 2, ScopeImmediate: 3}
	scopeNames = map[byte]string{1: ScopeAll, 2: ScopeDigest, 3: ScopeImmediate}
)

// Signer makes and checks the tokens of unsubscribe links: a user id, a
// scope and an expiry, signed with HMAC-SHA256 under a server key. A
// token is not secret from its holder (it names the user), only
// unforgeable. It is safe for concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a signer with key, which must be at least MinKeyLen
// random bytes and stay the same across restarts (tokens signed with
// another key do not verify).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("mail: unsubscribe key is %d bytes, want at least %d", len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Token returns a token that unsubscribes user from scope (ScopeAll,
// ScopeDigest or ScopeImmediate) until expires, URL-safe as it is. It
// panics if user is empty or longer than MaxTokenUserLen bytes, or if
// scope is not one of the three: those are mistakes of the caller.
func (s *Signer) Token(user, scope string, expires time.Time) string {
	code, ok := scopeCodes[scope]
	if !ok {
		panic(fmt.Sprintf("mail: unknown unsubscribe scope %q", scope))
	}
	if user == "" || len(user) > MaxTokenUserLen {
		panic(fmt.Sprintf("mail: unsubscribe token user must be 1 to %d bytes, got %d", MaxTokenUserLen, len(user)))
	}
	b := make([]byte, headerLen, headerLen+len(user)+macLen)
	b[0] = tokenVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(expires.Unix()))
	b[9] = code
	b = append(b, user...)
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Verify checks token at time now and returns the user and scope it was
// made for. A token that is not one of Token's, or whose signature does
// not match (altered, or signed with another key), gives an
// *errs.InvalidArgumentError on field "token" (kind errs.InvalidArgument);
// an authentic token whose expiry is not after now gives ErrTokenExpired
// (kind errs.FailedPrecondition). The signature is checked first, in
// constant time, so that nothing of a forged token is believed.
func (s *Signer) Verify(token string, now time.Time) (user, scope string, err error) {
	invalid := func(why string) error {
		return errs.InvalidField("token", "not a valid unsubscribe token: %s", why)
	}
	if token == "" {
		return "", "", invalid("empty")
	}
	if len(token) > maxTokenLen {
		return "", "", invalid("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", invalid("not base64url")
	}
	if len(b) < headerLen+1+macLen {
		return "", "", invalid("too short")
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, s.mac(payload)) {
		return "", "", invalid("bad signature")
	}
	if payload[0] != tokenVersion {
		return "", "", invalid("unknown version")
	}
	scope, ok := scopeNames[payload[9]]
	if !ok {
		return "", "", invalid("unknown scope")
	}
	expires := int64(binary.BigEndian.Uint64(payload[1:9]))
	if now.Unix() >= expires {
		return "", "", fmt.Errorf("%w (on %s)", ErrTokenExpired, time.Unix(expires, 0).UTC().Format(time.RFC3339))
	}
	return string(payload[headerLen:]), scope, nil
}

// mac returns the HMAC-SHA256 of payload under s's key.
func (s *Signer) mac(payload []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(tokenContext))
	h.Write(payload)
	return h.Sum(nil)
}
