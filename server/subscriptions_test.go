package server

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

func TestSubscriptionLimitReleasedAtLastResponse(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(withConnectionSlot(context.Background()))
	defer cancel()

	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{
		Operation: &ast.OperationDefinition{Operation: ast.Subscription},
	})
	slot := ctx.Value(connectionSlotKey{}).(*connectionSlot)

	events := []*graphql.Response{{}, nil}
	handler := wrapOperations(1, nil)(ctx, func(context.Context) graphql.ResponseHandler {
		return func(context.Context) *graphql.Response {
			response := events[0]
			events = events[1:]

			return response
		}
	})

	require.NotNil(t, handler(ctx), "first response")
	require.Equal(t, int32(1), slot.subscriptions.Load(), "open subscriptions during the operation")

	// gqlgen sends complete after the last response and cancels the
	// operation's context only later, so the place must be free already.
	require.Nil(t, handler(ctx), "last response")
	require.Equal(t, int32(0), slot.subscriptions.Load(), "open subscriptions after the last response")

	cancel()
	require.Equal(t, int32(0), slot.subscriptions.Load(), "open subscriptions after the context ended")
}
