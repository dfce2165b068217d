package consumers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
)

// NotificationQueueConsumer takes meeting events from the notifications
// queue and hands each to the Notifier, one at a time.
type NotificationQueueConsumer struct {
	Supervisor *broker.Supervisor
	Notifier   *Notifier
	Logger     *slog.Logger
	// RetryDelay is the pause before a delivery that failed for a reason
	// that may pass (an SMTP server that is down) goes back to the queue;
	// 0 means 5 s. Without it an outage would spin through the queue.
	RetryDelay time.Duration
}

// Run consumes until ctx is cancelled. It consumes again on every
// reconnection of the supervisor.
func (c *NotificationQueueConsumer) Run(ctx context.Context) error {
	if c.RetryDelay == 0 {
		c.RetryDelay = 5 * time.Second
	}

	deliveries := make(chan amqp.Delivery)

	err := c.Supervisor.OnConnect(func(conn *amqp.Connection) error {
		if ctx.Err() != nil {
			return nil
		}

		return c.consume(ctx, conn, deliveries)
	})
	if err != nil {
		return err
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case delivery := <-deliveries:
			c.handle(ctx, delivery)
		}
	}
}

// consume opens a channel on conn and forwards its deliveries until the
// channel closes or ctx is cancelled.
func (c *NotificationQueueConsumer) consume(ctx context.Context, conn *amqp.Connection, out chan<- amqp.Delivery) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open notifications channel: %w", err)
	}

	if err := ch.Qos(1, 0, false); err != nil {
		return fmt.Errorf("set notifications prefetch: %w", err)
	}

	deliveries, err := ch.Consume(broker.NotificationsQueue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", broker.NotificationsQueue, err)
	}

	c.Logger.Info("consuming", slog.String("queue", broker.NotificationsQueue))

	go func() {
		for delivery := range deliveries {
			select {
			case out <- delivery:
			case <-ctx.Done():
				// The unacknowledged delivery returns to the queue when the
				// channel closes with the connection.
				return
			}
		}
	}()

	return nil
}

// handle acknowledges a delivery that was sent or can never be sent, and
// returns one that failed for a passing reason after RetryDelay.
func (c *NotificationQueueConsumer) handle(ctx context.Context, delivery amqp.Delivery) {
	logger := c.Logger.With(slog.String("message_id", delivery.MessageId), slog.String("routing_key", delivery.RoutingKey))

	err := c.Notifier.HandleDelivery(ctx, delivery.Body)

	switch {
	case err == nil:
		_ = delivery.Ack(false)
	case IsPermanent(err):
		logger.Error("notification dropped: it can never be sent", slog.Any("error", err))
		_ = delivery.Ack(false)
	default:
		logger.Warn("notification failed; it returns to the queue", slog.Duration("retry_in", c.RetryDelay),
			slog.Any("error", err))

		select {
		case <-time.After(c.RetryDelay):
		case <-ctx.Done():
		}

		_ = delivery.Nack(false, true)
	}
}
