package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/internal/mailtest"
	"github.com/forumhq/forum/server/mail"
)

// testCtx returns a context that ends before the test would hang.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSMTP returns a sender to addr with opt's other fields.
func newSMTP(t *testing.T, addr string, opt mail.SMTPOptions) *mail.SMTP {
	t.Helper()
	opt.Addr = addr
	if opt.From == "" {
		opt.From = "Forum <forum@Forum.Example.org>"
	}
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.HELO == "" {
		opt.HELO = "forum.test"
	}
	s, err := mail.NewSMTP(opt)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func testMessage() *mail.Message {
	return &mail.Message{
		ID:             "outbox-42.7",
		To:             "ana@example.org",
		ToName:         "Ana Lópes",
		Subject:        "Ana a répondu à « Séminaire »",
		Text:           "Bonjour Ana,\n\nLe séminaire commence à 14 h.\n",
		HTML:           "<p>Bonjour Ana,</p><p>Le séminaire commence à 14&nbsp;h.</p>",
		Lang:           "fr",
		UnsubscribeURL: "https://forum.example.org/unsubscribe?t=abc_DEF-123",
	}
}

// TestSendExchange sends a message through a real SMTP exchange and checks
// the envelope, the headers and both parts as received.
func TestSendExchange(t *testing.T) {
	sink := mailtest.Start(t)
	s := newSMTP(t, sink.Addr(), mail.SMTPOptions{TLS: mail.TLSOpportunistic})
	m := testMessage()
	if err := s.Send(testCtx(t), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := sink.Wait(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.From != "forum@Forum.Example.org" {
		t.Errorf("MAIL FROM = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "ana@example.org" {
		t.Errorf("RCPT TO = %q", got.To)
	}
	if got.TLS {
		t.Errorf("TLS without STARTTLS offered")
	}
	if subj := got.Subject(); subj != m.Subject {
		t.Errorf("Subject decoded = %q, want %q", subj, m.Subject)
	}
	if raw := got.Header.Get("Subject"); !strings.HasPrefix(raw, "=?UTF-8?") {
		t.Errorf("Subject not RFC 2047 encoded: %q", raw)
	}
	from, err := got.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "forum@Forum.Example.org" || from[0].Name != "Forum" {
		t.Errorf("From = %v, %v", from, err)
	}
	to, err := got.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "ana@example.org" || to[0].Name != "Ana Lópes" {
		t.Errorf("To = %v, %v", to, err)
	}
	for _, h := range []struct{ name, want string }{
		{"Message-ID", "<outbox-42.7@forum.example.org>"},
		{"Auto-Submitted", "auto-generated"},
		{"List-Unsubscribe", "<https://forum.example.org/unsubscribe?t=abc_DEF-123>"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"Content-Language", "fr"},
		{"MIME-Version", "1.0"},
	} {
		if v := got.Header.Get(h.name); v != h.want {
			t.Errorf("%s = %q, want %q", h.name, v, h.want)
		}
	}
	if d, err := got.Header.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date = %v, %v", d, err)
	}
	if ua := got.Header.Get("User-Agent") + got.Header.Get("X-Mailer"); ua != "" {
		t.Errorf("library advertises itself: %q", ua)
	}
	types, err := got.ContentTypes()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(types, ",") != "multipart/alternative,text/plain,text/html" {
		t.Errorf("parts = %v, want multipart/alternative with text/plain then text/html", types)
	}
	text, err := got.Text()
	if err != nil {
		t.Fatal(err)
	}
	if normalize(text) != normalize(m.Text) {
		t.Errorf("text part = %q, want %q", text, m.Text)
	}
	html, err := got.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if normalize(html) != normalize(m.HTML) {
		t.Errorf("HTML part = %q, want %q", html, m.HTML)
	}

	// A retry of the same outbox entry carries the same Message-ID.
	if err := s.Send(testCtx(t), m); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	msgs, err = sink.Wait(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := msgs[0].Header.Get("Message-ID"), msgs[1].Header.Get("Message-ID"); a != b {
		t.Errorf("Message-ID changed on retry: %q then %q", a, b)
	}
}

// normalize makes line ends LF and drops trailing ones, as the transfer
// may turn LF into CRLF.
func normalize(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// TestSendTextOnly checks that a message without HTML is a single
// text/plain part, and that a message without an ID gets a Message-ID all
// the same.
func TestSendTextOnly(t *testing.T) {
	sink := mailtest.Start(t)
	s := newSMTP(t, sink.Addr(), mail.SMTPOptions{TLS: mail.TLSNone})
	m := &mail.Message{To: "bo@example.org", Subject: "Hi", Text: "Plain."}
	if err := s.Send(testCtx(t), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := sink.Wait(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	types, err := msgs[0].ContentTypes()
	if err != nil || strings.Join(types, ",") != "text/plain" {
		t.Errorf("parts = %v, %v; want text/plain alone", types, err)
	}
	if msgs[0].Header.Get("Message-ID") == "" {
		t.Errorf("no Message-ID")
	}
	if v := msgs[0].Header.Get("List-Unsubscribe"); v != "" {
		t.Errorf("List-Unsubscribe = %q without UnsubscribeURL", v)
	}
}

// TestSendErrors checks Permanent on the failures of a real exchange:
// refusals at RCPT and at the end of DATA, 4xx and 5xx, and a closed port.
func TestSendErrors(t *testing.T) {
	closed := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	refuse := func(data bool, code int) func(t *testing.T, sink *mailtest.Sink) string {
		return func(t *testing.T, sink *mailtest.Sink) string {
			if data {
				sink.RefuseNext(1, code)
			} else {
				sink.RefuseNextRcpt(1, code)
			}
			return sink.Addr()
		}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, sink *mailtest.Sink) string // returns the address to send to
		opt       mail.SMTPOptions
		permanent bool
		retry     bool // a second Send goes through
	}{
		{name: "data 451", setup: refuse(true, 451), permanent: false, retry: true},
		{name: "data 554", setup: refuse(true, 554), permanent: true, retry: true},
		{name: "rcpt 450", setup: refuse(false, 450), permanent: false, retry: true},
		{name: "rcpt 550", setup: refuse(false, 550), permanent: true, retry: true},
		{name: "closed port", setup: func(t *testing.T, _ *mailtest.Sink) string { return closed(t) }},
		{
			name:  "auth refused",
			setup: func(t *testing.T, sink *mailtest.Sink) string { sink.RequireAuth("forum", "right"); return sink.Addr() },
			opt:   mail.SMTPOptions{Username: "forum", Password: "wrong"},
		},
		{
			name:      "auth missing",
			setup:     func(t *testing.T, sink *mailtest.Sink) string { sink.RequireAuth("forum", "right"); return sink.Addr() },
			permanent: true, // 502 5.7.0 to MAIL FROM
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := mailtest.Start(t)
			s := newSMTP(t, tt.setup(t, sink), tt.opt)
			err := s.Send(testCtx(t), testMessage())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if got := mail.Permanent(err); got != tt.permanent {
				t.Errorf("Permanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if n := len(sink.Messages()); n != 0 {
				t.Errorf("sink kept %d messages", n)
			}
			if !tt.retry {
				return
			}
			// The refusal was for one message only: the retry goes through.
			if err := s.Send(testCtx(t), testMessage()); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if _, err := sink.Wait(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSendAuth checks SMTP AUTH with the right password.
func TestSendAuth(t *testing.T) {
	sink := mailtest.Start(t)
	sink.RequireAuth("forum", "s3cret")
	s := newSMTP(t, sink.Addr(), mail.SMTPOptions{Username: "forum", Password: "s3cret"})
	if err := s.Send(testCtx(t), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs, err := sink.Wait(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].User != "forum" {
		t.Errorf("authenticated as %q", msgs[0].User)
	}
}

// TestSendTLS checks the STARTTLS policies against a sink that offers
// STARTTLS and one that does not.
func TestSendTLS(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool // the sink offers STARTTLS
		policy  mail.TLSPolicy
		wantErr bool
		wantTLS bool
	}{
		{"mandatory offered", true, mail.TLSMandatory, false, true},
		{"opportunistic offered", true, mail.TLSOpportunistic, false, true},
		{"none offered", true, mail.TLSNone, false, false},
		{"mandatory not offered", false, mail.TLSMandatory, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := mailtest.Start(t)
			if tt.tls {
				sink = mailtest.StartTLS(t)
			}
			s := newSMTP(t, sink.Addr(), mail.SMTPOptions{TLS: tt.policy, InsecureSkipVerify: true})
			err := s.Send(testCtx(t), testMessage())
			if tt.wantErr {
				if err == nil {
					t.Fatal("Send succeeded")
				}
				if mail.Permanent(err) {
					t.Errorf("Permanent(%v) = true", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs, err := sink.Wait(testCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			if msgs[0].TLS != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", msgs[0].TLS, tt.wantTLS)
			}
		})
	}

	// Without InsecureSkipVerify, the self-signed certificate is refused.
	sink := mailtest.StartTLS(t)
	s := newSMTP(t, sink.Addr(), mail.SMTPOptions{TLS: mail.TLSMandatory})
	if err := s.Send(testCtx(t), testMessage()); err == nil {
		t.Errorf("Send trusted a self-signed certificate")
	}
}

// TestSendContext checks that a cancelled context stops Send and is not
// permanent.
func TestSendContext(t *testing.T) {
	// A server that accepts and never speaks: the greeting never comes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	s := newSMTP(t, ln.Addr().String(), mail.SMTPOptions{Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, testMessage())
	if err == nil {
		t.Fatal("Send succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v after its context ended", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not the context's", err)
	}
	if mail.Permanent(err) {
		t.Errorf("Permanent(%v) = true", err)
	}
}

// TestSendInvalid checks that a message that cannot be sent is refused
// before any connection, permanently, naming the field.
func TestSendInvalid(t *testing.T) {
	sink := mailtest.Start(t)
	s := newSMTP(t, sink.Addr(), mail.SMTPOptions{})
	tests := []struct {
		name  string
		edit  func(m *mail.Message)
		field string
	}{
		{"no recipient", func(m *mail.Message) { m.To = "" }, "to"},
		{"bad recipient", func(m *mail.Message) { m.To = "not an address" }, "to"},
		{"recipient with name", func(m *mail.Message) { m.To = "Ana <ana@example.org>" }, "to"},
		{"no subject", func(m *mail.Message) { m.Subject = " " }, "subject"},
		{"no text", func(m *mail.Message) { m.Text = "" }, "text"},
		{"id with space", func(m *mail.Message) { m.ID = "a b" }, "id"},
		{"id with at", func(m *mail.Message) { m.ID = "a@b" }, "id"},
		{"id with dots only", func(m *mail.Message) { m.ID = ".." }, "id"},
		{"http unsubscribe", func(m *mail.Message) { m.UnsubscribeURL = "http://forum.example.org/u" }, "unsubscribe_url"},
		{"name with line break", func(m *mail.Message) { m.ToName = "Ana\r\nBcc: x@example.org" }, "to_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			tt.edit(m)
			err := s.Send(testCtx(t), m)
			var iae *errs.InvalidArgumentError
			if !errors.As(err, &iae) || len(iae.Violations) == 0 || iae.Violations[0].Field != tt.field {
				t.Fatalf("Send = %v, want an invalid argument on %q", err, tt.field)
			}
			if !mail.Permanent(err) {
				t.Errorf("Permanent(%v) = false", err)
			}
		})
	}
	if n := sink.Connections(); n != 0 {
		t.Errorf("%d connections for invalid messages", n)
	}
}

// TestNewSMTP checks the validation of the options.
func TestNewSMTP(t *testing.T) {
	tests := []struct {
		name    string
		opt     mail.SMTPOptions
		wantErr string // a part of the error, or "" for none
	}{
		{"ok", mail.SMTPOptions{Addr: "smtp.example.org:587", From: "Forum <forum@example.org>"}, ""},
		{"ok bare from", mail.SMTPOptions{Addr: "[::1]:25", From: "forum@example.org", TLS: mail.TLSNone}, ""},
		{"empty addr", mail.SMTPOptions{From: "forum@example.org"}, "address is empty"},
		{"no port", mail.SMTPOptions{Addr: "smtp.example.org", From: "forum@example.org"}, "host:port"},
		{"bad port", mail.SMTPOptions{Addr: "smtp.example.org:smtp", From: "forum@example.org"}, "port"},
		{"port zero", mail.SMTPOptions{Addr: "smtp.example.org:0", From: "forum@example.org"}, "port"},
		{"no host", mail.SMTPOptions{Addr: ":25", From: "forum@example.org"}, "no host"},
		{"empty from", mail.SMTPOptions{Addr: "smtp.example.org:25"}, "From address is empty"},
		{"bad from", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "Forum"}, "From address"},
		{"from without domain", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "forum@"}, "From address"},
		{"bad policy", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "forum@example.org", TLS: 7}, "TLS policy"},
		{"negative timeout", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "forum@example.org", Timeout: -1}, "timeout"},
		{"bad helo", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "forum@example.org", HELO: "a b"}, "HELO"},
		{"password alone", mail.SMTPOptions{Addr: "smtp.example.org:25", From: "forum@example.org", Password: "x"}, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mail.NewSMTP(tt.opt)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("NewSMTP: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("NewSMTP = %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestPermanent checks the errors that do not come from an exchange.
func TestPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{context.DeadlineExceeded, false},
		{errs.InvalidField("to", "bad"), true},
		{errs.NotFound, false},
	}
	for _, tt := range tests {
		if got := mail.Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
