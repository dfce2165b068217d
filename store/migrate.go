package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// newProvider returns a goose provider for the embedded migrations.
func newProvider(db *sql.DB, options ...goose.ProviderOption) (*goose.Provider, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}

	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations, options...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}

	return provider, nil
}

// RequireMigrated returns an error telling the operator to run `meetgraph migrate`
// when the database lacks a migration that this binary embeds, so that a
// process does not start against a schema it cannot use.
func RequireMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()

	provider, err := newProvider(db)
	if err != nil {
		return err
	}

	pending, err := provider.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}

	if pending {
		return errors.New("the database schema is not up to date: run `meetgraph migrate` first")
	}

	return nil
}

// Migrate applies every migration that the database does not have yet. It
// is safe to call from several processes at once: a PostgreSQL advisory lock
// lets one apply the migrations while the others wait.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("create migration lock: %w", err)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()

	provider, err := newProvider(db, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}

	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}

	for _, result := range results {
		logger.Info("migration applied",
			slog.Int64("version", result.Source.Version),
			slog.String("file", result.Source.Path),
			slog.Duration("duration", result.Duration))
	}

	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}

	logger.Debug("schema up to date", slog.Int64("version", version))

	return nil
}
