package consumers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
	"github.com/meetgraph/meetgraph/tracing"
)

// TestOneTraceFromMutationToEvent checks that the trace of the change that
// queues a task continues in the worker that runs it and in the events the
// gateway receives. It installs a global tracer provider, so it does not
// run in parallel with the package's other tests.
func TestOneTraceFromMutationToEvent(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	provider := tracing.SetupForTest(exporter, "meetgraph-test")
	t.Cleanup(func() {
		_ = provider.Shutdown(context.Background())
		otel.SetTracerProvider(noop.NewTracerProvider())
	})

	h := asynctest.Start(t, asynctest.Options{Handlers: map[string]consumers.Handler{consumers.KindNoop: consumers.Noop}})

	hub := events.NewHub(0)
	t.Cleanup(hub.Close)

	listener, err := events.Listen(h.Supervisor, hub, events.ListenerConfig{}, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })

	// Subscribed before the task exists, so that no event can pass first.
	subscription := hub.SubscribeMeetingTasks(h.MeetingID)
	t.Cleanup(subscription.Close)

	ctx, mutation := tracing.Tracer().Start(testenv.Context(t, 30*time.Second), "mutation requestAnalysis")
	task, err := h.DB.RequestAnalysis(ctx, h.Alice.ID, h.MeetingID, consumers.KindNoop, nil)
	require.NoError(t, err)
	mutation.End()

	h.WaitStatus(t, task.ID, store.TaskSucceeded)

	traceID := mutation.SpanContext().TraceID()

	spanNamed := func(name string) *tracetest.SpanStub {
		var found *tracetest.SpanStub

		testenv.Eventually(t, 10*time.Second, func() error {
			for _, span := range exporter.GetSpans() {
				if span.Name == name && span.SpanContext.TraceID() == traceID {
					found = &span

					return nil
				}
			}

			return testenv.ErrNotYet
		})

		return found
	}

	publish := spanNamed("publish meetgraph.tasks")
	worker := spanNamed("process task NOOP")
	require.Equal(t, mutation.SpanContext().SpanID(), publish.Parent.SpanID(), "the outbox publish continues the mutation")
	require.Equal(t, traceID, worker.SpanContext.TraceID(), "the worker continues the mutation's trace")

	var terminal *events.TaskEvent
	testenv.Eventually(t, 10*time.Second, func() error {
		messages, err := subscription.Take()
		if err != nil {
			return err
		}

		for _, message := range messages {
			if message.Task != nil && message.Task.TaskID == task.ID && message.Task.Status == store.TaskSucceeded {
				terminal = message.Task
			}
		}

		if terminal == nil {
			return testenv.ErrNotYet
		}

		return nil
	})

	pushed := tracing.Extract(context.Background(), tracing.Headers{"traceparent": terminal.Traceparent})
	require.Equal(t, traceID, trace.SpanContextFromContext(pushed).TraceID(),
		"the event that the gateway receives carries the same trace")
}
