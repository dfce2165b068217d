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

// NewRecording is a recording to insert with CreateRecording.
type NewRecording struct {
	ID           uuid.UUID
	MeetingID    uuid.UUID
	Status       string
	ContentType  string
	RawObjectKey string
	// SizeBytes is the raw upload's size; nil while it is still unknown.
	SizeBytes *int64
}

// CreateRecording inserts a recording row.
func (s *Store) CreateRecording(ctx context.Context, r NewRecording) (*Recording, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO recordings (id, meeting_id, status, content_type, raw_object_key, size_bytes)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6) RETURNING `+recordingColumns,
		r.ID, r.MeetingID, r.Status, r.ContentType, r.RawObjectKey, r.SizeBytes)

	recording, err := scanRecording(row)
	if err != nil {
		return nil, fmt.Errorf("insert recording %s of meeting %s: %w", r.ID, r.MeetingID, err)
	}

	return recording, nil
}

// RecordingByID returns the recording with id, or ErrNotFound.
func (s *Store) RecordingByID(ctx context.Context, id uuid.UUID) (*Recording, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE id = $1`, id)

	recording, err := scanRecording(row)
	if err != nil {
		return nil, fmt.Errorf("select recording %s: %w", id, notFoundIfNoRows(err))
	}

	return recording, nil
}

// LatestRecording returns the meeting's newest recording that has left
// UPLOADING, or ErrNotFound.
func (s *Store) LatestRecording(ctx context.Context, meetingID uuid.UUID) (*Recording, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+recordingColumns+` FROM recordings
		WHERE meeting_id = $1 AND status <> 'UPLOADING' ORDER BY created_at DESC, id DESC LIMIT 1`, meetingID)

	recording, err := scanRecording(row)
	if err != nil {
		return nil, fmt.Errorf("select latest recording of meeting %s: %w", meetingID, notFoundIfNoRows(err))
	}

	return recording, nil
}

// MarkRecordingUploaded moves a recording from UPLOADING to UPLOADED with
// the raw upload's size. It also returns the meeting's status read by the
// same statement, which includes an endMeeting that committed during the
// upload. It returns ErrNotFound when no recording with id is UPLOADING.
func (s *Store) MarkRecordingUploaded(ctx context.Context, id uuid.UUID, size int64) (*Recording, string, error) {
	var (
		r             Recording
		meetingStatus string
	)

	err := s.pool.QueryRow(ctx, `UPDATE recordings r SET status = 'UPLOADED', size_bytes = $2, updated_at = now()
		FROM meetings m WHERE r.id = $1 AND r.status = 'UPLOADING' AND m.id = r.meeting_id
		RETURNING r.id, r.meeting_id, r.status, r.content_type, r.raw_object_key, r.playback_object_key,
			r.audio_object_key, r.size_bytes, r.duration_seconds, r.failure_reason, r.created_at, r.updated_at,
			m.status`, id, size).
		Scan(&r.ID, &r.MeetingID, &r.Status, &r.ContentType, &r.RawObjectKey, &r.PlaybackObjectKey,
			&r.AudioObjectKey, &r.SizeBytes, &r.DurationSeconds, &r.FailureReason, &r.CreatedAt, &r.UpdatedAt,
			&meetingStatus)
	if err != nil {
		return nil, "", fmt.Errorf("mark recording %s uploaded: %w", id, notFoundIfNoRows(err))
	}

	return &r, meetingStatus, nil
}

// SetRecordingStatus sets a recording's status and failure reason. A
// reason is kept only for FAILED.
func (s *Store) SetRecordingStatus(ctx context.Context, id uuid.UUID, status, reason string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE recordings SET status = $2,
			failure_reason = CASE WHEN $2 = 'FAILED' THEN nullif($3, '') END, updated_at = now()
		WHERE id = $1`, id, status, reason)
	if err != nil {
		return fmt.Errorf("set recording %s to %s: %w", id, status, err)
	}

	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set recording %s to %s: %w", id, status, ErrNotFound)
	}

	return nil
}

// ProcessedRecording contains the outputs of recording processing.
type ProcessedRecording struct {
	PlaybackObjectKey string
	AudioObjectKey    string
	SizeBytes         int64
	DurationSeconds   float64
}

// MarkRecordingReady stores the processed files of a recording and makes
// it READY in one statement, so a reader never sees READY without them.
func (s *Store) MarkRecordingReady(ctx context.Context, id uuid.UUID, p ProcessedRecording) error {
	tag, err := s.pool.Exec(ctx, `UPDATE recordings SET status = 'READY', playback_object_key = $2,
			audio_object_key = $3, size_bytes = $4, duration_seconds = $5, failure_reason = NULL, updated_at = now()
		WHERE id = $1`, id, p.PlaybackObjectKey, p.AudioObjectKey, p.SizeBytes, p.DurationSeconds)
	if err != nil {
		return fmt.Errorf("mark recording %s ready: %w", id, err)
	}

	if tag.RowsAffected() == 0 {
		return fmt.Errorf("mark recording %s ready: %w", id, ErrNotFound)
	}

	return nil
}

// IsMeetingHost reports whether user created the meeting or takes part in
// it as a HOST, which lets them manage its recordings.
func (s *Store) IsMeetingHost(ctx context.Context, meetingID, userID uuid.UUID) (bool, error) {
	var host bool

	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM meetings WHERE id = $1 AND creator_id = $2)
		OR EXISTS (SELECT 1 FROM participants WHERE meeting_id = $1 AND user_id = $2 AND role = 'HOST')`,
		meetingID, userID).Scan(&host)
	if err != nil {
		return false, fmt.Errorf("check whether user %s hosts meeting %s: %w", userID, meetingID, err)
	}

	return host, nil
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
