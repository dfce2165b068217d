package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/metrics"
)

// The tests in this file block publishing with a memory alarm on a
// RabbitMQ node of their own (see testenv.StartRabbitMQNode). RabbitMQ
// sends connection.blocked only to a connection that publishes during the
// alarm, so each test publishes once to learn that it is blocked.

func aiTask(messageID string) broker.Message {
	return broker.Message{Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: messageID, Body: []byte(`{}`)}
}

// publishAsync publishes message in a goroutine and returns its result.
func publishAsync(ctx context.Context, publisher *broker.Publisher, message broker.Message) <-chan error {
	result := make(chan error, 1)

	go func() { result <- publisher.Publish(ctx, message) }()

	return result
}

func waitBlocked(t *testing.T, publisher *broker.Publisher, blocked bool) {
	t.Helper()

	testenv.Eventually(t, 10*time.Second, func() error {
		if publisher.Blocked() != blocked {
			return fmt.Errorf("publisher.Blocked() is %t, want %t", !blocked, blocked)
		}

		return nil
	})
}

// queuedMessageIDs takes every ready message from queue and returns their
// message IDs in queue order.
func queuedMessageIDs(t *testing.T, supervisor *broker.Supervisor, queue string) []string {
	t.Helper()

	ch, err := supervisor.Channel()
	require.NoError(t, err)
	defer ch.Close()

	var ids []string

	for {
		delivery, ok, err := ch.Get(queue, true)
		require.NoError(t, err)

		if !ok {
			return ids
		}

		ids = append(ids, delivery.MessageId)
	}
}

// publishFailures returns meetgraph_publish_failures_total{reason} from m.
func publishFailures(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()

	families, err := m.Registry().Gather()
	require.NoError(t, err)

	for _, family := range families {
		if family.GetName() != "meetgraph_publish_failures_total" {
			continue
		}

		for _, metric := range family.GetMetric() {
			for _, label := range metric.GetLabel() {
				if label.GetName() == "reason" && label.GetValue() == reason {
					return metric.GetCounter().GetValue()
				}
			}
		}
	}

	return 0
}

// blockedPublisher is a publisher whose connection the broker has blocked.
type blockedPublisher struct {
	node       *testenv.RabbitMQNode
	supervisor *broker.Supervisor
	publisher  *broker.Publisher
	// first is the result of the publish of m1, which made the broker
	// block the connection. It arrives once the test clears the alarm.
	first <-chan error
}

// blockPublisher connects a publisher with a one-minute timeout to a node
// of the test's own, raises a memory alarm, and publishes m1 so that the
// broker blocks the connection. The test clears the alarm within seconds,
// so the timeout outlasts it.
func blockPublisher(t *testing.T) blockedPublisher {
	t.Helper()

	node := testenv.StartRabbitMQNode(t)
	supervisor := dialURL(t, node.URL)
	publisher, err := broker.NewPublisher(supervisor, time.Minute, testenv.Logger(t))
	require.NoError(t, err)

	node.RaiseMemoryAlarm()

	first := publishAsync(testenv.Context(t, 2*time.Minute), publisher, aiTask("m1"))
	waitBlocked(t, publisher, true)

	return blockedPublisher{node: node, supervisor: supervisor, publisher: publisher, first: first}
}

func TestPublishWaitsWhileBlocked(t *testing.T) {
	t.Parallel()

	blocked := blockPublisher(t)
	publisher := blocked.publisher

	second := publishAsync(testenv.Context(t, 2*time.Minute), publisher, aiTask("m2"))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := publisher.BlockedPublishes(); n != 1 {
			return fmt.Errorf("%d publishes wait for the broker to unblock the connection, want 1", n)
		}

		return nil
	})

	blocked.node.ClearMemoryAlarm()

	require.NoError(t, <-blocked.first, "m1 reached the broker before it blocked the connection, so it is confirmed after the unblock")
	require.NoError(t, <-second, "m2 waited for the unblock and is then confirmed")
	require.False(t, publisher.Blocked())
	require.Zero(t, publisher.BlockedPublishes())
	require.Equal(t, []string{"m1", "m2"}, queuedMessageIDs(t, blocked.supervisor, "ai.tasks"), "each message queued once")
}

func TestPublishBlockedPastTimeoutFails(t *testing.T) {
	t.Parallel()

	node := testenv.StartRabbitMQNode(t)
	supervisor := dialURL(t, node.URL)
	publisher, err := broker.NewPublisher(supervisor, 3*time.Second, testenv.Logger(t))
	require.NoError(t, err)

	observed := metrics.New()
	publisher.ObserveWith(observed)

	ctx := testenv.Context(t, time.Minute)

	node.RaiseMemoryAlarm()

	// m1 is sent before the broker blocks the connection, so the publisher
	// learns of the block while it waits for the confirm.
	err = publisher.Publish(ctx, aiTask("m1"))
	require.ErrorIs(t, err, broker.ErrBlocked)
	require.True(t, publisher.Blocked())

	// m2 waits for the unblock until the timeout and is never sent.
	err = publisher.Publish(ctx, aiTask("m2"))
	require.ErrorIs(t, err, broker.ErrBlocked)
	require.Zero(t, publisher.BlockedPublishes())
	require.Equal(t, 2.0, publishFailures(t, observed, "blocked"))

	node.ClearMemoryAlarm()
	waitBlocked(t, publisher, false)

	require.NoError(t, publisher.Publish(ctx, aiTask("m3")))
	// The broker read m1 from the connection when it unblocked it, so a
	// sender that retried m1 after ErrBlocked would have queued it twice.
	require.Equal(t, []string{"m1", "m3"}, queuedMessageIDs(t, supervisor, "ai.tasks"), "m2 must never reach the broker")
}

func TestInspectQueueBoundedWhileBlocked(t *testing.T) {
	t.Parallel()

	blocked := blockPublisher(t)

	// The broker reads nothing from a blocked connection, so a channel
	// opened on it gets no reply until the alarm clears.
	inspected := make(chan error, 1)

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()

		_, _, err := blocked.supervisor.InspectQueue(ctx, "ai.tasks")
		inspected <- err
	}()

	select {
	case err := <-inspected:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(30 * time.Second):
		t.Fatal("InspectQueue with a 1 s context has not returned after 30 s on a blocked connection")
	}

	blocked.node.ClearMemoryAlarm()
	require.NoError(t, <-blocked.first)

	messages, _, err := blocked.supervisor.InspectQueue(testenv.Context(t, 10*time.Second), "ai.tasks")
	require.NoError(t, err)
	require.Equal(t, 1, messages)
}
