package store

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store runs meetgraph's queries on a connection pool.
type Store struct {
	pool *pgxpool.Pool
	// notify and outboxGrace are set once before use; see SetOutboxNotifier.
	notify      OutboxNotifier
	outboxGrace time.Duration
	// taskCreated is set once before use; see ObserveTasksWith.
	taskCreated func(kind string)
}

// New returns a Store that uses pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Pool returns the underlying pool, for readiness checks and transactions
// that span packages.
func (s *Store) Pool() *pgxpool.Pool {
	return s.pool
}
