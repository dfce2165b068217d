package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TranscriptSegment is one stretch of recognised speech, with times in
// seconds from the start of the recording.
type TranscriptSegment struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

// Analysis is a row of analyses.
type Analysis struct {
	MeetingID           uuid.UUID
	TranscriptText      *string
	TranscriptSegments  []TranscriptSegment
	TranscriptObjectKey *string
	Summary             *string
	Keywords            []string
	UpdatedAt           time.Time
}

// AnalysisByMeeting returns the meeting's analysis, or ErrNotFound.
func (s *Store) AnalysisByMeeting(ctx context.Context, meetingID uuid.UUID) (*Analysis, error) {
	a := Analysis{MeetingID: meetingID}

	err := s.pool.QueryRow(ctx, `SELECT transcript_text, transcript_segments, transcript_object_key,
			summary, keywords, updated_at
		FROM analyses WHERE meeting_id = $1`, meetingID).
		Scan(&a.TranscriptText, &a.TranscriptSegments, &a.TranscriptObjectKey, &a.Summary, &a.Keywords, &a.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("select analysis of meeting %s: %w", meetingID, notFoundIfNoRows(err))
	}

	return &a, nil
}

// SaveTranscript stores a meeting's transcript, replacing an earlier one.
func (s *Store) SaveTranscript(ctx context.Context, meetingID uuid.UUID, text string,
	segments []TranscriptSegment, objectKey string,
) error {
	if segments == nil {
		segments = []TranscriptSegment{}
	}

	_, err := s.pool.Exec(ctx, `INSERT INTO analyses (meeting_id, transcript_text, transcript_segments, transcript_object_key)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (meeting_id) DO UPDATE SET transcript_text = excluded.transcript_text,
			transcript_segments = excluded.transcript_segments,
			transcript_object_key = excluded.transcript_object_key, updated_at = now()`,
		meetingID, text, segments, objectKey)
	if err != nil {
		return fmt.Errorf("save transcript of meeting %s: %w", meetingID, err)
	}

	return nil
}

// SaveSummary stores a meeting's summary and keywords, replacing earlier ones.
func (s *Store) SaveSummary(ctx context.Context, meetingID uuid.UUID, summary string, keywords []string) error {
	if keywords == nil {
		keywords = []string{}
	}

	_, err := s.pool.Exec(ctx, `INSERT INTO analyses (meeting_id, summary, keywords) VALUES ($1, $2, $3)
		ON CONFLICT (meeting_id) DO UPDATE SET summary = excluded.summary, keywords = excluded.keywords,
			updated_at = now()`,
		meetingID, summary, keywords)
	if err != nil {
		return fmt.Errorf("save summary of meeting %s: %w", meetingID, err)
	}

	return nil
}

// AnalysesByMeetingIDs returns the analyses of the given meetings; a
// meeting without one is absent from the result.
func (s *Store) AnalysesByMeetingIDs(ctx context.Context, meetingIDs []uuid.UUID) ([]*Analysis, error) {
	rows, err := s.pool.Query(ctx, `SELECT meeting_id, transcript_text, transcript_segments, transcript_object_key,
			summary, keywords, updated_at
		FROM analyses WHERE meeting_id = ANY($1)`, meetingIDs)
	if err != nil {
		return nil, fmt.Errorf("select analyses of %d meetings: %w", len(meetingIDs), err)
	}
	defer rows.Close()

	var analyses []*Analysis

	for rows.Next() {
		var a Analysis

		err := rows.Scan(&a.MeetingID, &a.TranscriptText, &a.TranscriptSegments, &a.TranscriptObjectKey,
			&a.Summary, &a.Keywords, &a.UpdatedAt)
		if err != nil {
			return nil, fmt.Errorf("select analyses of %d meetings: %w", len(meetingIDs), err)
		}

		analyses = append(analyses, &a)
	}

	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select analyses of %d meetings: %w", len(meetingIDs), err)
	}

	return analyses, nil
}
