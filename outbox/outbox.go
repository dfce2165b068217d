// Package outbox publishes the messages that store writes to its outbox
// table: at once after commit (Dispatcher), and whatever a crash, a lost
// connection or an unroutable publish left behind (Relay).
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/time/rate"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/store"
)

// Config sets the publishing behaviour of Dispatcher and Relay.
type Config struct {
	// BatchSize caps the messages published together; 0 means 100.
	BatchSize int
	// PollInterval is the relay's fallback poll when no notification comes; 0 means 10 s.
	PollInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff between publish
	// attempts of one message; 0 means 1 s and 1 min.
	RetryMin, RetryMax time.Duration
	// Workers is how many goroutines the dispatcher publishes with; 0 means 4.
	Workers int
	// MaxQueueAge is how long a message may wait in the dispatcher's queue
	// before the dispatcher leaves it to the relay; 0 means no limit. Set it
	// to the store's outbox grace minus the publish timeout, so that the
	// dispatcher finishes each publish before the relay may claim the row.
	MaxQueueAge time.Duration
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}

	if c.PollInterval == 0 {
		c.PollInterval = 10 * time.Second
	}

	if c.RetryMin == 0 {
		c.RetryMin = time.Second
	}

	if c.RetryMax == 0 {
		c.RetryMax = time.Minute
	}

	if c.Workers == 0 {
		c.Workers = 4
	}

	return c
}

// retryDelay returns the pause before publish attempt number attempts+1:
// RetryMin doubled per failed attempt, capped at RetryMax, with up to 20 %
// jitter so that relays do not retry in lockstep.
func (c Config) retryDelay(attempts int) time.Duration {
	delay := c.RetryMin
	for range min(attempts, 30) {
		delay *= 2
		if delay >= c.RetryMax {
			delay = c.RetryMax

			break
		}
	}

	return delay + time.Duration(rand.Int64N(int64(delay)/5+1))
}

// Stats counts publish outcomes since start.
//
// NOTE: no /metrics endpoint exports these counters yet; tests read them.
type Stats struct {
	Published atomic.Int64
	Failed    atomic.Int64
}

// publisher is the part of Dispatcher and Relay that publishes: the broker
// publisher, the counters and a rate-limited failure log.
type publisher struct {
	broker *broker.Publisher
	store  *store.Store
	config Config
	logger *slog.Logger
	stats  *Stats
	// failureLog lets one publish failure per 10 s through to the log, so
	// that an outage does not flood it; Stats still counts each one.
	failureLog *rate.Sometimes
}

func newPublisher(db *store.Store, pub *broker.Publisher, config Config, logger *slog.Logger) publisher {
	return publisher{
		broker: pub, store: db, config: config.withDefaults(), logger: logger, stats: &Stats{},
		failureLog: &rate.Sometimes{First: 1, Interval: 10 * time.Second},
	}
}

// publishAll publishes messages concurrently and returns one result per
// message, in order.
func (p publisher) publishAll(ctx context.Context, messages []store.OutboxMessage) []store.OutboxResult {
	results := make([]store.OutboxResult, len(messages))
	confirmations := make([]*broker.Confirmation, len(messages))

	for i, message := range messages {
		results[i].ID = message.ID
		confirmations[i], results[i].Err = p.broker.Start(ctx, broker.Message{
			Exchange: message.Exchange, RoutingKey: message.RoutingKey, MessageID: message.MessageID,
			Headers: amqp.Table(message.Headers), Body: message.Body,
			Optional: broker.OptionalRoute(message.Exchange, message.RoutingKey),
		})
	}

	for i, confirmation := range confirmations {
		if confirmation != nil {
			results[i].Err = confirmation.Wait(ctx)
		}

		if results[i].Err == nil {
			p.stats.Published.Add(1)

			continue
		}

		p.stats.Failed.Add(1)
		results[i].RetryAfter = p.config.retryDelay(messages[i].Attempts)
		p.failureLog.Do(func() {
			p.logger.Warn("publish failed; the relay retries it", slog.Int64("outbox_id", messages[i].ID),
				slog.String("message_id", messages[i].MessageID), slog.String("exchange", messages[i].Exchange),
				slog.String("routing_key", messages[i].RoutingKey), slog.Duration("retry_after", results[i].RetryAfter),
				slog.Int64("failures_total", p.stats.Failed.Load()), slog.Any("error", results[i].Err))
		})
	}

	return results
}

// Stats returns the live counters.
func (p publisher) Stats() *Stats { return p.stats }

// errPanic wraps a recovered panic value.
func errPanic(component string, recovered any) error {
	return fmt.Errorf("%s panicked: %v", component, recovered)
}
