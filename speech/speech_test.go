package speech_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/speech"
)

// speechWAV returns espeak-ng speech converted to 16 kHz mono WAV.
func speechWAV(t *testing.T) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), "speech16.wav")
	testenv.FFmpeg(t, "-i", testenv.Speech(t, testenv.DemoSentences), "-ac", "1", "-ar", "16000",
		"-c:a", "pcm_s16le", path)

	return path
}

func TestPocketsphinxTranscribe(t *testing.T) {
	t.Parallel()

	transcript, err := speech.Pocketsphinx{}.Transcribe(t.Context(), speechWAV(t))
	require.NoError(t, err)

	require.NotEmpty(t, strings.TrimSpace(transcript.Text))
	require.GreaterOrEqual(t, len(transcript.Segments), 2, "sentence pauses should split segments")

	previousEnd := 0.0
	for _, segment := range transcript.Segments {
		require.NotEmpty(t, segment.Text)
		require.GreaterOrEqual(t, segment.Start, previousEnd)
		require.Greater(t, segment.End, segment.Start)
		require.Less(t, segment.End, 9.0)

		previousEnd = segment.End
	}
}

func TestPocketsphinxMissingCommand(t *testing.T) {
	t.Parallel()

	_, err := speech.Pocketsphinx{Command: filepath.Join(t.TempDir(), "absent")}.Transcribe(t.Context(), speechWAV(t))
	require.ErrorContains(t, err, "absent")
}

// verboseJSON is shaped like the verbose_json response of OpenAI's
// transcription API and of whisper servers.
const verboseJSON = `{
  "task": "transcribe", "language": "english", "duration": 7.79,
  "text": " Hello everyone. Welcome to the weekly planning meeting.",
  "segments": [
    {"id": 0, "seek": 0, "start": 0.0, "end": 1.2, "text": " Hello everyone.", "tokens": [50364, 2425],
     "temperature": 0.0, "avg_logprob": -0.21, "compression_ratio": 0.9, "no_speech_prob": 0.01},
    {"id": 1, "seek": 0, "start": 1.5, "end": 3.9, "text": " Welcome to the weekly planning meeting.",
     "tokens": [50464, 4027], "temperature": 0.0, "avg_logprob": -0.18, "compression_ratio": 0.9,
     "no_speech_prob": 0.01}
  ]
}`

func TestOpenAIRecognizerTranscribe(t *testing.T) {
	t.Parallel()

	wav := speechWAV(t)
	sent, err := os.ReadFile(wav)
	require.NoError(t, err)

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)

			return
		}

		if r.Header.Get("Authorization") != "Bearer test-key" {
			http.Error(w, "missing bearer token", http.StatusUnauthorized)

			return
		}

		file, header, err := r.FormFile("file")
		if err != nil {
			http.Error(w, "no file part: "+err.Error(), http.StatusBadRequest)

			return
		}

		received, _ := io.ReadAll(file)
		if string(received) != string(sent) || header.Filename != "speech16.wav" {
			http.Error(w, "file part differs from the WAV file", http.StatusBadRequest)

			return
		}

		if r.FormValue("model") != "whisper-1" || r.FormValue("response_format") != "verbose_json" ||
			r.FormValue("timestamp_granularities[]") != "segment" {
			http.Error(w, "unexpected form fields", http.StatusBadRequest)

			return
		}

		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, verboseJSON)
	}))
	t.Cleanup(server.Close)

	recognizer := speech.OpenAIRecognizer{Config: speech.OpenAIConfig{
		BaseURL: server.URL + "/v1", Model: "whisper-1", APIKey: "test-key",
	}}

	transcript, err := recognizer.Transcribe(t.Context(), wav)
	require.NoError(t, err)
	require.Equal(t, "Hello everyone. Welcome to the weekly planning meeting.", transcript.Text)
	require.Equal(t, []speech.Segment{
		{Start: 0, End: 1.2, Text: "Hello everyone."},
		{Start: 1.5, End: 3.9, Text: "Welcome to the weekly planning meeting."},
	}, transcript.Segments)
}

func TestOpenAIRecognizerStatusError(t *testing.T) {
	t.Parallel()

	cases := map[string]struct {
		status    int
		retryable bool
	}{
		"BadRequest":  {http.StatusBadRequest, false},
		"RateLimited": {http.StatusTooManyRequests, true},
		"ServerError": {http.StatusBadGateway, true},
	}

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				http.Error(w, `{"error": {"message": "no"}}`, c.status)
			}))
			t.Cleanup(server.Close)

			recognizer := speech.OpenAIRecognizer{Config: speech.OpenAIConfig{BaseURL: server.URL, Model: "m"}}
			_, err := recognizer.Transcribe(t.Context(), speechWAV(t))

			statusErr, ok := errors.AsType[*speech.StatusError](err)
			require.True(t, ok, "error %v is not a StatusError", err)
			require.Equal(t, c.status, statusErr.Status)
			require.Equal(t, c.retryable, statusErr.Retryable())
		})
	}
}

func TestExtractiveSummary(t *testing.T) {
	t.Parallel()

	transcript := speech.Transcript{Segments: []speech.Segment{
		{Text: "the budget for the release is tight"},
		{Text: "lunch was nice"},
		{Text: "we move the release to keep the budget"},
		{Text: "the release date and budget are agreed"},
		{Text: "see you next week"},
	}}

	summary, err := speech.Extractive{Sentences: 2, Keywords: 2}.Summarize(t.Context(), transcript)
	require.NoError(t, err)
	require.Equal(t, []string{"budget", "release"}, summary.Keywords)
	require.Equal(t, "the budget for the release is tight we move the release to keep the budget", summary.Text)
}

func TestChatSummarizer(t *testing.T) {
	t.Parallel()

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var request struct {
			Model    string `json:"model"`
			Messages []struct {
				Role, Content string
			} `json:"messages"`
		}

		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&request) != nil ||
			request.Model != "small-chat" || len(request.Messages) != 2 ||
			request.Messages[1].Content != "we agreed on the budget" {
			http.Error(w, "unexpected request", http.StatusBadRequest)

			return
		}

		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "chatcmpl-1", "object": "chat.completion", "model": "small-chat",
			"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
			"content": "{\"summary\": \"The team agreed on the budget.\", \"keywords\": [\"budget\"]}"}}]}`)
	}))
	t.Cleanup(server.Close)

	summarizer := speech.ChatSummarizer{Config: speech.OpenAIConfig{BaseURL: server.URL + "/v1", Model: "small-chat"}}

	summary, err := summarizer.Summarize(t.Context(), speech.Transcript{Text: "we agreed on the budget"})
	require.NoError(t, err)
	require.Equal(t, speech.Summary{Text: "The team agreed on the budget.", Keywords: []string{"budget"}}, summary)
}

func TestPocketsphinxCancel(t *testing.T) {
	t.Parallel()

	// Two minutes of noise keep the recognizer busy well past the cancellation.
	noise := filepath.Join(t.TempDir(), "noise.wav")
	testenv.FFmpeg(t, "-f", "lavfi", "-i", "anoisesrc=r=16000:a=0.3", "-t", "120", "-ac", "1",
		"-c:a", "pcm_s16le", noise)

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()

	started := time.Now()
	_, err := speech.Pocketsphinx{}.Transcribe(ctx, noise)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(started), 20*time.Second, "the recognizer process must be killed, not awaited")
}
