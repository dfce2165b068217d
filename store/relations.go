package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The queries in this file each read one relation of many meetings in one
// statement (`= ANY($1)`), for the per-request loaders. They return rows
// in no particular key order; the loaders put them back in key order.

// Participant is a row of participants together with the participant's user.
type Participant struct {
	MeetingID uuid.UUID
	UserID    uuid.UUID
	Role      string
	InvitedAt time.Time
	JoinedAt  *time.Time
	// User is joined in the same statement, so that listing participants
	// with their users costs one round trip instead of two. Its
	// Permissions are not read and stay empty.
	User User
}

// MeetingsForViewerByIDs returns the meetings with the given ids that
// viewer may see (see MeetingForViewer), each with its Creator. Other ids
// are absent from the result, whether the meeting is missing or hidden
// from viewer.
func (s *Store) MeetingsForViewerByIDs(ctx context.Context, ids []uuid.UUID, viewer uuid.UUID) ([]*Meeting, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+meetingWithCreatorColumns+`
		FROM meetings m LEFT JOIN users u ON u.id = m.creator_id
		WHERE m.id = ANY($1) AND `+visibleTo, ids, viewer)
	if err != nil {
		return nil, fmt.Errorf("select %d meetings for user %s: %w", len(ids), viewer, err)
	}

	meetings, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Meeting, error) { return scanMeetingWithCreator(row) })
	if err != nil {
		return nil, fmt.Errorf("select %d meetings for user %s: %w", len(ids), viewer, err)
	}

	return meetings, nil
}

// ParticipantsByMeetingIDs returns the participants of the given meetings,
// each meeting's by invitation time, then user id.
func (s *Store) ParticipantsByMeetingIDs(ctx context.Context, meetingIDs []uuid.UUID) ([]*Participant, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.meeting_id, p.user_id, p.role, p.invited_at, p.joined_at,
			u.id, u.email, u.name, u.created_at
		FROM participants p JOIN users u ON u.id = p.user_id
		WHERE p.meeting_id = ANY($1)
		ORDER BY p.invited_at, p.user_id`, meetingIDs)
	if err != nil {
		return nil, fmt.Errorf("select participants of %d meetings: %w", len(meetingIDs), err)
	}

	participants, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Participant, error) {
		var p Participant

		err := row.Scan(&p.MeetingID, &p.UserID, &p.Role, &p.InvitedAt, &p.JoinedAt,
			&p.User.ID, &p.User.Email, &p.User.Name, &p.User.CreatedAt)

		return &p, err
	})
	if err != nil {
		return nil, fmt.Errorf("select participants of %d meetings: %w", len(meetingIDs), err)
	}

	return participants, nil
}

// TasksByMeetingIDs returns the tasks of the given meetings, each
// meeting's oldest first.
func (s *Store) TasksByMeetingIDs(ctx context.Context, meetingIDs []uuid.UUID) ([]*Task, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks t
		WHERE t.meeting_id = ANY($1) ORDER BY t.created_at, t.id`, meetingIDs)
	if err != nil {
		return nil, fmt.Errorf("select tasks of %d meetings: %w", len(meetingIDs), err)
	}

	tasks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Task, error) { return scanTask(row) })
	if err != nil {
		return nil, fmt.Errorf("select tasks of %d meetings: %w", len(meetingIDs), err)
	}

	return tasks, nil
}
