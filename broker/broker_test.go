package broker_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

func testSettings() broker.TopologySettings {
	return broker.TopologySettings{RetryDelays: []time.Duration{50 * time.Millisecond, time.Second}, DeliveryLimit: 3}
}

// dial connects a supervisor to a fresh vhost with the topology declared.
func dial(t *testing.T) (*broker.Supervisor, string) {
	t.Helper()

	amqpURL := testenv.VHost(t)

	return dialURL(t, amqpURL), amqpURL
}

// dialURL connects a supervisor to amqpURL with the topology declared.
func dialURL(t *testing.T, amqpURL string) *broker.Supervisor {
	t.Helper()

	logger := testenv.Logger(t)

	supervisor, err := broker.Dial(context.Background(), broker.Config{URL: amqpURL, MaxReconnectDelay: 500 * time.Millisecond}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = supervisor.Close() })

	topology := broker.NewTopology(testSettings())
	require.NoError(t, supervisor.OnConnect(func(conn *amqp.Connection) error { return topology.Declare(conn, logger) }))

	return supervisor
}

func queueDepth(t *testing.T, supervisor *broker.Supervisor, queue string) int {
	t.Helper()

	ch, err := supervisor.Channel()
	require.NoError(t, err)
	defer ch.Close()

	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)

	return q.Messages
}

func TestTopologyDeclaresQueues(t *testing.T) {
	t.Parallel()

	supervisor, _ := dial(t)

	for _, name := range []string{"ai.tasks", "ai.tasks.retry.50ms", "ai.tasks.retry.1s", "ai.tasks.dlq",
		"recording.tasks", "recording.tasks.dlq", "notifications"} {
		require.Equal(t, 0, queueDepth(t, supervisor, name), "queue %s", name)
	}
}

func TestTopologyMismatchNamesQueueAndArgument(t *testing.T) {
	t.Parallel()

	_, amqpURL := dial(t)

	changed := testSettings()
	changed.DeliveryLimit = 7

	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	defer conn.Close()

	err = broker.NewTopology(changed).Declare(conn, testenv.Logger(t))
	require.ErrorContains(t, err, "declare queue ai.tasks")
	require.ErrorContains(t, err, "x-delivery-limit")
}

func TestPublishConfirmsRoutedMessage(t *testing.T) {
	t.Parallel()

	supervisor, _ := dial(t)
	publisher, err := broker.NewPublisher(supervisor, 2*time.Second, testenv.Logger(t))
	require.NoError(t, err)

	ctx := testenv.Context(t, 10*time.Second)
	require.NoError(t, publisher.Publish(ctx, broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: "m1", Body: []byte(`{}`),
	}))
	require.Equal(t, 1, queueDepth(t, supervisor, "ai.tasks"))
}

func TestPublishUnroutableIsError(t *testing.T) {
	t.Parallel()

	supervisor, _ := dial(t)
	publisher, err := broker.NewPublisher(supervisor, 2*time.Second, testenv.Logger(t))
	require.NoError(t, err)

	ctx := testenv.Context(t, 10*time.Second)

	err = publisher.Publish(ctx, broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: "no-such-queue", MessageID: "m1", Body: []byte(`{}`),
	})
	require.ErrorIs(t, err, broker.ErrUnroutable)

	// A missing exchange closes the channel; the publisher must report it
	// and open a new channel for the next message.
	err = publisher.Publish(ctx, broker.Message{Exchange: "no-such-exchange", RoutingKey: "x", MessageID: "m2", Body: []byte(`{}`)})
	require.Error(t, err)

	require.NoError(t, publisher.Publish(ctx, broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: "m3", Body: []byte(`{}`),
	}))
}

func TestPublishWaitsForReconnection(t *testing.T) {
	t.Parallel()

	supervisor, amqpURL := dial(t)
	publisher, err := broker.NewPublisher(supervisor, 10*time.Second, testenv.Logger(t))
	require.NoError(t, err)

	testenv.CloseBrokerConnections(t, amqpURL)

	// The supervisor notices the close within milliseconds; it may also
	// have reconnected by then, which this wait does not treat as failure.
	for deadline := time.Now().Add(2 * time.Second); supervisor.Connected() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	// One publish, issued while disconnected, waits for the supervisor to
	// reconnect instead of failing.
	err = publisher.Publish(testenv.Context(t, 30*time.Second), broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: "m1", Body: []byte(`{}`),
	})
	require.NoError(t, err)
	require.True(t, supervisor.Connected())
	require.Equal(t, 1, queueDepth(t, supervisor, "ai.tasks"))
}
