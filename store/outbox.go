package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meetgraph/meetgraph/tracing"
)

// OutboxChannel is the LISTEN/NOTIFY channel that wakes outbox relays when
// a message needs publishing sooner than their next poll.
const OutboxChannel = "meetgraph_outbox"

// OutboxMessage is a row of outbox: a message written in the same
// transaction as the change it announces.
type OutboxMessage struct {
	ID         int64
	Exchange   string
	RoutingKey string
	MessageID  string
	Headers    map[string]any
	Body       []byte
	Attempts   int
}

// OutboxNotifier receives the messages of each committed transaction so
// that they can be published at once instead of waiting for the relay.
type OutboxNotifier func(messages []OutboxMessage)

// SetOutboxNotifier makes every write of s hand its committed outbox
// messages to notify. Call it once, before the store is used; without it
// only the relay publishes.
func (s *Store) SetOutboxNotifier(notify OutboxNotifier) {
	s.notify = notify
}

// SetOutboxGrace sets how long after commit the relay leaves a message to
// the immediate publisher. It must exceed the publisher's confirm timeout,
// or the relay may publish a message a second time while the first publish
// is still waiting. 0 means 10 s.
func (s *Store) SetOutboxGrace(grace time.Duration) {
	s.outboxGrace = grace
}

func (s *Store) grace() time.Duration {
	if s.outboxGrace == 0 {
		return 10 * time.Second
	}

	return s.outboxGrace
}

// afterCommit hands the committed messages to the notifier, if any.
// ObserveTasksWith makes the store call created with the kind of every
// task it creates, once the creating transaction has committed.
func (s *Store) ObserveTasksWith(created func(kind string)) {
	s.taskCreated = created
}

// observeCreated reports a committed new task to the observer, if any.
func (s *Store) observeCreated(task *Task) {
	if s.taskCreated != nil && task != nil {
		s.taskCreated(task.Kind)
	}
}

func (s *Store) afterCommit(messages []OutboxMessage) {
	if s.notify != nil && len(messages) > 0 {
		s.notify(messages)
	}
}

// insertOutboxSQL inserts the messages in the arguments that
// outboxArguments returns, as $1 to $6, due for the relay after the grace
// period in $6.
const insertOutboxSQL = `INSERT INTO outbox (exchange, routing_key, message_id, headers, body, next_attempt_at)
	SELECT e, r, m, h::jsonb, b, now() + $6::interval
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS u (e, r, m, h, b)`

// insertOutbox stores messages in tx with one statement, due for the
// relay after the store's grace period, and returns them with their ids.
// Message ids must be unique within one call.
func (s *Store) insertOutbox(ctx context.Context, tx pgx.Tx, messages ...OutboxMessage) ([]OutboxMessage, error) {
	arguments, err := s.outboxArguments(ctx, messages)
	if err != nil {
		return nil, err
	}

	rows, err := tx.Query(ctx, insertOutboxSQL+` RETURNING message_id, id`, arguments...)
	if err != nil {
		return nil, fmt.Errorf("insert %d outbox messages: %w", len(messages), err)
	}

	ids := make(map[string]int64, len(messages))

	var (
		messageID string
		id        int64
	)

	_, err = pgx.ForEachRow(rows, []any{&messageID, &id}, func() error {
		ids[messageID] = id

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert %d outbox messages: %w", len(messages), err)
	}

	setOutboxIDs(messages, ids)

	return messages, nil
}

// outboxArguments returns the arguments $1 to $6 of insertOutboxSQL for
// messages. It adds the trace context of ctx to each message's headers.
func (s *Store) outboxArguments(ctx context.Context, messages []OutboxMessage) ([]any, error) {
	var (
		exchanges, routingKeys, messageIDs, headers = make([]string, len(messages)), make([]string, len(messages)),
			make([]string, len(messages)), make([]string, len(messages))
		bodies = make([][]byte, len(messages))
	)

	for i := range messages {
		// Each message continues the trace of the change that wrote it, so
		// that a worker and a subscriber join the mutation's trace.
		if messages[i].Headers == nil {
			messages[i].Headers = map[string]any{}
		}

		tracing.Inject(ctx, messages[i].Headers)

		message := messages[i]

		encoded, err := json.Marshal(message.Headers)
		if err != nil {
			return nil, fmt.Errorf("encode headers of message %s: %w", message.MessageID, err)
		}

		exchanges[i], routingKeys[i], messageIDs[i], headers[i], bodies[i] =
			message.Exchange, message.RoutingKey, message.MessageID, string(encoded), message.Body
	}

	return []any{exchanges, routingKeys, messageIDs, headers, bodies, s.grace()}, nil
}

// setOutboxIDs sets the ID of each message from ids, keyed by message id.
func setOutboxIDs(messages []OutboxMessage, ids map[string]int64) {
	for i := range messages {
		messages[i].ID = ids[messages[i].MessageID]
	}
}

// MarkOutboxPublished records that the broker confirmed the messages with ids.
func (s *Store) MarkOutboxPublished(ctx context.Context, ids []int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL`, ids)
	if err != nil {
		return fmt.Errorf("mark %d outbox messages published: %w", len(ids), err)
	}

	return nil
}

// MarkOutboxFailed records a failed publish of message id and makes it due
// for the relay after delay, waking the relays.
func (s *Store) MarkOutboxFailed(ctx context.Context, id int64, cause error, delay time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
			next_attempt_at = now() + $3::interval
		WHERE id = $1 AND published_at IS NULL`, id, cause.Error(), delay)
	if err != nil {
		return fmt.Errorf("record failed publish of outbox message %d: %w", id, err)
	}

	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, OutboxChannel); err != nil {
		return fmt.Errorf("notify outbox relays: %w", err)
	}

	return nil
}

// OutboxBatch is a set of due messages locked for one relay until Finish.
type OutboxBatch struct {
	tx       pgx.Tx
	Messages []OutboxMessage
}

// ClaimOutbox locks up to limit due, unpublished messages, oldest first.
// Rows that another relay has locked are skipped, so several gateway
// instances share the backlog. The caller must call Finish.
func (s *Store) ClaimOutbox(ctx context.Context, limit int) (*OutboxBatch, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin outbox claim: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT id, exchange, routing_key, message_id, headers, body, attempts
		FROM outbox WHERE published_at IS NULL AND next_attempt_at <= now()
		ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		_ = tx.Rollback(ctx)

		return nil, fmt.Errorf("select due outbox messages: %w", err)
	}

	messages, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxMessage, error) {
		var m OutboxMessage
		err := row.Scan(&m.ID, &m.Exchange, &m.RoutingKey, &m.MessageID, &m.Headers, &m.Body, &m.Attempts)

		return m, err
	})
	if err != nil {
		_ = tx.Rollback(ctx)

		return nil, fmt.Errorf("select due outbox messages: %w", err)
	}

	return &OutboxBatch{tx: tx, Messages: messages}, nil
}

// OutboxResult is the outcome of publishing one claimed message: Err nil
// means confirmed; otherwise the message is due again after RetryAfter.
type OutboxResult struct {
	ID         int64
	Err        error
	RetryAfter time.Duration
}

// Finish records the results and releases the batch's locks.
func (b *OutboxBatch) Finish(ctx context.Context, results []OutboxResult) error {
	defer func() { _ = b.tx.Rollback(ctx) }()

	var published []int64

	for _, result := range results {
		if result.Err == nil {
			published = append(published, result.ID)

			continue
		}

		_, err := b.tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
				next_attempt_at = now() + $3::interval WHERE id = $1`, result.ID, result.Err.Error(), result.RetryAfter)
		if err != nil {
			return fmt.Errorf("record failed publish of outbox message %d: %w", result.ID, err)
		}
	}

	if len(published) > 0 {
		if _, err := b.tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, published); err != nil {
			return fmt.Errorf("mark %d outbox messages published: %w", len(published), err)
		}
	}

	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit outbox batch: %w", err)
	}

	return nil
}

// NextOutboxDue returns when the earliest unpublished message is due, or
// false when none is waiting.
func (s *Store) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	var due *time.Time

	err := s.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM outbox WHERE published_at IS NULL`).Scan(&due)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("select next due outbox message: %w", err)
	}

	if due == nil {
		return time.Time{}, false, nil
	}

	return *due, true, nil
}

// OutboxBacklog returns how many messages wait to be published and the age of the oldest.
func (s *Store) OutboxBacklog(ctx context.Context) (int, time.Duration, error) {
	var (
		count int
		age   *time.Duration
	)

	err := s.pool.QueryRow(ctx, `SELECT count(*), now() - min(created_at) FROM outbox WHERE published_at IS NULL`).
		Scan(&count, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("select outbox backlog: %w", err)
	}

	if age == nil {
		return count, 0, nil
	}

	return count, *age, nil
}
