package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
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
	if err := checkMediaSettings(flags.MediaFlags); err != nil {
		return nil, err
	}

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
		if _, err := mail.ParseAddress(flags.SMTPFrom); err != nil {
			return nil, fmt.Errorf("MEETGRAPH_SMTP_FROM (--smtp-from) %q is not an e-mail address: %w", flags.SMTPFrom, err)
		}

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

// checkMediaSettings fails when a media tool is not found or the work
// directory cannot be created, so that a worker does not start only to fail
// every task.
func checkMediaSettings(flags MediaFlags) error {
	tools := []struct{ setting, command string }{
		{"MEETGRAPH_FFMPEG (--ffmpeg)", flags.FFmpeg},
		{"MEETGRAPH_FFPROBE (--ffprobe)", flags.FFprobe},
	}

	if flags.Recognizer == "pocketsphinx" {
		tools = append(tools, struct{ setting, command string }{"MEETGRAPH_POCKETSPHINX (--pocketsphinx)", flags.Pocketsphinx})
	}

	for _, tool := range tools {
		if _, err := exec.LookPath(tool.command); err != nil {
			return fmt.Errorf("%s: %w; install it (apt-get install ffmpeg pocketsphinx pocketsphinx-en-us) "+
				"or set its path", tool.setting, err)
		}
	}

	if flags.WorkDir != "" {
		if err := os.MkdirAll(flags.WorkDir, 0o700); err != nil {
			return fmt.Errorf("MEETGRAPH_WORK_DIR (--work-dir): %w", err)
		}
	}

	return nil
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
