// Package asynctest runs the async path (topology, publisher, outbox
// dispatcher and relay, task runner) on a test's own database and RabbitMQ
// vhost, for the tests of the packages that make it up.
package asynctest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/outbox"
	"github.com/meetgraph/meetgraph/store"
)

// RetryDelays are the short retry delays that tests run with.
var RetryDelays = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}

// Options choose which parts run.
type Options struct {
	// Handlers are registered on the runner; nil with NoRunner set runs no runner.
	Handlers map[string]consumers.Handler
	NoRunner bool
	// NoDispatcher leaves committed messages to the relay, as when the
	// process died between commit and publish.
	NoDispatcher bool
	NoRelay      bool
	// AMQPURL replaces the fresh vhost's URL (for a proxy in front of it);
	// VHostURL is still created and returned in Harness.VHostURL.
	AMQPURL func(vhostURL string) string
}

// Harness is a running async path with seeded data.
type Harness struct {
	DB         *store.Store
	Supervisor *broker.Supervisor
	Publisher  *broker.Publisher
	Dispatcher *outbox.Dispatcher
	Relay      *outbox.Relay
	VHostURL   string
	// Alice may create meetings and hosts MeetingID; Erin is an operator.
	Alice, Erin *store.User
	MeetingID   uuid.UUID
	// Stop stops every running part and waits for them. It also runs at
	// the end of the test, and only the first call has an effect.
	Stop func()
}

// Start runs the parts that options select and stops them when the test ends.
func Start(t *testing.T, options Options) *Harness {
	t.Helper()

	ctx := testenv.Context(t, time.Minute)
	logger := testenv.Logger(t)
	h := &Harness{DB: store.New(testenv.Pool(t)), VHostURL: testenv.VHost(t), MeetingID: store.SeedID("meeting:planning")}

	if _, err := h.DB.Seed(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	amqpURL := h.VHostURL
	if options.AMQPURL != nil {
		amqpURL = options.AMQPURL(h.VHostURL)
	}

	var err error

	h.Supervisor, err = broker.Dial(ctx, broker.Config{URL: amqpURL, MaxReconnectDelay: 500 * time.Millisecond}, logger)
	if err != nil {
		t.Fatalf("dial broker: %v", err)
	}

	t.Cleanup(func() { _ = h.Supervisor.Close() })

	settings := broker.TopologySettings{RetryDelays: RetryDelays, DeliveryLimit: 3}
	topology := broker.NewTopology(settings)

	if err := h.Supervisor.OnConnect(func(conn *amqp.Connection) error { return topology.Declare(conn, logger) }); err != nil {
		t.Fatalf("declare topology: %v", err)
	}

	if h.Publisher, err = broker.NewPublisher(h.Supervisor, 2*time.Second, logger); err != nil {
		t.Fatalf("create publisher: %v", err)
	}

	config := outbox.Config{
		PollInterval: time.Second, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		MaxQueueAge: time.Second,
	}
	h.Dispatcher = outbox.NewDispatcher(h.DB, h.Publisher, config, logger)
	h.Relay = outbox.NewRelay(h.DB, h.Publisher, config, logger)
	h.DB.SetOutboxGrace(3 * time.Second)

	runCtx, cancel := context.WithCancel(context.Background())

	var wg sync.WaitGroup

	if !options.NoDispatcher {
		h.DB.SetOutboxNotifier(h.Dispatcher.Notify)
		wg.Go(func() { _ = h.Dispatcher.Run(runCtx) })
	}

	if !options.NoRelay {
		wg.Go(func() { _ = h.Relay.Run(runCtx) })
	}

	if !options.NoRunner {
		runner := consumers.NewRunner(h.Supervisor, h.Publisher, h.DB, consumers.RunnerConfig{
			Prefetch: 4, Topology: settings, Lease: 3 * time.Second, ShutdownTimeout: 2 * time.Second,
		}, logger)
		for kind, handler := range options.Handlers {
			runner.Register(kind, handler)
		}

		wg.Go(func() {
			if err := runner.Run(runCtx); err != nil {
				t.Errorf("runner: %v", err)
			}
		})
	}

	h.Stop = sync.OnceFunc(func() {
		cancel()
		wg.Wait()
	})
	t.Cleanup(h.Stop)

	if h.Alice, err = h.DB.UserByID(ctx, store.SeedID("user:alice")); err != nil {
		t.Fatalf("load alice: %v", err)
	}

	if h.Erin, err = h.DB.UserByID(ctx, store.SeedID("user:erin")); err != nil {
		t.Fatalf("load erin: %v", err)
	}

	return h
}

// Request queues a task of kind on MeetingID as Alice.
func (h *Harness) Request(t *testing.T, kind string) *store.Task {
	t.Helper()

	task, err := h.DB.RequestAnalysis(testenv.Context(t, 10*time.Second), h.Alice.ID, h.MeetingID, kind, nil)
	if err != nil {
		t.Fatalf("request %s task: %v", kind, err)
	}

	return task
}

// WaitStatus waits until the task has status and returns it.
func (h *Harness) WaitStatus(t *testing.T, id uuid.UUID, status string) *store.Task {
	t.Helper()

	var task *store.Task

	testenv.Eventually(t, 20*time.Second, func() error {
		var err error
		if task, err = h.DB.TaskByID(context.Background(), id); err != nil {
			return err
		}

		if task.Status != status {
			return errors.New("task is " + task.Status + ", want " + status)
		}

		return nil
	})

	return task
}

// QueueDepth returns the number of ready messages in queue.
func (h *Harness) QueueDepth(t *testing.T, queue string) int {
	t.Helper()

	depth, err := h.queueDepth(queue)
	if err != nil {
		t.Fatal(err)
	}

	return depth
}

func (h *Harness) queueDepth(queue string) (int, error) {
	ch, err := h.Supervisor.Channel()
	if err != nil {
		return 0, fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()

	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return 0, fmt.Errorf("inspect queue %s: %w", queue, err)
	}

	return q.Messages, nil
}

// WaitDepth waits until queue holds exactly depth ready messages.
func (h *Harness) WaitDepth(t *testing.T, queue string, depth int) {
	t.Helper()

	testenv.Eventually(t, 20*time.Second, func() error {
		got, err := h.queueDepth(queue)
		if err != nil {
			return err
		}

		if got != depth {
			return fmt.Errorf("queue %s holds %d messages, want %d", queue, got, depth)
		}

		return nil
	})
}

// Measure runs call b.N times from workers goroutines, with i from 0 to
// b.N-1, and reports the throughput as unit and the p50 and p99 latency.
func Measure(b *testing.B, workers int, unit string, call func(i int) error) {
	b.Helper()

	latencies := make([]time.Duration, b.N)
	next := make(chan int, b.N)

	for i := range b.N {
		next <- i
	}

	close(next)
	b.ResetTimer()

	start := time.Now()

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				began := time.Now()
				if err := call(i); err != nil {
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
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	b.ReportMetric(float64(latencies[b.N/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(latencies[b.N*99/100].Microseconds())/1000, "p99_ms")
}
