package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

// apiTimeout bounds one request to a transcription or chat endpoint; long
// recordings take minutes to transcribe.
const apiTimeout = 30 * time.Minute

// workerParts are the task handlers by task kind and the notifier, built
// from the worker settings.
type workerParts struct {
	handlers map[string]consumers.Handler
	// notifier is nil when no SMTP host is set.
	notifier *consumers.Notifier
}

// buildWorkerParts checks the media and notification settings and builds
// the handlers. Its error names the setting to fix.
func buildWorkerParts(flags WorkerFlags, svc *services, logger *slog.Logger) (*workerParts, error) {
	recognizer, err := newRecognizer(flags.MediaFlags)
	if err != nil {
		return nil, err
	}

	var summarizer speech.Summarizer = speech.Extractive{}
	if flags.ChatURL != "" {
		summarizer = speech.ChatSummarizer{Config: speech.OpenAIConfig{
			BaseURL: flags.ChatURL, Model: flags.ChatModel, APIKey: flags.ChatKey,
			Client: &http.Client{Timeout: apiTimeout},
		}}
	}

	tools := media.Tools{FFmpeg: flags.FFmpeg, FFprobe: flags.FFprobe}
	recording := &consumers.RecordingProcessor{
		Store: svc.store, Objects: svc.objects, Tools: tools, WorkDir: flags.WorkDir,
		Enqueuer: svc.store, Logger: logger,
	}
	transcription := &consumers.Transcriber{
		Store: svc.store, Objects: svc.objects, Recognizer: recognizer, WorkDir: flags.WorkDir,
		Enqueuer: svc.store, Logger: logger,
	}
	summary := &consumers.SummaryWriter{Store: svc.store, Summarizer: summarizer, Logger: logger}

	parts := &workerParts{handlers: map[string]consumers.Handler{
		store.TaskKindRecording:     recording.Handle,
		store.TaskKindTranscription: transcription.Handle,
		store.TaskKindSummary:       summary.Handle,
	}}

	if flags.SMTPHost != "" {
		parts.notifier = &consumers.Notifier{Store: svc.store, Logger: logger, Mailer: consumers.SMTPMailer{
			Config: consumers.SMTPConfig{
				Host: flags.SMTPHost, Port: flags.SMTPPort, Username: flags.SMTPUser, Password: flags.SMTPPassword,
				From: flags.SMTPFrom, Security: flags.SMTPSecurity,
			},
		}}
	}

	logger.Info("task handlers ready", slog.String("recognizer", flags.Recognizer),
		slog.Bool("chat_summary", flags.ChatURL != ""), slog.Bool("email", parts.notifier != nil))

	return parts, nil
}

func newRecognizer(flags MediaFlags) (speech.Recognizer, error) {
	switch flags.Recognizer {
	case "openai":
		if flags.TranscriptionURL == "" {
			return nil, errors.New("MEETGRAPH_TRANSCRIPTION_URL (--transcription-url) is not set: " +
				"--recognizer=openai needs the base URL of an OpenAI-compatible API, for example http://127.0.0.1:8000/v1")
		}

		return speech.OpenAIRecognizer{Config: speech.OpenAIConfig{
			BaseURL: flags.TranscriptionURL, Model: flags.TranscriptionModel, APIKey: flags.TranscriptionKey,
			Client: &http.Client{Timeout: apiTimeout},
		}}, nil
	case "pocketsphinx":
		return speech.Pocketsphinx{Command: flags.Pocketsphinx}, nil
	default:
		return nil, fmt.Errorf("MEETGRAPH_RECOGNIZER (--recognizer) is %q: use pocketsphinx or openai", flags.Recognizer)
	}
}
