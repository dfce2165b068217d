// Package speech turns recorded speech into a transcript and a transcript
// into a summary, offline (pocketsphinx, extractive summary) or through an
// OpenAI-compatible HTTP API.
package speech

import (
	"context"
	"fmt"
	"strings"
)

// Segment is one stretch of recognised speech, with times in seconds from
// the start of the audio.
type Segment struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

// Transcript is the text of a recording and its timed segments.
type Transcript struct {
	Text     string    `json:"text"`
	Segments []Segment `json:"segments"`
}

// Recognizer transcribes a 16 kHz mono WAV file. Cancelling ctx stops the
// recognition, including any process it started.
type Recognizer interface {
	Transcribe(ctx context.Context, wavPath string) (Transcript, error)
}

// StatusError is an HTTP API's error response.
type StatusError struct {
	URL    string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("POST %s: status %d: %s", e.URL, e.Status, e.Body)
}

// Retryable reports whether the same request may succeed later: rate
// limits, timeouts and server errors may pass, other client errors do not.
func (e *StatusError) Retryable() bool {
	return e.Status == 408 || e.Status == 429 || e.Status >= 500
}

// joinSegments builds a transcript's text from its segments.
func joinSegments(segments []Segment) string {
	texts := make([]string, 0, len(segments))
	for _, segment := range segments {
		texts = append(texts, strings.TrimSpace(segment.Text))
	}

	return strings.Join(texts, " ")
}
