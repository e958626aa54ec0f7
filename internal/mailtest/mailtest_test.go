package mailtest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/mailtest"
)

// A message as a client would send it: multipart/alternative, a
// quoted-printable text part and a base64 HTML part, an encoded subject.
const multipartMessage = "From: forum@example.org\r\n" +
	"To: ana@example.org\r\n" +
	"Subject: =?UTF-8?q?Ana_a_r=C3=A9pondu?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=BOUNDARY\r\n" +
	"\r\n" +
	"--BOUNDARY\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Le s=C3=A9minaire commence =\r\n" +
	"=C3=A0 14 h.\r\n" +
	"--BOUNDARY\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+TGUgc8OpbWluYWlyZTwv\r\n" +
	"cD4=\r\n" +
	"--BOUNDARY--\r\n"

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// send sends msg to the sink with net/smtp, without TLS.
func send(addr string, auth smtp.Auth, msg string) error {
	return smtp.SendMail(addr, auth, "forum@example.org", []string{"ana@example.org", "bo@example.org"}, []byte(msg))
}

// TestReceive checks that a message is kept with its envelope and that its
// parts decode.
func TestReceive(t *testing.T) {
	sink := mailtest.Start(t)
	if !strings.HasPrefix(sink.Addr(), "127.0.0.1:") {
		t.Errorf("Addr = %q, not on loopback", sink.Addr())
	}
	if err := send(sink.Addr(), nil, multipartMessage); err != nil {
		t.Fatal(err)
	}
	msgs, err := sink.Wait(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "forum@example.org" || strings.Join(m.To, ",") != "ana@example.org,bo@example.org" {
		t.Errorf("envelope %q → %q", m.From, m.To)
	}
	if m.TLS || m.User != "" {
		t.Errorf("TLS %v, user %q", m.TLS, m.User)
	}
	if got := m.Subject(); got != "Ana a répondu" {
		t.Errorf("Subject = %q", got)
	}
	tests := []struct {
		part func() (string, error)
		want string
	}{
		{m.Text, "Le séminaire commence à 14 h."}, // the CRLF before a boundary is the boundary's
		{m.HTML, "<p>Le séminaire</p>"},
	}
	for _, tt := range tests {
		got, err := tt.part()
		if err != nil || got != tt.want {
			t.Errorf("part = %q, %v; want %q", got, err, tt.want)
		}
	}
	if _, err := m.Part("image/png"); !errors.Is(err, mailtest.ErrNoPart) {
		t.Errorf("Part(image/png) error = %v, want ErrNoPart", err)
	}
	types, err := m.ContentTypes()
	if err != nil || strings.Join(types, ",") != "multipart/alternative,text/plain,text/html" {
		t.Errorf("ContentTypes = %v, %v", types, err)
	}
	if got := sink.Messages(); len(got) != 1 || sink.Connections() != 1 {
		t.Errorf("Messages: %d, connections: %d", len(got), sink.Connections())
	}
}

// TestSinglePart checks a message that is not multipart.
func TestSinglePart(t *testing.T) {
	sink := mailtest.Start(t)
	if err := send(sink.Addr(), nil, "Subject: plain\r\n\r\nJust text.\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs, err := sink.Wait(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := msgs[0].Text(); err != nil || got != "Just text.\r\n" {
		t.Errorf("Text = %q, %v", got, err)
	}
	if _, err := msgs[0].HTML(); !errors.Is(err, mailtest.ErrNoPart) {
		t.Errorf("HTML error = %v", err)
	}
}

// TestWaitTimeout checks that Wait returns when its context ends.
func TestWaitTimeout(t *testing.T) {
	sink := mailtest.Start(t)
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	msgs, err := sink.Wait(c, 1)
	if !errors.Is(err, context.DeadlineExceeded) || len(msgs) != 0 {
		t.Errorf("Wait = %d messages, %v", len(msgs), err)
	}
}

// TestWaitWakes checks that Wait wakes on a message sent meanwhile.
func TestWaitWakes(t *testing.T) {
	sink := mailtest.Start(t)
	errc := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		errc <- send(sink.Addr(), nil, "Subject: late\r\n\r\nx\r\n")
	}()
	msgs, err := sink.Wait(ctx(t), 1)
	if err != nil || len(msgs) != 1 {
		t.Errorf("Wait = %d messages, %v", len(msgs), err)
	}
	if err := <-errc; err != nil {
		t.Error(err)
	}
}

// TestRefuse checks the injected failures, their codes and that they
// stop after n.
func TestRefuse(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(s *mailtest.Sink)
		codes  []int // the reply code of each attempt; 0 for accepted
	}{
		{"data 451 twice", func(s *mailtest.Sink) { s.RefuseNext(2, 451) }, []int{451, 451, 0}},
		{"data 550", func(s *mailtest.Sink) { s.RefuseNext(1, 550) }, []int{550, 0}},
		{"rcpt 550", func(s *mailtest.Sink) { s.RefuseNextRcpt(1, 550) }, []int{550, 0}},
		{"in order", func(s *mailtest.Sink) { s.RefuseNext(1, 452); s.RefuseNext(1, 554) }, []int{452, 554, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := mailtest.Start(t)
			tt.refuse(sink)
			accepted := 0
			for i, want := range tt.codes {
				err := send(sink.Addr(), nil, "Subject: x\r\n\r\nx\r\n")
				if want == 0 {
					if err != nil {
						t.Fatalf("attempt %d: %v", i, err)
					}
					accepted++
					continue
				}
				var te *textproto.Error
				if !errors.As(err, &te) || te.Code != want {
					t.Errorf("attempt %d: error %v, want code %d", i, err, want)
				}
			}
			if n := len(sink.Messages()); n != accepted {
				t.Errorf("kept %d messages, want %d", n, accepted)
			}
		})
	}
}

// TestRequireAuth checks AUTH PLAIN against the credentials set.
func TestRequireAuth(t *testing.T) {
	sink := mailtest.Start(t)
	sink.RequireAuth("forum", "s3cret")
	if err := send(sink.Addr(), nil, "Subject: x\r\n\r\nx\r\n"); err == nil {
		t.Errorf("accepted without AUTH")
	}
	if err := send(sink.Addr(), smtp.PlainAuth("", "forum", "wrong", "127.0.0.1"), "Subject: x\r\n\r\nx\r\n"); err == nil {
		t.Errorf("accepted a wrong password")
	}
	if err := send(sink.Addr(), smtp.PlainAuth("", "forum", "s3cret", "127.0.0.1"), "Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 || msgs[0].User != "forum" {
		t.Errorf("messages %+v", msgs)
	}
}

// TestStartTLS checks that StartTLS offers STARTTLS and records it.
func TestStartTLS(t *testing.T) {
	sink := mailtest.StartTLS(t)
	c, err := smtp.Dial(sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("forum@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ana@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: tls\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	msgs, err := sink.Wait(ctx(t), 1)
	if err != nil || !msgs[0].TLS {
		t.Errorf("messages %+v, %v: want one over TLS", msgs, err)
	}

	// The plain sink offers no STARTTLS.
	plain := mailtest.Start(t)
	c2, err := smtp.Dial(plain.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c2.Extension("STARTTLS"); ok {
		t.Error("plain sink offers STARTTLS")
	}
}

// TestStops checks that the sink stops listening when its test ends, even
// with a client connected.
func TestStops(t *testing.T) {
	var addr string
	var conn net.Conn
	t.Run("inner", func(t *testing.T) {
		sink := mailtest.Start(t)
		addr = sink.Addr()
		var err error
		conn, err = net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	// The open connection was closed: reading reaches its end after the
	// greeting.
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("connection still open after the sink stopped")
			}
			break
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("sink still listening on %s", addr)
	}
}
