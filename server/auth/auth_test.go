package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q lacks the PHC prefix", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	if err := VerifyPassword(h, "correct horse battery"); err != nil {
		t.Fatalf("VerifyPassword(right) = %v", err)
	}
	if err := VerifyPassword(h, "correct horse batterY"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("VerifyPassword(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
}

func TestVerifyPasswordBadHash(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=999999999,t=1,p=1$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if err := VerifyPassword(h, "whatever-password"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyPassword(%q) = %v, want a format error", h, err)
		}
	}
}

func TestCheckPasswordPolicy(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{strings.Repeat("a", MinPasswordLen), true},
		{strings.Repeat("a", MaxPasswordLen), true},
		{strings.Repeat("a", MaxPasswordLen+1), false},
	}
	for _, tt := range tests {
		if err := CheckPasswordPolicy(tt.pw); (err == nil) != tt.ok {
			t.Errorf("CheckPasswordPolicy(len %d) = %v, want ok=%v", len(tt.pw), err, tt.ok)
		}
	}
}

func TestNewToken(t *testing.T) {
	tok, hash := NewToken(APITokenPrefix)
	if len(tok) != 47 || !strings.HasPrefix(tok, "fgt_") {
		t.Fatalf("token %q, want fgt_ and 43 characters", tok)
	}
	if string(HashToken(tok)) != string(hash) {
		t.Fatal("HashToken(token) differs from the hash NewToken returned")
	}
	tok2, _ := NewToken(APITokenPrefix)
	if tok == tok2 {
		t.Fatal("two tokens are equal")
	}
}
