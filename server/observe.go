package server

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/meetgraph/meetgraph/metrics"
)

// observeOperations records each query's and mutation's run time, from
// reading the request to its last response (the last part of a deferred
// response). Subscriptions are counted by the subscription metrics instead.
func observeOperations(m *metrics.Metrics) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		opCtx := graphql.GetOperationContext(ctx)
		handler := next(ctx)

		if opCtx.Operation == nil || opCtx.Operation.Operation == ast.Subscription {
			return handler
		}

		operationType := string(opCtx.Operation.Operation)
		operationName := m.OperationName(opCtx.Operation.Name)
		start := opCtx.Stats.OperationStart

		return func(ctx context.Context) *graphql.Response {
			response := handler(ctx)

			if response == nil || response.HasNext == nil || !*response.HasNext {
				m.OperationDuration.WithLabelValues(operationType, operationName).Observe(time.Since(start).Seconds())
			}

			return response
		}
	}
}
