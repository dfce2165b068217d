package consumers

import (
	"context"

	"github.com/google/uuid"
)

// Enqueuer queues a follow-up task of a meeting, durably: the task exists
// and its message will be published even if the worker stops right after.
// *store.Store implements it.
type Enqueuer interface {
	EnqueueTask(ctx context.Context, meetingID uuid.UUID, recordingID *uuid.UUID, kind string) (uuid.UUID, error)
}
