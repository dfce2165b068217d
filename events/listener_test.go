package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

func publish(t *testing.T, amqpURL, routingKey string, body any) {
	t.Helper()

	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	defer conn.Close()

	channel, err := conn.Channel()
	require.NoError(t, err)

	data, err := json.Marshal(body)
	require.NoError(t, err)

	err = channel.PublishWithContext(context.Background(), events.Exchange, routingKey, false, false,
		amqp.Publishing{ContentType: "application/json", Body: data})
	require.NoError(t, err)
}

// receive waits for the next message of s.
func receive(t *testing.T, s *events.Subscription) events.Message {
	t.Helper()

	deadline := time.After(10 * time.Second)

	for {
		messages, err := s.Take()
		require.NoError(t, err)

		if len(messages) > 0 {
			require.Len(t, messages, 1)

			return messages[0]
		}

		select {
		case <-s.Wait():
		case <-deadline:
			t.Fatal("no message within 10 s")
		}
	}
}

// startListener runs a listener with instance name instance on a new vhost
// and returns the vhost's URL, the listener's hub and the listener.
func startListener(t *testing.T, instance string) (string, *events.Hub, *events.Listener) {
	t.Helper()

	amqpURL := testenv.VHost(t)
	logger := testenv.Logger(t)

	supervisor, err := broker.Dial(context.Background(), broker.Config{URL: amqpURL}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = supervisor.Close() })

	hub := events.NewHub(0)
	listener, err := events.Listen(supervisor, hub, events.ListenerConfig{Instance: instance}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, listener.Close()) })

	return amqpURL, hub, listener
}

func TestListenerRebindsAfterReconnect(t *testing.T) {
	t.Parallel()

	amqpURL, hub, listener := startListener(t, "test")
	require.Equal(t, "gateway.test", listener.Queue())

	taskID, meetingID := uuid.New(), uuid.New()
	tasks := hub.SubscribeTask(taskID)
	meetings := hub.SubscribeMeetingEvents(meetingID)

	publish(t, amqpURL, "task.noop.queued", events.TaskEvent{TaskID: taskID, MeetingID: meetingID, Seq: 1, Status: "QUEUED"})
	publish(t, amqpURL, "meeting.started", events.MeetingEvent{MeetingID: meetingID, Type: "started"})

	require.Equal(t, int64(1), receive(t, tasks).Task.Seq)
	require.Equal(t, "started", receive(t, meetings).Meeting.Type)

	// The broker drops the connection and with it the exclusive queue; the
	// listener must declare and bind it again, and say that events may
	// have been missed meanwhile.
	testenv.CloseBrokerConnections(t, amqpURL)

	require.True(t, receive(t, tasks).Resync)
	require.True(t, receive(t, meetings).Resync)

	publish(t, amqpURL, "task.noop.running", events.TaskEvent{TaskID: taskID, MeetingID: meetingID, Seq: 2, Status: "RUNNING"})
	require.Equal(t, int64(2), receive(t, tasks).Task.Seq)
}

func TestListenerSkipsUndecodableEvents(t *testing.T) {
	t.Parallel()

	amqpURL, hub, _ := startListener(t, "")

	taskID := uuid.New()
	tasks := hub.SubscribeTask(taskID)

	publish(t, amqpURL, "task.noop.queued", "not an event object")
	publish(t, amqpURL, "task.noop.queued", events.TaskEvent{TaskID: taskID, Seq: 1, Status: "QUEUED"})

	require.Equal(t, int64(1), receive(t, tasks).Task.Seq, "the consumer must go on after a bad message")
}
