package broker_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

// publishers is how many goroutines publish at once in the benchmarks.
const publishers = 16

var benchBody = []byte(`{"taskId":"6f1c0a52-8d8e-4bb8-9f43-8f0f6d1b8f9e","meetingId":"0b8d6f3c-1a52-4a63-a0fb-7d0c2f5e2b11","kind":"NOOP"}`)

// measure runs publish b.N times from publishers goroutines and reports
// throughput and latency percentiles.
func measure(b *testing.B, publish func(i int) error) {
	b.Helper()

	latencies := make([]time.Duration, b.N)

	var (
		wg   sync.WaitGroup
		next = make(chan int, b.N)
	)

	for i := range b.N {
		next <- i
	}

	close(next)
	b.ResetTimer()

	start := time.Now()

	for range publishers {
		wg.Go(func() {
			for i := range next {
				began := time.Now()
				if err := publish(i); err != nil {
					b.Error(err)

					return
				}

				latencies[i] = time.Since(began)
			}
		})
	}

	wg.Wait()

	elapsed := time.Since(start)

	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(latencies[b.N/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(latencies[b.N*99/100].Microseconds())/1000, "p99_ms")
}

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

		measure(b, func(i int) error {
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

		measure(b, func(i int) error {
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
