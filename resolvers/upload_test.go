package resolvers

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/apperr"
)

func TestRecordingMediaType(t *testing.T) {
	t.Parallel()

	accepted := map[string]string{
		"audio/wav":                 "audio/wav",
		"Audio/WebM; codecs=opus":   "audio/webm; codecs=opus",
		"video/mp4":                 "video/mp4",
		"application/octet-stream":  "application/octet-stream",
		"audio/ogg;codecs=\"opus\"": "audio/ogg; codecs=opus",
	}
	for contentType, want := range accepted {
		got, err := recordingMediaType(contentType)
		require.NoError(t, err, contentType)
		assert.Equal(t, want, got, contentType)
	}

	rejected := []string{
		"",
		"text/html",
		"audio/wav\r\nX-Injected: 1",
		"audio",
		"image/png",
		"video/*",
		"audio/" + strings.Repeat("x", 300),
	}
	for _, contentType := range rejected {
		_, err := recordingMediaType(contentType)
		require.Error(t, err, "%q", contentType)

		appErr, ok := errors.AsType[*apperr.Error](err)
		require.True(t, ok, "%q: %T", contentType, err)
		assert.Equal(t, apperr.BadUserInput, appErr.Code, "%q", contentType)
	}
}
