// Package mailtest is an SMTP server for tests: it listens on 127.0.0.1,
// keeps every message it accepts (Sink.Messages, Sink.Wait), and fails
// commands on demand (Sink.RefuseNext, Sink.RefuseNextRcpt) so that tests
// can check how a sender retries. It is built on github.com/emersion/go-smtp.
//
// Start gives a server without TLS; StartTLS one that offers STARTTLS with
// a self-signed certificate made for the test (clients must skip
// verification). Every connection is bounded by a read and write timeout,
// and the server stops when the test ends.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Timeout bounds each read and write of the server's connections, and
// Wait when its context has no deadline.
const Timeout = 10 * time.Second

// maxMessageBytes is the largest message the sink accepts.
const maxMessageBytes = 10 << 20

// Received is a message the sink accepted.
type Received struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// To are the envelope recipients (RCPT TO).
	To []string
	// Data is the message as received, headers and body, with CRLF line
	// ends.
	Data []byte
	// Header is the message's header, parsed.
	Header mail.Header
	// TLS reports whether the message came over a TLS connection
	// (STARTTLS).
	TLS bool
	// User is the name the client authenticated as, or empty.
	User string
}

// Sink is a running SMTP server for one test.
type Sink struct {
	t      testing.TB
	srv    *smtp.Server
	ln     *listener
	served chan struct{} // closed when Serve returns

	mu          sync.Mutex
	msgs        []Received
	changed     chan struct{} // closed and replaced when a message arrives
	refuseData  []int         // codes for the next DATA commands, in order
	refuseRcpt  []int         // codes for the next RCPT commands, in order
	user, pass  string        // required credentials, if user != ""
	connections int
}

// Start starts a sink on 127.0.0.1 (a free port) without TLS, and stops
// it when the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	return start(t, nil)
}

// StartTLS starts a sink that offers STARTTLS with a self-signed
// certificate for 127.0.0.1 and localhost, made now (clients must skip
// verification), and stops it when the test ends.
func StartTLS(t testing.TB) *Sink {
	t.Helper()
	cert, err := selfSigned()
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	return start(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

func start(t testing.TB, tlsConfig *tls.Config) *Sink {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	ln := &listener{Listener: inner, conns: map[net.Conn]struct{}{}}
	s := &Sink{t: t, ln: ln, served: make(chan struct{}), changed: make(chan struct{})}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout = Timeout
	srv.WriteTimeout = Timeout
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = true // loopback only
	srv.TLSConfig = tlsConfig
	srv.ErrorLog = discardLogger{}
	s.srv = srv
	go func() {
		defer close(s.served)
		srv.Serve(ln)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop closes the listener and every connection, then waits for the
// server's goroutines to end.
func (s *Sink) stop() {
	s.ln.Close()
	select {
	case <-s.served:
	case <-time.After(Timeout):
		s.t.Errorf("mailtest: server did not stop accepting within %v", Timeout)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Errorf("mailtest: server did not stop: %v", err)
	}
}

// listener is a net.Listener that closes the connections it accepted
// when it is closed, so that no session outlives the test.
type listener struct {
	net.Listener
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// Accept accepts a connection and tracks it (closing it at once if the
// listener is closed).
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[c] = struct{}{}
	return c, nil
}

// Close closes the listener and every connection it accepted.
func (l *listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	return l.Listener.Close()
}

// Addr returns the sink's address, "127.0.0.1:port".
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// RequireAuth makes the sink offer AUTH PLAIN and refuse MAIL FROM until
// the client has authenticated as user with pass.
func (s *Sink) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

// RefuseNext makes the next n messages fail at the end of DATA (after the
// content is sent) with code, 4xx (temporary) or 5xx (permanent). A
// refused message is not kept. Calls add up, in order. Call it from the
// test's goroutine: a code that is not 4xx or 5xx fails the test.
func (s *Sink) RefuseNext(n, code int) {
	s.t.Helper()
	checkCode(s.t, code)
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.refuseData = append(s.refuseData, code)
	}
}

// RefuseNextRcpt makes the next n RCPT TO commands fail with code, as a
// server does for an unknown mailbox (550) or a full one (452), as
// RefuseNext does for DATA.
func (s *Sink) RefuseNextRcpt(n, code int) {
	s.t.Helper()
	checkCode(s.t, code)
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.refuseRcpt = append(s.refuseRcpt, code)
	}
}

func checkCode(t testing.TB, code int) {
	t.Helper()
	if code < 400 || code > 599 {
		t.Fatalf("mailtest: refusal code %d is not 4xx or 5xx", code)
	}
}

// Messages returns the messages accepted so far, in order.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Connections returns the number of SMTP sessions opened so far.
func (s *Sink) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Wait waits until at least n messages have been accepted and returns
// them all, or returns ctx's error (or an error after Timeout, if ctx has
// no deadline) with the messages so far.
func (s *Sink) Wait(ctx context.Context, n int) ([]Received, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	for {
		s.mu.Lock()
		msgs, changed := append([]Received(nil), s.msgs...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return msgs, fmt.Errorf("mailtest: %d of %d messages: %w", len(msgs), n, ctx.Err())
		}
	}
}

// take pops the next refusal code of q, or returns 0.
func take(q *[]int) int {
	if len(*q) == 0 {
		return 0
	}
	code := (*q)[0]
	*q = (*q)[1:]
	return code
}

// refusal returns the SMTP error for code.
func refusal(code int) error {
	return &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0},
		Message:      fmt.Sprintf("mailtest: refused with %d as asked", code),
	}
}

// backend makes a session per connection.
type backend struct{ s *Sink }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.connections++
	b.s.mu.Unlock()
	return &session{s: b.s, conn: c}, nil
}

// session is one SMTP session; go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	s    *Sink
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		ok := ss.s.user != "" && user == ss.s.user && pass == ss.s.pass
		ss.s.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	need := ss.s.user != ""
	ss.s.mu.Unlock()
	if need && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	code := take(&ss.s.refuseRcpt)
	ss.s.mu.Unlock()
	if code != 0 {
		return refusal(code)
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if code := take(&ss.s.refuseData); code != 0 {
		return refusal(code)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: unreadable header: " + err.Error()}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.msgs = append(ss.s.msgs, Received{
		From:   ss.from,
		To:     append([]string(nil), ss.to...),
		Data:   data,
		Header: msg.Header,
		TLS:    isTLS,
		User:   ss.user,
	})
	close(ss.s.changed)
	ss.s.changed = make(chan struct{})
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }

// discardLogger drops go-smtp's log lines (closed connections and the
// like, which tests provoke on purpose).
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

// selfSigned makes an ECDSA certificate for 127.0.0.1 and localhost,
// valid for a day.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return tls.Certificate{}, errors.Join(errors.New("mailtest: certificate does not parse"), err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
