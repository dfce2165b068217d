package store

import (
	"context"
	"errors"
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

// EnqueueTask queues a task that no user requested directly: a QUEUED
// task with its first event and its task message, written to the outbox
// in one transaction and published after commit. It returns the task's id.
func (s *Store) EnqueueTask(ctx context.Context, meetingID uuid.UUID, recordingID *uuid.UUID, kind string) (uuid.UUID, error) {
	return s.enqueue(ctx, newTask{meetingID: meetingID, recordingID: recordingID, kind: kind})
}

// EnqueueFollowUp queues a task of kind that the task parentID hands its
// work on to, at most once per parent and kind. A parent that runs again
// after queuing it (a redelivery, or an operator's retry) gets the id of
// the task queued first, so the chain does not fork.
func (s *Store) EnqueueFollowUp(ctx context.Context, parentID, meetingID uuid.UUID, recordingID *uuid.UUID,
	kind string,
) (uuid.UUID, error) {
	key := "follow-up:" + parentID.String() + ":" + kind

	return s.enqueue(ctx, newTask{meetingID: meetingID, recordingID: recordingID, kind: kind, idempotencyKey: &key})
}

// enqueue creates a task without a requester. With an idempotency key it
// returns the task that already has the key, if any.
func (s *Store) enqueue(ctx context.Context, input newTask) (uuid.UUID, error) {
	var (
		taskID   uuid.UUID
		created  *Task
		messages []OutboxMessage
	)

	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if input.idempotencyKey != nil {
			existing, err := lockedTaskByKey(ctx, tx, *input.idempotencyKey)
			if err != nil || existing != uuid.Nil {
				taskID = existing

				return err
			}
		}

		task, taskMessages, err := s.createTask(ctx, tx, input)
		if err != nil {
			return err
		}

		taskID, created, messages = task.ID, task, taskMessages

		return nil
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("enqueue %s task for meeting %s: %w", input.kind, input.meetingID, err)
	}

	s.afterCommit(messages)
	s.observeCreated(created)

	return taskID, nil
}

// lockedTaskByKey returns the id of the task without a requester that has
// key, or uuid.Nil. The unique index on (requested_by, idempotency_key)
// treats NULL requesters as distinct, so a transaction-scoped advisory
// lock on the key keeps two runs of one parent from both inserting.
func lockedTaskByKey(ctx context.Context, tx pgx.Tx, key string) (uuid.UUID, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return uuid.Nil, fmt.Errorf("lock idempotency key %q: %w", key, err)
	}

	var id uuid.UUID

	err := tx.QueryRow(ctx, `SELECT id FROM tasks WHERE requested_by IS NULL AND idempotency_key = $1`, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, nil
	}

	if err != nil {
		return uuid.Nil, fmt.Errorf("select task with idempotency key %q: %w", key, err)
	}

	return id, nil
}
