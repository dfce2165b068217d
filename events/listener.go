package events

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Routing key patterns that a gateway's queue is bound with.
const (
	TaskBindingKey    = "task.#"
	MeetingBindingKey = "meeting.#"
)

// DefaultPrefetch is how many unacknowledged events the broker sends a
// gateway ahead of its acks.
const DefaultPrefetch = 512

// ListenerConfig sets how a gateway consumes the events exchange.
type ListenerConfig struct {
	// Instance names this gateway process; its queue is gateway.<Instance>.
	// Empty means <hostname>-<pid>-<random>, unique per process.
	Instance string
	// Prefetch is the consumer's prefetch count; 0 means DefaultPrefetch.
	Prefetch int
}

// Connector runs a hook on the current broker connection and again on
// every new one; broker.Supervisor.OnConnect is one.
type Connector interface {
	OnConnect(hook func(*amqp.Connection) error) error
}

// Listener consumes the events exchange through this process's own
// exclusive, auto-delete queue and publishes each event to a hub. The queue
// lives as long as the connection, so the listener declares and binds it
// again on every new connection, and then tells the hub to resync because
// events published while no queue was bound never arrive.
type Listener struct {
	hub    *Hub
	logger *slog.Logger
	queue  string
	config ListenerConfig

	mu          sync.Mutex
	closed      bool
	connections int
	channel     *amqp.Channel
	consumers   sync.WaitGroup
}

// Listen declares the queue on the current connection, starts consuming, and
// registers to do the same on every reconnection.
func Listen(connector Connector, hub *Hub, config ListenerConfig, logger *slog.Logger) (*Listener, error) {
	if config.Instance == "" {
		hostname, _ := os.Hostname()
		config.Instance = fmt.Sprintf("%s-%d-%s", hostname, os.Getpid(), uuid.NewString()[:8])
	}

	if config.Prefetch <= 0 {
		config.Prefetch = DefaultPrefetch
	}

	l := &Listener{
		hub:    hub,
		queue:  "gateway." + config.Instance,
		config: config,
	}
	l.logger = logger.With(slog.String("queue", l.queue))

	if err := connector.OnConnect(l.start); err != nil {
		return nil, fmt.Errorf("consume events through queue %s: %w", l.queue, err)
	}

	return l, nil
}

// Queue returns the name of this process's event queue.
func (l *Listener) Queue() string {
	return l.queue
}

// start runs on each new connection, under the supervisor's lock, so it
// only declares and starts the consumer goroutine.
func (l *Listener) start(conn *amqp.Connection) error {
	l.mu.Lock()
	defer l.mu.Unlock()

	if l.closed {
		return nil
	}

	channel, deliveries, err := l.declare(conn)
	if err != nil {
		return err
	}

	l.channel = channel
	l.connections++

	if l.connections > 1 {
		l.logger.Info("event queue bound again after reconnect; resyncing subscriptions")
		l.hub.Resync()
	} else {
		l.logger.Info("event queue bound", slog.String("exchange", Exchange))
	}

	l.consumers.Add(1)

	go l.consume(channel, deliveries)

	return nil
}

func (l *Listener) declare(conn *amqp.Connection) (*amqp.Channel, <-chan amqp.Delivery, error) {
	channel, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}

	deliveries, err := l.declareOn(channel)
	if err != nil {
		_ = channel.Close()

		return nil, nil, err
	}

	return channel, deliveries, nil
}

func (l *Listener) declareOn(channel *amqp.Channel) (<-chan amqp.Delivery, error) {
	err := channel.ExchangeDeclare(Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("declare exchange %s: %w", Exchange, err)
	}

	// exclusive and auto-delete: the broker removes the queue when this
	// process's connection closes, so a dead gateway leaves nothing behind.
	_, err = channel.QueueDeclare(l.queue, false, true, true, false, nil)
	if err != nil {
		return nil, fmt.Errorf("declare queue %s: %w", l.queue, err)
	}

	for _, key := range []string{TaskBindingKey, MeetingBindingKey} {
		if err := channel.QueueBind(l.queue, key, Exchange, false, nil); err != nil {
			return nil, fmt.Errorf("bind queue %s to %s with %s: %w", l.queue, Exchange, key, err)
		}
	}

	if err := channel.Qos(l.config.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("set prefetch on queue %s: %w", l.queue, err)
	}

	deliveries, err := channel.Consume(l.queue, l.queue, false, true, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume queue %s: %w", l.queue, err)
	}

	return deliveries, nil
}

// consume publishes each delivery to the hub until the channel closes.
func (l *Listener) consume(channel *amqp.Channel, deliveries <-chan amqp.Delivery) {
	defer l.consumers.Done()
	defer func() {
		if value := recover(); value != nil {
			l.logger.Error("event consumer panicked; events stop until the next reconnect",
				slog.Any("panic", value))
			_ = channel.Close()
		}
	}()

	for delivery := range deliveries {
		l.dispatch(delivery)

		if err := delivery.Ack(false); err != nil {
			l.logger.Warn("ack event failed", slog.String("routing_key", delivery.RoutingKey),
				slog.Any("error", err))
		}
	}

	l.logger.Debug("event consumer stopped")
}

func (l *Listener) dispatch(delivery amqp.Delivery) {
	switch {
	case strings.HasPrefix(delivery.RoutingKey, "task."):
		var event TaskEvent
		if err := json.Unmarshal(delivery.Body, &event); err != nil {
			l.logger.Error("discarding undecodable task event", slog.String("routing_key", delivery.RoutingKey),
				slog.String("message_id", delivery.MessageId), slog.Any("error", err))

			return
		}

		event.Traceparent, _ = delivery.Headers["traceparent"].(string)
		l.hub.PublishTask(&event)
	case strings.HasPrefix(delivery.RoutingKey, "meeting."):
		var event MeetingEvent
		if err := json.Unmarshal(delivery.Body, &event); err != nil {
			l.logger.Error("discarding undecodable meeting event", slog.String("routing_key", delivery.RoutingKey),
				slog.String("message_id", delivery.MessageId), slog.Any("error", err))

			return
		}

		l.hub.PublishMeeting(&event)
	default:
		l.logger.Warn("discarding event with unknown routing key", slog.String("routing_key", delivery.RoutingKey))
	}
}

// Close stops consuming and waits for the consumer goroutine. The queue
// disappears with the connection, which the supervisor's owner closes.
func (l *Listener) Close() error {
	l.mu.Lock()
	l.closed = true
	channel := l.channel
	l.mu.Unlock()

	var err error
	if channel != nil && !channel.IsClosed() {
		err = channel.Close()
	}

	l.consumers.Wait()

	return err
}
