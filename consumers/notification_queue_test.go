package consumers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
)

func TestNotificationQueueDeliversMeetingEvents(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{NoRunner: true})
	box := startMailbox(t)

	notifier := &consumers.Notifier{
		Store: h.DB,
		Mailer: consumers.SMTPMailer{Config: consumers.SMTPConfig{
			Host: box.host, Port: box.port, From: "meetgraph <noreply@example.com>", Security: consumers.SMTPPlain,
		}},
		Logger: testenv.Logger(t),
	}
	consumer := &consumers.NotificationQueueConsumer{Supervisor: h.Supervisor, Notifier: notifier, Logger: testenv.Logger(t)}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)

	go func() { done <- consumer.Run(ctx) }()

	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	publish := func(body []byte) {
		t.Helper()

		err := h.Publisher.Publish(testenv.Context(t, 10*time.Second), broker.Message{
			Exchange: events.Exchange, RoutingKey: "meeting.started", MessageID: testenv.RandomSuffix(), Body: body,
		})
		require.NoError(t, err)
	}

	// A message that can never be sent is dropped, not retried forever.
	publish([]byte(`not json`))

	started, err := json.Marshal(events.MeetingEvent{MeetingID: h.MeetingID, Type: consumers.MeetingStarted, At: time.Now()})
	require.NoError(t, err)
	publish(started)

	testenv.Eventually(t, 20*time.Second, func() error {
		if got := len(box.received()); got != 1 {
			return fmt.Errorf("%d e-mails received, want 1", got)
		}

		return nil
	})
	require.Contains(t, box.received()[0].data, "Subject: Started: Weekly planning\r\n")

	h.WaitDepth(t, broker.NotificationsQueue, 0)
}
