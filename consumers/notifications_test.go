package consumers_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

// mailbox is an SMTP server on loopback that records what arrives.
type mailbox struct {
	host string
	port int

	mu       sync.Mutex
	messages []receivedMail
	// reject, when set, is the reply to every RCPT command.
	reject *smtp.SMTPError
}

type receivedMail struct {
	from string
	to   []string
	data string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()

	box := &mailbox{}
	server := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &mailSession{box: box}, nil
	}))
	server.Domain = "localhost"
	server.AllowInsecureAuth = true

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	go func() { _ = server.Serve(listener) }()

	t.Cleanup(func() { _ = server.Close() })

	host, port, err := net.SplitHostPort(listener.Addr().String())
	require.NoError(t, err)

	box.host = host
	box.port, err = strconv.Atoi(port)
	require.NoError(t, err)

	return box
}

// setReject makes the server reply to every recipient with reply, or accept them again when nil.
func (b *mailbox) setReject(reply *smtp.SMTPError) {
	b.mu.Lock()
	defer b.mu.Unlock()

	b.reject = reply
}

func (b *mailbox) received() []receivedMail {
	b.mu.Lock()
	defer b.mu.Unlock()

	return append([]receivedMail(nil), b.messages...)
}

type mailSession struct {
	box     *mailbox
	current receivedMail
}

func (s *mailSession) Reset()        { s.current = receivedMail{} }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.current.from = from

	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.box.mu.Lock()
	defer s.box.mu.Unlock()

	if s.box.reject != nil {
		return s.box.reject
	}

	s.current.to = append(s.current.to, to)

	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}

	s.current.data = string(data)

	s.box.mu.Lock()
	s.box.messages = append(s.box.messages, s.current)
	s.box.mu.Unlock()

	return nil
}

func newNotifier(t *testing.T, f *fixture, box *mailbox) *consumers.Notifier {
	t.Helper()

	return &consumers.Notifier{
		Store: f.store,
		Mailer: consumers.SMTPMailer{Config: consumers.SMTPConfig{
			Host: box.host, Port: box.port, From: "meetgraph <noreply@example.com>", Security: consumers.SMTPPlain,
		}},
		Logger: testenv.Logger(t),
	}
}

// addAttendee invites a new user to the fixture's meeting and returns the address.
func (f *fixture) addAttendee(t *testing.T) string {
	t.Helper()

	id := uuid.New()
	email := "attendee-" + testenv.RandomSuffix() + "@example.com"

	_, err := f.store.Pool().Exec(t.Context(), `INSERT INTO users (id, email, name) VALUES ($1, $2, 'Attendee')`, id, email)
	require.NoError(t, err)

	_, err = f.store.Pool().Exec(t.Context(), `INSERT INTO participants (meeting_id, user_id, role)
		VALUES ($1, $2, 'ATTENDEE')`, f.meetingID, id)
	require.NoError(t, err)

	return email
}

func (f *fixture) hostEmail(t *testing.T) string {
	t.Helper()

	var email string
	require.NoError(t, f.store.Pool().QueryRow(t.Context(), `SELECT email FROM users WHERE id = $1`, f.userID).Scan(&email))

	return email
}

func TestNotifierMeetingEvents(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	notifier := newNotifier(t, f, box)
	attendee := f.addAttendee(t)

	for _, eventType := range []string{consumers.MeetingCreated, consumers.MeetingStarted, consumers.MeetingEnded} {
		event := events.MeetingEvent{MeetingID: f.meetingID, Type: eventType, At: time.Now()}
		require.NoError(t, notifier.HandleMeetingEvent(t.Context(), event))
	}

	messages := box.received()
	require.Len(t, messages, 3)

	for i, subject := range []string{"New meeting: Planning", "Started: Planning", "Ended: Planning"} {
		require.Equal(t, "noreply@example.com", messages[i].from)
		require.ElementsMatch(t, []string{f.hostEmail(t), attendee}, messages[i].to)
		require.Contains(t, messages[i].data, "Subject: "+subject+"\r\n")
	}
}

func TestNotifierUnknownMeeting(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)

	event := events.MeetingEvent{MeetingID: uuid.New(), Type: consumers.MeetingStarted}
	require.NoError(t, newNotifier(t, f, box).HandleMeetingEvent(t.Context(), event))
	require.Empty(t, box.received())
}

func TestNotifierRejected(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	box.setReject(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})

	event := events.MeetingEvent{MeetingID: f.meetingID, Type: consumers.MeetingEnded}
	err := newNotifier(t, f, box).HandleMeetingEvent(t.Context(), event)
	require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
	require.ErrorContains(t, err, "no such mailbox")
}

func TestNotifierServerDown(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	notifier := newNotifier(t, f, box)
	notifier.Mailer = consumers.SMTPMailer{Config: consumers.SMTPConfig{
		Host: "127.0.0.1", Port: freePort(t), From: "noreply@example.com", Security: consumers.SMTPPlain,
	}}

	err := notifier.HandleMeetingEvent(t.Context(), events.MeetingEvent{MeetingID: f.meetingID, Type: consumers.MeetingEnded})
	require.Error(t, err)
	require.False(t, consumers.IsPermanent(err), "an unreachable mail server must be retried: %v", err)
}

func freePort(t *testing.T) int {
	t.Helper()

	_, port, err := net.SplitHostPort(testenv.FreeAddr(t))
	require.NoError(t, err)

	number, err := strconv.Atoi(port)
	require.NoError(t, err)

	return number
}

func TestRemindersSentOnce(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	notifier := newNotifier(t, f, box)

	later := uuid.New()
	_, err := f.store.Pool().Exec(t.Context(), `INSERT INTO meetings (id, title, status, creator_id, scheduled_at)
		VALUES ($1, 'Soon', 'SCHEDULED', $3, now() + interval '5 minutes'),
		       ($2, 'Later', 'SCHEDULED', $3, now() + interval '30 minutes')`, uuid.New(), later, f.userID)
	require.NoError(t, err)

	// Four workers claim at the same moment; the compare-and-set lets one win.
	const workers = 4

	var (
		wait  sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)

	for range workers {
		reminders := &consumers.Reminders{Notifier: notifier, Logger: testenv.Logger(t)}

		wait.Go(func() {
			sent, err := reminders.SendDue(t.Context())

			mu.Lock()
			defer mu.Unlock()

			total += sent
			errs = append(errs, err)
		})
	}

	wait.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, 1, total)

	messages := box.received()
	require.Len(t, messages, 1)
	require.Contains(t, messages[0].data, "Subject: Starting soon: Soon\r\n")

	again, err := (&consumers.Reminders{Notifier: notifier, Logger: testenv.Logger(t)}).SendDue(t.Context())
	require.NoError(t, err)
	require.Zero(t, again, "a reminder goes out once")
}

func TestReminderReleasedOnFailure(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	notifier := newNotifier(t, f, box)

	_, err := f.store.Pool().Exec(t.Context(), `INSERT INTO meetings (id, title, status, creator_id, scheduled_at)
		VALUES ($1, 'Soon', 'SCHEDULED', $2, now() + interval '5 minutes')`, uuid.New(), f.userID)
	require.NoError(t, err)

	reminders := &consumers.Reminders{Notifier: notifier, Logger: testenv.Logger(t)}

	box.setReject(&smtp.SMTPError{Code: 451, Message: "try again later"})
	sent, err := reminders.SendDue(t.Context())
	require.Error(t, err)
	require.Zero(t, sent)

	box.setReject(nil)

	sent, err = reminders.SendDue(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, sent)
}

func TestNotifierDelivery(t *testing.T) {
	t.Parallel()

	f := setup(t)
	box := startMailbox(t)
	notifier := newNotifier(t, f, box)

	body := `{"meetingId": "` + f.meetingID.String() + `", "type": "started", "at": "2026-12-04T16:00:00Z"}`
	require.NoError(t, notifier.HandleDelivery(t.Context(), []byte(body)))
	require.Len(t, box.received(), 1)

	for name, body := range map[string]string{
		"NotJSON":     `meeting started`,
		"NoMeetingID": `{"type": "started"}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := notifier.HandleDelivery(t.Context(), []byte(body))
			require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
		})
	}
}
