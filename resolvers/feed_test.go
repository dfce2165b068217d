package resolvers

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/graph/model"
)

// endRecorder stores the errors that a feed ends with.
type endRecorder struct {
	mu     sync.Mutex
	errors []error
}

func (r *endRecorder) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.errors = append(r.errors, err)
}

func (r *endRecorder) recorded() []error {
	r.mu.Lock()
	defer r.mu.Unlock()

	return r.errors
}

func noStoredEvents(context.Context, int64) ([]*events.TaskEvent, error) {
	return nil, nil
}

// startTaskFeed opens a task stream on hub and a feed of capacity size on it.
func startTaskFeed(t *testing.T, ctx context.Context, hub *events.Hub, taskID uuid.UUID, size int,
) (<-chan *model.TaskEvent, *endRecorder) {
	t.Helper()

	stream, err := hub.OpenTaskStream(ctx, taskID, 0, noStoredEvents)
	require.NoError(t, err)

	ends := &endRecorder{}
	out := startFeed(ctx, size, &taskSource{stream: stream, taskID: taskID}, stream.Notify, ends.record,
		func(value any) { t.Errorf("feed panicked: %v", value) })

	return out, ends
}

// receiveAll reads out until it closes.
func receiveAll[T any](t *testing.T, out <-chan *T) []*T {
	t.Helper()

	var values []*T

	for {
		select {
		case value, ok := <-out:
			if !ok {
				return values
			}

			values = append(values, value)
		case <-time.After(10 * time.Second):
			t.Fatalf("feed still open after %d values", len(values))
		}
	}
}

func TestFeedKeepsOrderWhenChannelFull(t *testing.T) {
	t.Parallel()

	hub := events.NewHub(4)
	taskID, meetingID := uuid.New(), uuid.New()
	out, ends := startTaskFeed(t, context.Background(), hub, taskID, 1)

	publish := func(seq int64, status string) {
		hub.PublishTask(&events.TaskEvent{TaskID: taskID, MeetingID: meetingID, Seq: seq, Status: status})
	}

	// Nothing reads while the events arrive, so the channel fills, the
	// hub's mailbox coalesces progress events, and a goroutine takes over.
	publish(1, "QUEUED")

	for seq := int64(2); seq <= 60; seq++ {
		publish(seq, "RUNNING")
	}

	publish(61, "SUCCEEDED")

	received := receiveAll(t, out)
	require.NotEmpty(t, received)
	require.Less(t, len(received), 61, "received events, with progress events coalesced")
	require.Equal(t, int64(1), received[0].Seq, "first event")
	require.Equal(t, int64(61), received[len(received)-1].Seq, "last event")
	require.True(t, received[len(received)-1].Terminal, "last event is terminal")

	for i := 1; i < len(received); i++ {
		require.Greater(t, received[i].Seq, received[i-1].Seq, "event %d after event %d", i, i-1)
	}

	require.Equal(t, 0, hub.Len(), "open subscriptions after the terminal event")
	require.Equal(t, []error{io.EOF}, ends.recorded())
}

func TestFeedEndsWithContext(t *testing.T) {
	t.Parallel()

	hub := events.NewHub(0)
	ctx, cancel := context.WithCancel(context.Background())
	out, ends := startTaskFeed(t, ctx, hub, uuid.New(), 1)

	cancel()

	require.Empty(t, receiveAll(t, out))
	require.Equal(t, 0, hub.Len(), "open subscriptions after the context ended")
	require.Equal(t, []error{context.Canceled}, ends.recorded())
}

func TestFeedEndsWhenHubCloses(t *testing.T) {
	t.Parallel()

	hub := events.NewHub(0)
	out, ends := startTaskFeed(t, context.Background(), hub, uuid.New(), 1)

	hub.Close()

	require.Empty(t, receiveAll(t, out))
	require.Equal(t, []error{events.ErrHubClosed}, ends.recorded())
}

// panicSource panics on its second value.
type panicSource struct {
	calls  int
	closed bool
}

func (s *panicSource) next(context.Context, bool) (*int, error) {
	s.calls++
	if s.calls == 2 {
		panic("broken source")
	}

	value := s.calls

	return &value, nil
}

func (s *panicSource) sent() {}

func (s *panicSource) close() {
	s.closed = true
}

func TestFeedEndsAfterPanic(t *testing.T) {
	t.Parallel()

	var (
		mu       sync.Mutex
		panicked []any
	)

	source := &panicSource{}
	out := startFeed(context.Background(), 4, source, func(func()) {}, nil, func(value any) {
		mu.Lock()
		defer mu.Unlock()

		panicked = append(panicked, value)
	})

	received := receiveAll(t, out)
	require.Len(t, received, 1)
	require.Equal(t, 1, *received[0])
	require.True(t, source.closed, "source closed")

	mu.Lock()
	defer mu.Unlock()

	require.Equal(t, []any{"broken source"}, panicked)
}
