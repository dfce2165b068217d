package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
)

// Headers is the form of AMQP message headers (amqp091's Table is a
// map[string]any) and of the outbox's headers column.
type Headers = map[string]any

// headerCarrier lets the propagator read and write string headers.
type headerCarrier Headers

func (c headerCarrier) Get(key string) string {
	value, _ := c[key].(string)

	return value
}

func (c headerCarrier) Set(key, value string) { c[key] = value }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for key := range c {
		keys = append(keys, key)
	}

	return keys
}

// Inject writes ctx's trace context (the traceparent header) into headers.
func Inject(ctx context.Context, headers Headers) {
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier(headers))
}

// Extract returns ctx with the trace context found in headers, so that
// spans started from it continue the publisher's trace.
func Extract(ctx context.Context, headers Headers) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier(headers))
}

// Traceparent returns ctx's W3C traceparent value, or "" without a span.
func Traceparent(ctx context.Context) string {
	headers := Headers{}
	Inject(ctx, headers)

	value, _ := headers["traceparent"].(string)

	return value
}
