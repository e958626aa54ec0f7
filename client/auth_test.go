package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// TestLoginLogout checks that Login sets the token the client sends, that
// it works whatever token the client held before, and that Logout revokes
// the token and stops sending it.
func TestLoginLogout(t *testing.T) {
	f := start(t)
	c := newClient(t, f.srv.GRPCAddr, client.WithToken("stale-token"))
	resp, err := c.Login(callCtx(t), "member", memberPassword)
	if err != nil {
		t.Fatalf("Login with a stale token set: %v", err)
	}
	if c.Token() != resp.GetToken() || resp.GetToken() == "" {
		t.Fatalf("the client's token is not the one Login returned")
	}
	me, err := c.UserService().GetUser(callCtx(t), &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil || me.GetUsername() != "member" {
		t.Fatalf("users/me = %v, %v; want member", me, err)
	}
	token := c.Token()
	if err := c.Logout(callCtx(t)); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if c.Token() != "" {
		t.Errorf("token %q kept after Logout", c.Token())
	}
	if _, err := c.CreateThread(callCtx(t), &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "After logout"}); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("create after Logout: %v, want ErrUnauthenticated", err)
	}
	revoked := newClient(t, f.srv.GRPCAddr, client.WithToken(token))
	if _, err := revoked.ThemeService().GetTheme(callCtx(t), &forumv1.GetThemeRequest{Name: "themes/knowledge-exchange"}); !errors.Is(err, client.ErrUnauthenticated) {
		t.Errorf("call with the revoked token: %v, want ErrUnauthenticated", err)
	}
	if err := revoked.Logout(callCtx(t)); !errors.Is(err, client.ErrUnauthenticated) || revoked.Token() != "" {
		t.Errorf("Logout with a revoked token: %v, token %q; want ErrUnauthenticated and the token dropped", err, revoked.Token())
	}
}

// TestTLS checks WithTLSConfig against a TLS server on loopback, and that
// the loopback plaintext default does not talk to it.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeThreads{seen: make(chan metadataAndDeadline, 10)}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	forumv1.RegisterThreadServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	c := newClient(t, lis.Addr().String(), client.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "forum.test"}))
	if _, err := c.CreateThread(callCtx(t), &forumv1.Thread{Title: "over TLS"}); err != nil {
		t.Fatalf("call over TLS: %v", err)
	}
	plain := newClient(t, lis.Addr().String())
	if _, err := plain.CreateThread(callCtx(t), &forumv1.Thread{Title: "in plaintext"}); !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("plaintext call to a TLS server: %v, want ErrUnavailable", err)
	}
}

// selfSigned returns a certificate for forum.test and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "forum.test"},
		DNSNames:     []string{"forum.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
