package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func TestRequestAnalysisWritesTaskEventAndOutbox(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)
	meeting := store.SeedID("meeting:planning")

	var notified []store.OutboxMessage

	db.SetOutboxNotifier(func(messages []store.OutboxMessage) { notified = append(notified, messages...) })

	task, err := db.RequestAnalysis(ctx, alice.ID, meeting, "NOOP", nil)
	require.NoError(t, err)
	assert.Equal(t, store.TaskQueued, task.Status)
	assert.Equal(t, int64(1), task.LastSeq)
	assert.Equal(t, meeting, task.MeetingID)
	require.NotNil(t, task.RequestedBy)
	assert.Equal(t, alice.ID, *task.RequestedBy)

	stored, err := db.TaskByID(ctx, task.ID)
	require.NoError(t, err)
	assert.Equal(t, task, stored)

	taskEvents, err := db.TaskEventsAfter(ctx, task.ID, 0)
	require.NoError(t, err)
	require.Len(t, taskEvents, 1)
	assert.Equal(t, int64(1), taskEvents[0].Seq)
	assert.Equal(t, store.TaskQueued, taskEvents[0].Status)
	assert.Equal(t, "queued", taskEvents[0].Stage)

	// The dispatcher is handed both committed rows, with their ids.
	require.Len(t, notified, 2)

	var outboxRows int

	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE id = ANY($1)`,
		[]int64{notified[0].ID, notified[1].ID}).Scan(&outboxRows))
	assert.Equal(t, 2, outboxRows)
	assert.Equal(t, task.ID.String()+"/1", notified[0].MessageID)
	assert.Equal(t, task.ID.String(), notified[1].MessageID)

	// The event message carries the stored event's time.
	var announced events.TaskEvent

	require.NoError(t, json.Unmarshal(notified[0].Body, &announced))
	assert.True(t, announced.At.Equal(taskEvents[0].CreatedAt), "message at %s, stored %s", announced.At, taskEvents[0].CreatedAt)
	assert.Equal(t, int64(1), announced.Seq)
}

func TestRequestAnalysisRejectsNonMembers(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)

	dave, err := db.UserByID(ctx, store.SeedID("user:dave"))
	require.NoError(t, err)

	cases := []struct {
		name    string
		actor   *store.User
		meeting uuid.UUID
		code    apperr.Code
	}{
		{"public meeting, not a participant", alice, store.SeedID("meeting:all-hands"), apperr.Forbidden},
		{"private meeting, not a participant", dave, store.SeedID("meeting:planning"), apperr.NotFound},
		{"no such meeting", alice, uuid.New(), apperr.NotFound},
	}

	for _, c := range cases {
		_, err := db.RequestAnalysis(ctx, c.actor.ID, c.meeting, "NOOP", nil)
		require.Error(t, err, c.name)
		assert.Equal(t, c.code, apperr.CodeOf(err), "%s: %v", c.name, err)
	}

	var tasks, outboxRows int

	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM outbox)`).
		Scan(&tasks, &outboxRows))
	assert.Zero(t, tasks, "rejected requests write no task")
	assert.Zero(t, outboxRows, "rejected requests write no outbox row")
}

func TestRequestAnalysisOfDeletedUser(t *testing.T) {
	t.Parallel()

	db, _ := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)
	carol := store.SeedID("user:carol")

	// Deleting the user also deletes their participant rows.
	_, err := db.Pool().Exec(ctx, `DELETE FROM users WHERE id = $1`, carol)
	require.NoError(t, err)

	_, err = db.RequestAnalysis(ctx, carol, store.SeedID("meeting:planning"), "NOOP", nil)
	assert.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err), "%v", err)
}

func TestRequestAnalysisKeyReturnsFirstTask(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := context.Background()
	meeting := store.SeedID("meeting:planning")
	key := "retry-key"

	first, err := db.RequestAnalysis(ctx, alice.ID, meeting, "NOOP", &key)
	require.NoError(t, err)

	again, err := db.RequestAnalysis(ctx, alice.ID, meeting, "NOOP", &key)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)

	_, err = db.RequestAnalysis(ctx, alice.ID, store.SeedID("meeting:design-review"), "NOOP", &key)
	assert.Equal(t, apperr.BadUserInput, apperr.CodeOf(err), "the key of another meeting's task: %v", err)

	var outboxRows int

	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&outboxRows))
	assert.Equal(t, 2, outboxRows, "one task's event and task message")
}
