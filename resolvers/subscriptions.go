package resolvers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/graph/model"
	"github.com/meetgraph/meetgraph/tracing"
)

func badInput(format string, args ...any) error {
	return apperr.New(apperr.BadUserInput, format, args...)
}

// replayTask reads a task's stored events in the wire format of live ones.
func (r *Resolver) replayTask(taskID, meetingID uuid.UUID, kind string) events.ReplayFunc {
	return func(ctx context.Context, afterSeq int64) ([]*events.TaskEvent, error) {
		stored, err := r.Store.TaskEventsAfter(ctx, taskID, afterSeq)
		if err != nil {
			return nil, err
		}

		out := make([]*events.TaskEvent, len(stored))
		for i, e := range stored {
			out[i] = &events.TaskEvent{
				TaskID: taskID, MeetingID: meetingID, Kind: kind, Seq: e.Seq, Status: e.Status,
				Progress: e.Progress, Stage: e.Stage, Message: e.Message, At: e.CreatedAt,
			}
		}

		return out, nil
	}
}

// feedBuffer is the capacity of the channel through which a subscription's
// events reach gqlgen. Events beyond it wait in the hub's mailbox, which
// coalesces progress events once it holds the hub's buffer size.
const feedBuffer = 8

// taskSource yields a TaskStream's events for taskUpdated, each with a span
// from its arrival to its handing to gqlgen while tracing is on.
type taskSource struct {
	stream *events.TaskStream
	taskID uuid.UUID
	span   trace.Span
}

func (s *taskSource) next(ctx context.Context, mayBlock bool) (*model.TaskEvent, error) {
	event, err := s.stream.Poll(ctx, mayBlock)
	if event == nil || err != nil {
		return nil, err
	}

	if !tracing.Enabled() {
		return taskEventModel(event), nil
	}

	_, s.span = tracing.Tracer().Start(
		tracing.Extract(ctx, tracing.Headers{"traceparent": event.Traceparent}), "push task event",
		trace.WithAttributes(attribute.String("task.id", s.taskID.String()), attribute.Int64("task.seq", event.Seq)))

	return taskEventModel(event), nil
}

func (s *taskSource) sent() {
	if s.span != nil {
		s.span.End()
		s.span = nil
	}
}

func (s *taskSource) close() {
	if s.span != nil {
		s.span.End()
	}

	s.stream.Close()
}

// feedTask returns the channel of the stream's events. It closes after the
// terminal event, at the end of ctx or when the hub closes, and the close
// completes the subscription. A stream that completes without a terminal
// event ended early, so the client resubscribes with the last seq it saw.
func (r *Resolver) feedTask(ctx context.Context, stream *events.TaskStream, taskID uuid.UUID) <-chan *model.TaskEvent {
	id := slog.String("task_id", taskID.String())

	return startFeed(ctx, feedBuffer, &taskSource{stream: stream, taskID: taskID}, stream.Notify,
		func(err error) {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				r.logStreamEnd(err, "taskUpdated", id)
			}
		},
		r.logPanic("taskUpdated", id))
}

// messageSource yields the converted live messages of a subscription,
// skipping those that convert returns nil for.
type messageSource[T any] struct {
	subscription *events.Subscription
	convert      func(events.Message) *T
	pending      []events.Message
}

func (s *messageSource[T]) next(context.Context, bool) (*T, error) {
	for {
		for len(s.pending) > 0 {
			message := s.pending[0]
			s.pending = s.pending[1:]

			if value := s.convert(message); value != nil {
				return value, nil
			}
		}

		// An idle subscription keeps no taken messages reachable.
		s.pending = nil

		messages, err := s.subscription.Take()
		if err != nil || len(messages) == 0 {
			return nil, err
		}

		s.pending = messages
	}
}

func (s *messageSource[T]) sent() {}

func (s *messageSource[T]) close() {
	s.subscription.Close()
}

// feedMessages returns the channel of the subscription's converted live
// messages, which closes when ctx ends or the hub closes.
func feedMessages[T any](ctx context.Context, r *Resolver, subscription *events.Subscription,
	convert func(events.Message) *T, field string, id slog.Attr,
) <-chan *T {
	source := &messageSource[T]{subscription: subscription, convert: convert}

	return startFeed(ctx, feedBuffer, source, subscription.Notify, nil, r.logPanic(field, id))
}

// feedMeetingTasks returns the channel of each live task event of the
// meeting.
//
// NOTE: it ignores resync notices, so task events published while the
// gateway reconnected to RabbitMQ never reach meetingTasks; taskUpdated
// re-reads them from the store.
func (r *Resolver) feedMeetingTasks(ctx context.Context, subscription *events.Subscription,
	meetingID uuid.UUID,
) <-chan *model.TaskEvent {
	return feedMessages(ctx, r, subscription, func(m events.Message) *model.TaskEvent {
		if m.Task == nil {
			return nil
		}

		return taskEventModel(m.Task)
	}, "meetingTasks", slog.String("meeting_id", meetingID.String()))
}

// feedMeetingEvents returns the channel of each live event of the meeting.
func (r *Resolver) feedMeetingEvents(ctx context.Context, subscription *events.Subscription,
	meetingID uuid.UUID,
) <-chan *model.MeetingEvent {
	return feedMessages(ctx, r, subscription, func(m events.Message) *model.MeetingEvent {
		if m.Meeting == nil {
			return nil
		}

		return meetingEventModel(m.Meeting)
	}, "meetingEvents", slog.String("meeting_id", meetingID.String()))
}

func (r *Resolver) logStreamEnd(err error, field string, id slog.Attr) {
	if errors.Is(err, events.ErrHubClosed) {
		r.Logger.Debug("subscription ended by shutdown", slog.String("field", field), id)

		return
	}

	r.Logger.Error("subscription ended early", slog.String("field", field), id, slog.Any("error", err))
}

// logPanic returns a function that logs a panic in a subscription's feed,
// which then ends the subscription like any early end, instead of the process.
func (r *Resolver) logPanic(field string, id slog.Attr) func(value any) {
	return func(value any) {
		r.Logger.Error("subscription panicked", slog.String("field", field), id, slog.Any("panic", value))
	}
}

func taskEventModel(e *events.TaskEvent) *model.TaskEvent {
	return &model.TaskEvent{
		Seq:      e.Seq,
		Status:   model.TaskStatus(e.Status),
		Progress: e.Progress,
		Stage:    e.Stage,
		Message:  e.Message,
		At:       e.At,
		Terminal: e.Terminal(),
		TaskID:   e.TaskID.String(),
	}
}

// meetingEventModel converts e, or returns nil for an event type that the
// schema does not know, which a newer publisher may send.
func meetingEventModel(e *events.MeetingEvent) *model.MeetingEvent {
	eventType := model.MeetingEventType(strings.ToUpper(e.Type))
	if !eventType.IsValid() {
		return nil
	}

	event := &model.MeetingEvent{
		Type:      eventType,
		At:        e.At,
		MeetingID: e.MeetingID.String(),
	}

	if e.ActorID != nil {
		actor := e.ActorID.String()
		event.ActorID = &actor
	}

	return event
}
