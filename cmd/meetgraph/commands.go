package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/store"
)

// MigrateCmd applies the schema migrations.
type MigrateCmd struct{}

func (c *MigrateCmd) Run(env *environment) error {
	pool, err := env.openDatabase()
	if err != nil {
		return err
	}
	defer pool.Close()

	return store.Migrate(env.ctx, pool, env.logger)
}

// SeedCmd inserts the demo data.
type SeedCmd struct{}

func (c *SeedCmd) Run(env *environment) error {
	pool, err := env.openDatabase()
	if err != nil {
		return err
	}
	defer pool.Close()

	if err := store.RequireMigrated(env.ctx, pool); err != nil {
		return err
	}

	summary, err := store.New(pool).Seed(env.ctx)
	if err != nil {
		return err
	}

	env.logger.Info("demo data seeded", slog.Int("users_inserted", summary.Users),
		slog.Int("meetings_inserted", summary.Meetings))

	return nil
}

// TokenCmd prints a token for a user.
type TokenCmd struct {
	User string        `name:"user" required:"" help:"Id or e-mail address of the user the token is for."`
	TTL  time.Duration `name:"ttl" default:"24h" help:"How long the token stays valid (duration, at least 1s)."`
}

func (c *TokenCmd) Run(env *environment) error {
	if c.TTL < time.Second {
		return fmt.Errorf("--ttl is %s: a token must stay valid for at least 1s, because JWT times count whole seconds",
			c.TTL)
	}

	token, err := env.userToken(c.User, c.TTL)
	if err != nil {
		return err
	}

	_, err = fmt.Fprintln(env.stdout, token)

	return err
}

// userToken signs a token for the user with the given id or e-mail address.
func (env *environment) userToken(userRef string, ttl time.Duration) (string, error) {
	tokens, err := env.tokens()
	if err != nil {
		return "", err
	}

	pool, err := env.openDatabase()
	if err != nil {
		return "", err
	}
	defer pool.Close()

	db := store.New(pool)

	var user *store.User
	if id, parseErr := uuid.Parse(userRef); parseErr == nil {
		user, err = db.UserByID(env.ctx, id)
	} else {
		user, err = db.UserByEmail(env.ctx, userRef)
	}

	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no user with id or e-mail %q: run `meetgraph seed` for the demo users", userRef)
	}

	if err != nil {
		return "", err
	}

	return tokens.Sign(user.ID, ttl)
}
