// Package auth holds the forum's credential primitives: argon2id password
// hashes in PHC string format, and opaque bearer tokens of which only a
// SHA-256 hash is stored.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password hashing parameters: OWASP's minimum for argon2id (19 MiB, two
// passes, one lane). They travel inside each hash, so they can be raised
// later without invalidating stored hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	saltLen        = 16
)

// Password length limits, in bytes.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// ErrMismatch is returned by VerifyPassword when the password is wrong.
var ErrMismatch = errors.New("auth: password does not match")

// CheckPasswordPolicy returns an error describing why password is not
// acceptable, or nil.
func CheckPasswordPolicy(password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Errorf("the password must be at least %d bytes long", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("the password must be at most %d bytes long", MaxPasswordLen)
	}
	return nil
}

// HashPassword returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks password against a hash made by HashPassword. It
// returns nil on a match, ErrMismatch on a wrong password, and another error
// if the hash cannot be read.
func VerifyPassword(hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("auth: not an argon2id hash")
	}
	var version int
	var mem, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("auth: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem > 256*1024 || t > 16 || p == 0 {
		return errors.New("auth: bad argon2 parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil || len(want) == 0 {
		return errors.New("auth: bad argon2 hash encoding")
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// Token prefixes make secrets recognisable, to people and to secret
// scanners: a login session, an API token, an invitation code.
const (
	SessionPrefix    = "fgs_"
	APITokenPrefix   = "fgt_"
	InvitationPrefix = "fgi_"
)

// NewToken returns a new secret, prefix followed by 32 random bytes in
// base64url, and the hash under which it is stored.
func NewToken(prefix string) (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 hash of a token. Tokens carry 256 random bits,
// so a fast hash suffices to make a stolen database useless for logging in.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
