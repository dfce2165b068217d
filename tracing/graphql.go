package tracing

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL is a gqlgen extension that records a span per operation and one
// per resolver call. Fields read straight from a struct get no span: they
// cost nanoseconds and would multiply the span count by the result size.
type GraphQL struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
	graphql.FieldInterceptor
} = GraphQL{}

func (GraphQL) ExtensionName() string { return "OpenTelemetry" }

func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

func (GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}

	opCtx := graphql.GetOperationContext(ctx)
	if opCtx.Operation == nil {
		return next(ctx)
	}

	name := "graphql." + string(opCtx.Operation.Operation)
	if opCtx.Operation.Name != "" {
		name += " " + opCtx.Operation.Name
	}

	ctx, span := Tracer().Start(ctx, name, trace.WithAttributes(
		attribute.String("graphql.operation.type", string(opCtx.Operation.Operation)),
		attribute.String("graphql.operation.name", opCtx.Operation.Name),
	))
	defer span.End()

	response := next(ctx)
	if response != nil && len(response.Errors) > 0 {
		span.SetStatus(codes.Error, response.Errors[0].Message)
	}

	return response
}

func (GraphQL) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	field := graphql.GetFieldContext(ctx)
	if field == nil || !field.IsResolver {
		return next(ctx)
	}

	ctx, span := Tracer().Start(ctx, "resolve "+field.Object+"."+field.Field.Name,
		trace.WithAttributes(attribute.String("graphql.field.path", field.Path().String())))
	defer span.End()

	result, err := next(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "resolver failed")
	}

	return result, err
}
