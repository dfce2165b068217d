package outbox

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/store"
)

// Dispatcher publishes committed outbox messages at once, so that a
// mutation's message reaches the broker without waiting for the relay. It
// never blocks a committing caller: when its queue is full, or a publish
// fails, the message stays in the table for the relay.
type Dispatcher struct {
	publisher
	queue chan queued
}

// queued is a committed message and when it was handed over.
type queued struct {
	message store.OutboxMessage
	at      time.Time
}

// NewDispatcher returns a dispatcher; hand its Notify to
// store.SetOutboxNotifier and run Run.
func NewDispatcher(db *store.Store, pub *broker.Publisher, config Config, logger *slog.Logger) *Dispatcher {
	p := newPublisher(db, pub, config, logger.With(slog.String("component", "outbox_dispatcher")))

	return &Dispatcher{publisher: p, queue: make(chan queued, 16*p.config.BatchSize)}
}

// Notify queues committed messages for publishing without blocking.
func (d *Dispatcher) Notify(messages []store.OutboxMessage) {
	for _, message := range messages {
		select {
		case d.queue <- queued{message: message, at: time.Now()}:
		default:
			// The relay publishes it once its grace period has passed.
		}
	}
}

// Run publishes queued messages until ctx is cancelled.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.logger.Info("outbox dispatcher started", slog.Int("workers", d.config.Workers))
	defer d.logger.Info("outbox dispatcher stopped")

	group, ctx := errgroup.WithContext(ctx)
	for range d.config.Workers {
		group.Go(func() (err error) {
			defer func() {
				if recovered := recover(); recovered != nil {
					err = errPanic("outbox dispatcher", recovered)
				}
			}()

			d.work(ctx)

			return nil
		})
	}

	return group.Wait()
}

func (d *Dispatcher) work(ctx context.Context) {
	batch := make([]store.OutboxMessage, 0, d.config.BatchSize)

	for {
		select {
		case <-ctx.Done():
			d.flush(batch)

			return
		case item := <-d.queue:
			batch = d.appendFresh(batch[:0], item)
		}

	fill:
		for len(batch) < d.config.BatchSize {
			select {
			case item := <-d.queue:
				batch = d.appendFresh(batch, item)
			default:
				break fill
			}
		}

		if len(batch) == 0 {
			continue
		}

		d.PublishBatch(ctx, batch)
	}
}

// appendFresh appends item's message unless it waited longer than
// MaxQueueAge, after which the relay may already be publishing it.
func (d *Dispatcher) appendFresh(batch []store.OutboxMessage, item queued) []store.OutboxMessage {
	if d.config.MaxQueueAge > 0 && time.Since(item.at) > d.config.MaxQueueAge {
		return batch
	}

	return append(batch, item.message)
}

// flush publishes what is still queued at shutdown, bounded by the
// publisher's timeout, so that it need not wait for a relay's grace period.
func (d *Dispatcher) flush(batch []store.OutboxMessage) {
	batch = batch[:0]

	for {
		select {
		case item := <-d.queue:
			batch = d.appendFresh(batch, item)
		default:
			if len(batch) > 0 {
				d.PublishBatch(context.Background(), batch)
			}

			return
		}
	}
}

// PublishBatch publishes batch and waits for the confirms, recording each
// outcome in the outbox table. Command-line tools use it as their
// store.OutboxNotifier, which runs no dispatcher goroutines.
func (d *Dispatcher) PublishBatch(ctx context.Context, batch []store.OutboxMessage) {
	results := d.publishAll(ctx, batch)

	var published []int64

	for _, result := range results {
		if result.Err == nil {
			published = append(published, result.ID)

			continue
		}

		// WithoutCancel: the failure must be recorded even during shutdown,
		// so that the relay retries the message soon rather than after its grace.
		if err := d.store.MarkOutboxFailed(context.WithoutCancel(ctx), result.ID, result.Err, result.RetryAfter); err != nil {
			d.logger.Error("recording a failed publish failed; the relay retries it after its grace period",
				slog.Int64("outbox_id", result.ID), slog.Any("error", err))
		}
	}

	if len(published) == 0 {
		return
	}

	if err := d.store.MarkOutboxPublished(context.WithoutCancel(ctx), published); err != nil {
		// The relay will publish these once more; consumers and subscribers
		// drop the duplicates.
		d.logger.Error("marking messages published failed", slog.Int("messages", len(published)), slog.Any("error", err))
	}
}
