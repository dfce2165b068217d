package store_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// An upload that finishes after endMeeting committed must see the meeting
// as ENDED, or no task would ever process it: endMeeting's own task ran
// while the recording was still UPLOADING.
func TestMarkUploadedSeesMeetingEnd(t *testing.T) {
	t.Parallel()

	db := store.New(testenv.Pool(t))
	userID, meetingID := uuid.New(), uuid.New()

	_, err := db.Pool().Exec(t.Context(), `INSERT INTO users (id, email, name) VALUES ($1, 'host@example.com', 'Host')`, userID)
	require.NoError(t, err)

	_, err = db.Pool().Exec(t.Context(), `INSERT INTO meetings (id, title, status, creator_id)
		VALUES ($1, 'Standup', 'LIVE', $2)`, meetingID, userID)
	require.NoError(t, err)

	recording, err := db.CreateRecording(t.Context(), store.NewRecording{
		ID: uuid.New(), MeetingID: meetingID, Status: store.RecordingUploading, RawObjectKey: "raw",
	})
	require.NoError(t, err)

	_, err = db.Pool().Exec(t.Context(), `UPDATE meetings SET status = 'ENDED', ended_at = now() WHERE id = $1`, meetingID)
	require.NoError(t, err)

	uploaded, meetingStatus, err := db.MarkRecordingUploaded(t.Context(), recording.ID, 1234)
	require.NoError(t, err)
	require.Equal(t, store.MeetingEnded, meetingStatus)
	require.Equal(t, store.RecordingUploaded, uploaded.Status)
	require.Equal(t, int64(1234), *uploaded.SizeBytes)

	_, _, err = db.MarkRecordingUploaded(t.Context(), recording.ID, 1234)
	require.ErrorIs(t, err, store.ErrNotFound, "a recording is marked uploaded once")
}
