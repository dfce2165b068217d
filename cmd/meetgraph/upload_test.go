package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
)

const uploadMutation = `mutation($meetingId: ID!, $file: Upload!) {
	uploadRecording(meetingId: $meetingId, file: $file) { id status contentType sizeBytes url }
}`

// objectStore returns a client for the system's bucket.
func (s *system) objectStore(t *testing.T) *media.ObjectStore {
	t.Helper()

	setting := func(name string) string {
		i := slices.Index(s.settings, name)
		require.GreaterOrEqual(t, i, 0, "setting %s", name)

		return s.settings[i+1]
	}

	objects, err := media.NewObjectStore(media.ObjectStoreConfig{
		Endpoint: setting("--s3-endpoint"), AccessKey: setting("--s3-access-key"),
		SecretKey: setting("--s3-secret-key"), Bucket: setting("--s3-bucket"), Region: "us-east-1",
	})
	require.NoError(t, err)

	return objects
}

func (s *system) store(t *testing.T) *store.Store {
	t.Helper()

	pool, err := store.Open(t.Context(), store.PoolConfig{URL: s.databaseURL})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	return store.New(pool)
}

func fileUpload(t *testing.T, meetingID, path string) gqlclient.Upload {
	t.Helper()

	file, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = file.Close() })

	info, err := file.Stat()
	require.NoError(t, err)

	return gqlclient.Upload{
		Query: uploadMutation, Variables: map[string]any{"meetingId": meetingID}, FileVariable: "file",
		FileName: "speech.wav", ContentType: "audio/wav", File: file, Size: info.Size(),
	}
}

type uploadedRecording struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	ContentType string  `json:"contentType"`
	SizeBytes   float64 `json:"sizeBytes"`
}

func TestUploadRecordingToEndedMeeting(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")

	retro := store.SeedID("meeting:retro")
	bob := strings.TrimSpace(s.command(t, "token", "--user", "bob@example.com"))
	speech := testenv.Speech(t, testenv.DemoSentences)

	response := testenv.PostUpload(t, s.baseURL+"/query", bob, fileUpload(t, retro.String(), speech))
	require.Empty(t, response.Errors)

	var data struct{ UploadRecording uploadedRecording }
	require.NoError(t, json.Unmarshal(response.Data, &data))

	info, err := os.Stat(speech)
	require.NoError(t, err)
	require.Equal(t, "UPLOADED", data.UploadRecording.Status)
	require.Equal(t, "audio/wav", data.UploadRecording.ContentType)
	require.Equal(t, float64(info.Size()), data.UploadRecording.SizeBytes)

	db := s.store(t)
	recording, err := db.RecordingByID(t.Context(), uuid.MustParse(data.UploadRecording.ID))
	require.NoError(t, err)

	size, err := s.objectStore(t).Size(t.Context(), *recording.RawObjectKey)
	require.NoError(t, err)
	require.Equal(t, info.Size(), size)

	// The worker of `meetgraph all` may already have started the task, so
	// the check reads the task's first event, not its current status.
	var kind, status string
	require.NoError(t, db.Pool().QueryRow(t.Context(), `SELECT t.kind, e.status FROM tasks t
		JOIN task_events e ON e.task_id = t.id AND e.seq = 1
		JOIN outbox o ON o.message_id = t.id::text WHERE t.recording_id = $1`, recording.ID).Scan(&kind, &status))
	require.Equal(t, "RECORDING", kind)
	require.Equal(t, "QUEUED", status)
}

func TestUploadRecordingRejected(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t), "--max-upload-bytes", "100000")
	s.command(t, "seed")

	retro := store.SeedID("meeting:retro").String()
	bob := strings.TrimSpace(s.command(t, "token", "--user", "bob@example.com"))
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	speech := testenv.Speech(t, testenv.DemoSentences)

	upload := func(token, meetingID string, size int) testenv.GraphQLResponse {
		return testenv.PostUpload(t, s.baseURL+"/query", token, gqlclient.Upload{
			Query: uploadMutation, Variables: map[string]any{"meetingId": meetingID}, FileVariable: "file",
			FileName: "big.wav", ContentType: "audio/wav", File: bytes.NewReader(make([]byte, size)), Size: int64(size),
		})
	}

	t.Run("RequestOverLimit", func(t *testing.T) {
		response := upload(bob, retro, 3<<20)
		require.Equal(t, http.StatusRequestEntityTooLarge, response.Status)
		require.Len(t, response.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
		require.Contains(t, response.Errors[0].Message, "upload limit of 98 KiB (100000 bytes)")
	})

	t.Run("FileOverLimit", func(t *testing.T) {
		response := upload(bob, retro, 100001)
		require.Len(t, response.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
		require.Contains(t, response.Errors[0].Message, "(100000 bytes)")
	})

	t.Run("Attendee", func(t *testing.T) {
		response := testenv.PostUpload(t, s.baseURL+"/query", alice, fileUpload(t, retro, speech))
		require.Len(t, response.Errors, 1)
		require.Equal(t, "FORBIDDEN", response.Errors[0].Code())
	})

	t.Run("CancelledMeeting", func(t *testing.T) {
		offsite := store.SeedID("meeting:offsite").String()
		response := testenv.PostUpload(t, s.baseURL+"/query", alice, fileUpload(t, offsite, speech))
		require.Len(t, response.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
	})

	t.Run("Empty", func(t *testing.T) {
		response := upload(bob, retro, 0)
		require.Len(t, response.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
		require.Contains(t, response.Errors[0].Message, "empty")
	})

	// The type is stored with the object and shown to clients later.
	t.Run("NotMedia", func(t *testing.T) {
		response := testenv.PostUpload(t, s.baseURL+"/query", bob, gqlclient.Upload{
			Query: uploadMutation, Variables: map[string]any{"meetingId": retro}, FileVariable: "file",
			FileName: "page.html", ContentType: "text/html", File: strings.NewReader("<p>hi</p>"), Size: 9,
		})
		require.Len(t, response.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
		require.Contains(t, response.Errors[0].Message, `"text/html"`)
	})

	t.Run("WithoutLength", func(t *testing.T) {
		request, err := gqlclient.NewUploadRequest(t.Context(), s.baseURL+"/query", bob, fileUpload(t, retro, speech))
		require.NoError(t, err)
		request.ContentLength = -1

		response, err := http.DefaultClient.Do(request)
		require.NoError(t, err)
		defer response.Body.Close()
		require.Equal(t, http.StatusLengthRequired, response.StatusCode)
	})
}

func TestPresignedRecordingUpload(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")

	// The planning meeting is still SCHEDULED, so completing the upload queues nothing.
	planning := store.SeedID("meeting:planning").String()
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	endpoint := s.baseURL + "/query"

	response := testenv.PostGraphQL(t, endpoint, alice, `mutation($id: ID!) {
		recordingUploadURL(meetingId: $id, contentType: "audio/wav") { url expiresAt recording { id status } }
	}`, map[string]any{"id": planning})
	require.Empty(t, response.Errors)

	var data struct {
		RecordingUploadURL struct {
			URL       string
			ExpiresAt time.Time
			Recording uploadedRecording
		}
	}
	require.NoError(t, json.Unmarshal(response.Data, &data))
	target := data.RecordingUploadURL
	require.Equal(t, "UPLOADING", target.Recording.Status)
	require.WithinDuration(t, time.Now().Add(time.Hour), target.ExpiresAt, time.Minute)

	complete := `mutation($id: ID!) { completeRecordingUpload(id: $id) { id status sizeBytes } }`

	response = testenv.PostGraphQL(t, endpoint, alice, complete, map[string]any{"id": target.Recording.ID})
	require.Len(t, response.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code(), "nothing was PUT yet")

	speech, err := os.ReadFile(testenv.Speech(t, testenv.DemoSentences))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	put, err := http.NewRequestWithContext(ctx, http.MethodPut, target.URL, bytes.NewReader(speech))
	require.NoError(t, err)

	putResponse, err := http.DefaultClient.Do(put)
	require.NoError(t, err)
	_ = putResponse.Body.Close()
	require.Equal(t, http.StatusOK, putResponse.StatusCode)

	response = testenv.PostGraphQL(t, endpoint, alice, complete, map[string]any{"id": target.Recording.ID})
	require.Empty(t, response.Errors)
	require.JSONEq(t, `{"completeRecordingUpload": {"id": "`+target.Recording.ID+`", "status": "UPLOADED",
		"sizeBytes": `+strings.TrimSpace(jsonNumber(len(speech)))+`}}`, string(response.Data))

	response = testenv.PostGraphQL(t, endpoint, alice, complete, map[string]any{"id": target.Recording.ID})
	require.Len(t, response.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code(), "a second completion")
}

func jsonNumber(n int) string {
	raw, _ := json.Marshal(n)

	return string(raw)
}

// A presigned upload that fails the checks at completion is rejected, and
// the recording keeps the reason, which its failureReason shows later.
func TestRejectedPresignedUploadKeepsReason(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t), "--max-upload-bytes", "1000")
	s.command(t, "seed")

	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	for size, reason := range map[int]string{
		5000: "larger than the recording upload limit of 1000 B",
		0:    "the uploaded file is empty",
	} {
		// A meeting of its own for each case, so that each has one recording.
		meeting := createMeeting(t, s, alice)

		completion := completePresignedUpload(t, s.baseURL+"/query", alice, meeting, make([]byte, size))
		require.Len(t, completion.Errors, 1, "%d bytes", size)
		require.Equal(t, "BAD_USER_INPUT", completion.Errors[0].Code(), "%d bytes", size)

		response := testenv.PostGraphQL(t, s.baseURL+"/query", alice, `query($id: ID!) {
			meeting(id: $id) { recordings { status failureReason } }
		}`, map[string]any{"id": meeting})
		require.Empty(t, response.Errors)
		require.Contains(t, string(response.Data), `"status":"FAILED"`, "%d bytes", size)
		require.Contains(t, string(response.Data), reason, "%d bytes", size)
	}
}

// completePresignedUpload gets an upload URL for meeting, PUTs body to it
// and returns the response to completeRecordingUpload.
func completePresignedUpload(t *testing.T, endpoint, token, meeting string, body []byte) testenv.GraphQLResponse {
	t.Helper()

	response := testenv.PostGraphQL(t, endpoint, token, `mutation($id: ID!) {
		recordingUploadURL(meetingId: $id, contentType: "audio/wav") { url recording { id } }
	}`, map[string]any{"id": meeting})
	require.Empty(t, response.Errors)

	var data struct {
		RecordingUploadURL struct {
			URL       string
			Recording struct{ ID string }
		}
	}
	require.NoError(t, json.Unmarshal(response.Data, &data))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	put, err := http.NewRequestWithContext(ctx, http.MethodPut, data.RecordingUploadURL.URL, bytes.NewReader(body))
	require.NoError(t, err)

	putResponse, err := http.DefaultClient.Do(put)
	require.NoError(t, err)
	_ = putResponse.Body.Close()
	require.Equal(t, http.StatusOK, putResponse.StatusCode)

	return testenv.PostGraphQL(t, endpoint, token, `mutation($id: ID!) { completeRecordingUpload(id: $id) { id } }`,
		map[string]any{"id": data.RecordingUploadURL.Recording.ID})
}

// createMeeting creates a meeting hosted by the token's user and returns its id.
func createMeeting(t *testing.T, s *system, token string) string {
	t.Helper()

	created := graphQLData(t, s, token, `mutation { createMeeting(input: {title: "Upload checks"}) { id } }`, nil)

	return field(created, "createMeeting", "id").(string)
}
