package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
)

func TestHelpListsWorkerSettings(t *testing.T) {
	t.Parallel()

	for _, command := range []string{"work", "all"} {
		var stdout bytes.Buffer
		require.NoError(t, run(context.Background(), []string{command, "--help"}, &stdout, &bytes.Buffer{}))

		for _, name := range []string{
			"MEETGRAPH_WORK_DIR", "MEETGRAPH_FFMPEG", "MEETGRAPH_FFPROBE", "MEETGRAPH_RECOGNIZER",
			"MEETGRAPH_POCKETSPHINX", "MEETGRAPH_TRANSCRIPTION_URL", "MEETGRAPH_TRANSCRIPTION_MODEL",
			"MEETGRAPH_TRANSCRIPTION_KEY", "MEETGRAPH_CHAT_URL", "MEETGRAPH_CHAT_MODEL", "MEETGRAPH_CHAT_KEY",
			"MEETGRAPH_SMTP_HOST", "MEETGRAPH_SMTP_PORT", "MEETGRAPH_SMTP_SECURITY", "MEETGRAPH_SMTP_USER",
			"MEETGRAPH_SMTP_PASSWORD", "MEETGRAPH_SMTP_FROM",
		} {
			require.Contains(t, stdout.String(), name, "%s --help", command)
		}
	}

	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"serve", "--help"}, &stdout, &bytes.Buffer{}))
	require.Contains(t, stdout.String(), "MEETGRAPH_MAX_UPLOAD_BYTES")
}

func TestOpenAIRecognizerNeedsURL(t *testing.T) {
	t.Parallel()

	args := append([]string{"work", "--recognizer", "openai"}, settingArgs(t, testenv.DatabaseURL(t))...)
	err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "MEETGRAPH_TRANSCRIPTION_URL (--transcription-url) is not set")
}

func TestWorkerSettingsChecked(t *testing.T) {
	t.Parallel()

	settings := settingArgs(t, testenv.DatabaseURL(t))
	absent := filepath.Join(t.TempDir(), "absent")

	cases := map[string]struct {
		args []string
		want string
	}{
		"FFmpeg":       {[]string{"--ffmpeg", absent}, "MEETGRAPH_FFMPEG (--ffmpeg)"},
		"Pocketsphinx": {[]string{"--pocketsphinx", absent}, "MEETGRAPH_POCKETSPHINX (--pocketsphinx)"},
		"SenderAddress": {
			[]string{"--smtp-host", "127.0.0.1", "--smtp-from", "not an address"},
			"MEETGRAPH_SMTP_FROM (--smtp-from)",
		},
	}

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			args := append(append([]string{"work"}, c.args...), settings...)
			err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())

	var stderr lockedBuffer

	args := append([]string{"work", "--log-level", "debug", "--smtp-host", "127.0.0.1",
		"--smtp-password", "smtp-secret-value", "--chat-url", "http://127.0.0.1:1/v1",
		"--chat-key", "chat-secret-value"}, settingArgs(t, testenv.DatabaseURL(t))...)

	done := make(chan error, 1)

	go func() { done <- run(ctx, args, &bytes.Buffer{}, &stderr) }()

	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(stderr.String(), "reminder loop started") {
			return errors.New("the worker has not started its reminder loop yet")
		}

		return nil
	})

	cancel()
	require.NoError(t, <-done)

	logs := stderr.String()
	require.Contains(t, logs, "task handlers ready")
	require.NotContains(t, logs, "smtp-secret-value")
	require.NotContains(t, logs, "chat-secret-value")
}

// lockedBuffer is a bytes.Buffer that the logger may write while the test reads.
type lockedBuffer struct {
	mu     sync.Mutex
	buffer bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buffer.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buffer.String()
}
