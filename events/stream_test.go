package events

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// storedTask is an in-memory event history standing in for task_events.
type storedTask struct {
	mu     sync.Mutex
	events []*TaskEvent
}

func (s *storedTask) add(event *TaskEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.events = append(s.events, event)
}

func (s *storedTask) after(_ context.Context, afterSeq int64) ([]*TaskEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	var out []*TaskEvent

	for _, e := range s.events {
		if e.Seq > afterSeq {
			out = append(out, e)
		}
	}

	return out, nil
}

func nextSeqs(t *testing.T, stream *TaskStream, n int) []int64 {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var seqs []int64

	for range n {
		event, err := stream.Next(ctx)
		require.NoError(t, err)

		seqs = append(seqs, event.Seq)
	}

	return seqs
}

// openEmptyStream opens a stream on a task without stored events.
func openEmptyStream(t *testing.T) (*Hub, uuid.UUID, uuid.UUID, *storedTask, *TaskStream) {
	t.Helper()

	hub := NewHub(0)
	taskID, meetingID := uuid.New(), uuid.New()
	store := &storedTask{}

	stream, err := hub.OpenTaskStream(context.Background(), taskID, 0, store.after)
	require.NoError(t, err)
	t.Cleanup(stream.Close)

	return hub, taskID, meetingID, store, stream
}

func TestTaskStreamReplaysThenStreamsWithoutDuplicates(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	taskID, meetingID := uuid.New(), uuid.New()
	store := &storedTask{}

	for seq, status := range []string{"QUEUED", "RUNNING"} {
		store.add(taskEvent(taskID, meetingID, int64(seq+1), status, 0))
	}

	// Event 3 is committed and published while the replay runs: the stream
	// gets it from both sides and must return it once.
	replay := func(ctx context.Context, afterSeq int64) ([]*TaskEvent, error) {
		third := taskEvent(taskID, meetingID, 3, "RUNNING", 0.5)
		store.add(third)
		hub.PublishTask(third)

		return store.after(ctx, afterSeq)
	}

	stream, err := hub.OpenTaskStream(context.Background(), taskID, 1, replay)
	require.NoError(t, err)
	t.Cleanup(stream.Close)

	stream.replay = store.after

	require.Equal(t, []int64{2, 3}, nextSeqs(t, stream, 2))

	hub.PublishTask(taskEvent(taskID, meetingID, 3, "RUNNING", 0.5))
	hub.PublishTask(taskEvent(taskID, meetingID, 4, "SUCCEEDED", 1))

	require.Equal(t, []int64{4}, nextSeqs(t, stream, 1))

	_, err = stream.Next(context.Background())
	require.ErrorIs(t, err, io.EOF)
}

func TestTaskStreamFillsLiveGapFromStore(t *testing.T) {
	t.Parallel()

	hub, taskID, meetingID, store, stream := openEmptyStream(t)

	first := taskEvent(taskID, meetingID, 1, "QUEUED", 0)
	store.add(first)
	hub.PublishTask(first)

	require.Equal(t, []int64{1}, nextSeqs(t, stream, 1))

	// Event 2 never arrives live, as if it was published while no queue
	// was bound.
	store.add(taskEvent(taskID, meetingID, 2, "RUNNING", 0))

	third := taskEvent(taskID, meetingID, 3, "RUNNING", 0.5)
	store.add(third)
	hub.PublishTask(third)

	require.Equal(t, []int64{2, 3}, nextSeqs(t, stream, 2))
}

func TestTaskStreamRefillsAfterResync(t *testing.T) {
	t.Parallel()

	hub, taskID, meetingID, store, stream := openEmptyStream(t)

	store.add(taskEvent(taskID, meetingID, 1, "QUEUED", 0))
	store.add(taskEvent(taskID, meetingID, 2, "FAILED", 0))
	hub.Resync()

	require.Equal(t, []int64{1, 2}, nextSeqs(t, stream, 2))

	_, err := stream.Next(context.Background())
	require.ErrorIs(t, err, io.EOF)
}

func TestTaskStreamEndsWhenHubCloses(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	store := &storedTask{}

	stream, err := hub.OpenTaskStream(context.Background(), uuid.New(), 0, store.after)
	require.NoError(t, err)
	t.Cleanup(stream.Close)

	hub.Close()

	_, err = stream.Next(context.Background())
	require.ErrorIs(t, err, ErrHubClosed)

	stream.Close()
	require.Equal(t, 0, hub.Len())
}

func TestTaskStreamPollDefersStoreRead(t *testing.T) {
	t.Parallel()

	hub, taskID, meetingID, store, stream := openEmptyStream(t)

	// Event 1 never arrives live, so event 2 leaves a gap.
	store.add(taskEvent(taskID, meetingID, 1, "QUEUED", 0))

	second := taskEvent(taskID, meetingID, 2, "RUNNING", 0)
	store.add(second)
	hub.PublishTask(second)

	event, err := stream.Poll(context.Background(), false)
	require.ErrorIs(t, err, ErrStoreReadNeeded)
	require.Nil(t, event)

	event, err = stream.Poll(context.Background(), true)
	require.NoError(t, err)
	require.Equal(t, int64(1), event.Seq)

	event, err = stream.Poll(context.Background(), false)
	require.NoError(t, err)
	require.Equal(t, int64(2), event.Seq)

	event, err = stream.Poll(context.Background(), false)
	require.NoError(t, err)
	require.Nil(t, event, "event after the pending ones")
}
