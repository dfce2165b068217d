package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/events"
)

// Exchange names.
const (
	// TasksExchange routes task messages to work queues by queue kind (ai, recording).
	TasksExchange = "meetgraph.tasks"
	// DeadLetterExchange routes dead letters to each work queue's DLQ by the same keys.
	DeadLetterExchange = "meetgraph.dlx"
	// NotificationsQueue receives every meeting event for the notification sender.
	NotificationsQueue = "notifications"
)

// Work queue kinds: the routing key on TasksExchange and DeadLetterExchange.
const (
	QueueAI        = "ai"
	QueueRecording = "recording"
)

// QueueKinds lists the work queue kinds in declaration order.
var QueueKinds = []string{QueueAI, QueueRecording}

// Message headers that meetgraph sets on task messages.
const (
	// HeaderAttempt counts deliveries to a handler, from 1.
	HeaderAttempt = "x-attempt"
	// HeaderLastError carries the last failure on a dead-lettered message.
	HeaderLastError = "x-last-error"
)

// WorkQueue returns the name of the work queue of kind, for example ai.tasks.
func WorkQueue(kind string) string { return kind + ".tasks" }

// DeadLetterQueue returns the name of the dead-letter queue of kind, for example ai.tasks.dlq.
func DeadLetterQueue(kind string) string { return WorkQueue(kind) + ".dlq" }

// RetryQueue returns the name of the retry queue of kind for delay, for example ai.tasks.retry.5s.
func RetryQueue(kind string, delay time.Duration) string {
	return WorkQueue(kind) + ".retry." + shortDuration(delay)
}

// shortDuration formats 2m0s as 2m and 1.5s as 1500ms, so queue names stay readable.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
}

// TopologySettings are the tunable parts of the topology.
type TopologySettings struct {
	// RetryDelays are the pauses before the 2nd, 3rd, ... attempt of a
	// task; a task gets len(RetryDelays)+1 attempts.
	RetryDelays []time.Duration
	// DeliveryLimit is the quorum queues' x-delivery-limit: how often a
	// message may be returned unacknowledged (a worker crashing on it)
	// before the broker dead-letters it.
	DeliveryLimit int
}

// DefaultTopologySettings returns the production settings: retries after
// 1 s, 5 s, 30 s and 2 min, and a delivery limit of 5.
func DefaultTopologySettings() TopologySettings {
	return TopologySettings{
		RetryDelays:   []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
		DeliveryLimit: 5,
	}
}

// ExchangeSpec is one exchange to declare.
type ExchangeSpec struct {
	Name string
	Kind string
}

// BindingSpec binds a queue to an exchange with a routing key.
type BindingSpec struct {
	Exchange   string
	RoutingKey string
}

// QueueSpec is one durable queue to declare, with its arguments and bindings.
type QueueSpec struct {
	Name     string
	Args     amqp.Table
	Bindings []BindingSpec
}

// Topology is every exchange and queue meetgraph needs, in declaration order.
type Topology struct {
	Exchanges []ExchangeSpec
	Queues    []QueueSpec
}

// NewTopology builds the topology table from settings.
func NewTopology(settings TopologySettings) Topology {
	topology := Topology{Exchanges: []ExchangeSpec{
		{Name: TasksExchange, Kind: amqp.ExchangeDirect},
		{Name: DeadLetterExchange, Kind: amqp.ExchangeDirect},
		{Name: events.Exchange, Kind: amqp.ExchangeTopic},
	}}

	for _, kind := range QueueKinds {
		topology.Queues = append(topology.Queues, QueueSpec{
			Name: WorkQueue(kind),
			Args: amqp.Table{
				amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
				"x-dead-letter-exchange": DeadLetterExchange,
				"x-dead-letter-strategy": "at-least-once",
				amqp.QueueOverflowArg:    amqp.QueueOverflowRejectPublish,
				"x-delivery-limit":       int64(settings.DeliveryLimit),
			},
			Bindings: []BindingSpec{{Exchange: TasksExchange, RoutingKey: kind}},
		})

		for _, delay := range settings.RetryDelays {
			// An expired message goes back to the work queue through the
			// tasks exchange; nothing consumes a retry queue directly.
			topology.Queues = append(topology.Queues, QueueSpec{
				Name: RetryQueue(kind, delay),
				Args: amqp.Table{
					amqp.QueueTypeArg:           amqp.QueueTypeClassic,
					amqp.QueueMessageTTLArg:     delay.Milliseconds(),
					"x-dead-letter-exchange":    TasksExchange,
					"x-dead-letter-routing-key": kind,
				},
			})
		}

		topology.Queues = append(topology.Queues, QueueSpec{
			Name:     DeadLetterQueue(kind),
			Args:     amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum},
			Bindings: []BindingSpec{{Exchange: DeadLetterExchange, RoutingKey: kind}},
		})
	}

	topology.Queues = append(topology.Queues, QueueSpec{
		Name:     NotificationsQueue,
		Args:     amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum},
		Bindings: []BindingSpec{{Exchange: events.Exchange, RoutingKey: "meeting.#"}},
	})

	return topology
}

// Declare declares every exchange, queue and binding on conn. A queue that
// already exists with other arguments is an error that names the queue and
// quotes the broker's reason, which names the argument.
func (t Topology) Declare(conn *amqp.Connection, logger *slog.Logger) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel to declare topology: %w", err)
	}
	defer ch.Close()

	for _, exchange := range t.Exchanges {
		if err := ch.ExchangeDeclare(exchange.Name, exchange.Kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", exchange.Name, explainPrecondition(err))
		}
	}

	for _, queue := range t.Queues {
		if _, err := ch.QueueDeclare(queue.Name, true, false, false, false, queue.Args); err != nil {
			return fmt.Errorf("declare queue %s: %w", queue.Name, explainPrecondition(err))
		}

		for _, binding := range queue.Bindings {
			if err := ch.QueueBind(queue.Name, binding.RoutingKey, binding.Exchange, false, nil); err != nil {
				return fmt.Errorf("bind queue %s to %s with key %q: %w", queue.Name, binding.Exchange, binding.RoutingKey, err)
			}
		}
	}

	logger.Info("broker topology declared", slog.Int("exchanges", len(t.Exchanges)), slog.Int("queues", len(t.Queues)))

	return nil
}

// explainPrecondition adds what to do when the broker rejects a declaration
// because the existing entity has other arguments (406 PRECONDITION_FAILED,
// whose reason names the argument, for example
// "inequivalent arg 'x-delivery-limit' for queue 'ai.tasks'").
func explainPrecondition(err error) error {
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) && amqpErr.Code == amqp.PreconditionFailed {
		return fmt.Errorf("it already exists with other arguments (%s): delete it or change the settings to match: %w",
			strings.TrimPrefix(amqpErr.Reason, "PRECONDITION_FAILED - "), err)
	}

	return err
}

// QueueForTaskKind returns the work queue kind that carries tasks of
// taskKind: recording processing has its own queue, the rest are AI work
// (NOOP included, so that it exercises the same path).
func QueueForTaskKind(taskKind string) string {
	if taskKind == "RECORDING" {
		return QueueRecording
	}

	return QueueAI
}

// OptionalRoute reports whether a message to exchange with routingKey may
// find no queue. Task events may, because they feed the event queues of
// running gateways, and each one is also a task_events row that
// subscribers replay. Every other message (task messages, meeting events
// for the notifications queue) must be routed.
func OptionalRoute(exchange, routingKey string) bool {
	return exchange == events.Exchange && strings.HasPrefix(routingKey, "task.")
}
