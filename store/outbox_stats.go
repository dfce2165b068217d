package store

import (
	"context"
	"fmt"
	"time"
)

// OutboxBacklog returns how many outbox rows the broker has not confirmed
// yet, and the age of the oldest of them (0 when there is none).
func (s *Store) OutboxBacklog(ctx context.Context) (int64, time.Duration, error) {
	var (
		count  int64
		oldest float64
	)

	err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
		FROM outbox WHERE published_at IS NULL`).Scan(&count, &oldest)
	if err != nil {
		return 0, 0, fmt.Errorf("read outbox backlog: %w", err)
	}

	return count, time.Duration(oldest * float64(time.Second)), nil
}
