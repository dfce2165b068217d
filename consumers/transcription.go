package consumers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

// Transcriber handles TRANSCRIPTION tasks: it recognises the speech of a
// meeting's processed recording, stores the transcript in PostgreSQL and as
// JSON in S3, and queues the summary.
type Transcriber struct {
	Store      *store.Store
	Objects    *media.ObjectStore
	Recognizer speech.Recognizer
	// WorkDir holds the temporary files of running tasks; the system's
	// temporary directory when empty.
	WorkDir  string
	Enqueuer Enqueuer
	Logger   *slog.Logger
}

// TranscriptKey is the S3 key of a meeting's transcript JSON.
func TranscriptKey(meetingID uuid.UUID) string {
	return MeetingPrefix(meetingID) + "transcript.json"
}

// Handle is a Handler.
func (t *Transcriber) Handle(ctx context.Context, job Job) error {
	logger := t.Logger.With(slog.String("task_id", job.TaskID.String()), slog.String("meeting_id", job.MeetingID.String()))

	recording, err := t.readyRecording(ctx, job)
	if err != nil {
		return err
	}

	wav, err := fetch(ctx, job, t.Objects, t.WorkDir, *recording.AudioObjectKey, "the speech audio")
	if err != nil {
		return err
	}
	defer removeDir(logger, filepath.Dir(wav))

	message := fmt.Sprintf("recognising %.1f s of speech", deref(recording.DurationSeconds))
	if err := job.Report(ctx, 0.1, "recognize", message); err != nil {
		return err
	}

	transcript, err := t.Recognizer.Transcribe(ctx, wav)
	if err != nil {
		return classify(fmt.Errorf("transcribe recording %s: %w", recording.ID, err))
	}

	if err := job.Report(ctx, 0.9, "store", fmt.Sprintf("storing %d segments", len(transcript.Segments))); err != nil {
		return err
	}

	if err := t.save(ctx, job, transcript); err != nil {
		return err
	}

	summary, err := t.Enqueuer.EnqueueFollowUp(ctx, job.TaskID, job.MeetingID, &recording.ID, store.TaskKindSummary)
	if err != nil {
		return fmt.Errorf("queue summary of meeting %s: %w", job.MeetingID, err)
	}

	logger.Info("transcript stored", slog.Int("segments", len(transcript.Segments)),
		slog.String("summary_task_id", summary.String()))

	return job.Report(ctx, 1, "done", "summary task "+summary.String()+" queued")
}

func (t *Transcriber) readyRecording(ctx context.Context, job Job) (*store.Recording, error) {
	recording, err := jobRecording(ctx, t.Store, job)
	if err != nil {
		return nil, err
	}

	if recording.Status != store.RecordingReady || recording.AudioObjectKey == nil {
		return nil, Permanent(fmt.Errorf("recording %s is %s, not READY: process it before transcribing",
			recording.ID, recording.Status))
	}

	return recording, nil
}

// save writes the JSON copy to S3 first, so that the row that makes the
// transcript visible never points at a missing object.
func (t *Transcriber) save(ctx context.Context, job Job, transcript speech.Transcript) error {
	if transcript.Segments == nil {
		transcript.Segments = []speech.Segment{}
	}

	document, err := json.Marshal(transcript)
	if err != nil {
		return fmt.Errorf("encode transcript of meeting %s: %w", job.MeetingID, err)
	}

	key := TranscriptKey(job.MeetingID)
	if _, err := t.Objects.Put(ctx, key, bytes.NewReader(document), int64(len(document)), "application/json"); err != nil {
		return err
	}

	segments := make([]store.TranscriptSegment, len(transcript.Segments))
	for i, segment := range transcript.Segments {
		segments[i] = store.TranscriptSegment(segment)
	}

	return t.Store.SaveTranscript(ctx, job.MeetingID, transcript.Text, segments, key)
}

func deref(value *float64) float64 {
	if value == nil {
		return 0
	}

	return *value
}
