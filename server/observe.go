package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/meetgraph/meetgraph/metrics"
)

// observeOperations records each query's and mutation's run time, from
// reading the request to its last response (the last part of a deferred
// response), and counts open subscriptions by transport.
func observeOperations(m *metrics.Metrics) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		opCtx := graphql.GetOperationContext(ctx)
		handler := next(ctx)

		if opCtx.Operation == nil {
			return handler
		}

		if opCtx.Operation.Operation == ast.Subscription {
			return observeSubscription(m, transportName(ctx), handler)
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

// observeSubscription counts the subscription as active until its last
// response, then counts why it ended: "completed" when its stream ended,
// "client_gone" when the client left or the gateway shut down first.
func observeSubscription(m *metrics.Metrics, transport string, handler graphql.ResponseHandler) graphql.ResponseHandler {
	active := m.SubscriptionsActive.WithLabelValues(transport)
	active.Inc()

	var ended sync.Once

	return func(ctx context.Context) *graphql.Response {
		response := handler(ctx)
		if response != nil {
			return response
		}

		ended.Do(func() {
			active.Dec()

			reason := "completed"
			if ctx.Err() != nil {
				reason = "client_gone"
			}

			m.SubscriptionEnds.WithLabelValues(reason).Inc()
		})

		return nil
	}
}

type transportNameKey struct{}

// withTransportName records which subscription transport serves a request.
func withTransportName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, transportNameKey{}, name)
}

// transportName returns the subscription transport of ctx's request.
func transportName(ctx context.Context) string {
	if name, ok := ctx.Value(transportNameKey{}).(string); ok {
		return name
	}

	return "unknown"
}

// websocketProtocol returns the subprotocol the gateway chooses for an
// upgrade request: graphql-transport-ws when the client offers it, else the
// legacy graphql-ws.
func websocketProtocol(r *http.Request) string {
	for _, header := range r.Header.Values("Sec-WebSocket-Protocol") {
		for offered := range strings.SplitSeq(header, ",") {
			if strings.TrimSpace(offered) == "graphql-transport-ws" {
				return "graphql-transport-ws"
			}
		}
	}

	return "graphql-ws"
}
