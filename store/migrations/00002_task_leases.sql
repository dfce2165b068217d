-- +goose Up
-- A RUNNING task's worker extends its lease while it works. A redelivered
-- message whose task is RUNNING with an expired lease belongs to a worker
-- that died, so another worker may take the task over; with a live lease
-- the first worker is still at it and the duplicate must not run.
ALTER TABLE tasks ADD COLUMN lease_expires_at timestamptz;

-- The dead-letter list reads failed tasks newest first.
CREATE INDEX tasks_failed_updated_at_idx ON tasks (updated_at DESC)
    WHERE status IN ('FAILED', 'DEAD_LETTERED');

-- +goose Down
DROP INDEX tasks_failed_updated_at_idx;
ALTER TABLE tasks DROP COLUMN lease_expires_at;
