package consumers

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpTimeout bounds one delivery: connect, greet, authenticate, send.
const smtpTimeout = 30 * time.Second

// Mailer sends one plain-text e-mail.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, body string) error
}

// SMTPConfig sets the mail server that notifications go through.
type SMTPConfig struct {
	// Host and Port address the server's submission or relay port.
	Host string
	Port int
	// Username and Password authenticate with SASL PLAIN when Username is
	// not empty; the password is then only sent over TLS (STARTTLS).
	Username string
	Password string
	// From is the sender address, for example "meetgraph <noreply@example.com>".
	From string
	// Security is SMTPStartTLS (the default when empty), SMTPImplicitTLS
	// or SMTPPlain.
	Security string
}

// SMTP connection security modes.
const (
	// SMTPStartTLS connects in plain text and upgrades with STARTTLS, usually on port 587.
	SMTPStartTLS = "starttls"
	// SMTPImplicitTLS speaks TLS from the first byte, usually on port 465.
	SMTPImplicitTLS = "tls"
	// SMTPPlain never encrypts; use it only for a relay on loopback.
	SMTPPlain = "none"
)

// SMTPMailer sends e-mail through an SMTP server.
type SMTPMailer struct {
	Config SMTPConfig
}

var _ Mailer = SMTPMailer{}

// Send delivers one message to all recipients. A rejection by the server
// (a 5xx reply) is permanent; anything else may be retried.
func (m SMTPMailer) Send(ctx context.Context, to []string, subject, body string) error {
	from, err := mail.ParseAddress(m.Config.From)
	if err != nil {
		return Permanent(fmt.Errorf("invalid sender address %q: %w", m.Config.From, err))
	}

	addr := net.JoinHostPort(m.Config.Host, fmt.Sprint(m.Config.Port))

	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()

	client, err := m.connect(ctx, addr)
	if err != nil {
		return smtpError(addr, err)
	}
	defer client.Close()

	message := composeMessage(from, to, subject, body)
	if err := client.SendMail(from.Address, to, bytes.NewReader(message)); err != nil {
		return smtpError(addr, err)
	}

	return smtpError(addr, client.Quit())
}

// connect opens a session with the configured security and authenticates
// when a username is set. A password goes over a plain connection only to
// a loopback server.
func (m SMTPMailer) connect(ctx context.Context, addr string) (*smtp.Client, error) {
	tlsConfig := &tls.Config{ServerName: m.Config.Host, MinVersion: tls.VersionTLS12}

	var (
		conn net.Conn
		err  error
	)

	if m.Config.Security == SMTPImplicitTLS {
		conn, err = (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}

	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}

	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	var client *smtp.Client

	switch m.Config.Security {
	case SMTPImplicitTLS, SMTPPlain:
		client = smtp.NewClient(conn)
	default:
		if client, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			_ = conn.Close()

			return nil, fmt.Errorf("start TLS: %w", err)
		}
	}

	if m.Config.Username == "" {
		return client, nil
	}

	if m.Config.Security == SMTPPlain && !isLoopback(m.Config.Host) {
		_ = client.Close()

		return nil, Permanent(errors.New("refusing to send the SMTP password over a plain connection " +
			"to a server that is not on loopback; use starttls or tls"))
	}

	if err := client.Auth(sasl.NewPlainClient("", m.Config.Username, m.Config.Password)); err != nil {
		_ = client.Close()

		return nil, fmt.Errorf("authenticate as %s: %w", m.Config.Username, err)
	}

	return client, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}

	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

func smtpError(addr string, err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}

	wrapped := fmt.Errorf("send mail through %s: %w", addr, err)

	if reply, ok := errors.AsType[*smtp.SMTPError](err); ok && reply.Code >= 500 {
		return Permanent(wrapped)
	}

	return wrapped
}

// composeMessage builds an RFC 5322 message with CRLF line ends.
func composeMessage(from *mail.Address, to []string, subject, body string) []byte {
	var b strings.Builder

	headers := [][2]string{
		{"From", from.String()},
		{"To", strings.Join(to, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "8bit"},
	}

	for _, header := range headers {
		b.WriteString(header[0] + ": " + header[1] + "\r\n")
	}

	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))

	return []byte(b.String())
}
