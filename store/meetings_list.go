package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MeetingCursor is a position in a meeting list, which is ordered newest
// first by (created_at, id).
type MeetingCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// MeetingListFilter selects a page of the meetings that Viewer may see.
type MeetingListFilter struct {
	Viewer uuid.UUID
	// Status, when not empty, keeps only meetings in that status.
	Status string
	// After, when not nil, starts the page right after that position.
	After *MeetingCursor
	// Limit is the number of rows returned at most.
	Limit int
}

// MeetingsForViewer returns up to filter.Limit meetings that the viewer may
// see, newest first, each with its Creator. The keyset condition on (created_at, id) lets
// PostgreSQL read the page from meetings_created_at_id_idx (or the status
// index) without skipping rows.
func (s *Store) MeetingsForViewer(ctx context.Context, filter MeetingListFilter) ([]*Meeting, error) {
	var afterAt *time.Time

	var afterID *uuid.UUID

	if filter.After != nil {
		afterAt, afterID = &filter.After.CreatedAt, &filter.After.ID
	}

	var status *string
	if filter.Status != "" {
		status = &filter.Status
	}

	// $2 is the viewer, as visibleTo expects.
	rows, err := s.pool.Query(ctx, `SELECT `+meetingWithCreatorColumns+`
		FROM meetings m LEFT JOIN users u ON u.id = m.creator_id
		WHERE `+visibleTo+`
		  AND ($3::text IS NULL OR m.status = $3)
		  AND ($4::timestamptz IS NULL OR (m.created_at, m.id) < ($4, $5::uuid))
		ORDER BY m.created_at DESC, m.id DESC
		LIMIT $1`,
		filter.Limit, filter.Viewer, status, afterAt, afterID)
	if err != nil {
		return nil, fmt.Errorf("list meetings for user %s: %w", filter.Viewer, err)
	}

	meetings, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Meeting, error) { return scanMeetingWithCreator(row) })
	if err != nil {
		return nil, fmt.Errorf("list meetings for user %s: %w", filter.Viewer, err)
	}

	return meetings, nil
}
