package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

// outboxErrors returns the last publish error of each unpublished outbox row.
func outboxErrors(t *testing.T, h *asynctest.Harness) []string {
	t.Helper()

	rows, err := h.DB.Pool().Query(context.Background(),
		`SELECT coalesce(last_error, '') FROM outbox WHERE published_at IS NULL ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()

	var lastErrors []string

	for rows.Next() {
		var lastError string
		require.NoError(t, rows.Scan(&lastError))
		lastErrors = append(lastErrors, lastError)
	}

	require.NoError(t, rows.Err())

	return lastErrors
}

func TestBlockedBrokerKeepsMessagesInOutbox(t *testing.T) {
	t.Parallel()

	// A memory alarm blocks every publisher of a node, so the test raises
	// it on a node of its own rather than on the shared broker.
	node := testenv.StartRabbitMQNode(t)
	h := asynctest.Start(t, asynctest.Options{NoRunner: true, AMQPURL: func(string) string { return node.URL }})

	node.RaiseMemoryAlarm()

	// RabbitMQ blocks a connection only once it publishes during the alarm.
	// This optional message to a queue that does not exist is dropped by
	// the broker once it unblocks, so it adds nothing to the queues below.
	err := h.Publisher.Publish(testenv.Context(t, 10*time.Second), broker.Message{
		RoutingKey: "no-such-queue", MessageID: "blocked-probe", Body: []byte(`{}`), Optional: true,
	})
	require.ErrorIs(t, err, broker.ErrBlocked)

	task := h.Request(t, "NOOP")
	require.Equal(t, "QUEUED", task.Status, "the mutation commits while the broker blocks publishing")

	// The dispatcher's publish and the relay's retries each wait for the
	// publish timeout and fail, and the rows stay for the next retry.
	testenv.Eventually(t, 30*time.Second, func() error {
		if failed := h.Relay.Stats().Failed.Load(); failed < 2 {
			return fmt.Errorf("relay counted %d failed publishes, want at least 2", failed)
		}

		return nil
	})
	require.Positive(t, h.Dispatcher.Stats().Failed.Load())
	require.Equal(t, 2, unpublished(t, h), "the task message and its QUEUED event stay in the outbox")

	for _, lastError := range outboxErrors(t, h) {
		require.True(t, strings.Contains(lastError, broker.ErrBlocked.Error()),
			"last publish error %q should name the blocked connection", lastError)
	}

	node.ClearMemoryAlarm()

	testenv.Eventually(t, 30*time.Second, func() error {
		if n := unpublished(t, h); n != 0 {
			return fmt.Errorf("%d outbox rows unpublished", n)
		}

		return nil
	})
	// The confirm of the relay's publish follows every message sent before
	// it on the same channel, so any earlier copy is queued by now.
	require.Equal(t, 1, h.QueueDepth(t, "ai.tasks"), "the task message is queued exactly once")
}
