package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func TestOperatorCancelsTaskOfAnyMeeting(t *testing.T) {
	t.Parallel()

	// No runner, so the task stays QUEUED until it is cancelled.
	h := asynctest.Start(t, asynctest.Options{NoRunner: true})
	task := h.Request(t, "NOOP")
	ctx := testenv.Context(t, 10*time.Second)

	// Erin takes no part in the planning meeting, but holds the operator permission.
	cancelled, err := h.DB.CancelTask(ctx, h.Erin, task.ID)
	require.NoError(t, err)
	require.Equal(t, store.TaskCancelled, cancelled.Status)

	dave, err := h.DB.UserByID(ctx, store.SeedID("user:dave"))
	require.NoError(t, err)

	_, err = h.DB.CancelTask(ctx, dave, task.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "a non-participant without the permission learns nothing")
}
