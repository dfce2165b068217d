package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MeetingRecipients returns the e-mail addresses of the meeting's creator
// and participants, each once, sorted.
func (s *Store) MeetingRecipients(ctx context.Context, meetingID uuid.UUID) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT u.email FROM users u WHERE u.id IN (
			SELECT creator_id FROM meetings WHERE id = $1
			UNION SELECT user_id FROM participants WHERE meeting_id = $1)
		ORDER BY u.email`, meetingID)
	if err != nil {
		return nil, fmt.Errorf("select recipients of meeting %s: %w", meetingID, err)
	}

	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("select recipients of meeting %s: %w", meetingID, err)
	}

	return emails, nil
}

// ClaimDueReminders marks the scheduled meetings that start within lead
// from now and have had no reminder as reminded, and returns them. The
// compare-and-set on reminder_sent_at means that of several workers
// claiming at once, each meeting goes to exactly one.
func (s *Store) ClaimDueReminders(ctx context.Context, lead time.Duration) ([]Meeting, error) {
	rows, err := s.pool.Query(ctx, `UPDATE meetings m SET reminder_sent_at = now()
		WHERE m.status = 'SCHEDULED' AND m.reminder_sent_at IS NULL
			AND m.scheduled_at > now() AND m.scheduled_at <= now() + $1::interval
		RETURNING `+meetingColumns, lead)
	if err != nil {
		return nil, fmt.Errorf("claim due reminders: %w", err)
	}

	meetings, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Meeting, error) {
		meeting, err := scanMeeting(row)
		if err != nil {
			return Meeting{}, err
		}

		return *meeting, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due reminders: %w", err)
	}

	return meetings, nil
}

// ReleaseReminder clears a claimed reminder whose e-mail could not be
// sent, so that the next claim tries again.
func (s *Store) ReleaseReminder(ctx context.Context, meetingID uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, `UPDATE meetings SET reminder_sent_at = NULL WHERE id = $1`, meetingID); err != nil {
		return fmt.Errorf("release reminder of meeting %s: %w", meetingID, err)
	}

	return nil
}
