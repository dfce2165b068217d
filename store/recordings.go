package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Recording statuses, in the order a recording moves through them.
const (
	RecordingUploading  = "UPLOADING"
	RecordingUploaded   = "UPLOADED"
	RecordingProcessing = "PROCESSING"
	RecordingReady      = "READY"
	RecordingFailed     = "FAILED"
)

// Recording is a row of recordings.
type Recording struct {
	ID                uuid.UUID
	MeetingID         uuid.UUID
	Status            string
	ContentType       *string
	RawObjectKey      *string
	PlaybackObjectKey *string
	AudioObjectKey    *string
	SizeBytes         *int64
	DurationSeconds   *float64
	FailureReason     *string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const recordingColumns = `id, meeting_id, status, content_type, raw_object_key, playback_object_key,
	audio_object_key, size_bytes, duration_seconds, failure_reason, created_at, updated_at`

func scanRecording(row pgx.Row) (*Recording, error) {
	var r Recording

	err := row.Scan(&r.ID, &r.MeetingID, &r.Status, &r.ContentType, &r.RawObjectKey, &r.PlaybackObjectKey,
		&r.AudioObjectKey, &r.SizeBytes, &r.DurationSeconds, &r.FailureReason, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}

	return &r, nil
}

// RecordingsByMeetingIDs returns the recordings of the given meetings,
// each meeting's oldest first.
func (s *Store) RecordingsByMeetingIDs(ctx context.Context, meetingIDs []uuid.UUID) ([]*Recording, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordingColumns+`
		FROM recordings WHERE meeting_id = ANY($1)
		ORDER BY created_at, id`, meetingIDs)
	if err != nil {
		return nil, fmt.Errorf("select recordings of %d meetings: %w", len(meetingIDs), err)
	}

	recordings, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Recording, error) { return scanRecording(row) })
	if err != nil {
		return nil, fmt.Errorf("select recordings of %d meetings: %w", len(meetingIDs), err)
	}

	return recordings, nil
}
