// Package tracing sets up OpenTelemetry tracing and carries trace context
// through AMQP message headers, so that one trace covers a mutation, the
// worker that runs its task and the subscription event that reports it.
package tracing

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the tracer of meetgraph's own spans.
const TracerName = "github.com/meetgraph/meetgraph"

// Tracer returns the tracer for meetgraph's spans from the global provider.
func Tracer() trace.Tracer {
	return otel.Tracer(TracerName)
}

// enabled is set once Setup or SetupForTest installs a provider.
var enabled atomic.Bool

// Enabled reports whether spans are recorded. Code that would start a span
// for each subscriber of an event checks it first. Even the no-op provider
// costs a context walk and the span's attributes each time: about 5 % of the
// gateway's CPU for one event to 10,000 subscribers, in a perf profile of
// scripts/bench-subscriptions fanout on 2 vCPUs.
func Enabled() bool {
	return enabled.Load()
}

// Setup installs a global tracer provider that exports spans over OTLP/HTTP
// to endpoint (for example http://127.0.0.1:4318), and the W3C trace-context
// propagator. With an empty endpoint tracing stays off: the global provider
// is the no-op one and spans cost next to nothing. The returned function
// flushes and stops the exporter.
func Setup(ctx context.Context, endpoint, serviceName string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})

	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}

	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("create OTLP exporter for %s: %w", endpoint, err)
	}

	provider := newProvider(sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(5*time.Second)), serviceName)
	otel.SetTracerProvider(provider)
	enabled.Store(true)

	return provider.Shutdown, nil
}

func newProvider(processor sdktrace.TracerProviderOption, serviceName string) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		processor,
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(serviceName))),
	)
}

// SetupForTest installs a provider that hands every span to exporter as
// soon as it ends, and the W3C propagator, for tests that inspect spans.
func SetupForTest(exporter sdktrace.SpanExporter, serviceName string) *sdktrace.TracerProvider {
	otel.SetTextMapPropagator(propagation.TraceContext{})

	provider := newProvider(sdktrace.WithSyncer(exporter), serviceName)
	otel.SetTracerProvider(provider)
	enabled.Store(true)

	return provider
}
