package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/store"
)

// DLQCmd inspects and empties the dead-letter queues.
type DLQCmd struct {
	List   DLQListCmd   `cmd:"" help:"Print the messages in a dead-letter queue and leave them there."`
	Replay DLQReplayCmd `cmd:"" help:"Queue the tasks of a dead-letter queue's messages again and remove the messages."`
	Purge  DLQPurgeCmd  `cmd:"" help:"Delete every message in a dead-letter queue; their tasks stay FAILED or DEAD_LETTERED."`
}

// DLQQueue is the --queue flag that every dlq subcommand takes.
type DLQQueue struct {
	Queue string `name:"queue" required:"" help:"Dead-letter queue: ai.tasks.dlq or recording.tasks.dlq."`
	Limit int    `name:"limit" default:"1000" help:"Maximum number of messages to read."`
}

func (q DLQQueue) validate() error {
	var names []string
	for _, kind := range broker.QueueKinds {
		names = append(names, broker.DeadLetterQueue(kind))
	}

	if !slices.Contains(names, q.Queue) {
		return fmt.Errorf("--queue %q is not a dead-letter queue: use one of %v", q.Queue, names)
	}

	if q.Limit < 1 {
		return fmt.Errorf("--limit %d: expected at least 1", q.Limit)
	}

	return nil
}

// open checks the flags and opens a channel to the broker; the returned
// function closes the channel and the connection.
func (q DLQQueue) open(env *environment) (*amqp.Channel, func(), error) {
	if err := q.validate(); err != nil {
		return nil, nil, err
	}

	supervisor, err := env.openBroker("dlq")
	if err != nil {
		return nil, nil, err
	}

	ch, err := supervisor.Channel()
	if err != nil {
		_ = supervisor.Close()

		return nil, nil, err
	}

	return ch, func() {
		_ = ch.Close()
		_ = supervisor.Close()
	}, nil
}

// DLQListCmd prints dead letters.
type DLQListCmd struct {
	DLQQueue `embed:""`
}

func (c *DLQListCmd) Run(env *environment) error {
	ch, closeChannel, err := c.open(env)
	if err != nil {
		return err
	}
	// Closing the channel returns every message read without an ack to the queue.
	defer closeChannel()

	messages, err := getAll(ch, c.Queue, c.Limit)
	if err != nil {
		return err
	}

	table := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(table, "TASK\tKIND\tATTEMPT\tDEAD-LETTERED\tLAST ERROR")

	for _, message := range messages {
		task, decodeErr := consumers.DecodeTask(message.Body)
		id, kind := message.MessageId, "?"

		if decodeErr == nil {
			id, kind = task.TaskID.String(), task.Kind
		}

		lastError, _ := message.Headers[broker.HeaderLastError].(string)
		if lastError == "" {
			lastError = deathReason(message)
		}

		fmt.Fprintf(table, "%s\t%s\t%d\t%s\t%s\n", id, kind, consumers.AttemptOf(message),
			message.Timestamp.UTC().Format("2006-01-02T15:04:05Z"), lastError)
	}

	if err := table.Flush(); err != nil {
		return err
	}

	_, err = fmt.Fprintf(env.stdout, "%d messages in %s\n", len(messages), c.Queue)

	return err
}

// deathReason describes a message that the broker dead-lettered itself,
// from its x-death header (for example delivery_limit).
func deathReason(message amqp.Delivery) string {
	deaths, _ := message.Headers["x-death"].([]any)
	if len(deaths) == 0 {
		return ""
	}

	death, _ := deaths[0].(amqp.Table)
	reason, _ := death["reason"].(string)
	queue, _ := death["queue"].(string)

	return fmt.Sprintf("dead-lettered by the broker from %s: %s", queue, reason)
}

// getAll reads up to limit messages without acknowledging them.
func getAll(ch *amqp.Channel, queue string, limit int) ([]amqp.Delivery, error) {
	var messages []amqp.Delivery

	for len(messages) < limit {
		message, ok, err := ch.Get(queue, false)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", queue, err)
		}

		if !ok {
			break
		}

		messages = append(messages, message)
	}

	return messages, nil
}

// DLQReplayCmd queues dead-lettered tasks again.
type DLQReplayCmd struct {
	DLQQueue `embed:""`
}

func (c *DLQReplayCmd) Run(env *environment) error {
	if err := c.validate(); err != nil {
		return err
	}

	pool, err := env.openDatabase()
	if err != nil {
		return err
	}
	defer pool.Close()

	supervisor, err := env.openBroker("dlq")
	if err != nil {
		return err
	}
	defer supervisor.Close()

	publisher, err := broker.NewPublisher(supervisor, env.globals.PublishTimeout, env.logger)
	if err != nil {
		return err
	}

	db := store.New(pool)
	db.SetOutboxGrace(env.globals.OutboxGrace)

	dispatcher := outbox.NewDispatcher(db, publisher, env.outboxConfig(), env.logger)
	db.SetOutboxNotifier(func(messages []store.OutboxMessage) { dispatcher.PublishBatch(env.ctx, messages) })

	ch, err := supervisor.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()

	replayed, dropped := 0, 0
	// A task retried before and dead-lettered again has several messages
	// here; it is queued once, and its later messages are stale.
	seen := make(map[uuid.UUID]bool)

	// Only the messages present now are read. A replayed task that fails
	// again adds a message while this loop runs, and reading that one too
	// would remove the task's current dead letter as stale.
	queue, err := ch.QueueDeclarePassive(c.Queue, true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", c.Queue, err)
	}

	for range min(c.Limit, queue.Messages) {
		message, ok, err := ch.Get(c.Queue, false)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.Queue, err)
		}

		if !ok {
			break
		}

		done, err := replayOne(env.ctx, env.logger, db, c.Queue, message, seen)
		if err != nil {
			_ = message.Nack(false, true)

			return err
		}

		if done {
			replayed++
		} else {
			dropped++
		}

		if err := message.Ack(false); err != nil {
			return fmt.Errorf("remove message %s from %s: %w", message.MessageId, c.Queue, err)
		}
	}

	_, err = fmt.Fprintf(env.stdout, "%d tasks queued again, %d stale messages removed from %s\n", replayed, dropped, c.Queue)

	return err
}

// replayOne queues the task of message again. It returns false, with no
// error, for a message that should just be removed: unreadable, of a
// deleted task, or of a task that is running or done again.
func replayOne(ctx context.Context, logger *slog.Logger, db *store.Store, queue string, message amqp.Delivery,
	seen map[uuid.UUID]bool,
) (bool, error) {
	task, err := consumers.DecodeTask(message.Body)
	if err != nil {
		logger.Warn("removing unreadable dead letter", slog.String("message_id", message.MessageId), slog.Any("error", err))

		return false, nil
	}

	if seen[task.TaskID] {
		logger.Info("removing second dead letter of a replayed task", slog.String("task_id", task.TaskID.String()))

		return false, nil
	}

	seen[task.TaskID] = true

	_, err = db.ReplayTask(ctx, task.TaskID, "replayed from "+queue)

	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrTaskNotInState):
		logger.Info("removing dead letter whose task cannot be replayed", slog.String("task_id", task.TaskID.String()),
			slog.Any("reason", err))

		return false, nil
	default:
		return false, fmt.Errorf("replay task %s: %w", task.TaskID, err)
	}
}

// DLQPurgeCmd deletes dead letters.
type DLQPurgeCmd struct {
	DLQQueue `embed:""`
}

func (c *DLQPurgeCmd) Run(env *environment) error {
	ch, closeChannel, err := c.open(env)
	if err != nil {
		return err
	}
	defer closeChannel()

	purged, err := ch.QueuePurge(c.Queue, false)
	if err != nil {
		return fmt.Errorf("purge %s: %w", c.Queue, err)
	}

	_, err = fmt.Fprintf(env.stdout, "%d messages deleted from %s\n", purged, c.Queue)

	return err
}
