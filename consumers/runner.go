package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/store"
)

// Causes of a cancelled handler context.
var (
	// ErrTaskCancelled is the cause when a user cancelled the task.
	ErrTaskCancelled = errors.New("task cancelled")
	// ErrShutdown is the cause when the worker stops before the handler finished.
	ErrShutdown = errors.New("worker shutting down")
)

// RunnerConfig sets how the runner consumes.
type RunnerConfig struct {
	// Prefetch bounds the unacknowledged deliveries per work queue, and so
	// the tasks run at once; 0 means 8.
	Prefetch int
	// Topology supplies the retry delays (a task gets one attempt more
	// than there are delays).
	Topology broker.TopologySettings
	// Lease is how long a RUNNING task stays claimed without a heartbeat;
	// the runner extends it every Lease/3. 0 means 30 s.
	Lease time.Duration
	// ShutdownTimeout is how long in-flight tasks may run after shutdown
	// starts before their contexts are cancelled; 0 means 30 s.
	ShutdownTimeout time.Duration
	// Metrics, when set, counts task outcomes, retries and dead letters.
	Metrics *metrics.Metrics
}

// Runner consumes the work queues and runs each task's handler, with the
// retry and dead-letter policy around it.
type Runner struct {
	supervisor *broker.Supervisor
	publisher  *broker.Publisher
	store      *store.Store
	config     RunnerConfig
	logger     *slog.Logger
	handlers   map[string]Handler

	mu       sync.Mutex
	stopping bool
	// running maps the tasks this process runs to their handler's cancel.
	running   map[uuid.UUID]context.CancelCauseFunc
	consumers []consumer
	inFlight  sync.WaitGroup
	// handlerCtx parents every handler context; it ends when the shutdown
	// timeout has passed.
	handlerCtx context.Context
}

type consumer struct {
	channel *amqp.Channel
	tag     string
}

// NewRunner returns a runner; register handlers, then call Run.
func NewRunner(supervisor *broker.Supervisor, publisher *broker.Publisher, db *store.Store,
	config RunnerConfig, logger *slog.Logger,
) *Runner {
	if config.Prefetch == 0 {
		config.Prefetch = 8
	}

	if config.Lease == 0 {
		config.Lease = 30 * time.Second
	}

	if config.ShutdownTimeout == 0 {
		config.ShutdownTimeout = 30 * time.Second
	}

	return &Runner{
		supervisor: supervisor, publisher: publisher, store: db, config: config,
		logger:   logger.With(slog.String("component", "runner")),
		handlers: make(map[string]Handler),
		running:  make(map[uuid.UUID]context.CancelCauseFunc),
	}
}

// Register makes handler run the tasks of kind (a TaskKind name such as
// NOOP). Tasks of a kind without a handler fail permanently. Register
// before Run.
func (r *Runner) Register(kind string, handler Handler) {
	r.handlers[kind] = handler
}

// Run consumes until ctx is cancelled, then stops taking deliveries, lets
// in-flight tasks finish for the shutdown timeout, cancels the rest (their
// tasks go back to the queue) and returns.
func (r *Runner) Run(ctx context.Context) error {
	handlerCtx, cancelHandlers := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelHandlers(ErrShutdown)

	r.mu.Lock()
	r.handlerCtx = handlerCtx
	r.mu.Unlock()

	// Cancellations and leases matter until the last in-flight task ends,
	// so these run past ctx until drain returns.
	backgroundCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))

	var background sync.WaitGroup

	background.Go(func() { r.watchCancellations(backgroundCtx) })
	background.Go(func() { r.heartbeat(backgroundCtx) })

	err := r.supervisor.OnConnect(r.consume)
	if err == nil {
		r.logger.Info("runner started", slog.Int("prefetch", r.config.Prefetch),
			slog.Any("retry_delays", r.config.Topology.RetryDelays))

		<-ctx.Done()
	}

	r.drain(cancelHandlers)
	stopBackground()
	background.Wait()

	return err
}

// drain stops consuming and waits for in-flight deliveries.
func (r *Runner) drain(cancelHandlers context.CancelCauseFunc) {
	r.mu.Lock()
	r.stopping = true
	consumers := r.consumers
	r.consumers = nil
	inFlight := len(r.running)
	r.mu.Unlock()

	r.logger.Info("runner draining", slog.Int("in_flight", inFlight), slog.Duration("timeout", r.config.ShutdownTimeout))

	for _, c := range consumers {
		if err := c.channel.Cancel(c.tag, false); err != nil {
			r.logger.Debug("cancelling consumer failed; its channel is closed already", slog.String("consumer", c.tag), slog.Any("error", err))
		}
	}

	done := make(chan struct{})
	go func() {
		r.inFlight.Wait()
		close(done)
	}()

	select {
	case <-done:
	case <-time.After(r.config.ShutdownTimeout):
		r.logger.Warn("in-flight tasks did not finish in time; cancelling them and returning them to the queue")
		cancelHandlers(ErrShutdown)
		<-done
	}

	r.logger.Info("runner stopped")
}

// consume opens a channel on conn and consumes every work queue on it. It
// runs on the first connection and on each reconnection.
func (r *Runner) consume(conn *amqp.Connection) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	if r.stopping {
		return nil
	}

	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open consumer channel: %w", err)
	}

	if err := ch.Qos(r.config.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch %d: %w", r.config.Prefetch, err)
	}

	hostname, _ := os.Hostname()

	for _, kind := range broker.QueueKinds {
		queue := broker.WorkQueue(kind)
		tag := fmt.Sprintf("meetgraph-worker-%s-%d-%s-%s", hostname, os.Getpid(), queue, uuid.NewString()[:8])

		deliveries, err := ch.Consume(queue, tag, false, false, false, false, nil)
		if err != nil {
			return fmt.Errorf("consume %s: %w", queue, err)
		}

		r.consumers = append(r.consumers, consumer{channel: ch, tag: tag})
		r.logger.Info("consuming", slog.String("queue", queue), slog.String("consumer", tag))

		r.inFlight.Go(func() {
			for delivery := range deliveries {
				r.inFlight.Go(func() { r.deliver(delivery) })
			}

			r.logger.Info("consumer stopped", slog.String("queue", queue), slog.String("consumer", tag))
		})
	}

	return nil
}

// watchCancellations cancels the handler of each task announced on
// store.TaskCancelChannel. The heartbeat catches what it misses while
// reconnecting.
func (r *Runner) watchCancellations(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.store.Listen(ctx, store.TaskCancelChannel, nil, func(payload string) {
			if id, err := uuid.Parse(payload); err == nil {
				r.cancelRun(id, ErrTaskCancelled)
			}
		})
		if ctx.Err() != nil {
			return
		}

		r.logger.Warn("listening for task cancellations failed; retrying in 1s", slog.Any("error", err))

		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (r *Runner) cancelRun(id uuid.UUID, cause error) {
	r.mu.Lock()
	cancel := r.running[id]
	r.mu.Unlock()

	if cancel != nil {
		r.logger.Info("cancelling running task", slog.String("task_id", id.String()), slog.Any("cause", cause))
		cancel(cause)
	}
}

// heartbeat extends the leases of running tasks every Lease/3 and cancels
// those that are no longer RUNNING in the database.
func (r *Runner) heartbeat(ctx context.Context) {
	ticker := time.NewTicker(r.config.Lease / 3)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}

		r.mu.Lock()
		ids := make([]uuid.UUID, 0, len(r.running))
		for id := range r.running {
			ids = append(ids, id)
		}
		r.mu.Unlock()

		if len(ids) == 0 {
			continue
		}

		stopped, err := r.store.ExtendLeases(ctx, ids, r.config.Lease)
		if err != nil {
			r.logger.Warn("extending task leases failed", slog.Int("tasks", len(ids)), slog.Any("error", err))

			continue
		}

		for _, id := range stopped {
			r.cancelRun(id, ErrTaskCancelled)
		}
	}
}

// AttemptOf reads the attempt header; a message without one is attempt 1.
func AttemptOf(delivery amqp.Delivery) int {
	switch value := delivery.Headers[broker.HeaderAttempt].(type) {
	case int32:
		return max(int(value), 1)
	case int64:
		return max(int(value), 1)
	case float64:
		return max(int(value), 1)
	default:
		return 1
	}
}

// DecodeTask decodes a task message body.
func DecodeTask(body []byte) (store.TaskMessage, error) {
	var message store.TaskMessage
	if err := json.Unmarshal(body, &message); err != nil {
		return message, fmt.Errorf("decode task message: %w", err)
	}

	if message.TaskID == uuid.Nil {
		return message, errors.New("decode task message: taskId is missing")
	}

	return message, nil
}
