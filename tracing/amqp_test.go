package tracing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestHeadersCarryTraceContext(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	provider := SetupForTest(exporter, "test")
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })

	ctx, publish := Tracer().Start(context.Background(), "publish")
	headers := Headers{"x-attempt": int32(2)}
	Inject(ctx, headers)
	publish.End()

	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, headers["traceparent"])
	require.Equal(t, int32(2), headers["x-attempt"], "other headers stay as they are")

	_, consume := Tracer().Start(Extract(context.Background(), headers), "consume")
	consume.End()

	spans := exporter.GetSpans()
	require.Len(t, spans, 2)
	require.Equal(t, spans[0].SpanContext.TraceID(), spans[1].SpanContext.TraceID())
	require.Equal(t, spans[0].SpanContext.SpanID(), spans[1].Parent.SpanID())
}

func TestExtractWithoutHeadersStartsNewTrace(t *testing.T) {
	ctx := Extract(context.Background(), Headers{"traceparent": 42})

	require.False(t, trace.SpanContextFromContext(ctx).IsValid())
}
