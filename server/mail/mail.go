// Package mail is forum's e-mail layer: it composes a notification as a
// multipart/alternative message (plain text first, then HTML) and sends it
// over SMTP (SMTP, built on github.com/wneessen/go-mail), renders the
// notification and digest templates in English, French and Spanish
// (Immediate, Digest), and signs the tokens of one-click unsubscribe links
// (Signer).
//
// It holds no queue and retries nothing: the caller (the notifications'
// outbox) keeps each Message under a stable ID, calls Sender.Send, and asks
// Permanent whether a failure is worth another attempt. The Message-ID
// header is made from that ID, so a retry after a crash carries the same
// Message-ID and the receiving side can drop the duplicate.
package mail

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"

	"github.com/forumhq/forum/internal/errs"
)

// Message is one e-mail to one recipient.
type Message struct {
	// ID is the message's stable id in the caller's outbox. The Message-ID
	// header is <ID@host of the From address>, the same on every attempt.
	// It may hold only letters, digits and the characters of an RFC 5322
	// dot-atom (!#$%&'*+-/=?^_`{|}~ and inner dots); empty lets the library
	// make a random Message-ID, which a retry does not repeat.
	ID string
	// To is the recipient's address, "ana@example.org". Required.
	To string
	// ToName is the recipient's display name, or empty.
	ToName string
	// Subject is the subject line, plain text; line breaks are turned into
	// spaces. Required.
	Subject string
	// Text is the plain-text body. Required.
	Text string
	// HTML is the HTML body; empty sends the text part alone.
	HTML string
	// Lang is the language of the message, "en", "fr" or "es", sent as
	// Content-Language; empty sends no such header.
	Lang string
	// UnsubscribeURL is the https URL (http on loopback) of the RFC 8058 one-click
	// unsubscribe; when set, the message carries List-Unsubscribe: <URL>
	// and List-Unsubscribe-Post: List-Unsubscribe=One-Click.
	UnsubscribeURL string
}

// Sender sends messages. SMTP is the implementation that speaks to a
// server; tests may provide their own.
type Sender interface {
	// Send sends m, or returns why it could not; Permanent tells whether
	// a retry may succeed.
	Send(ctx context.Context, m *Message) error
}

// maxIDLen bounds Message.ID, so that the Message-ID header stays well
// within a line.
const maxIDLen = 128

// check validates m before it is composed; its errors are of kind
// errs.InvalidArgument, named after the Message's fields.
func (m *Message) check() error {
	var v errs.Violations
	if len(m.ID) > maxIDLen {
		v.Add("id", "must be at most %d bytes", maxIDLen)
	} else if m.ID != "" && !isDotAtom(m.ID) {
		v.Add("id", "must be an RFC 5322 dot-atom (letters, digits, !#$%%&'*+-/=?^_`{|}~ and inner dots)")
	}
	if m.To == "" {
		v.Add("to", "must not be empty")
	} else if a, err := mail.ParseAddress(m.To); err != nil || a.Name != "" || a.Address != m.To {
		v.Add("to", "must be a bare e-mail address")
	}
	if strings.ContainsAny(m.ToName, "\r\n") {
		v.Add("to_name", "must not contain line breaks")
	}
	if strings.TrimSpace(m.Subject) == "" {
		v.Add("subject", "must not be empty")
	}
	if m.Text == "" {
		v.Add("text", "must not be empty")
	}
	if m.UnsubscribeURL != "" {
		if u, err := url.Parse(m.UnsubscribeURL); err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
			v.Add("unsubscribe_url", "must be an absolute https URL (http only on loopback)")
		}
	}
	return v.Err()
}

// isDotAtom reports whether s is an RFC 5322 dot-atom-text: atext runs
// separated by single dots.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// oneLine turns the line breaks of s into spaces, for a header.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}

// messageID returns the Message-ID value (without angle brackets) for id
// sent from host.
func messageID(id, host string) string {
	return fmt.Sprintf("%s@%s", id, host)
}

// loopback reports whether host names this machine: a forum that serves
// plain http on loopback (a test, a trial) may link to itself in http.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
