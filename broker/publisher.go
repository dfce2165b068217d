package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/tracing"
)

// Errors a publish can end with besides a closed connection.
var (
	// ErrUnroutable means the broker returned a mandatory message because no
	// queue was bound for its routing key (or the exchange is missing).
	ErrUnroutable = errors.New("message unroutable")
	// ErrNacked means the broker refused responsibility for the message.
	ErrNacked = errors.New("message not confirmed by the broker")
	// ErrBlocked means the broker kept the connection blocked (resource alarm) past the wait.
	ErrBlocked = errors.New("connection blocked by the broker")
)

// Message is one message to publish.
type Message struct {
	Exchange   string
	RoutingKey string
	MessageID  string
	Headers    amqp.Table
	Body       []byte
	// Optional, when true, publishes without the mandatory flag, so that a
	// message no queue is bound for is dropped instead of being an error.
	Optional bool
}

// Publisher publishes persistent, mandatory messages on a confirm-mode
// channel and reports a message as sent only when the broker confirmed it
// and did not return it.
type Publisher struct {
	supervisor *Supervisor
	logger     *slog.Logger
	// timeout bounds the wait for a confirm and for an unblocked connection.
	timeout time.Duration
	// metrics records confirm latency and failed publishes; nil records nothing.
	metrics *metrics.Metrics

	mu      sync.Mutex
	channel *amqp.Channel
	// returns receives the broker's basic.return frames for channel. The
	// channel is buffered, and the library sends a return before it
	// processes the confirm of the same message, so after a confirm the
	// return is either still in returns or already counted in returned.
	returns  chan amqp.Return
	returned map[string]int

	// blockMu guards unblocked. It is separate from mu because the
	// supervisor runs watchBlocked while holding its own lock, which
	// openChannel takes while holding mu.
	blockMu sync.Mutex
	// unblocked is closed while the connection may publish and open while
	// the broker has blocked it.
	unblocked chan struct{}
	// blockedPublishes counts the publishes that wait for unblocked.
	blockedPublishes atomic.Int64
}

// ObserveWith makes the publisher record its confirms in m. Call it before
// the first publish.
func (p *Publisher) ObserveWith(m *metrics.Metrics) {
	p.metrics = m
}

// NewPublisher returns a publisher on supervisor's connections. timeout
// bounds each publish (0 means 5 s).
func NewPublisher(supervisor *Supervisor, timeout time.Duration, logger *slog.Logger) (*Publisher, error) {
	if timeout == 0 {
		timeout = 5 * time.Second
	}

	p := &Publisher{
		supervisor: supervisor,
		logger:     logger.With(slog.String("component", "publisher")),
		timeout:    timeout,
		returned:   make(map[string]int),
		unblocked:  closedChannel(),
	}

	if err := supervisor.OnConnect(p.watchBlocked); err != nil {
		return nil, err
	}

	return p, nil
}

func closedChannel() chan struct{} {
	c := make(chan struct{})
	close(c)

	return c
}

// Blocked reports whether the broker has blocked the current connection
// (connection.blocked, sent on a memory or disk alarm) and not unblocked it.
func (p *Publisher) Blocked() bool {
	p.blockMu.Lock()
	defer p.blockMu.Unlock()

	select {
	case <-p.unblocked:
		return false
	default:
		return true
	}
}

// BlockedPublishes returns how many publishes wait for the broker to
// unblock the connection.
func (p *Publisher) BlockedPublishes() int {
	return int(p.blockedPublishes.Load())
}

// watchBlocked follows connection.blocked and connection.unblocked on conn.
func (p *Publisher) watchBlocked(conn *amqp.Connection) error {
	p.blockMu.Lock()
	p.unblocked = closedChannel()
	p.blockMu.Unlock()

	notices := conn.NotifyBlocked(make(chan amqp.Blocking, 4))

	// The library closes notices when conn closes, which ends this goroutine.
	go func() {
		for notice := range notices {
			p.blockMu.Lock()
			select {
			case <-p.unblocked:
				if notice.Active {
					p.logger.Warn("broker blocked publishing; publishes wait", slog.String("reason", notice.Reason))
					p.unblocked = make(chan struct{})
				}
			default:
				if !notice.Active {
					p.logger.Info("broker unblocked publishing")
					close(p.unblocked)
				}
			}
			p.blockMu.Unlock()
		}
	}()

	return nil
}

// openChannel returns the confirm-mode channel, opening a new one when
// the last one was closed (after a reconnection or a channel error).
func (p *Publisher) openChannel() (*amqp.Channel, chan struct{}, error) {
	p.blockMu.Lock()
	unblocked := p.unblocked
	p.blockMu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()

	if p.channel != nil && !p.channel.IsClosed() {
		return p.channel, unblocked, nil
	}

	ch, err := p.supervisor.Channel()
	if err != nil {
		return nil, nil, err
	}

	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()

		return nil, nil, fmt.Errorf("put channel in confirm mode: %w", err)
	}

	p.channel = ch
	p.returns = ch.NotifyReturn(make(chan amqp.Return, 1024))
	clear(p.returned)

	return ch, unblocked, nil
}

// reconnectPoll is how often a publish that waits for a connection checks
// for one.
const reconnectPoll = 50 * time.Millisecond

// waitChannel returns the confirm-mode channel, waiting until deadline
// while the supervisor reconnects, so that a short outage delays publishes
// instead of failing them.
func (p *Publisher) waitChannel(ctx context.Context, deadline time.Time) (*amqp.Channel, chan struct{}, error) {
	for {
		ch, unblocked, err := p.openChannel()
		if err == nil || !errors.Is(err, ErrNotConnected) || time.Now().Add(reconnectPoll).After(deadline) {
			return ch, unblocked, err
		}

		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(reconnectPoll):
		}
	}
}

// Publish sends message and waits, at most the publisher's timeout, until
// the broker confirms it. A returned (unroutable) or nacked message is an
// error, as is a connection that stays blocked.
func (p *Publisher) Publish(ctx context.Context, message Message) error {
	confirmation, err := p.Start(ctx, message)
	if err != nil {
		return err
	}

	return confirmation.Wait(ctx)
}

// waitUnblocked waits until unblocked is closed, so that no message is
// sent while the broker has blocked the connection. It returns ErrBlocked
// when deadline passes first.
func (p *Publisher) waitUnblocked(ctx context.Context, unblocked chan struct{}, deadline time.Time) error {
	select {
	case <-unblocked:
		return nil
	default:
	}

	p.blockedPublishes.Add(1)
	defer p.blockedPublishes.Add(-1)

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()

	select {
	case <-unblocked:
		return nil
	case <-timer.C:
		p.metrics.PublishFailed("blocked")

		return fmt.Errorf("%w for %s", ErrBlocked, p.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Confirmation is a publish in flight.
type Confirmation struct {
	span      trace.Span
	started   time.Time
	publisher *Publisher
	deferred  *amqp.DeferredConfirmation
	messageID string
	deadline  time.Time
	channel   *amqp.Channel
}

// Start sends message without waiting for its confirm, so that a caller
// can have many messages in flight; call Wait on the result.
func (p *Publisher) Start(ctx context.Context, message Message) (*Confirmation, error) {
	deadline := time.Now().Add(p.timeout)

	ch, unblocked, err := p.waitChannel(ctx, deadline)
	if err != nil {
		return nil, fmt.Errorf("publish message %s: %w", message.MessageID, err)
	}

	if err := p.waitUnblocked(ctx, unblocked, deadline); err != nil {
		return nil, fmt.Errorf("publish message %s: %w", message.MessageID, err)
	}

	// The span continues the trace that the message's traceparent header
	// names (the change that wrote it to the outbox) and ends at the confirm.
	_, span := tracing.Tracer().Start(tracing.Extract(ctx, message.Headers), "publish "+message.Exchange,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.destination", message.Exchange),
			attribute.String("messaging.rabbitmq.routing_key", message.RoutingKey),
			attribute.String("messaging.message.id", message.MessageID)))

	deferred, err := ch.PublishWithDeferredConfirm(message.Exchange, message.RoutingKey, !message.Optional, false, amqp.Publishing{
		Headers:      message.Headers,
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    message.MessageID,
		Timestamp:    time.Now().UTC(),
		Body:         message.Body,
	})
	if err != nil {
		span.RecordError(err)
		span.End()

		return nil, fmt.Errorf("publish message %s to %s/%s: %w", message.MessageID, message.Exchange, message.RoutingKey, err)
	}

	return &Confirmation{span: span, started: time.Now(), publisher: p, deferred: deferred, messageID: message.MessageID, deadline: deadline, channel: ch}, nil
}

// Wait waits for the broker's confirm, bounded by the publisher's timeout.
func (c *Confirmation) Wait(ctx context.Context) error {
	ctx, cancel := context.WithDeadline(ctx, c.deadline)
	defer cancel()

	metrics := c.publisher.metrics

	defer c.span.End()

	acked, err := c.deferred.WaitContext(ctx)
	if err != nil && c.publisher.Blocked() {
		// RabbitMQ blocks a connection only once it publishes during an
		// alarm, so this message was sent before the publisher could know.
		// The broker reads it when it unblocks the connection, so a retry
		// of the message may queue it twice.
		metrics.PublishFailed("blocked")
		c.span.SetStatus(codes.Error, "connection blocked")

		return fmt.Errorf("wait for confirm of message %s: %w: %w", c.messageID, ErrBlocked, err)
	}

	if err != nil {
		metrics.PublishFailed("timeout")
		c.span.SetStatus(codes.Error, "no confirm")

		return fmt.Errorf("wait for confirm of message %s: %w", c.messageID, err)
	}

	if c.publisher.takeReturn(c.channel, c.messageID) {
		metrics.PublishFailed("returned")
		c.span.SetStatus(codes.Error, "returned as unroutable")

		return fmt.Errorf("publish message %s: %w", c.messageID, ErrUnroutable)
	}

	if !acked {
		metrics.PublishFailed("nacked")
		c.span.SetStatus(codes.Error, "nacked")

		return fmt.Errorf("publish message %s: %w (nack or closed channel)", c.messageID, ErrNacked)
	}

	metrics.PublishConfirmed(time.Since(c.started))

	return nil
}

// takeReturn reports whether the broker returned a message with messageID
// on ch, and removes that return from the count.
func (p *Publisher) takeReturn(ch *amqp.Channel, messageID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if ch != p.channel {
		// The channel was replaced, so its returns were dropped with it;
		// a closed channel also nacks, which Wait reports.
		return false
	}

	for drained := false; !drained; {
		select {
		case ret, ok := <-p.returns:
			if !ok {
				drained = true

				break
			}

			p.returned[ret.MessageId]++
		default:
			drained = true
		}
	}

	if p.returned[messageID] == 0 {
		return false
	}

	p.returned[messageID]--
	if p.returned[messageID] == 0 {
		delete(p.returned, messageID)
	}

	return true
}
