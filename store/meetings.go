package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Meeting statuses, in the order a meeting moves through them.
const (
	MeetingScheduled = "SCHEDULED"
	MeetingLive      = "LIVE"
	MeetingEnded     = "ENDED"
	MeetingCancelled = "CANCELLED"
)

// Meeting visibilities.
const (
	VisibilityPrivate = "PRIVATE"
	VisibilityPublic  = "PUBLIC"
)

// Meeting is a row of meetings.
type Meeting struct {
	ID          uuid.UUID
	Title       string
	Status      string
	Visibility  string
	CreatorID   uuid.UUID
	ScheduledAt *time.Time
	StartedAt   *time.Time
	EndedAt     *time.Time
	CreatedAt   time.Time
	// Creator is the user that CreatorID refers to. Only the queries whose
	// documentation mentions Creator fill it, and it stays nil when that
	// user does not exist.
	Creator *User
}

const meetingColumns = `m.id, m.title, m.status, m.visibility, m.creator_id,
	m.scheduled_at, m.started_at, m.ended_at, m.created_at`

func scanMeeting(row pgx.Row) (*Meeting, error) {
	var m Meeting

	err := row.Scan(&m.ID, &m.Title, &m.Status, &m.Visibility, &m.CreatorID,
		&m.ScheduledAt, &m.StartedAt, &m.EndedAt, &m.CreatedAt)
	if err != nil {
		return nil, err
	}

	return &m, nil
}

// meetingWithCreatorColumns are meetingColumns followed by userColumns of
// the creator u, for FROM meetings m LEFT JOIN users u ON u.id = m.creator_id.
// The join is an outer one so that a meeting whose creator row is missing
// still comes back, and its creator field reports the missing user.
const meetingWithCreatorColumns = meetingColumns + `, ` + userColumns

func scanMeetingWithCreator(row pgx.Row) (*Meeting, error) {
	var (
		m           Meeting
		creatorID   *uuid.UUID
		email, name *string
		createdAt   *time.Time
		permissions []string
	)

	err := row.Scan(&m.ID, &m.Title, &m.Status, &m.Visibility, &m.CreatorID,
		&m.ScheduledAt, &m.StartedAt, &m.EndedAt, &m.CreatedAt,
		&creatorID, &email, &name, &createdAt, &permissions)
	if err != nil {
		return nil, err
	}

	if creatorID != nil {
		m.Creator = &User{ID: *creatorID, Email: *email, Name: *name, CreatedAt: *createdAt, Permissions: permissions}
	}

	return &m, nil
}

// MeetingByID returns the meeting with id, or ErrNotFound.
func (s *Store) MeetingByID(ctx context.Context, id uuid.UUID) (*Meeting, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+meetingColumns+` FROM meetings m WHERE m.id = $1`, id)

	meeting, err := scanMeeting(row)
	if err != nil {
		return nil, fmt.Errorf("select meeting %s: %w", id, notFoundIfNoRows(err))
	}

	return meeting, nil
}

// visibleTo is the condition under which the user $2 may see the meeting m:
// it is public, or the user created it or is one of its participants.
const visibleTo = `(m.visibility = 'PUBLIC' OR m.creator_id = $2 OR EXISTS (
	SELECT 1 FROM participants p WHERE p.meeting_id = m.id AND p.user_id = $2))`

// MeetingForViewer returns the meeting with id if viewer may see it, and
// ErrNotFound both when it does not exist and when viewer may not see it,
// so that the existence of a private meeting does not leak.
func (s *Store) MeetingForViewer(ctx context.Context, id, viewer uuid.UUID) (*Meeting, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+meetingColumns+` FROM meetings m
		WHERE m.id = $1 AND `+visibleTo, id, viewer)

	meeting, err := scanMeeting(row)
	if err != nil {
		return nil, fmt.Errorf("select meeting %s for user %s: %w", id, viewer, notFoundIfNoRows(err))
	}

	return meeting, nil
}
