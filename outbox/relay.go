package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/store"
)

// Relay publishes due outbox messages: those whose immediate publish
// failed or never happened (a crash between commit and publish). Several
// relays may run against one database; each claims rows with FOR UPDATE
// SKIP LOCKED.
type Relay struct {
	publisher
	wake chan struct{}
}

// NewRelay returns a relay; run it with Run.
func NewRelay(db *store.Store, pub *broker.Publisher, config Config, logger *slog.Logger) *Relay {
	return &Relay{
		publisher: newPublisher(db, pub, config, logger.With(slog.String("component", "outbox_relay"))),
		wake:      make(chan struct{}, 1),
	}
}

// Run relays until ctx is cancelled. It wakes on a notification on
// store.OutboxChannel, when the earliest waiting message is due, and at
// least every PollInterval.
func (r *Relay) Run(ctx context.Context) (err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = errPanic("outbox relay", recovered)
		}
	}()

	r.logger.Info("outbox relay started", slog.Duration("poll_interval", r.config.PollInterval))
	defer r.logger.Info("outbox relay stopped")

	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		r.listen(ctx)
	}()
	defer func() { <-listenDone }()

	for {
		r.relayDue(ctx)

		timer := time.NewTimer(r.nextWait(ctx))

		select {
		case <-ctx.Done():
			timer.Stop()

			return nil
		case <-r.wake:
		case <-timer.C:
		}

		timer.Stop()
	}
}

// listen keeps a LISTEN on store.OutboxChannel, reconnecting after errors.
func (r *Relay) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.store.Listen(ctx, store.OutboxChannel, r.poke, func(string) { r.poke() })
		if ctx.Err() != nil {
			return
		}

		r.logger.Warn("outbox notifications lost; polling until listening again",
			slog.Duration("retry_in", r.config.RetryMin), slog.Any("error", err))

		select {
		case <-ctx.Done():
		case <-time.After(r.config.RetryMin):
		}
	}
}

func (r *Relay) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// nextWait returns how long to sleep until the next due message, at most PollInterval.
func (r *Relay) nextWait(ctx context.Context) time.Duration {
	due, ok, err := r.store.NextOutboxDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.logger.Warn("reading the next due outbox message failed", slog.Any("error", err))
		}

		return r.config.PollInterval
	}

	if !ok {
		return r.config.PollInterval
	}

	return min(max(time.Until(due), time.Millisecond), r.config.PollInterval)
}

// relayDue publishes due messages batch by batch until none is due.
func (r *Relay) relayDue(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := r.store.ClaimOutbox(ctx, r.config.BatchSize)
		if err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("claiming outbox messages failed", slog.Any("error", err))
			}

			return
		}

		results := r.publishAll(ctx, batch.Messages)

		if err := batch.Finish(context.WithoutCancel(ctx), results); err != nil {
			r.logger.Error("recording publish results failed; the messages are published again later",
				slog.Int("messages", len(results)), slog.Any("error", err))

			return
		}

		if published := countPublished(results); published > 0 {
			r.logger.Info("outbox messages relayed", slog.Int("published", published),
				slog.Int("failed", len(results)-published))
		}

		if len(batch.Messages) < r.config.BatchSize {
			return
		}
	}
}

func countPublished(results []store.OutboxResult) int {
	n := 0

	for _, result := range results {
		if result.Err == nil {
			n++
		}
	}

	return n
}
