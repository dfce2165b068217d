package consumers_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
)

// fixture is a meeting with an uploaded recording on a fresh database and
// bucket.
type fixture struct {
	store     *store.Store
	objects   *media.ObjectStore
	meetingID uuid.UUID
	userID    uuid.UUID
}

func setup(t *testing.T) *fixture {
	t.Helper()

	objects, err := media.NewObjectStore(testenv.Bucket(t).ObjectStoreConfig())
	require.NoError(t, err)

	return setupWithObjects(t, objects)
}

func setupWithObjects(t *testing.T, objects *media.ObjectStore) *fixture {
	t.Helper()

	f := &fixture{store: store.New(testenv.Pool(t)), objects: objects}
	f.insertMeeting(t)

	return f
}

// insertMeeting inserts the fixture's host and an ENDED meeting.
func (f *fixture) insertMeeting(t *testing.T) {
	t.Helper()

	f.meetingID, f.userID = uuid.New(), uuid.New()

	_, err := f.store.Pool().Exec(t.Context(), `INSERT INTO users (id, email, name) VALUES ($1, $2, 'Host')`,
		f.userID, "host-"+testenv.RandomSuffix()+"@example.com")
	require.NoError(t, err)

	_, err = f.store.Pool().Exec(t.Context(), `INSERT INTO meetings (id, title, status, creator_id, ended_at)
		VALUES ($1, 'Planning', 'ENDED', $2, now())`, f.meetingID, f.userID)
	require.NoError(t, err)
}

// upload stores the file at path as the meeting's raw recording, UPLOADED.
func (f *fixture) upload(t *testing.T, path string) *store.Recording {
	t.Helper()

	id := uuid.New()
	key := consumers.RecordingPrefix(f.meetingID, id) + "raw"

	file, err := os.Open(path)
	require.NoError(t, err)
	defer file.Close()

	size, err := f.objects.Put(t.Context(), key, file, -1, "application/octet-stream")
	require.NoError(t, err)

	recording, err := f.store.CreateRecording(t.Context(), store.NewRecording{
		ID: id, MeetingID: f.meetingID, Status: store.RecordingUploaded, ContentType: "audio/wav",
		RawObjectKey: key, SizeBytes: &size,
	})
	require.NoError(t, err)

	return recording
}

// job inserts a RUNNING task of kind and returns a Job whose Report
// records task events the way the runner does.
func (f *fixture) job(t *testing.T, kind string, recordingID *uuid.UUID) (consumers.Job, *reports) {
	t.Helper()

	taskID := uuid.New()
	_, err := f.store.Pool().Exec(t.Context(), `INSERT INTO tasks (id, meeting_id, recording_id, kind, status, attempts)
		VALUES ($1, $2, $3, $4, 'RUNNING', 1)`, taskID, f.meetingID, recordingID, kind)
	require.NoError(t, err)

	r := &reports{}
	job := consumers.Job{
		TaskID: taskID, MeetingID: f.meetingID, RecordingID: recordingID, Kind: kind, Attempt: 1,
		Report: func(ctx context.Context, progress float64, stage, message string) error {
			r.add(stage)

			return pgx.BeginFunc(ctx, f.store.Pool(), func(tx pgx.Tx) error {
				_, err := store.RecordTaskEvent(ctx, tx, taskID, store.TaskChange{
					Status: store.TaskRunning, Progress: progress, Stage: stage, Message: message,
				})

				return err
			})
		},
	}

	return job, r
}

// reports lists the stages a handler reported, and signals the first
// report of one stage.
type reports struct {
	mu     sync.Mutex
	stages []string
	waits  map[string]chan struct{}
}

func (r *reports) add(stage string) {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.stages = append(r.stages, stage)

	if ch, ok := r.waits[stage]; ok {
		close(ch)
		delete(r.waits, stage)
	}
}

// reached returns a channel closed at the next report of stage.
func (r *reports) reached(stage string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()

	if r.waits == nil {
		r.waits = map[string]chan struct{}{}
	}

	ch := make(chan struct{})
	r.waits[stage] = ch

	return ch
}

// events returns the task's stored events in order.
func (f *fixture) events(t *testing.T, taskID uuid.UUID) []store.TaskEvent {
	t.Helper()

	events, err := f.store.TaskEventsAfter(t.Context(), taskID, 0)
	require.NoError(t, err)

	return events
}

// queuedTasks returns the kinds of the meeting's QUEUED tasks that have an
// outbox message.
func (f *fixture) queuedTasks(t *testing.T) []string {
	t.Helper()

	rows, err := f.store.Pool().Query(t.Context(), `SELECT t.kind FROM tasks t
		JOIN outbox o ON o.message_id = t.id::text
		WHERE t.meeting_id = $1 AND t.status = 'QUEUED' ORDER BY t.created_at`, f.meetingID)
	require.NoError(t, err)

	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)

	return kinds
}

// requireEmptyDir checks that a handler removed its temporary files.
func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "files left in work directory %s", dir)
}

func requireObjectSize(t *testing.T, objects *media.ObjectStore, key string, want int64) {
	t.Helper()

	size, err := objects.Size(t.Context(), key)
	require.NoError(t, err, fmt.Sprintf("object %s", key))
	require.Equal(t, want, size)
}
