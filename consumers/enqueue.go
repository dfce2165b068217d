package consumers

import (
	"context"

	"github.com/google/uuid"
)

// Enqueuer queues the task that a task hands its work on to. The task is
// durable: it exists, and its message will be published even if the worker
// stops right after. It is queued once per parent task and kind, so that a
// redelivered parent does not queue it twice. *store.Store implements it.
type Enqueuer interface {
	EnqueueFollowUp(ctx context.Context, parentID, meetingID uuid.UUID, recordingID *uuid.UUID, kind string) (uuid.UUID, error)
}
