package events

import (
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func taskEvent(taskID, meetingID uuid.UUID, seq int64, status string, progress float64) *TaskEvent {
	return &TaskEvent{TaskID: taskID, MeetingID: meetingID, Seq: seq, Status: status, Progress: progress}
}

func takeAll(t *testing.T, s *Subscription) []Message {
	t.Helper()

	messages, err := s.Take()
	require.NoError(t, err)

	return messages
}

func TestHubDeliversByTopic(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	taskID, meetingID, otherTask := uuid.New(), uuid.New(), uuid.New()

	byTask := hub.SubscribeTask(taskID)
	byMeeting := hub.SubscribeMeetingTasks(meetingID)
	meetingOnly := hub.SubscribeMeetingEvents(meetingID)
	unrelated := hub.SubscribeTask(otherTask)

	hub.PublishTask(taskEvent(taskID, meetingID, 1, "QUEUED", 0))
	hub.PublishMeeting(&MeetingEvent{MeetingID: meetingID, Type: "started"})

	require.Len(t, takeAll(t, byTask), 1)
	require.Len(t, takeAll(t, byMeeting), 1)
	require.Len(t, takeAll(t, meetingOnly), 1)
	require.Empty(t, takeAll(t, unrelated))
	require.Equal(t, 4, hub.Len())

	for _, s := range []*Subscription{byTask, byMeeting, meetingOnly, unrelated, byTask} {
		s.Close()
	}

	require.Equal(t, 0, hub.Len())
	require.Empty(t, hub.subscriptions, "empty topics must be removed")
}

func TestHubCoalescesOnlyProgress(t *testing.T) {
	t.Parallel()

	hub := NewHub(2)
	taskID, meetingID := uuid.New(), uuid.New()
	s := hub.SubscribeTask(taskID)

	hub.PublishTask(taskEvent(taskID, meetingID, 1, "QUEUED", 0))
	hub.PublishTask(taskEvent(taskID, meetingID, 2, "RUNNING", 0))

	for seq := int64(3); seq <= 10; seq++ {
		hub.PublishTask(taskEvent(taskID, meetingID, seq, "RUNNING", float64(seq)/10))
	}

	hub.PublishTask(taskEvent(taskID, meetingID, 11, "SUCCEEDED", 1))

	messages := takeAll(t, s)

	var seqs []int64
	for _, m := range messages {
		seqs = append(seqs, m.Task.Seq)
	}

	// The buffer of 2 holds QUEUED and RUNNING; every later progress event
	// replaces the previous one, and the terminal event is kept.
	require.Equal(t, []int64{1, 2, 10, 11}, seqs)
	require.True(t, messages[2].Coalesced)
	require.False(t, messages[3].Coalesced)
}

func TestHubCloseEndsSubscriptions(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	taskID := uuid.New()
	s := hub.SubscribeTask(taskID)

	hub.PublishTask(taskEvent(taskID, uuid.New(), 1, "QUEUED", 0))
	hub.Close()

	select {
	case <-s.Wait():
	default:
		t.Fatal("a closed subscription must be woken")
	}

	require.Len(t, takeAll(t, s), 1, "pending messages are still handed out")

	_, err := s.Take()
	require.ErrorIs(t, err, ErrHubClosed)

	late := hub.SubscribeTask(taskID)
	_, err = late.Take()
	require.ErrorIs(t, err, ErrHubClosed)
}

func TestHubResyncReachesEverySubscription(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	a := hub.SubscribeTask(uuid.New())
	b := hub.SubscribeMeetingEvents(uuid.New())

	hub.Resync()

	require.True(t, takeAll(t, a)[0].Resync)
	require.True(t, takeAll(t, b)[0].Resync)
}

func TestSubscriptionNotifyOnDeliveryAndClose(t *testing.T) {
	t.Parallel()

	hub := NewHub(0)
	taskID, meetingID := uuid.New(), uuid.New()
	subscription := hub.SubscribeTask(taskID)

	var calls atomic.Int32

	subscription.Notify(func() { calls.Add(1) })

	hub.PublishTask(taskEvent(taskID, meetingID, 1, "QUEUED", 0))
	require.Equal(t, int32(1), calls.Load(), "calls after one delivery")

	hub.PublishTask(taskEvent(uuid.New(), meetingID, 1, "QUEUED", 0))
	require.Equal(t, int32(1), calls.Load(), "calls after another task's event")

	hub.Close()
	require.Equal(t, int32(2), calls.Load(), "calls after the hub closed")

	subscription.Close()
	hub.PublishTask(taskEvent(taskID, meetingID, 2, "RUNNING", 0))
	require.Equal(t, int32(2), calls.Load(), "calls after the subscription closed")
}
