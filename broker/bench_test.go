package broker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

// publishers is how many goroutines publish at once in the benchmarks.
const publishers = 16

var benchBody = []byte(`{"taskId":"6f1c0a52-8d8e-4bb8-9f43-8f0f6d1b8f9e","meetingId":"0b8d6f3c-1a52-4a63-a0fb-7d0c2f5e2b11","kind":"NOOP"}`)

func purge(b *testing.B, supervisor *broker.Supervisor) {
	b.Helper()

	ch, err := supervisor.Channel()
	require.NoError(b, err)
	_, err = ch.QueuePurge("ai.tasks", false)
	require.NoError(b, err)
	require.NoError(b, ch.Close())
}

func BenchmarkPublish(b *testing.B) {
	amqpURL := testenv.VHost(b)
	logger := testenv.DiscardLogger()

	supervisor, err := broker.Dial(context.Background(), broker.Config{URL: amqpURL}, logger)
	require.NoError(b, err)
	b.Cleanup(func() { _ = supervisor.Close() })

	topology := broker.NewTopology(broker.DefaultTopologySettings())
	// The benchmark fills ai.tasks far past what the work queue usually
	// holds, so it is purged after each run.
	require.NoError(b, supervisor.OnConnect(func(conn *amqp.Connection) error { return topology.Declare(conn, logger) }))

	b.Run("broker", func(b *testing.B) {
		publisher, err := broker.NewPublisher(supervisor, 5*time.Second, logger)
		require.NoError(b, err)

		ctx := context.Background()

		asynctest.Measure(b, publishers, "msgs/s", func(i int) error {
			return publisher.Publish(ctx, broker.Message{
				Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: strconv.Itoa(i), Body: benchBody,
			})
		})
		purge(b, supervisor)
	})

	b.Run("plain_amqp091", func(b *testing.B) {
		conn, err := amqp.Dial(amqpURL)
		require.NoError(b, err)
		defer conn.Close()

		ch, err := conn.Channel()
		require.NoError(b, err)
		require.NoError(b, ch.Confirm(false))

		ctx := context.Background()

		asynctest.Measure(b, publishers, "msgs/s", func(i int) error {
			confirmation, err := ch.PublishWithDeferredConfirmWithContext(ctx, broker.TasksExchange, broker.QueueAI, true, false,
				amqp.Publishing{
					ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: strconv.Itoa(i),
					Timestamp: time.Now().UTC(), Body: benchBody,
				})
			if err != nil {
				return err
			}

			confirmation.Wait()

			return nil
		})
		purge(b, supervisor)
	})
}
