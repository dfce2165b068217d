package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/store"
)

// Meeting event types that produce an e-mail.
const (
	MeetingCreated  = "created"
	MeetingStarted  = "started"
	MeetingEnded    = "ended"
	MeetingReminder = "reminder"
)

// Reminder defaults.
const (
	// DefaultReminderLead is how long before a scheduled start the reminder goes out.
	DefaultReminderLead = 10 * time.Minute
	// DefaultReminderInterval is how often due reminders are claimed.
	DefaultReminderInterval = 30 * time.Second
)

// Notifier e-mails a meeting's creator and participants about its events.
type Notifier struct {
	Store  *store.Store
	Mailer Mailer
	Logger *slog.Logger
}

// HandleMeetingEvent sends the e-mail for one meeting event. An event type
// without an e-mail and a meeting that no longer exists are acknowledged
// without sending; a mail server rejection is permanent.
func (n *Notifier) HandleMeetingEvent(ctx context.Context, event events.MeetingEvent) error {
	logger := n.Logger.With(slog.String("meeting_id", event.MeetingID.String()), slog.String("event", event.Type))

	meeting, err := n.Store.MeetingByID(ctx, event.MeetingID)
	if errors.Is(err, store.ErrNotFound) {
		logger.Info("notification skipped: the meeting no longer exists")

		return nil
	}

	if err != nil {
		return err
	}

	subject, body, ok := notificationText(event.Type, meeting)
	if !ok {
		logger.Debug("no notification for this meeting event")

		return nil
	}

	return n.send(ctx, logger, meeting, subject, body)
}

func (n *Notifier) send(ctx context.Context, logger *slog.Logger, meeting *store.Meeting, subject, body string) error {
	recipients, err := n.Store.MeetingRecipients(ctx, meeting.ID)
	if err != nil {
		return err
	}

	if len(recipients) == 0 {
		return nil
	}

	if err := n.Mailer.Send(ctx, recipients, subject, body); err != nil {
		return fmt.Errorf("notify meeting %s: %w", meeting.ID, err)
	}

	logger.Info("notification sent", slog.Int("recipients", len(recipients)))

	return nil
}

func notificationText(eventType string, meeting *store.Meeting) (subject, body string, ok bool) {
	switch eventType {
	case MeetingCreated:
		body = fmt.Sprintf("The meeting %q was created.", meeting.Title)
		if meeting.ScheduledAt != nil {
			body += fmt.Sprintf(" It is scheduled for %s.", meeting.ScheduledAt.UTC().Format(time.RFC1123))
		}

		return "New meeting: " + meeting.Title, body, true
	case MeetingStarted:
		return "Started: " + meeting.Title, fmt.Sprintf("The meeting %q has started.", meeting.Title), true
	case MeetingEnded:
		return "Ended: " + meeting.Title, fmt.Sprintf("The meeting %q has ended. "+
			"Its recording and transcript follow once they are processed.", meeting.Title), true
	case MeetingReminder:
		if meeting.ScheduledAt == nil {
			return "", "", false
		}

		return "Starting soon: " + meeting.Title, fmt.Sprintf("The meeting %q starts at %s.",
			meeting.Title, meeting.ScheduledAt.UTC().Format(time.RFC1123)), true
	default:
		return "", "", false
	}
}

// Reminders e-mails each scheduled meeting's people once, Lead before it
// starts, however many workers run it.
//
// NOTE: reminders are sent from the loop itself rather than as
// meeting.reminder events through the notifications queue, so a failed
// send is retried at the next tick, not through the retry queues.
type Reminders struct {
	Notifier *Notifier
	// Lead is how long before the start the reminder goes out; DefaultReminderLead when 0.
	Lead time.Duration
	// Interval is how often due reminders are claimed; DefaultReminderInterval when 0.
	Interval time.Duration
	Logger   *slog.Logger
}

// Run sends due reminders every Interval until ctx is cancelled. A panic
// in the loop is returned as an error to the caller that owns it.
func (r *Reminders) Run(ctx context.Context) (err error) {
	defer func() {
		if value := recover(); value != nil {
			err = fmt.Errorf("reminder loop panicked: %v", value)
		}
	}()

	interval := r.Interval
	if interval <= 0 {
		interval = DefaultReminderInterval
	}

	r.Logger.Info("reminder loop started", slog.Duration("interval", interval))
	defer r.Logger.Info("reminder loop stopped")

	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		if _, err := r.SendDue(ctx); err != nil && ctx.Err() == nil {
			r.Logger.Error("sending reminders failed", slog.Any("error", err))
		}

		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// SendDue claims the meetings whose reminder is due and e-mails them. A
// reminder whose e-mail fails is released for the next call. It returns
// how many reminders were sent.
func (r *Reminders) SendDue(ctx context.Context) (int, error) {
	lead := r.Lead
	if lead <= 0 {
		lead = DefaultReminderLead
	}

	meetings, err := r.Notifier.Store.ClaimDueReminders(ctx, lead)
	if err != nil {
		return 0, err
	}

	var (
		sent     int
		failures []error
	)

	for _, meeting := range meetings {
		logger := r.Logger.With(slog.String("meeting_id", meeting.ID.String()), slog.String("event", MeetingReminder))
		subject, body, _ := notificationText(MeetingReminder, &meeting)

		if err := r.Notifier.send(ctx, logger, &meeting, subject, body); err != nil {
			failures = append(failures, err)

			if err := r.Notifier.Store.ReleaseReminder(context.WithoutCancel(ctx), meeting.ID); err != nil {
				failures = append(failures, err)
			}

			continue
		}

		sent++
	}

	return sent, errors.Join(failures...)
}

// HandleDelivery decodes a meeting event message body (JSON, see
// events.MeetingEvent) and sends its e-mail. A body that does not decode,
// or has no meeting id, is permanent: no retry can fix it.
func (n *Notifier) HandleDelivery(ctx context.Context, body []byte) error {
	var event events.MeetingEvent
	if err := json.Unmarshal(body, &event); err != nil {
		return Permanent(fmt.Errorf("decode meeting event: %w", err))
	}

	if event.MeetingID == uuid.Nil || event.Type == "" {
		return Permanent(fmt.Errorf("meeting event %.200s has no meeting id or type", body))
	}

	return n.HandleMeetingEvent(ctx, event)
}
