package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

// SummaryWriter handles SUMMARY tasks: it condenses the meeting's stored
// transcript into a summary and keywords.
type SummaryWriter struct {
	Store      *store.Store
	Summarizer speech.Summarizer
	Logger     *slog.Logger
}

// Handle is a Handler.
func (s *SummaryWriter) Handle(ctx context.Context, job Job) error {
	analysis, err := s.Store.AnalysisByMeeting(ctx, job.MeetingID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && analysis.TranscriptText == nil) {
		return Permanent(fmt.Errorf("meeting %s has no transcript to summarise yet", job.MeetingID))
	}

	if err != nil {
		return err
	}

	if err := job.Report(ctx, 0.1, "summarize", "summarising the transcript"); err != nil {
		return err
	}

	transcript := speech.Transcript{Text: *analysis.TranscriptText}
	for _, segment := range analysis.TranscriptSegments {
		transcript.Segments = append(transcript.Segments, speech.Segment(segment))
	}

	summary, err := s.Summarizer.Summarize(ctx, transcript)
	if err != nil {
		return classify(fmt.Errorf("summarise meeting %s: %w", job.MeetingID, err))
	}

	if err := s.Store.SaveSummary(ctx, job.MeetingID, summary.Text, summary.Keywords); err != nil {
		return err
	}

	s.Logger.Info("summary stored", slog.String("task_id", job.TaskID.String()),
		slog.String("meeting_id", job.MeetingID.String()), slog.Int("keywords", len(summary.Keywords)))

	return job.Report(ctx, 1, "done", "summary stored")
}
