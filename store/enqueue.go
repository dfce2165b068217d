package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Task kinds that workers chain: a processed recording queues its
// transcription, and a transcript queues its summary.
const (
	TaskKindRecording     = "RECORDING"
	TaskKindTranscription = "TRANSCRIPTION"
	TaskKindSummary       = "SUMMARY"
)

// TaskMessage is the JSON body of a task message in the outbox.
type TaskMessage struct {
	TaskID      uuid.UUID  `json:"taskId"`
	MeetingID   uuid.UUID  `json:"meetingId"`
	RecordingID *uuid.UUID `json:"recordingId,omitempty"`
	Kind        string     `json:"kind"`
}

// taskRoutingKey is the meetgraph.tasks routing key of a task kind: the
// recording queue transcodes, the AI queue runs everything else.
func taskRoutingKey(kind string) string {
	if kind == TaskKindRecording {
		return "recording"
	}

	return "ai"
}

// EnqueueTask inserts a QUEUED task with its first event and the outbox
// row that carries its message, in one transaction, and returns the task's
// id. The outbox relay publishes the message after commit.
//
// NOTE: this is the workers' own task-and-outbox write, used until the
// mutation side's enqueue exists. Its message body and routing key must
// match what the runner consumes.
func (s *Store) EnqueueTask(ctx context.Context, meetingID uuid.UUID, recordingID *uuid.UUID, kind string) (uuid.UUID, error) {
	taskID := uuid.New()

	body, err := json.Marshal(TaskMessage{TaskID: taskID, MeetingID: meetingID, RecordingID: recordingID, Kind: kind})
	if err != nil {
		return uuid.Nil, fmt.Errorf("encode %s task message: %w", kind, err)
	}

	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tasks (id, meeting_id, recording_id, kind) VALUES ($1, $2, $3, $4)`,
			taskID, meetingID, recordingID, kind)
		if err != nil {
			return err
		}

		if _, err := RecordTaskEvent(ctx, tx, taskID, TaskChange{Status: TaskQueued, Stage: "queued"}); err != nil {
			return err
		}

		_, err = tx.Exec(ctx, `INSERT INTO outbox (exchange, routing_key, message_id, body)
			VALUES ('meetgraph.tasks', $1, $2, $3)`, taskRoutingKey(kind), taskID.String(), body)

		return err
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("enqueue %s task for meeting %s: %w", kind, meetingID, err)
	}

	return taskID, nil
}
