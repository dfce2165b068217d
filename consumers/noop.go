package consumers

import (
	"context"
	"fmt"
)

// KindNoop is the task kind that does no work, for tests and load tests.
const KindNoop = "NOOP"

// Noop reports progress 0.5 at stage "noop" and succeeds, so a NOOP task
// shows the whole event sequence: QUEUED, RUNNING, RUNNING at 0.5, SUCCEEDED.
func Noop(ctx context.Context, job Job) error {
	if err := job.Report(ctx, 0.5, "noop", "nothing to do"); err != nil {
		return fmt.Errorf("report progress of task %s: %w", job.TaskID, err)
	}

	return nil
}
