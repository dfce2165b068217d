package consumers_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

func newProcessor(t *testing.T, f *fixture) *consumers.RecordingProcessor {
	t.Helper()

	return &consumers.RecordingProcessor{
		Store: f.store, Objects: f.objects, WorkDir: t.TempDir(), Enqueuer: f.store, Logger: testenv.Logger(t),
	}
}

func newTranscriber(t *testing.T, f *fixture) *consumers.Transcriber {
	t.Helper()

	return &consumers.Transcriber{
		Store: f.store, Objects: f.objects, Recognizer: speech.Pocketsphinx{}, WorkDir: t.TempDir(),
		Enqueuer: f.store, Logger: testenv.Logger(t),
	}
}

func TestSpeechPipeline(t *testing.T) {
	t.Parallel()

	f := setup(t)
	source := testenv.Speech(t, testenv.DemoSentences)
	sourceInfo, err := media.Tools{}.Probe(t.Context(), source)
	require.NoError(t, err)

	recording := f.upload(t, source)
	processor := newProcessor(t, f)

	job, _ := f.job(t, store.TaskKindRecording, nil)
	require.NoError(t, processor.Handle(t.Context(), job))
	requireEmptyDir(t, processor.WorkDir)

	t.Run("RecordingReady", func(t *testing.T) {
		ready, err := f.store.RecordingByID(t.Context(), recording.ID)
		require.NoError(t, err)
		require.Equal(t, store.RecordingReady, ready.Status)
		require.NotNil(t, ready.DurationSeconds)
		require.InDelta(t, sourceInfo.Duration, *ready.DurationSeconds, 0.2)
		require.NotNil(t, ready.PlaybackObjectKey)
		require.True(t, strings.HasPrefix(*ready.PlaybackObjectKey, consumers.MeetingPrefix(f.meetingID)))
		requireObjectSize(t, f.objects, *ready.PlaybackObjectKey, *ready.SizeBytes)

		dir := t.TempDir()
		playback := filepath.Join(dir, "playback.mp4")
		require.NoError(t, f.objects.Download(t.Context(), *ready.PlaybackObjectKey, playback))

		stored, err := media.Tools{}.Probe(t.Context(), playback)
		require.NoError(t, err)
		require.InDelta(t, sourceInfo.Duration, stored.Duration, 0.2)
	})

	t.Run("EventsInOrder", func(t *testing.T) {
		events := f.events(t, job.TaskID)
		require.GreaterOrEqual(t, len(events), 4)

		previous := 0.0
		for i, event := range events {
			require.Equal(t, int64(i+1), event.Seq)
			require.GreaterOrEqual(t, event.Progress, previous, "event %d (%s)", event.Seq, event.Stage)
			require.LessOrEqual(t, event.Progress, 1.0)

			previous = event.Progress
		}

		require.Equal(t, "download", events[0].Stage)
		require.Equal(t, "done", events[len(events)-1].Stage)
	})

	require.Equal(t, []string{store.TaskKindTranscription}, f.queuedTasks(t))

	transcriber := newTranscriber(t, f)

	transcriptionJob, _ := f.job(t, store.TaskKindTranscription, &recording.ID)
	require.NoError(t, transcriber.Handle(t.Context(), transcriptionJob))

	analysis, err := f.store.AnalysisByMeeting(t.Context(), f.meetingID)
	require.NoError(t, err)

	t.Run("TranscriptStored", func(t *testing.T) {
		require.NotNil(t, analysis.TranscriptText)
		require.NotEmpty(t, strings.TrimSpace(*analysis.TranscriptText))
		require.NotEmpty(t, analysis.TranscriptSegments)

		for _, segment := range analysis.TranscriptSegments {
			require.NotEmpty(t, segment.Text)
			require.Greater(t, segment.End, segment.Start)
			require.LessOrEqual(t, segment.End, sourceInfo.Duration+0.2)
		}

		require.NotNil(t, analysis.TranscriptObjectKey)
		require.Equal(t, consumers.TranscriptKey(f.meetingID), *analysis.TranscriptObjectKey)

		copyPath := filepath.Join(t.TempDir(), "transcript.json")
		require.NoError(t, f.objects.Download(t.Context(), *analysis.TranscriptObjectKey, copyPath))

		raw, err := os.ReadFile(copyPath)
		require.NoError(t, err)
		require.Contains(t, string(raw), `"segments":[{"start":`)
	})

	require.Equal(t, []string{store.TaskKindTranscription, store.TaskKindSummary}, f.queuedTasks(t))

	summaryJob, _ := f.job(t, store.TaskKindSummary, &recording.ID)
	writer := &consumers.SummaryWriter{Store: f.store, Summarizer: speech.Extractive{}, Logger: testenv.Logger(t)}
	require.NoError(t, writer.Handle(t.Context(), summaryJob))

	summarized, err := f.store.AnalysisByMeeting(t.Context(), f.meetingID)
	require.NoError(t, err)
	require.NotNil(t, summarized.Summary)
	require.NotEmpty(t, *summarized.Summary)
	require.NotEmpty(t, summarized.Keywords)
	require.Equal(t, analysis.TranscriptText, summarized.TranscriptText, "the summary keeps the transcript")
}

func TestRecordingCorruptUpload(t *testing.T) {
	t.Parallel()

	f := setup(t)
	corrupt := filepath.Join(t.TempDir(), "corrupt.mp4")
	require.NoError(t, os.WriteFile(corrupt, []byte("ftypisom but nothing that ffprobe can read"), 0o600))

	recording := f.upload(t, corrupt)
	job, _ := f.job(t, store.TaskKindRecording, &recording.ID)

	processor := newProcessor(t, f)
	err := processor.Handle(t.Context(), job)
	require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
	require.ErrorContains(t, err, "ffprobe cannot read the file")
	requireEmptyDir(t, processor.WorkDir)

	failed, err := f.store.RecordingByID(t.Context(), recording.ID)
	require.NoError(t, err)
	require.Equal(t, store.RecordingFailed, failed.Status)
	require.NotNil(t, failed.FailureReason)
	require.Equal(t, "invalid media: ffprobe cannot read the file: Invalid data found when processing input",
		*failed.FailureReason)
	require.Empty(t, f.queuedTasks(t))
}

func TestRecordingWithoutUpload(t *testing.T) {
	t.Parallel()

	f := setup(t)

	t.Run("MeetingTask", func(t *testing.T) {
		job, _ := f.job(t, store.TaskKindRecording, nil)
		require.NoError(t, newProcessor(t, f).Handle(t.Context(), job))

		events := f.events(t, job.TaskID)
		require.Len(t, events, 1)
		require.Equal(t, "skipped", events[0].Stage)
		require.Empty(t, f.queuedTasks(t))
	})

	t.Run("UnknownRecording", func(t *testing.T) {
		missing := uuid.New()
		job, _ := f.job(t, store.TaskKindRecording, nil)
		job.RecordingID = &missing

		err := newProcessor(t, f).Handle(t.Context(), job)
		require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
		require.ErrorContains(t, err, "no uploaded recording")
	})
}

func TestRecordingS3Down(t *testing.T) {
	t.Parallel()

	bucket := testenv.Bucket(t)
	proxy := testenv.NewProxy(t, strings.TrimPrefix(bucket.Endpoint, "http://"))

	config := bucket.ObjectStoreConfig()
	config.Endpoint = "http://" + proxy.Addr
	objects, err := media.NewObjectStore(config)
	require.NoError(t, err)

	f := setupWithObjects(t, objects)
	recording := f.upload(t, testenv.Speech(t, testenv.DemoSentences))
	processor := newProcessor(t, f)

	proxy.Cut()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	job, _ := f.job(t, store.TaskKindRecording, &recording.ID)
	err = processor.Handle(ctx, job)
	require.Error(t, err)
	require.False(t, consumers.IsPermanent(err), "an unreachable S3 server must be retried: %v", err)
	requireEmptyDir(t, processor.WorkDir)

	waiting, err := f.store.RecordingByID(t.Context(), recording.ID)
	require.NoError(t, err)
	require.Equal(t, store.RecordingUploaded, waiting.Status)

	proxy.Restore()

	require.NoError(t, processor.Handle(ctx, job))

	ready, err := f.store.RecordingByID(t.Context(), recording.ID)
	require.NoError(t, err)
	require.Equal(t, store.RecordingReady, ready.Status)
}

func TestRecordingCancel(t *testing.T) {
	t.Parallel()

	f := setup(t)
	long := filepath.Join(t.TempDir(), "long.mkv")
	// Five minutes of video keep ffmpeg transcoding long enough to cancel it mid-run.
	testenv.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi",
		"-i", "anoisesrc=r=16000", "-t", "300", "-c:v", "mpeg4", "-q:v", "31", "-c:a", "pcm_s16le",
		"-shortest", long)

	recording := f.upload(t, long)
	job, reports := f.job(t, store.TaskKindRecording, &recording.ID)
	transcoding := reports.reached("transcode")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	processor := newProcessor(t, f)
	done := make(chan error, 1)

	go func() { done <- processor.Handle(ctx, job) }()

	select {
	case <-transcoding:
	case err := <-done:
		t.Fatalf("Handle returned before transcoding: %v", err)
	}

	cancel()

	select {
	case err := <-done:
		require.True(t, errors.Is(err, context.Canceled), "error %v is not context.Canceled", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Handle did not return within 30 s of cancellation")
	}

	stopped, err := f.store.RecordingByID(t.Context(), recording.ID)
	require.NoError(t, err)
	require.Equal(t, store.RecordingUploaded, stopped.Status)
	require.Nil(t, stopped.PlaybackObjectKey)

	_, err = f.objects.Size(t.Context(), consumers.RecordingPrefix(f.meetingID, recording.ID)+"playback.mp4")
	require.ErrorIs(t, err, media.ErrObjectNotFound)
	require.Empty(t, f.queuedTasks(t))
	requireEmptyDir(t, processor.WorkDir)
}

func TestRecordingDatabaseDown(t *testing.T) {
	t.Parallel()

	databaseURL, err := url.Parse(testenv.DatabaseURL(t))
	require.NoError(t, err)

	proxy := testenv.NewProxy(t, databaseURL.Host)
	databaseURL.Host = proxy.Addr

	pool, err := store.Open(t.Context(), store.PoolConfig{URL: databaseURL.String()})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	objects, err := media.NewObjectStore(testenv.Bucket(t).ObjectStoreConfig())
	require.NoError(t, err)

	f := &fixture{store: store.New(pool), objects: objects}
	f.insertMeeting(t)
	recording := f.upload(t, testenv.Speech(t, "Hello everyone."))
	job, _ := f.job(t, store.TaskKindRecording, &recording.ID)
	processor := newProcessor(t, f)

	proxy.Cut()

	err = processor.Handle(t.Context(), job)
	require.Error(t, err)
	require.False(t, consumers.IsPermanent(err), "an unreachable database must be retried: %v", err)

	proxy.Restore()

	require.NoError(t, processor.Handle(t.Context(), job))

	ready, err := f.store.RecordingByID(t.Context(), recording.ID)
	require.NoError(t, err)
	require.Equal(t, store.RecordingReady, ready.Status)
}

// A worker may stop after a handler queued its follow-up task but before
// the runner marked the task SUCCEEDED, and the broker then delivers the
// task again. The second run must not queue a second follow-up.
func TestRedeliveryQueuesFollowUpOnce(t *testing.T) {
	t.Parallel()

	f := setup(t)
	recording := f.upload(t, testenv.Speech(t, "Hello everyone. Welcome to the meeting."))

	processor := newProcessor(t, f)
	job, _ := f.job(t, store.TaskKindRecording, nil)

	require.NoError(t, processor.Handle(t.Context(), job))
	require.NoError(t, processor.Handle(t.Context(), job))
	require.Equal(t, []string{store.TaskKindTranscription}, f.queuedTasks(t))

	transcriber := newTranscriber(t, f)
	transcriptionJob, _ := f.job(t, store.TaskKindTranscription, &recording.ID)

	require.NoError(t, transcriber.Handle(t.Context(), transcriptionJob))
	require.NoError(t, transcriber.Handle(t.Context(), transcriptionJob))
	require.Equal(t, []string{store.TaskKindTranscription, store.TaskKindSummary}, f.queuedTasks(t))

	// A transcription that a user requests again is new work, so it queues
	// a summary of its own.
	again, _ := f.job(t, store.TaskKindTranscription, &recording.ID)
	require.NoError(t, transcriber.Handle(t.Context(), again))
	require.Equal(t, []string{store.TaskKindTranscription, store.TaskKindSummary, store.TaskKindSummary},
		f.queuedTasks(t))
}
