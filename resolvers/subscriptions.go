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

// pumpTask sends the stream's events to out until the terminal event, the
// end of ctx or the hub's closing, then closes out, which completes the
// subscription. A stream that completes without a terminal event ended
// early, and the client resubscribes with the last seq it saw.
func (r *Resolver) pumpTask(ctx context.Context, stream *events.TaskStream, taskID uuid.UUID, out chan<- *model.TaskEvent) {
	defer close(out)
	defer stream.Close()
	defer r.recoverSubscription("taskUpdated", slog.String("task_id", taskID.String()))

	for {
		event, err := stream.Next(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				r.logStreamEnd(err, "taskUpdated", slog.String("task_id", taskID.String()))
			}

			return
		}

		_, span := tracing.Tracer().Start(
			tracing.Extract(ctx, tracing.Headers{"traceparent": event.Traceparent}), "push task event",
			trace.WithAttributes(attribute.String("task.id", taskID.String()), attribute.Int64("task.seq", event.Seq)))

		select {
		case out <- taskEventModel(event):
			span.End()
		case <-ctx.Done():
			span.End()

			return
		}
	}
}

// pumpMeetingTasks sends each live task event of the meeting to out until
// ctx ends or the hub closes.
//
// NOTE: it ignores resync notices, so task events published while the
// gateway reconnected to RabbitMQ never reach meetingTasks; taskUpdated
// re-reads them from the store.
func (r *Resolver) pumpMeetingTasks(ctx context.Context, subscription *events.Subscription,
	meetingID uuid.UUID, out chan<- *model.TaskEvent,
) {
	defer close(out)
	defer subscription.Close()
	defer r.recoverSubscription("meetingTasks", slog.String("meeting_id", meetingID.String()))

	pump(ctx, subscription, out, func(m events.Message) *model.TaskEvent {
		if m.Task == nil {
			return nil
		}

		return taskEventModel(m.Task)
	})
}

// pumpMeetingEvents sends each live event of the meeting to out until ctx
// ends or the hub closes.
func (r *Resolver) pumpMeetingEvents(ctx context.Context, subscription *events.Subscription,
	meetingID uuid.UUID, out chan<- *model.MeetingEvent,
) {
	defer close(out)
	defer subscription.Close()
	defer r.recoverSubscription("meetingEvents", slog.String("meeting_id", meetingID.String()))

	pump(ctx, subscription, out, func(m events.Message) *model.MeetingEvent {
		if m.Meeting == nil {
			return nil
		}

		return meetingEventModel(m.Meeting)
	})
}

// pump converts each message with convert and sends the non-nil results to
// out until ctx ends or the hub closes.
func pump[T any](ctx context.Context, subscription *events.Subscription, out chan<- *T,
	convert func(events.Message) *T,
) {
	for {
		messages, err := subscription.Take()
		if err != nil {
			return
		}

		for _, m := range messages {
			value := convert(m)
			if value == nil {
				continue
			}

			select {
			case out <- value:
			case <-ctx.Done():
				return
			}
		}

		if len(messages) > 0 {
			continue
		}

		select {
		case <-subscription.Wait():
		case <-ctx.Done():
			return
		}
	}
}

func (r *Resolver) logStreamEnd(err error, field string, id slog.Attr) {
	if errors.Is(err, events.ErrHubClosed) {
		r.Logger.Debug("subscription ended by shutdown", slog.String("field", field), id)

		return
	}

	r.Logger.Error("subscription ended early", slog.String("field", field), id, slog.Any("error", err))
}

// recoverSubscription logs a panic in a subscription's goroutine, which
// then ends the subscription like any early end, instead of the process.
func (r *Resolver) recoverSubscription(field string, id slog.Attr) {
	if value := recover(); value != nil {
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
