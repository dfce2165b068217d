// Package consumers runs meetgraph's RabbitMQ consumers: the task workers
// (recording, AI) and the notification sender, with the retry and
// dead-letter policy around them.
package consumers

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Job is one task, as passed to a handler.
type Job struct {
	TaskID      uuid.UUID
	MeetingID   uuid.UUID
	RecordingID *uuid.UUID
	Kind        string
	// Attempt counts deliveries of this task to a handler, from 1.
	Attempt int
	// Report records progress (0 to 1) with a short stage name and message as
	// a task event, so that subscribers see it.
	Report func(ctx context.Context, progress float64, stage, message string) error
}

// Handler does the work of one task. Returning nil marks the task
// SUCCEEDED. An error wrapped with Permanent fails the task at once; any
// other error is retried with backoff until the attempts run out, and then
// the task is dead-lettered. ctx is cancelled when the task is cancelled or
// the worker shuts down.
type Handler func(ctx context.Context, job Job) error

// permanentError marks an error that no retry can fix, such as a corrupt file.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}

	return permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	_, ok := errors.AsType[permanentError](err)

	return ok
}
