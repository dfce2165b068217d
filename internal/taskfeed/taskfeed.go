// Package taskfeed creates tasks and records their events the way workers
// do: a task_events row in a transaction, then the matching events.TaskEvent
// published to the events exchange after commit. Subscription tests use it
// to drive real task histories through PostgreSQL and RabbitMQ without
// running a worker.
package taskfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/store"
)

// Feed writes tasks to one database and publishes to one broker.
type Feed struct {
	pool    *pgxpool.Pool
	conn    *amqp.Connection
	channel *amqp.Channel
}

// Open connects to the database and the broker and declares the events
// exchange, so that publishing works before any gateway started.
func Open(ctx context.Context, databaseURL, amqpURL string) (*Feed, error) {
	pool, err := store.Open(ctx, store.PoolConfig{URL: databaseURL})
	if err != nil {
		return nil, err
	}

	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		pool.Close()

		return nil, fmt.Errorf("connect to RabbitMQ: %w", err)
	}

	channel, err := conn.Channel()
	if err == nil {
		err = channel.ExchangeDeclare(events.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	}

	if err != nil {
		_ = conn.Close()
		pool.Close()

		return nil, fmt.Errorf("declare exchange %s: %w", events.Exchange, err)
	}

	return &Feed{pool: pool, conn: conn, channel: channel}, nil
}

// Close releases the connections.
func (f *Feed) Close() {
	_ = f.conn.Close()
	f.pool.Close()
}

// CreateTask inserts a QUEUED task of kind for meetingID without events.
func (f *Feed) CreateTask(ctx context.Context, meetingID, requestedBy uuid.UUID, kind string) (uuid.UUID, error) {
	id := uuid.New()

	_, err := f.pool.Exec(ctx, `INSERT INTO tasks (id, meeting_id, kind, requested_by) VALUES ($1, $2, $3, $4)`,
		id, meetingID, kind, requestedBy)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert task for meeting %s: %w", meetingID, err)
	}

	return id, nil
}

// Record stores change as the task's next event and, after commit,
// publishes it unless publish is false (an event lost on its way to the
// gateways).
func (f *Feed) Record(ctx context.Context, taskID uuid.UUID, change store.TaskChange, publish bool) (events.TaskEvent, error) {
	var (
		stored    store.TaskEvent
		meetingID uuid.UUID
		kind      string
	)

	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		var err error

		stored, err = store.RecordTaskEvent(ctx, tx, taskID, change)
		if err != nil {
			return err
		}

		return tx.QueryRow(ctx, `SELECT meeting_id, kind FROM tasks WHERE id = $1`, taskID).Scan(&meetingID, &kind)
	})
	if err != nil {
		return events.TaskEvent{}, fmt.Errorf("record %s event of task %s: %w", change.Status, taskID, err)
	}

	event := events.TaskEvent{
		TaskID: taskID, MeetingID: meetingID, Kind: kind, Seq: stored.Seq, Status: stored.Status,
		Progress: stored.Progress, Stage: stored.Stage, Message: stored.Message, At: stored.CreatedAt,
	}

	if publish {
		if err := f.Publish(ctx, event); err != nil {
			return events.TaskEvent{}, err
		}
	}

	return event, nil
}

// Publish sends event to the events exchange with its task routing key.
func (f *Feed) Publish(ctx context.Context, event events.TaskEvent) error {
	body, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode event %d of task %s: %w", event.Seq, event.TaskID, err)
	}

	key := "task." + strings.ToLower(event.Kind) + "." + strings.ToLower(event.Status)

	if err := f.PublishRaw(ctx, key, event.TaskID.String(), body); err != nil {
		return fmt.Errorf("publish event %d of task %s: %w", event.Seq, event.TaskID, err)
	}

	return nil
}

// PublishRaw sends a JSON body to the events exchange with routingKey and
// messageID, which is a task id for task events and may be empty.
func (f *Feed) PublishRaw(ctx context.Context, routingKey, messageID string, body []byte) error {
	return f.channel.PublishWithContext(ctx, events.Exchange, routingKey, false, false, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    messageID,
		Timestamp:    time.Now(),
		Body:         body,
	})
}

// NoopChanges are the events of a NOOP task, in order, with the stages
// that the task runner and the NOOP handler record.
var NoopChanges = []store.TaskChange{
	{Status: store.TaskQueued, Stage: "queued"},
	{Status: store.TaskRunning, Stage: "started"},
	{Status: store.TaskRunning, Progress: 0.5, Stage: "noop"},
	{Status: store.TaskSucceeded, Progress: 1, Stage: "done"},
}
