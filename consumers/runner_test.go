package consumers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func statuses(events []store.TaskEvent) []string {
	result := make([]string, len(events))
	for i, event := range events {
		result[i] = event.Status
	}

	return result
}

func TestNoopTaskEventSequence(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: consumers.Noop}})

	// A queue bound to the events exchange receives the events that gateways would.
	ch, err := h.Supervisor.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q.Name, "task.noop.#", "meetgraph.events", false, nil))

	task := h.Request(t, consumers.KindNoop)
	done := h.WaitStatus(t, task.ID, store.TaskSucceeded)
	require.Equal(t, 1, done.Attempts)

	events, err := h.DB.TaskEventsAfter(context.Background(), task.ID, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"}, statuses(events))
	require.Equal(t, []int64{1, 2, 3, 4}, []int64{events[0].Seq, events[1].Seq, events[2].Seq, events[3].Seq})
	require.InDelta(t, 0.5, events[2].Progress, 1e-9)
	require.Equal(t, "noop", events[2].Stage)

	var keys []string
	testenv.Eventually(t, 10*time.Second, func() error {
		delivery, ok, err := ch.Get(q.Name, true)
		if err != nil {
			return err
		}

		if ok {
			keys = append(keys, delivery.RoutingKey)
		}

		if len(keys) < 4 {
			return errors.New("fewer than 4 events published")
		}

		return nil
	})
	require.Equal(t, []string{"task.noop.queued", "task.noop.running", "task.noop.running", "task.noop.succeeded"}, keys)
}

func TestRetryableFailureDeadLettersThenRetryTask(t *testing.T) {
	t.Parallel()

	var (
		mu       sync.Mutex
		attempts []time.Time
		healthy  atomic.Bool
	)

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()

		if healthy.Load() {
			return nil
		}

		return errors.New("speech service unavailable")
	}}})

	task := h.Request(t, consumers.KindNoop)
	dead := h.WaitStatus(t, task.ID, store.TaskDeadLettered)

	require.Equal(t, len(asynctest.RetryDelays)+1, dead.Attempts)
	require.NotNil(t, dead.LastError)
	require.Contains(t, *dead.LastError, "speech service unavailable")

	mu.Lock()
	require.Len(t, attempts, len(asynctest.RetryDelays)+1)
	for i, delay := range asynctest.RetryDelays {
		require.GreaterOrEqual(t, attempts[i+1].Sub(attempts[i]), delay, "pause before attempt %d", i+2)
	}
	mu.Unlock()

	testenv.Eventually(t, 10*time.Second, func() error {
		if depth := h.QueueDepth(t, "ai.tasks.dlq"); depth != 1 {
			return errors.New("dead-letter queue does not hold exactly one message")
		}

		return nil
	})

	_, err := h.DB.RetryTask(context.Background(), h.Alice, task.ID)
	require.Error(t, err, "retryTask requires the operator permission")

	healthy.Store(true)
	_, err = h.DB.RetryTask(context.Background(), h.Erin, task.ID)
	require.NoError(t, err)
	h.WaitStatus(t, task.ID, store.TaskSucceeded)
}

func TestPermanentFailureDeadLettersFirstAttempt(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)

		return consumers.Permanent(errors.New("corrupt input"))
	}}})

	task := h.Request(t, consumers.KindNoop)
	failed := h.WaitStatus(t, task.ID, store.TaskFailed)

	require.Equal(t, 1, failed.Attempts)
	require.Equal(t, "corrupt input", *failed.LastError)
	testenv.Eventually(t, 10*time.Second, func() error {
		if h.QueueDepth(t, "ai.tasks.dlq") != 1 {
			return errors.New("dead-letter queue does not hold the message")
		}

		return nil
	})
	require.Equal(t, int32(1), calls.Load())
}

func TestKindWithoutHandlerFails(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{})

	task := h.Request(t, "SUMMARY")
	failed := h.WaitStatus(t, task.ID, store.TaskFailed)
	require.Equal(t, "no handler for task kind SUMMARY", *failed.LastError)
}

func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	release := make(chan struct{})
	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)
		<-release

		return nil
	}}})

	task := h.Request(t, consumers.KindNoop)
	h.WaitStatus(t, task.ID, store.TaskRunning)

	// A second copy arrives while the first runs, and a third after it finished.
	copyOf := broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: task.ID.String(),
		Body: []byte(`{"taskId":"` + task.ID.String() + `","meetingId":"` + task.MeetingID.String() + `","kind":"NOOP"}`),
	}
	require.NoError(t, h.Publisher.Publish(context.Background(), copyOf))
	time.Sleep(200 * time.Millisecond)
	close(release)
	h.WaitStatus(t, task.ID, store.TaskSucceeded)
	require.NoError(t, h.Publisher.Publish(context.Background(), copyOf))

	testenv.Eventually(t, 10*time.Second, func() error {
		if h.QueueDepth(t, "ai.tasks") != 0 || h.QueueDepth(t, "ai.tasks.retry.100ms") != 0 {
			return errors.New("copies not consumed yet")
		}

		return nil
	})
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, int32(1), calls.Load())

	done, err := h.DB.TaskByID(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, 1, done.Attempts)
}

func TestCancelRunningTaskCancelsHandler(t *testing.T) {
	t.Parallel()

	var (
		calls atomic.Int32
		cause atomic.Value
	)

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)
		<-ctx.Done()
		cause.Store(context.Cause(ctx))

		return ctx.Err()
	}}})

	task := h.Request(t, consumers.KindNoop)
	h.WaitStatus(t, task.ID, store.TaskRunning)

	cancelled, err := h.DB.CancelTask(context.Background(), h.Alice, task.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskCancelled, cancelled.Status)

	testenv.Eventually(t, 10*time.Second, func() error {
		if cause.Load() == nil {
			return errors.New("handler context not cancelled")
		}

		return nil
	})
	require.ErrorIs(t, cause.Load().(error), consumers.ErrTaskCancelled)

	time.Sleep(500 * time.Millisecond)
	require.Equal(t, int32(1), calls.Load(), "a cancelled task must not be retried")

	final, err := h.DB.TaskByID(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskCancelled, final.Status)
}

func TestShutdownRequeuesInterruptedTask(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		<-ctx.Done()

		return ctx.Err()
	}}})

	task := h.Request(t, consumers.KindNoop)
	h.WaitStatus(t, task.ID, store.TaskRunning)
	h.Stop()

	requeued, err := h.DB.TaskByID(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskQueued, requeued.Status, "an interrupted task goes back to the queue")

	events, err := h.DB.TaskEventsAfter(context.Background(), task.ID, 0)
	require.NoError(t, err)
	require.Equal(t, "requeued", events[len(events)-1].Stage)

	// The dispatcher stopped with the runner, so the task message waits in
	// the outbox for the next relay.
	count, _, err := h.DB.OutboxBacklog(context.Background())
	require.NoError(t, err)
	require.Positive(t, count)
}

func TestRedeliveryTakesOverOnlyExpiredLease(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	// Without a dispatcher or relay the runner sees only the copies this
	// test publishes.
	h := asynctest.Start(t, asynctest.Options{NoDispatcher: true, NoRelay: true,
		Handlers: map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
			calls.Add(1)

			return nil
		}}})

	claim := func(lease time.Duration) *store.Task {
		task := h.Request(t, consumers.KindNoop)
		_, err := h.DB.TransitionTask(context.Background(), task.ID, store.TaskTransition{
			From: []string{store.TaskQueued}, Change: store.TaskChange{Status: store.TaskRunning},
			CountAttempt: true, Lease: lease,
		})
		require.NoError(t, err)

		return task
	}

	redeliver := func(task *store.Task) {
		require.NoError(t, h.Publisher.Publish(context.Background(), broker.Message{
			Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: task.ID.String(),
			Body: []byte(`{"taskId":"` + task.ID.String() + `","meetingId":"` + task.MeetingID.String() + `","kind":"NOOP"}`),
		}))
	}

	// A worker that claimed this task died: its lease has run out.
	orphan := claim(time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	redeliver(orphan)

	done := h.WaitStatus(t, orphan.ID, store.TaskSucceeded)
	require.Equal(t, 2, done.Attempts)
	require.Equal(t, int32(1), calls.Load())

	// A worker holding a live lease is still at it: the copy must wait.
	busy := claim(time.Minute)
	redeliver(busy)
	time.Sleep(time.Second)

	still, err := h.DB.TaskByID(context.Background(), busy.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskRunning, still.Status)
	require.Equal(t, 1, still.Attempts)
	require.Equal(t, int32(1), calls.Load(), "a task under a live lease must not run twice")
}
