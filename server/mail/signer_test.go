package mail_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/mail"
)

func newSigner(t *testing.T, fill byte) *mail.Signer {
	t.Helper()
	s, err := mail.NewSigner(bytes.Repeat([]byte{fill}, mail.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignerRoundTrip checks that every scope and a range of user ids
// come back from their token.
func TestSignerRoundTrip(t *testing.T) {
	s := newSigner(t, 7)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct{ user, scope string }{
		{"42", mail.ScopeAll},
		{"users/ana", mail.ScopeDigest},
		{"é-ü/日本", mail.ScopeImmediate},
		{strings.Repeat("u", mail.MaxTokenUserLen), mail.ScopeAll},
	}
	for _, tt := range tests {
		tok := s.Token(tt.user, tt.scope, now.Add(time.Hour))
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not URL-safe base64 without padding", tok)
		}
		user, scope, err := s.Verify(tok, now)
		if err != nil || user != tt.user || scope != tt.scope {
			t.Errorf("Verify(Token(%q, %q)) = %q, %q, %v", tt.user, tt.scope, user, scope, err)
		}
	}
}

// TestSignerVerify checks that forged, malformed and expired tokens are
// refused, each with its kind of error.
func TestSignerVerify(t *testing.T) {
	s := newSigner(t, 7)
	other := newSigner(t, 8)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	good := s.Token("users/ana", mail.ScopeDigest, now.Add(time.Hour))
	flip := func(tok string, i int) string {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  errs.Kind // errs.Other for success
	}{
		{"good", good, now, errs.Other},
		{"good just before expiry", good, now.Add(time.Hour - time.Second), errs.Other},
		{"expired at expiry", good, now.Add(time.Hour), errs.FailedPrecondition},
		{"expired", good, now.Add(48 * time.Hour), errs.FailedPrecondition},
		{"version byte changed", flip(good, 0), now, errs.InvalidArgument},
		{"expiry changed", flip(good, 4), now, errs.InvalidArgument},
		{"scope changed", flip(good, 9), now, errs.InvalidArgument},
		{"user changed", flip(good, 12), now, errs.InvalidArgument},
		{"mac changed", flip(good, len(good)*3/4-1), now, errs.InvalidArgument},
		{"other key", other.Token("users/ana", mail.ScopeDigest, now.Add(time.Hour)), now, errs.InvalidArgument},
		{"other key expired", other.Token("users/ana", mail.ScopeDigest, now.Add(-time.Hour)), now, errs.InvalidArgument},
		{"truncated", good[:len(good)-4], now, errs.InvalidArgument},
		{"extended", good + "AAAA", now, errs.InvalidArgument},
		{"padded", good + "=", now, errs.InvalidArgument},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+", now, errs.InvalidArgument},
		{"empty", "", now, errs.InvalidArgument},
		{"garbage", "not a token!", now, errs.InvalidArgument},
		{"short", "AQID", now, errs.InvalidArgument},
		{"huge", strings.Repeat("A", 10000), now, errs.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, scope, err := s.Verify(tt.token, tt.now)
			if tt.want == errs.Other {
				if err != nil || user != "users/ana" || scope != mail.ScopeDigest {
					t.Errorf("Verify = %q, %q, %v", user, scope, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = %q, %q, nil; want an error of kind %v", user, scope, tt.want)
			}
			if user != "" || scope != "" {
				t.Errorf("Verify returned %q, %q with its error", user, scope)
			}
			if got := errs.KindOf(err); got != tt.want {
				t.Errorf("error %v is of kind %v, want %v", err, got, tt.want)
			}
			switch tt.want {
			case errs.FailedPrecondition:
				if !errors.Is(err, mail.ErrTokenExpired) {
					t.Errorf("error %v is not ErrTokenExpired", err)
				}
			case errs.InvalidArgument:
				var iae *errs.InvalidArgumentError
				if !errors.As(err, &iae) || iae.Violations[0].Field != "token" {
					t.Errorf("error %v does not name field token", err)
				}
				if errors.Is(err, mail.ErrTokenExpired) {
					t.Errorf("forged token reported as expired: %v", err)
				}
			}
		})
	}
}

// TestNewSigner checks the key length and that the key is copied.
func TestNewSigner(t *testing.T) {
	for _, n := range []int{0, 16, mail.MinKeyLen - 1} {
		if _, err := mail.NewSigner(make([]byte, n)); err == nil {
			t.Errorf("NewSigner accepted a %d-byte key", n)
		}
	}
	key := bytes.Repeat([]byte{1}, mail.MinKeyLen)
	s, err := mail.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := s.Token("1", mail.ScopeAll, now.Add(time.Minute))
	key[0] = 2
	if _, _, err := s.Verify(tok, now); err != nil {
		t.Errorf("changing the caller's key slice changed the signer: %v", err)
	}
}

// TestTokenPanics checks that Token refuses what it cannot sign.
func TestTokenPanics(t *testing.T) {
	s := newSigner(t, 7)
	tests := []struct{ name, user, scope string }{
		{"unknown scope", "1", "weekly"},
		{"empty user", "", mail.ScopeAll},
		{"long user", strings.Repeat("u", mail.MaxTokenUserLen+1), mail.ScopeAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Token(%q, %q) did not panic", tt.user, tt.scope)
				}
			}()
			s.Token(tt.user, tt.scope, time.Now())
		})
	}
}
