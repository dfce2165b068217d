package testenv

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// DemoSentences are a few sentences of meeting talk for speech tests.
const DemoSentences = "Hello everyone. Welcome to the weekly planning meeting. " +
	"Today we discuss the budget and the release schedule. Thank you all for joining."

// Speech synthesises text with espeak-ng into a WAV file in the test's
// temporary directory and returns its path.
func Speech(t testing.TB, text string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), "speech.wav")

	output, err := exec.Command("espeak-ng", "-w", path, text).CombinedOutput()
	if err != nil {
		t.Fatalf("synthesise speech with espeak-ng: %v: %s; install it with apt-get install espeak-ng", err, output)
	}

	return path
}

// FFmpeg runs ffmpeg with args, for tests that make media files.
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()

	args = append([]string{"-nostdin", "-y", "-v", "error"}, args...)

	output, err := exec.Command("ffmpeg", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, output)
	}
}
