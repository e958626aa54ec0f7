package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/forumhq/forum/internal/errs"
	gomail "github.com/wneessen/go-mail"
)

// TLSPolicy says whether SMTP encrypts the connection with STARTTLS.
type TLSPolicy int

// The TLS policies. The zero value is TLSOpportunistic.
const (
	// TLSOpportunistic upgrades the connection with STARTTLS when the
	// server offers it, and sends in clear otherwise.
	TLSOpportunistic TLSPolicy = iota
	// TLSMandatory refuses to send unless the server offers STARTTLS and
	// the upgrade succeeds (certificate checked unless
	// SMTPOptions.InsecureSkipVerify).
	TLSMandatory
	// TLSNone never uses STARTTLS.
	TLSNone
)

// String returns the policy's name.
func (p TLSPolicy) String() string {
	switch p {
	case TLSOpportunistic:
		return "opportunistic"
	case TLSMandatory:
		return "mandatory"
	case TLSNone:
		return "none"
	}
	return "TLSPolicy(" + strconv.Itoa(int(p)) + ")"
}

// DefaultTimeout is SMTPOptions.Timeout's default.
const DefaultTimeout = 30 * time.Second

// SMTPOptions configure an SMTP sender.
type SMTPOptions struct {
	// Addr is the server's host:port, "smtp.example.org:587". Required.
	Addr string
	// From is the sender, "Forum <forum@example.org>" or
	// "forum@example.org". Required. Its host names the Message-ID.
	From string
	// Username and Password authenticate with SMTP AUTH when Username is
	// set (PLAIN or LOGIN as the server offers, else the strongest
	// mechanism it offers); PLAIN and LOGIN are sent only over TLS or to a
	// server on localhost.
	Username, Password string
	// TLS is the STARTTLS policy; the zero value is TLSOpportunistic.
	TLS TLSPolicy
	// Timeout bounds the connection and each SMTP command; 0 means
	// DefaultTimeout. The context given to Send bounds the whole exchange.
	Timeout time.Duration
	// HELO is the name sent in EHLO; empty sends the machine's host name.
	HELO string
	// InsecureSkipVerify accepts any certificate in STARTTLS. For tests.
	InsecureSkipVerify bool
}

// SMTP sends messages to one SMTP server (a relay or a submission port),
// one connection per Send. It is safe for concurrent use.
type SMTP struct {
	opt      SMTPOptions
	addr     string // host:port, as given
	host     string
	port     int
	from     *mail.Address
	fromHost string // host of the From address, for Message-IDs
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns a sender for opt, or an error naming what is wrong with
// it (an address without a port, a From that is not an address, …).
func NewSMTP(opt SMTPOptions) (*SMTP, error) {
	if opt.Addr == "" {
		return nil, errors.New("mail: SMTP address is empty")
	}
	host, portStr, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP address %q must be host:port: %w", opt.Addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("mail: SMTP address %q has no host", opt.Addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("mail: SMTP address %q: port %q is not a number from 1 to 65535", opt.Addr, portStr)
	}
	if opt.From == "" {
		return nil, errors.New("mail: From address is empty")
	}
	from, err := mail.ParseAddress(opt.From)
	if err != nil {
		return nil, fmt.Errorf("mail: From address %q: %w", opt.From, err)
	}
	at := strings.LastIndexByte(from.Address, '@')
	if at <= 0 || at == len(from.Address)-1 {
		return nil, fmt.Errorf("mail: From address %q has no domain", opt.From)
	}
	switch opt.TLS {
	case TLSOpportunistic, TLSMandatory, TLSNone:
	default:
		return nil, fmt.Errorf("mail: unknown TLS policy %v", opt.TLS)
	}
	if opt.Timeout < 0 {
		return nil, fmt.Errorf("mail: negative timeout %v", opt.Timeout)
	}
	if opt.Timeout == 0 {
		opt.Timeout = DefaultTimeout
	}
	if strings.ContainsAny(opt.HELO, " \t\r\n") {
		return nil, fmt.Errorf("mail: HELO name %q contains spaces or line breaks", opt.HELO)
	}
	if opt.Password != "" && opt.Username == "" {
		return nil, errors.New("mail: a password without a username")
	}
	return &SMTP{
		opt:      opt,
		addr:     opt.Addr,
		host:     host,
		port:     port,
		from:     from,
		fromHost: strings.ToLower(from.Address[at+1:]),
	}, nil
}

// Send composes m and sends it in one SMTP exchange on a connection of its
// own. A message that cannot be sent as it is (no recipient, a bad ID, …)
// gives an error of kind errs.InvalidArgument without connecting. If the
// server accepted the message, Send returns nil even if closing the
// session then failed. Permanent classifies the errors.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	if m == nil {
		return fmt.Errorf("mail: %w: nil message", errs.InvalidArgument)
	}
	if err := m.check(); err != nil {
		return fmt.Errorf("mail: message %q: %w", m.ID, err)
	}
	msg, err := s.compose(m)
	if err != nil {
		return fmt.Errorf("mail: composing message %q: %w", m.ID, err)
	}

	// The connection is closed when ctx ends, which interrupts any
	// command in progress; go-mail itself bounds each command by Timeout.
	var stops []func() bool
	dial := func(dctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, s.addr)
		if err != nil {
			return nil, err
		}
		stops = append(stops, context.AfterFunc(ctx, func() { conn.Close() }))
		return conn, nil
	}
	client, err := gomail.NewClient(s.host, s.clientOptions(dial)...)
	if err != nil {
		return fmt.Errorf("mail: SMTP client for %s: %w", s.addr, err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	for _, stop := range stops {
		stop()
	}
	if err == nil || msg.IsDelivered() {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("mail: sending message %q via %s: %w (%w)", m.ID, s.addr, cerr, err)
	}
	return fmt.Errorf("mail: sending message %q via %s: %w", m.ID, s.addr, err)
}

// clientOptions returns the go-mail client's options for s, dialling with
// dial.
func (s *SMTP) clientOptions(dial gomail.DialContextFunc) []gomail.Option {
	policy := gomail.TLSOpportunistic
	switch s.opt.TLS {
	case TLSMandatory:
		policy = gomail.TLSMandatory
	case TLSNone:
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.opt.Timeout),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(&tls.Config{
			ServerName:         s.host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: s.opt.InsecureSkipVerify, // tests only, documented
		}),
		gomail.WithDialContextFunc(dial),
	}
	if s.opt.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.opt.HELO))
	}
	if s.opt.Username != "" {
		opts = append(opts,
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.opt.Username),
			gomail.WithPassword(s.opt.Password))
	}
	return opts
}

// compose builds the MIME message of m: multipart/alternative (text, then
// HTML) in UTF-8, with the headers of an automatic notification.
func (s *SMTP) compose(m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.AddToFormat(oneLine(m.ToName), m.To); err != nil {
		return nil, fmt.Errorf("%w: %w", errs.InvalidArgument, err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(messageID(m.ID, s.fromHost))
	}
	// RFC 3834: an automatic message, not to be answered by auto-responders.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if m.Lang != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, oneLine(m.Lang))
	}
	if m.UnsubscribeURL != "" {
		if strings.HasPrefix(m.UnsubscribeURL, "https:") {
			if err := msg.SetListUnsubscribeOneClick(m.UnsubscribeURL); err != nil {
				return nil, fmt.Errorf("%w: %w", errs.InvalidArgument, err)
			}
		} else {
			// http on loopback (check allows no other): go-mail's
			// one-click wants https, as RFC 8058 does of a forum others
			// reach; the same two headers, set as they are.
			msg.SetListUnsubscribe(m.UnsubscribeURL)
			msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
		}
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Permanent reports whether err says that retrying the same message cannot
// succeed:
//
//   - the server answered a command of the message's transaction (MAIL
//     FROM, RCPT TO, DATA, the end of the data) with a 5xx reply, such as
//     550 for an unknown mailbox;
//   - or Send refused the message itself (an error of kind
//     errs.InvalidArgument: no recipient, a bad ID, …).
//
// Everything else is worth a retry and gives false: 4xx replies,
// connection failures, timeouts, a cancelled context, and failures of the
// session before any message is sent (the greeting, EHLO, STARTTLS, AUTH),
// which concern the server or forum's configuration rather than the
// message and would fail every message alike; the caller should log
// those. A nil err is not permanent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errs.KindOf(err) == errs.InvalidArgument {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code <= 599
	}
	return false
}
