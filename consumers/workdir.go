package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/speech"
	"github.com/meetgraph/meetgraph/store"
)

// cleanupTimeout bounds the database and S3 calls that undo a cancelled or
// failed task's partial results after its context is gone.
const cleanupTimeout = 30 * time.Second

// reportStep is the smallest progress change worth a task event, so that a
// long transcode writes tens of events rather than thousands.
const reportStep = 0.05

// taskDir creates a private temporary directory for one task under workDir
// (the system's temporary directory when empty). The caller removes it.
func taskDir(workDir string, taskID uuid.UUID) (string, error) {
	if workDir != "" {
		if err := os.MkdirAll(workDir, 0o700); err != nil {
			return "", fmt.Errorf("create work directory %s: %w", workDir, err)
		}
	}

	dir, err := os.MkdirTemp(workDir, "task-"+taskID.String()+"-")
	if err != nil {
		return "", fmt.Errorf("create work directory for task %s: %w", taskID, err)
	}

	return dir, nil
}

// fetch reports the download stage, creates the task's directory and
// downloads key into it. It returns the file's path; the caller removes its
// directory with removeDir, which fetch does itself when it fails. A key
// that does not exist is a permanent failure.
func fetch(ctx context.Context, job Job, objects *media.ObjectStore, workDir, key, what string) (string, error) {
	if err := job.Report(ctx, 0, "download", "downloading "+what); err != nil {
		return "", err
	}

	dir, err := taskDir(workDir, job.TaskID)
	if err != nil {
		return "", err
	}

	path := filepath.Join(dir, filepath.Base(key))
	if err := objects.Download(ctx, key, path); err != nil {
		_ = os.RemoveAll(dir)

		if errors.Is(err, media.ErrObjectNotFound) {
			return "", Permanent(fmt.Errorf("%s of task %s is missing from S3: %w", what, job.TaskID, err))
		}

		return "", err
	}

	return path, nil
}

// removeDir deletes a task directory and logs when that fails.
func removeDir(logger *slog.Logger, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		logger.Error("removing task directory failed", slog.String("dir", dir), slog.Any("error", err))
	}
}

// classify marks the errors that no retry can fix as permanent: bad media
// and API requests that the server rejected as invalid.
func classify(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}

	if _, ok := errors.AsType[*media.InvalidMediaError](err); ok {
		return Permanent(err)
	}

	if statusErr, ok := errors.AsType[*speech.StatusError](err); ok && !statusErr.Retryable() {
		return Permanent(err)
	}

	return err
}

// progressReporter turns a stream of fractions from a tool into task
// events between from and to, skipping changes smaller than reportStep.
type progressReporter struct {
	ctx      context.Context
	job      Job
	logger   *slog.Logger
	stage    string
	message  string
	from, to float64
	last     float64
}

func (p *progressReporter) report(fraction float64) {
	progress := p.from + (p.to-p.from)*fraction

	// Completion is always worth an event, but only once: ffmpeg reports 1
	// for its last position and again for progress=end.
	if progress <= p.last || (progress-p.last < reportStep && fraction < 1) {
		return
	}

	p.last = progress

	if err := p.job.Report(p.ctx, progress, p.stage, p.message); err != nil && p.ctx.Err() == nil {
		p.logger.Warn("recording task progress failed", slog.String("task_id", p.job.TaskID.String()),
			slog.Any("error", err))
	}
}

// jobRecording returns the task's recording, or the meeting's latest
// upload when the task names none (endMeeting queues work by meeting).
func jobRecording(ctx context.Context, st *store.Store, job Job) (*store.Recording, error) {
	var (
		recording *store.Recording
		err       error
	)

	if job.RecordingID != nil {
		recording, err = st.RecordingByID(ctx, *job.RecordingID)
	} else {
		recording, err = st.LatestRecording(ctx, job.MeetingID)
	}

	if errors.Is(err, store.ErrNotFound) {
		return nil, Permanent(fmt.Errorf("meeting %s: %w", job.MeetingID, errNoRecording))
	}

	return recording, err
}

// errNoRecording is returned by jobRecording when the task's recording,
// or the meeting's latest upload, does not exist.
var errNoRecording = errors.New("no uploaded recording")
