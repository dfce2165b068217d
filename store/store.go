package store

import (
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store runs meetgraph's queries on a connection pool.
type Store struct {
	pool *pgxpool.Pool
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
