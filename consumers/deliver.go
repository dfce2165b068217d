package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/store"
	"github.com/meetgraph/meetgraph/tracing"
)

// storeRetryPause is how long a delivery waits before it goes back to the
// queue when the database could not be reached, so that an outage does not
// spin through the delivery limit.
const storeRetryPause = time.Second

// deliver runs one delivery to its end: ack, or nack back to the queue.
func (r *Runner) deliver(delivery amqp.Delivery) {
	defer func() {
		if recovered := recover(); recovered != nil {
			r.logger.Error("delivery handling panicked; returning the message to the queue",
				slog.String("message_id", delivery.MessageId), slog.Any("panic", recovered))
			_ = delivery.Nack(false, true)
		}
	}()

	ctx := context.WithoutCancel(r.handlerCtx)

	message, err := DecodeTask(delivery.Body)
	if err != nil {
		// Rejected without requeue, the broker dead-letters it to the DLQ
		// where an operator can read it.
		r.logger.Error("rejecting malformed task message", slog.String("message_id", delivery.MessageId), slog.Any("error", err))
		r.settle(delivery, delivery.Reject(false))

		return
	}

	attempt := AttemptOf(delivery)

	// The message carries the trace of the change that queued the task;
	// the events this delivery records continue it.
	ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, delivery.Headers), "process task "+message.Kind,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("task.id", message.TaskID.String()), attribute.Int("task.attempt", attempt)))
	defer span.End()

	logger := r.logger.With(slog.String("task_id", message.TaskID.String()), slog.String("kind", message.Kind),
		slog.Int("attempt", attempt))

	task, err := r.claim(ctx, message.TaskID, attempt)

	switch {
	case errors.Is(err, store.ErrNotFound):
		logger.Warn("dropping message of a task that does not exist")
		r.settle(delivery, delivery.Ack(false))
	case errors.Is(err, store.ErrTaskNotInState) && task != nil && task.Status == store.TaskRunning:
		r.deferDuplicate(ctx, logger, delivery, task)
	case errors.Is(err, store.ErrTaskNotInState):
		// The compare-and-set on the task row makes a redelivered or
		// duplicated message harmless. An ack alone cannot stop a second
		// copy, which comes from the relay racing the immediate publish or
		// from a delivery requeued when a connection dropped after the work.
		logger.Info("duplicate delivery acknowledged without running", slog.String("status", statusOf(task)))
		r.settle(delivery, delivery.Ack(false))
	case err != nil:
		logger.Error("claiming task failed; returning the message to the queue", slog.Any("error", err))
		time.Sleep(storeRetryPause)
		r.settle(delivery, delivery.Nack(false, true))
	default:
		r.run(ctx, logger, delivery, task, message, attempt)
	}
}

func statusOf(task *store.Task) string {
	if task == nil {
		return ""
	}

	return task.Status
}

// claim moves the task QUEUED → RUNNING, or takes over a RUNNING task whose
// worker's lease expired. It returns ErrTaskNotInState with the task when
// neither applies.
func (r *Runner) claim(ctx context.Context, taskID uuid.UUID, attempt int) (*store.Task, error) {
	change := store.TaskChange{Status: store.TaskRunning, Stage: "started", Message: fmt.Sprintf("attempt %d", attempt)}

	task, err := r.store.TransitionTask(ctx, taskID, store.TaskTransition{
		From: []string{store.TaskQueued}, Change: change, CountAttempt: true, Lease: r.config.Lease,
	})
	if !errors.Is(err, store.ErrTaskNotInState) || task.Status != store.TaskRunning {
		return task, err
	}

	r.mu.Lock()
	_, runningHere := r.running[taskID]
	r.mu.Unlock()

	if runningHere {
		return task, err
	}

	change.Message = fmt.Sprintf("attempt %d, taken over from a worker that stopped", attempt)

	return r.store.TransitionTask(ctx, taskID, store.TaskTransition{
		From: []string{store.TaskRunning}, RequireExpiredLease: true,
		Change: change, CountAttempt: true, Lease: r.config.Lease,
	})
}

// deferDuplicate handles a message whose task another worker is running
// under a live lease, which happens when that worker's connection dropped
// and the broker redelivered. Running it would do the work twice. Dropping
// it would lose the task if that worker then died. So the message waits in
// the first retry queue and is checked again.
func (r *Runner) deferDuplicate(ctx context.Context, logger *slog.Logger, delivery amqp.Delivery, task *store.Task) {
	delay := time.Second
	if len(r.config.Topology.RetryDelays) > 0 {
		delay = r.config.Topology.RetryDelays[0]
	}

	logger.Info("task is running elsewhere; checking the message again later", slog.Duration("delay", delay))

	route := store.RetryRoute(task, delay, AttemptOf(delivery))
	err := r.publisher.Publish(ctx, broker.Message{
		Exchange: route.Exchange, RoutingKey: route.RoutingKey, MessageID: delivery.MessageId,
		Headers: delivery.Headers, Body: delivery.Body,
	})
	if err != nil {
		logger.Warn("deferring the message failed; returning it to the queue", slog.Any("error", err))
		time.Sleep(storeRetryPause)
		r.settle(delivery, delivery.Nack(false, true))

		return
	}

	r.settle(delivery, delivery.Ack(false))
}

// run calls the handler and records the outcome.
func (r *Runner) run(ctx context.Context, logger *slog.Logger, delivery amqp.Delivery, task *store.Task,
	message store.TaskMessage, attempt int,
) {
	handler := r.handlers[task.Kind]
	if handler == nil {
		r.finish(ctx, logger, delivery, task, attempt, Permanent(fmt.Errorf("no handler for task kind %s", task.Kind)))

		return
	}

	handlerCtx, cancel := context.WithCancelCause(trace.ContextWithSpan(r.handlerCtx, trace.SpanFromContext(ctx)))
	defer cancel(nil)

	r.mu.Lock()
	r.running[task.ID] = cancel
	r.mu.Unlock()

	defer func() {
		r.mu.Lock()
		delete(r.running, task.ID)
		r.mu.Unlock()
	}()

	logger.Info("task started")

	job := Job{
		TaskID: task.ID, MeetingID: task.MeetingID, RecordingID: message.RecordingID, Kind: task.Kind, Attempt: attempt,
		Report: func(ctx context.Context, progress float64, stage, text string) error {
			_, err := r.store.TransitionTask(ctx, task.ID, store.TaskTransition{
				From:   []string{store.TaskRunning},
				Change: store.TaskChange{Status: store.TaskRunning, Progress: progress, Stage: stage, Message: text},
			})

			return err
		},
	}

	err := callHandler(handlerCtx, handler, job)

	if cause := context.Cause(handlerCtx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = fmt.Errorf("%w: %w", cause, err)
	}

	r.finish(ctx, logger, delivery, task, attempt, err)
}

// callHandler runs handler and turns a panic into a retryable error.
func callHandler(ctx context.Context, handler Handler, job Job) (err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = fmt.Errorf("handler panicked: %v", recovered)
		}
	}()

	return handler(ctx, job)
}

// finish records the outcome err of an attempt and settles the delivery.
// Each outcome is one transaction: the task's change, its event and, for a
// retry or a dead letter, the message that carries the task on, so the
// delivery can be acked as soon as it commits.
func (r *Runner) finish(ctx context.Context, logger *slog.Logger, delivery amqp.Delivery, task *store.Task,
	attempt int, err error,
) {
	transition := store.TaskTransition{From: []string{store.TaskRunning}}
	retryDelays := r.config.Topology.RetryDelays

	switch {
	case err == nil:
		transition.Change = store.TaskChange{Status: store.TaskSucceeded, Progress: 1, Stage: "done"}
	case errors.Is(err, ErrTaskCancelled):
		logger.Info("task stopped after cancellation")
		r.settle(delivery, delivery.Ack(false))

		return
	case errors.Is(err, ErrShutdown):
		logger.Info("task interrupted by shutdown; queueing it again")

		transition.Change = store.TaskChange{Status: store.TaskQueued, Stage: "requeued", Message: "worker stopped during the task"}
		transition.Route = func(task *store.Task) store.TaskRoute { return store.WorkRoute(task, attempt) }
	case IsPermanent(err):
		reason := err.Error()
		logger.Warn("task failed permanently; dead-lettering it", slog.Any("error", err))

		transition.Change = store.TaskChange{Status: store.TaskFailed, Stage: "failed", Message: reason, LastError: &reason}
		transition.Route = func(task *store.Task) store.TaskRoute { return store.DeadLetterRoute(task, attempt, reason) }
	case attempt <= len(retryDelays):
		reason := err.Error()
		delay := retryDelays[attempt-1]
		logger.Warn("task failed; retrying", slog.Int("next_attempt", attempt+1), slog.Duration("delay", delay), slog.Any("error", err))

		transition.Change = store.TaskChange{
			Status: store.TaskQueued, Stage: "retry", LastError: &reason,
			Message: fmt.Sprintf("attempt %d failed: %s; retrying in %s", attempt, reason, delay),
		}
		transition.Route = func(task *store.Task) store.TaskRoute { return store.RetryRoute(task, delay, attempt+1) }
	default:
		reason := err.Error()
		logger.Warn("task failed on its last attempt; dead-lettering it", slog.Any("error", err))

		transition.Change = store.TaskChange{
			Status: store.TaskDeadLettered, Stage: "dead_lettered", LastError: &reason,
			Message: fmt.Sprintf("attempt %d of %d failed: %s", attempt, len(retryDelays)+1, reason),
		}
		transition.Route = func(task *store.Task) store.TaskRoute { return store.DeadLetterRoute(task, attempt, reason) }
	}

	transition.Change.Progress = max(transition.Change.Progress, 0)

	_, recordErr := r.store.TransitionTask(ctx, task.ID, transition)

	switch {
	case errors.Is(recordErr, store.ErrTaskNotInState):
		logger.Info("task changed while running (cancelled); dropping the outcome", slog.Any("outcome", err))
		r.settle(delivery, delivery.Ack(false))
	case recordErr != nil:
		// The task stays RUNNING; once its lease expires, the redelivered
		// message takes it over.
		logger.Error("recording task outcome failed; returning the message to the queue",
			slog.Any("outcome", err), slog.Any("error", recordErr))
		time.Sleep(storeRetryPause)
		r.settle(delivery, delivery.Nack(false, true))
	default:
		if err == nil {
			logger.Info("task succeeded")
		}

		r.observeOutcome(task.Kind, transition.Change.Status)
		r.settle(delivery, delivery.Ack(false))
	}
}

// observeOutcome counts a recorded task outcome: every status counts as a
// processed attempt, QUEUED (after a failure, or an interruption by
// shutdown) as a retry, and FAILED or DEAD_LETTERED as a dead letter, since
// both leave the message in the dead-letter queue.
func (r *Runner) observeOutcome(kind, status string) {
	m := r.config.Metrics
	queue := broker.WorkQueue(broker.QueueForTaskKind(kind))

	m.TaskProcessed(kind, status)

	switch status {
	case store.TaskQueued:
		m.TaskRetried(queue)
	case store.TaskFailed, store.TaskDeadLettered:
		m.TaskDeadLettered(queue)
	}
}

// settle logs a failed ack or nack. It fails when the channel closed; the
// broker then redelivers the message, and the task's state makes the
// redelivery harmless.
func (r *Runner) settle(delivery amqp.Delivery, err error) {
	if err != nil {
		r.logger.Debug("settling delivery failed; the broker will redeliver it",
			slog.String("message_id", delivery.MessageId), slog.Any("error", err))
	}
}
