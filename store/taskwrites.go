package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/events"
)

// TaskCancelChannel is the LISTEN/NOTIFY channel on which a cancelled
// RUNNING task's id is announced, so that the worker running it stops.
const TaskCancelChannel = "meetgraph_task_cancel"

// TaskMessage is the JSON body of a task message on a work queue.
type TaskMessage struct {
	TaskID      uuid.UUID  `json:"taskId"`
	MeetingID   uuid.UUID  `json:"meetingId"`
	RecordingID *uuid.UUID `json:"recordingId,omitempty"`
	Kind        string     `json:"kind"`
}

// ErrTaskNotInState is returned by TransitionTask when the task is not in
// the expected status any more, for example because it was cancelled.
var ErrTaskNotInState = errors.New("task is not in the expected status")

// TaskRoute is the destination of a task message: an exchange and routing
// key, or the default exchange ("") and a queue name.
type TaskRoute struct {
	Exchange   string
	RoutingKey string
	Attempt    int
	// LastError is set on messages sent to a dead-letter queue.
	LastError string
}

// WorkRoute returns the route to the work queue of task for attempt.
func WorkRoute(task *Task, attempt int) TaskRoute {
	return TaskRoute{Exchange: broker.TasksExchange, RoutingKey: broker.QueueForTaskKind(task.Kind), Attempt: attempt}
}

// RetryRoute returns the route to the retry queue that holds task for
// delay before attempt.
func RetryRoute(task *Task, delay time.Duration, attempt int) TaskRoute {
	return TaskRoute{RoutingKey: broker.RetryQueue(broker.QueueForTaskKind(task.Kind), delay), Attempt: attempt}
}

// DeadLetterRoute returns the route to the dead-letter queue of task's work queue.
func DeadLetterRoute(task *Task, attempt int, lastError string) TaskRoute {
	return TaskRoute{
		Exchange: broker.DeadLetterExchange, RoutingKey: broker.QueueForTaskKind(task.Kind),
		Attempt: attempt, LastError: lastError,
	}
}

// taskMessage builds the outbox message that carries task along route.
func taskMessage(task *Task, route TaskRoute) (OutboxMessage, error) {
	body, err := json.Marshal(TaskMessage{
		TaskID: task.ID, MeetingID: task.MeetingID, RecordingID: task.RecordingID, Kind: task.Kind,
	})
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("encode message of task %s: %w", task.ID, err)
	}

	headers := map[string]any{broker.HeaderAttempt: route.Attempt}
	if route.LastError != "" {
		headers[broker.HeaderLastError] = route.LastError
	}

	return OutboxMessage{
		Exchange: route.Exchange, RoutingKey: route.RoutingKey, MessageID: task.ID.String(),
		Headers: headers, Body: body,
	}, nil
}

// TaskEventRoutingKey returns task.<kind>.<status> in lower case.
func TaskEventRoutingKey(kind, status string) string {
	return "task." + strings.ToLower(kind) + "." + strings.ToLower(status)
}

// recordTaskChange applies change with RecordTaskEvent in tx and returns
// the event's message, which the caller writes to the outbox.
func (s *Store) recordTaskChange(ctx context.Context, tx pgx.Tx, task *Task, change TaskChange) (OutboxMessage, error) {
	event, err := RecordTaskEvent(ctx, tx, task.ID, change)
	if err != nil {
		return OutboxMessage{}, err
	}

	return taskEventMessage(task, event)
}

// taskEventMessage builds the outbox message that announces event of task.
func taskEventMessage(task *Task, event TaskEvent) (OutboxMessage, error) {
	body, err := json.Marshal(events.TaskEvent{
		TaskID: task.ID, MeetingID: task.MeetingID, Kind: task.Kind, Seq: event.Seq, Status: event.Status,
		Progress: event.Progress, Stage: event.Stage, Message: event.Message, At: event.CreatedAt,
	})
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("encode event %d of task %s: %w", event.Seq, task.ID, err)
	}

	return OutboxMessage{
		Exchange:   events.Exchange,
		RoutingKey: TaskEventRoutingKey(task.Kind, event.Status),
		MessageID:  fmt.Sprintf("%s/%d", task.ID, event.Seq),
		Body:       body,
	}, nil
}

// lockTask selects the task with id FOR UPDATE in tx.
func lockTask(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*Task, error) {
	task, err := scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, fmt.Errorf("lock task %s: %w", id, notFoundIfNoRows(err))
	}

	return task, nil
}

// TaskTransition is one state change of a task made by TransitionTask.
type TaskTransition struct {
	// From lists the statuses the task must be in; otherwise nothing changes
	// and ErrTaskNotInState is returned with the task as it is.
	From   []string
	Change TaskChange
	// CountAttempt adds one to the task's attempts (a worker starts it).
	CountAttempt bool
	// ResetAttempts sets attempts to 0 (an operator retries it).
	ResetAttempts bool
	// Route, when set, also writes a task message to the outbox along the
	// route it returns for the task.
	Route func(task *Task) TaskRoute
	// Lease, when not 0, sets the task's lease to expire after it.
	Lease time.Duration
	// RequireExpiredLease makes the compare-and-set also require that the
	// task's lease has expired (taking over a dead worker's task).
	RequireExpiredLease bool
	// NotifyCancel announces the task's id on TaskCancelChannel at commit.
	NotifyCancel bool
}

// TransitionTask applies transition in one transaction: a compare-and-set
// on the task's status, the task event and its outbox message, and an
// optional task message. It returns the task after the change.
func (s *Store) TransitionTask(ctx context.Context, taskID uuid.UUID, transition TaskTransition) (*Task, error) {
	var messages []OutboxMessage

	task, err := inTx(ctx, s, func(tx pgx.Tx) (*Task, error) {
		task, err := lockTask(ctx, tx, taskID)
		if err != nil {
			return nil, err
		}

		var inState bool
		for _, status := range transition.From {
			inState = inState || task.Status == status
		}

		if inState && transition.RequireExpiredLease {
			inState, err = leaseExpired(ctx, tx, taskID)
			if err != nil {
				return nil, err
			}
		}

		if !inState {
			return task, fmt.Errorf("task %s is %s, not %s: %w", taskID, task.Status,
				strings.Join(transition.From, " or "), ErrTaskNotInState)
		}

		messages, err = s.applyTransition(ctx, tx, task, transition)
		if err != nil {
			return nil, err
		}

		return lockTask(ctx, tx, taskID)
	})
	if err != nil {
		return task, err
	}

	s.afterCommit(messages)

	return task, nil
}

func (s *Store) applyTransition(ctx context.Context, tx pgx.Tx, task *Task, transition TaskTransition) ([]OutboxMessage, error) {
	if transition.CountAttempt || transition.ResetAttempts || transition.Lease != 0 {
		_, err := tx.Exec(ctx, `UPDATE tasks SET
				attempts = CASE WHEN $2 THEN 0 WHEN $3 THEN attempts + 1 ELSE attempts END,
				lease_expires_at = CASE WHEN $4::interval > interval '0' THEN now() + $4::interval ELSE lease_expires_at END
			WHERE id = $1`,
			task.ID, transition.ResetAttempts, transition.CountAttempt, transition.Lease)
		if err != nil {
			return nil, fmt.Errorf("count attempt and set lease of task %s: %w", task.ID, err)
		}
	}

	event, err := s.recordTaskChange(ctx, tx, task, transition.Change)
	if err != nil {
		return nil, err
	}

	messages := []OutboxMessage{event}

	if transition.Route != nil {
		message, err := taskMessage(task, transition.Route(task))
		if err != nil {
			return nil, err
		}

		messages = append(messages, message)
	}

	messages, err = s.insertOutbox(ctx, tx, messages...)
	if err != nil {
		return nil, err
	}

	if transition.NotifyCancel {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, TaskCancelChannel, task.ID.String()); err != nil {
			return nil, fmt.Errorf("notify cancellation of task %s: %w", task.ID, err)
		}
	}

	return messages, nil
}

func leaseExpired(ctx context.Context, tx pgx.Tx, taskID uuid.UUID) (bool, error) {
	var expired bool

	err := tx.QueryRow(ctx, `SELECT coalesce(lease_expires_at < now(), true) FROM tasks WHERE id = $1`, taskID).Scan(&expired)
	if err != nil {
		return false, fmt.Errorf("read lease of task %s: %w", taskID, err)
	}

	return expired, nil
}

// ExtendLeases extends the leases of the RUNNING tasks among ids and
// returns the ids that are not RUNNING any more (cancelled, for example).
func (s *Store) ExtendLeases(ctx context.Context, ids []uuid.UUID, lease time.Duration) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `UPDATE tasks SET lease_expires_at = now() + $2::interval
		WHERE id = ANY($1) AND status = 'RUNNING' RETURNING id`, ids, lease)
	if err != nil {
		return nil, fmt.Errorf("extend leases of %d tasks: %w", len(ids), err)
	}

	extended, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("extend leases of %d tasks: %w", len(ids), err)
	}

	var stopped []uuid.UUID

	for _, id := range ids {
		if !slices.Contains(extended, id) {
			stopped = append(stopped, id)
		}
	}

	return stopped, nil
}

// inTx runs fn in a transaction and commits when fn returns no error. The
// value fn returns is passed through even with an error, so callers can
// report the state that made them stop.
func inTx[T any](ctx context.Context, s *Store, fn func(tx pgx.Tx) (T, error)) (T, error) {
	var zero T

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return zero, fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	result, err := fn(tx)
	if err != nil {
		return result, err
	}

	if err := tx.Commit(ctx); err != nil {
		return zero, fmt.Errorf("commit transaction: %w", err)
	}

	return result, nil
}
