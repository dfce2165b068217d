package media_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/media"
)

func TestProbeSpeech(t *testing.T) {
	t.Parallel()

	path := testenv.Speech(t, testenv.DemoSentences)

	info, err := media.Tools{}.Probe(t.Context(), path)
	require.NoError(t, err)
	require.True(t, info.HasAudio)
	require.False(t, info.HasVideo)
	require.InDelta(t, 7.8, info.Duration, 1.0)
}

func TestProbeInvalid(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.wav")
	garbage := filepath.Join(dir, "garbage.mp4")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	require.NoError(t, os.WriteFile(garbage, []byte("this is not a media file at all"), 0o600))

	silentVideo := filepath.Join(dir, "video.mp4")
	testenv.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-c:v", "libx264", silentVideo)

	cases := map[string]struct {
		path   string
		reason string
	}{
		"Empty":   {empty, "the file is empty"},
		"Garbage": {garbage, "ffprobe cannot read the file"},
		"NoAudio": {silentVideo, "has no audio stream"},
	}

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := media.Tools{}.Probe(t.Context(), c.path)

			invalid, ok := errors.AsType[*media.InvalidMediaError](err)
			require.True(t, ok, "error %v is not an InvalidMediaError", err)
			require.Contains(t, invalid.Reason, c.reason)
		})
	}
}

func TestTranscodeSpeech(t *testing.T) {
	t.Parallel()

	input := testenv.Speech(t, testenv.DemoSentences)
	tools := media.Tools{}

	info, err := tools.Probe(t.Context(), input)
	require.NoError(t, err)

	dir := t.TempDir()
	out := media.TranscodeOutputs{Playback: filepath.Join(dir, "out.mp4"), Speech: filepath.Join(dir, "out.wav")}

	var fractions []float64

	err = tools.Transcode(t.Context(), input, info, out, func(f float64) { fractions = append(fractions, f) })
	require.NoError(t, err)

	require.NotEmpty(t, fractions)
	require.Equal(t, 1.0, fractions[len(fractions)-1])

	for _, f := range fractions {
		require.GreaterOrEqual(t, f, 0.0)
		require.LessOrEqual(t, f, 1.0)
	}

	playback, err := tools.Probe(t.Context(), out.Playback)
	require.NoError(t, err)
	require.Contains(t, playback.Format, "mp4")
	require.InDelta(t, info.Duration, playback.Duration, 0.2)

	speech, err := tools.Probe(t.Context(), out.Speech)
	require.NoError(t, err)
	require.Equal(t, "wav", speech.Format)
	require.InDelta(t, info.Duration, speech.Duration, 0.2)
}

func TestTranscodeCancel(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	input := filepath.Join(dir, "long.mkv")
	// Five minutes of video and noise keep ffmpeg busy long enough to cancel it mid-run.
	testenv.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi",
		"-i", "anoisesrc=r=16000", "-t", "300", "-c:v", "mpeg4", "-q:v", "31", "-c:a", "pcm_s16le",
		"-shortest", input)

	tools := media.Tools{}

	info, err := tools.Probe(t.Context(), input)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var once sync.Once

	started := make(chan struct{})
	done := make(chan error, 1)

	go func() {
		out := media.TranscodeOutputs{Playback: filepath.Join(dir, "out.mp4"), Speech: filepath.Join(dir, "out.wav")}
		done <- tools.Transcode(ctx, input, info, out, func(float64) { once.Do(func() { close(started) }) })
	}()

	<-started
	cancel()

	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(30 * time.Second):
		t.Fatal("Transcode did not return within 30 s of cancellation")
	}
}

func TestTranscodeVideo(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	input := filepath.Join(dir, "call.mkv")
	testenv.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi",
		"-i", "sine=frequency=440:sample_rate=48000", "-t", "3", "-c:v", "mpeg4", "-c:a", "pcm_s16le", input)

	tools := media.Tools{}

	info, err := tools.Probe(t.Context(), input)
	require.NoError(t, err)
	require.True(t, info.HasVideo)

	out := media.TranscodeOutputs{Playback: filepath.Join(dir, "out.mp4"), Speech: filepath.Join(dir, "out.wav")}
	require.NoError(t, tools.Transcode(t.Context(), input, info, out, nil))

	playback, err := tools.Probe(t.Context(), out.Playback)
	require.NoError(t, err)
	require.True(t, playback.HasVideo)
	require.True(t, playback.HasAudio)
	require.InDelta(t, 3.0, playback.Duration, 0.2)

	speech, err := tools.Probe(t.Context(), out.Speech)
	require.NoError(t, err)
	require.False(t, speech.HasVideo)
	require.InDelta(t, 3.0, speech.Duration, 0.2)
}
