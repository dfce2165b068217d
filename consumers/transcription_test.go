package consumers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

// readyRecording processes a speech upload so that it is READY.
func (f *fixture) readyRecording(t *testing.T) *store.Recording {
	t.Helper()

	recording := f.upload(t, testenv.Speech(t, "Hello everyone. Welcome to the meeting."))
	job, _ := f.job(t, store.TaskKindRecording, &recording.ID)
	require.NoError(t, newProcessor(t, f).Handle(t.Context(), job))

	return recording
}

func TestTranscriberOpenAI(t *testing.T) {
	t.Parallel()

	f := setup(t)
	recording := f.readyRecording(t)

	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, header, err := r.FormFile("file")
		if err != nil || header.Filename != "speech.wav" {
			http.Error(w, "missing file part", http.StatusBadRequest)

			return
		}

		_, _ = io.Copy(io.Discard, file)

		if code := int(status.Load()); code != http.StatusOK {
			http.Error(w, `{"error": {"message": "model is loading"}}`, code)

			return
		}

		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"task": "transcribe", "language": "english", "duration": 3.1,
			"text": " Hello everyone. Welcome to the meeting.",
			"segments": [
				{"id": 0, "seek": 0, "start": 0.0, "end": 1.1, "text": " Hello everyone.", "tokens": [1],
				 "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.0},
				{"id": 1, "seek": 0, "start": 1.4, "end": 3.0, "text": " Welcome to the meeting.", "tokens": [2],
				 "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.0}]}`)
	}))
	t.Cleanup(server.Close)

	transcriber := &consumers.Transcriber{
		Store: f.store, Objects: f.objects, WorkDir: t.TempDir(), Enqueuer: f.store, Logger: testenv.Logger(t),
		Recognizer: speech.OpenAIRecognizer{Config: speech.OpenAIConfig{BaseURL: server.URL + "/v1", Model: "whisper-1"}},
	}

	job, _ := f.job(t, store.TaskKindTranscription, &recording.ID)

	err := transcriber.Handle(t.Context(), job)
	require.Error(t, err)
	require.False(t, consumers.IsPermanent(err), "a 503 from the API must be retried: %v", err)

	status.Store(http.StatusBadRequest)
	err = transcriber.Handle(t.Context(), job)
	require.True(t, consumers.IsPermanent(err), "a 400 from the API is permanent: %v", err)

	status.Store(http.StatusOK)
	require.NoError(t, transcriber.Handle(t.Context(), job))
	requireEmptyDir(t, transcriber.WorkDir)

	analysis, err := f.store.AnalysisByMeeting(t.Context(), f.meetingID)
	require.NoError(t, err)
	require.Equal(t, "Hello everyone. Welcome to the meeting.", *analysis.TranscriptText)
	require.Equal(t, []store.TranscriptSegment{
		{Start: 0, End: 1.1, Text: "Hello everyone."},
		{Start: 1.4, End: 3.0, Text: "Welcome to the meeting."},
	}, analysis.TranscriptSegments)
}

func TestTranscriberBeforeProcessing(t *testing.T) {
	t.Parallel()

	f := setup(t)
	recording := f.upload(t, testenv.Speech(t, "Hello."))

	transcriber := &consumers.Transcriber{
		Store: f.store, Objects: f.objects, Recognizer: speech.Pocketsphinx{}, WorkDir: t.TempDir(),
		Enqueuer: f.store, Logger: testenv.Logger(t),
	}

	job, _ := f.job(t, store.TaskKindTranscription, &recording.ID)
	err := transcriber.Handle(t.Context(), job)
	require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
	require.ErrorContains(t, err, "is UPLOADED, not READY")
}

func TestSummaryWithoutTranscript(t *testing.T) {
	t.Parallel()

	f := setup(t)
	job, _ := f.job(t, store.TaskKindSummary, nil)

	writer := &consumers.SummaryWriter{Store: f.store, Summarizer: speech.Extractive{}, Logger: testenv.Logger(t)}
	err := writer.Handle(t.Context(), job)
	require.True(t, consumers.IsPermanent(err), "error %v is not permanent", err)
	require.ErrorContains(t, err, "has no transcript")
}
