package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Task statuses. QUEUED and RUNNING are open; the others are terminal.
const (
	TaskQueued       = "QUEUED"
	TaskRunning      = "RUNNING"
	TaskSucceeded    = "SUCCEEDED"
	TaskFailed       = "FAILED"
	TaskCancelled    = "CANCELLED"
	TaskDeadLettered = "DEAD_LETTERED"
)

// TaskTerminal reports whether status is final: no further event follows
// unless an operator retries the task.
func TaskTerminal(status string) bool {
	switch status {
	case TaskSucceeded, TaskFailed, TaskCancelled, TaskDeadLettered:
		return true
	default:
		return false
	}
}

// Task is a row of tasks.
type Task struct {
	ID          uuid.UUID
	MeetingID   uuid.UUID
	RecordingID *uuid.UUID
	Kind        string
	Status      string
	Progress    float64
	Attempts    int
	LastError   *string
	RequestedBy *uuid.UUID
	LastSeq     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
}

// TaskEvent is a row of task_events: one state change of a task, numbered
// per task from 1.
type TaskEvent struct {
	TaskID    uuid.UUID
	Seq       int64
	Status    string
	Progress  float64
	Stage     string
	Message   string
	CreatedAt time.Time
}

const taskColumns = `t.id, t.meeting_id, t.recording_id, t.kind, t.status, t.progress, t.attempts,
	t.last_error, t.requested_by, t.last_seq, t.created_at, t.updated_at, t.started_at, t.finished_at`

// scanTask scans the taskColumns of row, and further columns into extra.
func scanTask(row pgx.Row, extra ...any) (*Task, error) {
	var t Task

	destinations := []any{&t.ID, &t.MeetingID, &t.RecordingID, &t.Kind, &t.Status, &t.Progress, &t.Attempts,
		&t.LastError, &t.RequestedBy, &t.LastSeq, &t.CreatedAt, &t.UpdatedAt, &t.StartedAt, &t.FinishedAt}

	err := row.Scan(append(destinations, extra...)...)
	if err != nil {
		return nil, err
	}

	return &t, nil
}

// TaskByID returns the task with id, or ErrNotFound.
func (s *Store) TaskByID(ctx context.Context, id uuid.UUID) (*Task, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = $1`, id)

	task, err := scanTask(row)
	if err != nil {
		return nil, fmt.Errorf("select task %s: %w", id, notFoundIfNoRows(err))
	}

	return task, nil
}

// TaskEventsAfter returns the task's events with a sequence number greater
// than afterSeq, in order.
func (s *Store) TaskEventsAfter(ctx context.Context, taskID uuid.UUID, afterSeq int64) ([]TaskEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, seq, status, progress, stage, message, created_at
		FROM task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq`, taskID, afterSeq)
	if err != nil {
		return nil, fmt.Errorf("select events of task %s: %w", taskID, err)
	}

	events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[TaskEvent])
	if err != nil {
		return nil, fmt.Errorf("select events of task %s: %w", taskID, err)
	}

	return events, nil
}

// TaskChange is a state change to record with RecordTaskEvent.
type TaskChange struct {
	Status   string
	Progress float64
	Stage    string
	Message  string
	// LastError, when not nil, replaces the task's last_error.
	LastError *string
}

// RecordTaskEvent applies change to the task inside tx and appends the
// matching task_events row with the task's next sequence number. The
// UPDATE locks the task row, so concurrent changes to one task get
// consecutive numbers without gaps. It returns the stored event.
func RecordTaskEvent(ctx context.Context, tx pgx.Tx, taskID uuid.UUID, change TaskChange) (TaskEvent, error) {
	var seq int64

	err := tx.QueryRow(ctx, `UPDATE tasks SET
			status = $2,
			progress = $3,
			last_error = coalesce($4, last_error),
			last_seq = last_seq + 1,
			updated_at = now(),
			started_at = CASE WHEN $2 = 'RUNNING' THEN coalesce(started_at, now()) ELSE started_at END,
			finished_at = CASE WHEN $2 IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD_LETTERED') THEN now() ELSE NULL END
		WHERE id = $1
		RETURNING last_seq`,
		taskID, change.Status, change.Progress, change.LastError).Scan(&seq)
	if err != nil {
		return TaskEvent{}, fmt.Errorf("update task %s to %s: %w", taskID, change.Status, notFoundIfNoRows(err))
	}

	event := TaskEvent{
		TaskID: taskID, Seq: seq, Status: change.Status, Progress: change.Progress,
		Stage: change.Stage, Message: change.Message,
	}

	err = tx.QueryRow(ctx, `INSERT INTO task_events (task_id, seq, status, progress, stage, message)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		taskID, seq, change.Status, change.Progress, change.Stage, change.Message).Scan(&event.CreatedAt)
	if err != nil {
		return TaskEvent{}, fmt.Errorf("insert event %d of task %s: %w", seq, taskID, err)
	}

	return event, nil
}

// TaskForViewer returns the task with id if viewer may see its meeting, and
// ErrNotFound otherwise (see MeetingForViewer).
func (s *Store) TaskForViewer(ctx context.Context, id, viewer uuid.UUID) (*Task, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t JOIN meetings m ON m.id = t.meeting_id
		WHERE t.id = $1 AND `+visibleTo, id, viewer)

	task, err := scanTask(row)
	if err != nil {
		return nil, fmt.Errorf("select task %s for user %s: %w", id, viewer, notFoundIfNoRows(err))
	}

	return task, nil
}
