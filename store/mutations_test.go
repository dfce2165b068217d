package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func seeded(t *testing.T) (*store.Store, *store.User) {
	t.Helper()

	db := store.New(testenv.Pool(t))
	ctx := testenv.Context(t, 30*time.Second)

	_, err := db.Seed(ctx)
	require.NoError(t, err)

	alice, err := db.UserByID(ctx, store.SeedID("user:alice"))
	require.NoError(t, err)

	return db, alice
}

func TestConcurrentIdempotentRequestsShareTask(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	meeting := store.SeedID("meeting:planning")
	key := "same-key"

	const requests = 8

	ids := make([]uuid.UUID, requests)

	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			task, err := db.RequestAnalysis(context.Background(), alice.ID, meeting, "NOOP", &key)
			if err != nil {
				t.Errorf("request %d: %v", i, err)

				return
			}

			ids[i] = task.ID
		})
	}

	wg.Wait()

	for i := range requests {
		require.Equal(t, ids[0], ids[i], "request %d", i)
	}

	events, err := db.TaskEventsAfter(context.Background(), ids[0], 0)
	require.NoError(t, err)
	require.Len(t, events, 1, "one QUEUED event for the one task")
}

func TestEndMeetingTwiceIsBadInput(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)
	live := store.SeedID("meeting:design-review")

	ended, err := db.EndMeeting(ctx, alice, live, nil)
	require.NoError(t, err)
	require.Equal(t, store.MeetingEnded, ended.Meeting.Status)
	require.Nil(t, ended.RecordingTask)

	_, err = db.EndMeeting(ctx, alice, live, nil)
	require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
}

func TestEndMeetingQueuesUploadedRecording(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)
	live := store.SeedID("meeting:design-review")
	recording := uuid.New()

	_, err := db.Pool().Exec(ctx, `INSERT INTO recordings (id, meeting_id, status) VALUES ($1, $2, 'UPLOADED')`, recording, live)
	require.NoError(t, err)

	key := "end-1"
	ended, err := db.EndMeeting(ctx, alice, live, &key)
	require.NoError(t, err)
	require.NotNil(t, ended.RecordingTask)
	require.Equal(t, "RECORDING", ended.RecordingTask.Kind)
	require.Equal(t, recording, *ended.RecordingTask.RecordingID)

	again, err := db.EndMeeting(ctx, alice, live, &key)
	require.NoError(t, err, "a retried endMeeting with the same key is not an error")
	require.Equal(t, ended.RecordingTask.ID, again.RecordingTask.ID)
}

func TestCreateMeetingNamesUnknownInvitee(t *testing.T) {
	t.Parallel()

	db, alice := seeded(t)
	ctx := testenv.Context(t, 30*time.Second)
	unknown := uuid.New()

	_, err := db.CreateMeeting(ctx, alice, store.NewMeeting{
		Title: "Planning", Visibility: "PRIVATE", InviteeIDs: []uuid.UUID{store.SeedID("user:bob"), unknown},
	})
	require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
	require.ErrorContains(t, err, unknown.String())
}
