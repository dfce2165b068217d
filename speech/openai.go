package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// maxErrorBody caps how much of an error response is kept for messages.
const maxErrorBody = 2048

// OpenAIConfig sets where an OpenAI-compatible API is.
type OpenAIConfig struct {
	// BaseURL is the API root including the version, for example
	// http://127.0.0.1:8000/v1; paths such as /audio/transcriptions are appended.
	BaseURL string
	Model   string
	// APIKey is sent as a bearer token when not empty.
	APIKey string
	// Client sends the requests; http.DefaultClient when nil.
	Client *http.Client
}

func (c OpenAIConfig) client() *http.Client {
	if c.Client == nil {
		return http.DefaultClient
	}

	return c.Client
}

func (c OpenAIConfig) endpoint(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + path
}

// post sends body to path and decodes a 200 response into out.
func (c OpenAIConfig) post(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	url := c.endpoint(path)

	request, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return fmt.Errorf("build request to %s: %w", url, err)
	}

	request.Header.Set("Content-Type", contentType)
	request.Header.Set("Accept", "application/json")

	if c.APIKey != "" {
		request.Header.Set("Authorization", "Bearer "+c.APIKey)
	}

	response, err := c.client().Do(request)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer response.Body.Close()

	if response.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(response.Body, maxErrorBody))

		return &StatusError{URL: url, Status: response.StatusCode, Body: strings.TrimSpace(string(text))}
	}

	if err := json.NewDecoder(response.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response of %s: %w", url, err)
	}

	return nil
}

// OpenAIRecognizer sends audio to an OpenAI-compatible
// POST /audio/transcriptions endpoint, which whisper servers also offer.
type OpenAIRecognizer struct {
	Config OpenAIConfig
}

var _ Recognizer = OpenAIRecognizer{}

type verboseTranscription struct {
	Text     string `json:"text"`
	Segments []struct {
		Start float64 `json:"start"`
		End   float64 `json:"end"`
		Text  string  `json:"text"`
	} `json:"segments"`
}

// Transcribe uploads wavPath as a multipart form, streamed from the file,
// and requests verbose_json so that the response has timed segments.
func (r OpenAIRecognizer) Transcribe(ctx context.Context, wavPath string) (Transcript, error) {
	file, err := os.Open(wavPath)
	if err != nil {
		return Transcript{}, fmt.Errorf("open %s: %w", wavPath, err)
	}
	defer file.Close()

	body, writer := io.Pipe()
	form := multipart.NewWriter(writer)

	go func() {
		writer.CloseWithError(writeTranscriptionForm(form, r.Config.Model, wavPath, file))
	}()

	var result verboseTranscription

	err = r.Config.post(ctx, "/audio/transcriptions", form.FormDataContentType(), body, &result)
	// Closing the reading end stops the writer goroutine when the request ended early.
	_ = body.Close()

	if err != nil {
		return Transcript{}, fmt.Errorf("transcribe %s: %w", wavPath, err)
	}

	segments := make([]Segment, 0, len(result.Segments))
	for _, s := range result.Segments {
		segments = append(segments, Segment{Start: s.Start, End: s.End, Text: strings.TrimSpace(s.Text)})
	}

	return Transcript{Text: strings.TrimSpace(result.Text), Segments: segments}, nil
}

func writeTranscriptionForm(form *multipart.Writer, model, wavPath string, audio io.Reader) error {
	fields := [][2]string{
		{"model", model},
		{"response_format", "verbose_json"},
		{"timestamp_granularities[]", "segment"},
	}

	for _, field := range fields {
		if err := form.WriteField(field[0], field[1]); err != nil {
			return err
		}
	}

	part, err := form.CreateFormFile("file", filepath.Base(wavPath))
	if err != nil {
		return err
	}

	if _, err := io.Copy(part, audio); err != nil {
		return err
	}

	return form.Close()
}

// encodeJSON returns v as a JSON request body.
func encodeJSON(v any) (io.Reader, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}

	return bytes.NewReader(raw), nil
}
