// Package store reads and writes meetgraph's PostgreSQL database through
// pgx. It owns the schema (embedded migrations) and translates driver errors
// so that callers never handle pgx types.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when a row looked up by its key does not exist.
var ErrNotFound = errors.New("not found")

// PoolConfig sets how the connection pool is opened.
type PoolConfig struct {
	// URL is a PostgreSQL connection URL or keyword/value string.
	URL string
	// MaxConns caps open connections; 0 keeps pgxpool's default (the larger of 4 and the CPU count).
	MaxConns int32
	// ConnectTimeout bounds the first connection made to check the server; 0 means 5 s.
	ConnectTimeout time.Duration
	// Tracer, when set, observes every statement (tests count round trips with it).
	Tracer pgx.QueryTracer
}

// Open creates a pool and checks that the server answers. The error names
// the server's address but never the password.
func Open(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	poolConfig, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}

	if cfg.MaxConns > 0 {
		poolConfig.MaxConns = cfg.MaxConns
	}

	if cfg.Tracer != nil {
		poolConfig.ConnConfig.Tracer = cfg.Tracer
	}

	poolConfig.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		registerUUIDCodec(conn.TypeMap())

		return nil
	}

	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}

	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("create pool for %s: %w", Address(poolConfig.ConnConfig), err)
	}

	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()

		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", Address(poolConfig.ConnConfig), oneLineError{err})
	}

	return pool, nil
}

// oneLineError prints err on one line: pgconn lists each connection attempt
// on a line of its own, which breaks log lines and start-up messages.
type oneLineError struct{ err error }

func (e oneLineError) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }

func (e oneLineError) Unwrap() error { return e.err }

// Address returns host:port/database of a connection config, for messages.
func Address(cfg *pgx.ConnConfig) string {
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
}

// notFoundIfNoRows maps pgx's no-rows error to ErrNotFound.
func notFoundIfNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}

	return err
}
