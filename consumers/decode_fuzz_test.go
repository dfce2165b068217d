package consumers_test

import (
	"testing"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
)

// FuzzDecodeDelivery feeds random bodies and attempt headers of every type
// AMQP carries to what the runner reads from a delivery. A body that does
// not decode must be an error, which the runner turns into a rejection to
// the dead-letter queue, and nothing may panic.
// Run with: go test -fuzz FuzzDecodeDelivery ./consumers/
func FuzzDecodeDelivery(f *testing.F) {
	f.Add([]byte(`{"taskId":"6f1c2a9e-3d4b-4c5a-9e8f-7a6b5c4d3e2f","meetingId":"6f1c2a9e-3d4b-4c5a-9e8f-7a6b5c4d3e2f","kind":"NOOP"}`),
		uint8(0), int64(2), 2.0, "2")
	f.Add([]byte(`{"taskId":"not-a-uuid"}`), uint8(1), int64(-5), -1.5, "")
	f.Add([]byte(`{"taskId":null,"recordingId":7}`), uint8(2), int64(1<<40), 1e300, "x")
	f.Add([]byte(`[]`), uint8(3), int64(0), 0.0, "attempt")
	f.Add([]byte{0xff, 0xfe}, uint8(4), int64(3), 3.0, "3")

	f.Fuzz(func(t *testing.T, body []byte, headerType uint8, asInt int64, asFloat float64, asString string) {
		headers := amqp.Table{}

		switch headerType % 5 {
		case 0:
			headers[broker.HeaderAttempt] = int32(asInt)
		case 1:
			headers[broker.HeaderAttempt] = asInt
		case 2:
			headers[broker.HeaderAttempt] = asFloat
		case 3:
			headers[broker.HeaderAttempt] = asString
		}

		if attempt := consumers.AttemptOf(amqp.Delivery{Headers: headers}); attempt < 1 {
			t.Fatalf("attempt %d from header %#v; want at least 1", attempt, headers[broker.HeaderAttempt])
		}

		message, err := consumers.DecodeTask(body)
		if err == nil && message.TaskID == uuid.Nil {
			t.Fatalf("body %q decoded without a task id", body)
		}
	})
}
