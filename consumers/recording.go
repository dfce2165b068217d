package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
)

// RecordingProcessor handles RECORDING tasks: it probes and transcodes a
// meeting's uploaded recording, stores the results beside it in S3, marks
// the recording READY and queues the transcription.
type RecordingProcessor struct {
	Store   *store.Store
	Objects *media.ObjectStore
	Tools   media.Tools
	// WorkDir holds the temporary files of running tasks; the system's
	// temporary directory when empty.
	WorkDir  string
	Enqueuer Enqueuer
	Logger   *slog.Logger
}

// MeetingPrefix is the S3 key prefix under which a meeting's objects live.
func MeetingPrefix(meetingID uuid.UUID) string {
	return "meetings/" + meetingID.String() + "/"
}

// RecordingPrefix is the S3 key prefix of one recording's objects.
func RecordingPrefix(meetingID, recordingID uuid.UUID) string {
	return MeetingPrefix(meetingID) + "recordings/" + recordingID.String() + "/"
}

// Handle is a Handler.
func (p *RecordingProcessor) Handle(ctx context.Context, job Job) error {
	logger := p.Logger.With(slog.String("task_id", job.TaskID.String()), slog.String("meeting_id", job.MeetingID.String()))

	recording, err := p.recording(ctx, job)
	if errors.Is(err, errNoRecording) && job.RecordingID == nil {
		// endMeeting queues this task for every meeting, also one without a
		// recording; that is no failure, and a later upload queues its own task.
		logger.Info("meeting has no uploaded recording; nothing to process")

		return job.Report(ctx, 1, "skipped", "the meeting has no uploaded recording; "+
			"uploading one to the ended meeting starts processing")
	}

	if err != nil {
		return err
	}

	logger = logger.With(slog.String("recording_id", recording.ID.String()))

	if recording.Status != store.RecordingReady {
		if err := p.process(ctx, job, recording, logger); err != nil {
			p.undo(recording, err, logger)

			return classify(err)
		}
	} else {
		logger.Info("recording already processed; queueing its transcription only")
	}

	transcription, err := p.Enqueuer.EnqueueFollowUp(ctx, job.TaskID, job.MeetingID, &recording.ID, store.TaskKindTranscription)
	if err != nil {
		return fmt.Errorf("queue transcription of recording %s: %w", recording.ID, err)
	}

	logger.Info("recording processed", slog.String("transcription_task_id", transcription.String()))

	return job.Report(ctx, 1, "done", "transcription task "+transcription.String()+" queued")
}

// recording returns the task's recording after checking that its upload
// finished.
func (p *RecordingProcessor) recording(ctx context.Context, job Job) (*store.Recording, error) {
	recording, err := jobRecording(ctx, p.Store, job)
	if err != nil {
		return nil, err
	}

	if recording.RawObjectKey == nil || recording.Status == store.RecordingUploading {
		return nil, Permanent(fmt.Errorf("recording %s has not finished uploading", recording.ID))
	}

	return recording, nil
}

func (p *RecordingProcessor) process(ctx context.Context, job Job, recording *store.Recording, logger *slog.Logger) error {
	if err := p.Store.SetRecordingStatus(ctx, recording.ID, store.RecordingProcessing, ""); err != nil {
		return err
	}

	raw, err := fetch(ctx, job, p.Objects, p.WorkDir, *recording.RawObjectKey, "the upload")
	if err != nil {
		return err
	}

	dir := filepath.Dir(raw)
	defer removeDir(logger, dir)

	if err := job.Report(ctx, 0.05, "probe", "reading the media streams"); err != nil {
		return err
	}

	info, err := p.Tools.Probe(ctx, raw)
	if err != nil {
		return err
	}

	outputs := media.TranscodeOutputs{Playback: filepath.Join(dir, "playback.mp4"), Speech: filepath.Join(dir, "speech.wav")}
	progress := &progressReporter{ctx: ctx, job: job, logger: logger, stage: "transcode",
		message: fmt.Sprintf("transcoding %.1f s of %s", info.Duration, info.Format), from: 0.1, to: 0.8, last: 0.05}

	if err := p.Tools.Transcode(ctx, raw, info, outputs, progress.report); err != nil {
		return err
	}

	processed, err := p.upload(ctx, job, recording, outputs)
	if err != nil {
		return err
	}

	return p.Store.MarkRecordingReady(ctx, recording.ID, processed)
}

// upload stores the transcoded files and measures the playback file.
func (p *RecordingProcessor) upload(ctx context.Context, job Job, recording *store.Recording,
	outputs media.TranscodeOutputs,
) (store.ProcessedRecording, error) {
	if err := job.Report(ctx, 0.85, "upload", "storing the playback and speech files"); err != nil {
		return store.ProcessedRecording{}, err
	}

	playback, err := p.Tools.Probe(ctx, outputs.Playback)
	if err != nil {
		return store.ProcessedRecording{}, fmt.Errorf("probe transcoded recording %s: %w", recording.ID, err)
	}

	prefix := RecordingPrefix(job.MeetingID, recording.ID)
	processed := store.ProcessedRecording{
		PlaybackObjectKey: prefix + "playback.mp4",
		AudioObjectKey:    prefix + "speech.wav",
		DurationSeconds:   playback.Duration,
	}

	contentType := "audio/mp4"
	if playback.HasVideo {
		contentType = "video/mp4"
	}

	processed.SizeBytes, err = p.Objects.PutFile(ctx, processed.PlaybackObjectKey, outputs.Playback, contentType)
	if err != nil {
		return store.ProcessedRecording{}, err
	}

	if _, err := p.Objects.PutFile(ctx, processed.AudioObjectKey, outputs.Speech, "audio/wav"); err != nil {
		return store.ProcessedRecording{}, err
	}

	return processed, nil
}

// undo sets a recording that failed or was cancelled to FAILED with the
// reason when the media is bad, and to UPLOADED (waiting for processing)
// otherwise, and removes partial outputs, so it is never READY with them.
// It uses a fresh context because ctx may be the cancelled one.
func (p *RecordingProcessor) undo(recording *store.Recording, cause error, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()

	status, reason := store.RecordingUploaded, ""
	if IsPermanent(classify(cause)) {
		status, reason = store.RecordingFailed, cause.Error()
	}

	if err := p.Store.SetRecordingStatus(ctx, recording.ID, status, reason); err != nil {
		logger.Error("resetting recording status failed", slog.Any("error", err))
	}

	prefix := RecordingPrefix(recording.MeetingID, recording.ID)
	for _, name := range []string{"playback.mp4", "speech.wav"} {
		if err := p.Objects.Remove(ctx, path.Join(prefix, name)); err != nil {
			logger.Error("removing partial recording output failed", slog.Any("error", err))
		}
	}

	logger.Warn("recording processing stopped", slog.String("recording_status", status), slog.Any("error", cause))
}
