package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/asynctest"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func TestEndMeetingProcessesEveryUpload(t *testing.T) {
	t.Parallel()

	h := asynctest.Start(t, asynctest.Options{NoRunner: true})
	ctx := testenv.Context(t, 20*time.Second)

	var uploaded []uuid.UUID

	for range 2 {
		recording, err := h.DB.CreateRecording(ctx, store.NewRecording{
			ID: uuid.New(), MeetingID: h.MeetingID, Status: "UPLOADED", ContentType: "audio/wav",
			RawObjectKey: "raw/" + uuid.NewString(),
		})
		require.NoError(t, err)

		uploaded = append(uploaded, recording.ID)
	}

	_, err := h.DB.StartMeeting(ctx, h.Alice, h.MeetingID)
	require.NoError(t, err)

	ended, err := h.DB.EndMeeting(ctx, h.Alice, h.MeetingID, nil)
	require.NoError(t, err)
	require.NotNil(t, ended.RecordingTask)

	var processed []uuid.UUID

	rows, err := h.DB.Pool().Query(ctx, `SELECT recording_id FROM tasks WHERE meeting_id = $1 AND kind = 'RECORDING'`, h.MeetingID)
	require.NoError(t, err)

	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		processed = append(processed, id)
	}

	require.NoError(t, rows.Err())
	require.ElementsMatch(t, uploaded, processed, "each uploaded recording gets its own task")
}
