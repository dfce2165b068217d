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
