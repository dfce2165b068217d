package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Default command names, looked up in PATH.
const (
	DefaultFFmpeg  = "ffmpeg"
	DefaultFFprobe = "ffprobe"
)

// processWaitDelay bounds how long Wait blocks for a killed process's pipes
// to close, so that a grandchild holding them cannot hang a cancelled task.
const processWaitDelay = 5 * time.Second

// InvalidMediaError reports an input that no retry can fix: an empty file,
// a file that ffprobe cannot read, or one without an audio stream.
type InvalidMediaError struct {
	Reason string
}

func (e *InvalidMediaError) Error() string { return "invalid media: " + e.Reason }

// Tools runs ffmpeg and ffprobe.
type Tools struct {
	// FFmpeg is the ffmpeg command, DefaultFFmpeg when empty.
	FFmpeg string
	// FFprobe is the ffprobe command, DefaultFFprobe when empty.
	FFprobe string
}

// MediaInfo is the container format, duration and stream kinds that ffprobe found in a file.
type MediaInfo struct {
	Format   string
	Duration float64
	HasAudio bool
	HasVideo bool
}

type probeOutput struct {
	Streams []struct {
		CodecType   string `json:"codec_type"`
		Disposition struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

func (t Tools) ffmpeg() string {
	if t.FFmpeg == "" {
		return DefaultFFmpeg
	}

	return t.FFmpeg
}

func (t Tools) ffprobe() string {
	if t.FFprobe == "" {
		return DefaultFFprobe
	}

	return t.FFprobe
}

// Probe reads the container and streams of the file at path. A file that
// is empty, unreadable as media, without audio or without a duration is an
// *InvalidMediaError; a failure to run ffprobe at all is a plain error.
func (t Tools) Probe(ctx context.Context, path string) (MediaInfo, error) {
	stat, err := os.Stat(path)
	if err != nil {
		return MediaInfo{}, fmt.Errorf("probe %s: %w", path, err)
	}

	if stat.Size() == 0 {
		return MediaInfo{}, &InvalidMediaError{Reason: "the file is empty (0 bytes)"}
	}

	var stdout, stderr bytes.Buffer

	cmd := exec.CommandContext(ctx, t.ffprobe(), "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", path)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = processWaitDelay

	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return MediaInfo{}, fmt.Errorf("probe %s: %w", path, ctx.Err())
		}

		if _, exited := errors.AsType[*exec.ExitError](err); exited {
			return MediaInfo{}, &InvalidMediaError{Reason: "ffprobe cannot read the file: " + lastLine(stderr.String(), path)}
		}

		return MediaInfo{}, fmt.Errorf("run %s: %w", t.ffprobe(), err)
	}

	return parseProbe(stdout.Bytes())
}

func parseProbe(raw []byte) (MediaInfo, error) {
	var out probeOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		return MediaInfo{}, fmt.Errorf("decode ffprobe output: %w", err)
	}

	info := MediaInfo{Format: out.Format.FormatName}

	for _, stream := range out.Streams {
		switch {
		case stream.CodecType == "audio":
			info.HasAudio = true
		case stream.CodecType == "video" && stream.Disposition.AttachedPic == 0:
			// Cover art in an MP3 or M4A is a video stream too, but not a video.
			info.HasVideo = true
		}
	}

	if !info.HasAudio {
		return MediaInfo{}, &InvalidMediaError{Reason: fmt.Sprintf("the file (%s) has no audio stream", info.Format)}
	}

	duration, err := strconv.ParseFloat(out.Format.Duration, 64)
	if err != nil || duration <= 0 || math.IsInf(duration, 0) {
		return MediaInfo{}, &InvalidMediaError{Reason: fmt.Sprintf("the file (%s) has no duration", info.Format)}
	}

	info.Duration = duration

	return info, nil
}

// TranscodeOutputs are the files Transcode writes.
type TranscodeOutputs struct {
	// Playback is an MP4 file: AAC audio, plus H.264 video when the input has video.
	Playback string
	// Speech is a 16 kHz mono 16-bit PCM WAV file for speech recognition.
	Speech string
}

// Transcode converts input into both outputs in one ffmpeg run and calls
// progress with the fraction done (0 to 1), read from ffmpeg's -progress
// output. Cancelling ctx kills ffmpeg. An input that ffmpeg rejects is an
// *InvalidMediaError.
func (t Tools) Transcode(ctx context.Context, input string, info MediaInfo, out TranscodeOutputs,
	progress func(fraction float64),
) error {
	args := []string{"-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1", "-i", input}

	if info.HasVideo {
		args = append(args, "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
	}

	args = append(args, "-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
		"-f", "mp4", out.Playback,
		"-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", out.Speech)

	var stderr bytes.Buffer

	cmd := exec.CommandContext(ctx, t.ffmpeg(), args...)
	cmd.Stderr = &stderr
	cmd.WaitDelay = processWaitDelay

	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pipe ffmpeg output: %w", err)
	}

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", t.ffmpeg(), err)
	}

	readProgress(stdout, info.Duration, progress)

	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("transcode %s: %w", input, ctx.Err())
		}

		if _, exited := errors.AsType[*exec.ExitError](err); exited {
			return &InvalidMediaError{Reason: "ffmpeg cannot transcode the file: " + lastLine(stderr.String(), input)}
		}

		return fmt.Errorf("run %s: %w", t.ffmpeg(), err)
	}

	return nil
}

// readProgress turns ffmpeg's key=value progress blocks into fractions of
// duration. out_time_us is in microseconds; older builds name the same
// value out_time_ms.
func readProgress(r io.Reader, duration float64, progress func(float64)) {
	scanner := bufio.NewScanner(r)

	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), "=")
		if !ok || progress == nil {
			continue
		}

		switch key {
		case "out_time_us":
			micros, err := strconv.ParseFloat(value, 64)
			if err != nil || micros < 0 {
				continue
			}

			progress(min(micros/1e6/duration, 1))
		case "progress":
			if value == "end" {
				progress(1)
			}
		}
	}

	// Drain what the scanner left (it stops at an over-long line) so that
	// ffmpeg does not block on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// lastLine returns the last line of ffmpeg's error output, which names the
// problem ("Invalid data found when processing input"), without the
// temporary path in front of it, which means nothing to a client.
func lastLine(output, path string) string {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	last := strings.TrimSpace(strings.TrimPrefix(lines[len(lines)-1], path+": "))

	if last == "" {
		return "no error output"
	}

	return last
}
