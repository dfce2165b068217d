package consumers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/store"
)

var retryDelays = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}

// harness runs a runner, dispatcher and relay on a fresh database and vhost.
type harness struct {
	db         *store.Store
	supervisor *broker.Supervisor
	publisher  *broker.Publisher
	amqpURL    string
	alice      *store.User
	erin       *store.User
	meetingID  uuid.UUID
}

func newHarness(t *testing.T, handlers map[string]consumers.Handler) *harness {
	t.Helper()

	ctx := testenv.Context(t, time.Minute)
	logger := testenv.Logger(t)
	db := store.New(testenv.Pool(t))

	_, err := db.Seed(ctx)
	require.NoError(t, err)

	amqpURL := testenv.VHost(t)
	supervisor, err := broker.Dial(ctx, broker.Config{URL: amqpURL, MaxReconnectDelay: 500 * time.Millisecond}, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = supervisor.Close() })

	settings := broker.TopologySettings{RetryDelays: retryDelays, DeliveryLimit: 3}
	topology := broker.NewTopology(settings)
	require.NoError(t, supervisor.OnConnect(func(conn *amqp.Connection) error { return topology.Declare(conn, logger) }))

	publisher, err := broker.NewPublisher(supervisor, 2*time.Second, logger)
	require.NoError(t, err)

	config := outbox.Config{PollInterval: time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond}
	dispatcher := outbox.NewDispatcher(db, publisher, config, logger)
	relay := outbox.NewRelay(db, publisher, config, logger)
	db.SetOutboxGrace(3 * time.Second)
	db.SetOutboxNotifier(dispatcher.Notify)

	runner := consumers.NewRunner(supervisor, publisher, db, consumers.RunnerConfig{
		Prefetch: 4, Topology: settings, Lease: 3 * time.Second, ShutdownTimeout: 2 * time.Second,
	}, logger)
	for kind, handler := range handlers {
		runner.Register(kind, handler)
	}

	runCtx, cancel := context.WithCancel(context.Background())

	var wg sync.WaitGroup
	wg.Go(func() { _ = dispatcher.Run(runCtx) })
	wg.Go(func() { _ = relay.Run(runCtx) })
	wg.Go(func() { require.NoError(t, runner.Run(runCtx)) })

	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	alice, err := db.UserByID(ctx, store.SeedID("user:alice"))
	require.NoError(t, err)

	erin, err := db.UserByID(ctx, store.SeedID("user:erin"))
	require.NoError(t, err)

	return &harness{
		db: db, supervisor: supervisor, publisher: publisher, amqpURL: amqpURL,
		alice: alice, erin: erin, meetingID: store.SeedID("meeting:planning"),
	}
}

func (h *harness) request(t *testing.T, kind string) *store.Task {
	t.Helper()

	task, err := h.db.RequestAnalysis(testenv.Context(t, 10*time.Second), h.alice, h.meetingID, kind, nil)
	require.NoError(t, err)
	require.Equal(t, store.TaskQueued, task.Status)

	return task
}

// waitStatus waits until the task has status and returns it.
func (h *harness) waitStatus(t *testing.T, id uuid.UUID, status string) *store.Task {
	t.Helper()

	var task *store.Task

	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		if task, err = h.db.TaskByID(context.Background(), id); err != nil {
			return err
		}

		if task.Status != status {
			return errors.New("task is " + task.Status + ", want " + status)
		}

		return nil
	})

	return task
}

func (h *harness) queueDepth(t *testing.T, queue string) int {
	t.Helper()

	ch, err := h.supervisor.Channel()
	require.NoError(t, err)
	defer ch.Close()

	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)

	return q.Messages
}

func statuses(events []store.TaskEvent) []string {
	result := make([]string, len(events))
	for i, event := range events {
		result[i] = event.Status
	}

	return result
}

func TestNoopTaskEventSequence(t *testing.T) {
	t.Parallel()

	h := newHarness(t, map[string]consumers.Handler{consumers.KindNoop: consumers.Noop})

	// A queue bound to the events exchange sees what subscribers would.
	ch, err := h.supervisor.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q.Name, "task.noop.#", "meetgraph.events", false, nil))

	task := h.request(t, consumers.KindNoop)
	done := h.waitStatus(t, task.ID, store.TaskSucceeded)
	require.Equal(t, 1, done.Attempts)

	events, err := h.db.TaskEventsAfter(context.Background(), task.ID, 0)
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

	h := newHarness(t, map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()

		if healthy.Load() {
			return nil
		}

		return errors.New("speech service unavailable")
	}})

	task := h.request(t, consumers.KindNoop)
	dead := h.waitStatus(t, task.ID, store.TaskDeadLettered)

	require.Equal(t, len(retryDelays)+1, dead.Attempts)
	require.NotNil(t, dead.LastError)
	require.Contains(t, *dead.LastError, "speech service unavailable")

	mu.Lock()
	require.Len(t, attempts, len(retryDelays)+1)
	for i, delay := range retryDelays {
		require.GreaterOrEqual(t, attempts[i+1].Sub(attempts[i]), delay, "pause before attempt %d", i+2)
	}
	mu.Unlock()

	testenv.Eventually(t, 10*time.Second, func() error {
		if depth := h.queueDepth(t, "ai.tasks.dlq"); depth != 1 {
			return errors.New("dead-letter queue does not hold exactly one message")
		}

		return nil
	})

	_, err := h.db.RetryTask(context.Background(), h.alice, task.ID)
	require.Error(t, err, "retryTask requires the operator permission")

	healthy.Store(true)
	_, err = h.db.RetryTask(context.Background(), h.erin, task.ID)
	require.NoError(t, err)
	h.waitStatus(t, task.ID, store.TaskSucceeded)
}

func TestPermanentFailureDeadLettersFirstAttempt(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	h := newHarness(t, map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)

		return consumers.Permanent(errors.New("corrupt input"))
	}})

	task := h.request(t, consumers.KindNoop)
	failed := h.waitStatus(t, task.ID, store.TaskFailed)

	require.Equal(t, 1, failed.Attempts)
	require.Equal(t, "corrupt input", *failed.LastError)
	testenv.Eventually(t, 10*time.Second, func() error {
		if h.queueDepth(t, "ai.tasks.dlq") != 1 {
			return errors.New("dead-letter queue does not hold the message")
		}

		return nil
	})
	require.Equal(t, int32(1), calls.Load())
}

func TestKindWithoutHandlerFails(t *testing.T) {
	t.Parallel()

	h := newHarness(t, nil)

	task := h.request(t, "SUMMARY")
	failed := h.waitStatus(t, task.ID, store.TaskFailed)
	require.Equal(t, "no handler for task kind SUMMARY", *failed.LastError)
}

func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32

	release := make(chan struct{})
	h := newHarness(t, map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)
		<-release

		return nil
	}})

	task := h.request(t, consumers.KindNoop)
	h.waitStatus(t, task.ID, store.TaskRunning)

	// A second copy arrives while the first runs, and a third after it finished.
	copyOf := broker.Message{
		Exchange: broker.TasksExchange, RoutingKey: broker.QueueAI, MessageID: task.ID.String(),
		Body: []byte(`{"taskId":"` + task.ID.String() + `","meetingId":"` + task.MeetingID.String() + `","kind":"NOOP"}`),
	}
	require.NoError(t, h.publisher.Publish(context.Background(), copyOf))
	time.Sleep(200 * time.Millisecond)
	close(release)
	h.waitStatus(t, task.ID, store.TaskSucceeded)
	require.NoError(t, h.publisher.Publish(context.Background(), copyOf))

	testenv.Eventually(t, 10*time.Second, func() error {
		if h.queueDepth(t, "ai.tasks") != 0 || h.queueDepth(t, "ai.tasks.retry.100ms") != 0 {
			return errors.New("copies not consumed yet")
		}

		return nil
	})
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, int32(1), calls.Load())

	done, err := h.db.TaskByID(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, 1, done.Attempts)
}

func TestCancelRunningTaskCancelsHandler(t *testing.T) {
	t.Parallel()

	var (
		calls atomic.Int32
		cause atomic.Value
	)

	h := newHarness(t, map[string]consumers.Handler{consumers.KindNoop: func(ctx context.Context, job consumers.Job) error {
		calls.Add(1)
		<-ctx.Done()
		cause.Store(context.Cause(ctx))

		return ctx.Err()
	}})

	task := h.request(t, consumers.KindNoop)
	h.waitStatus(t, task.ID, store.TaskRunning)

	cancelled, err := h.db.CancelTask(context.Background(), h.alice, task.ID)
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

	final, err := h.db.TaskByID(context.Background(), task.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskCancelled, final.Status)
}
