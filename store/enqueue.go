package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Task kinds that workers chain: a processed recording queues its
// transcription, and a transcript queues its summary.
const (
	TaskKindRecording     = "RECORDING"
	TaskKindTranscription = "TRANSCRIPTION"
	TaskKindSummary       = "SUMMARY"
)

// EnqueueTask queues a follow-up task that no user requested directly: a
// QUEUED task with its first event and its task message, written to the
// outbox in one transaction and published after commit. It returns the
// task's id.
func (s *Store) EnqueueTask(ctx context.Context, meetingID uuid.UUID, recordingID *uuid.UUID, kind string) (uuid.UUID, error) {
	var (
		task     *Task
		messages []OutboxMessage
	)

	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error

		task, messages, err = s.createTask(ctx, tx, newTask{meetingID: meetingID, recordingID: recordingID, kind: kind})

		return err
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("enqueue %s task for meeting %s: %w", kind, meetingID, err)
	}

	s.afterCommit(messages)
	s.observeCreated(task)

	return task.ID, nil
}
