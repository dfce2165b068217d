package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Permission names stored in user_permissions.
const (
	PermissionCreateMeeting = "create_meeting"
	PermissionOperator      = "operator"
)

// User is a row of users with its permissions.
type User struct {
	ID          uuid.UUID
	Email       string
	Name        string
	CreatedAt   time.Time
	Permissions []string
}

// Can reports whether the user holds permission.
func (u *User) Can(permission string) bool {
	return slices.Contains(u.Permissions, permission)
}

const userColumns = `u.id, u.email, u.name, u.created_at,
	coalesce((SELECT array_agg(p.permission ORDER BY p.permission)
	          FROM user_permissions p WHERE p.user_id = u.id), '{}')`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &u.Permissions); err != nil {
		return nil, err
	}

	return &u, nil
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (*User, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id)

	user, err := scanUser(row)
	if err != nil {
		return nil, fmt.Errorf("select user %s: %w", id, notFoundIfNoRows(err))
	}

	return user, nil
}

// UserByEmail returns the user with email, or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.email = $1`, email)

	user, err := scanUser(row)
	if err != nil {
		return nil, fmt.Errorf("select user %q: %w", email, notFoundIfNoRows(err))
	}

	return user, nil
}

// UsersByIDs returns the users with the given ids in one statement, in no
// particular order; ids without a row are absent from the result.
func (s *Store) UsersByIDs(ctx context.Context, ids []uuid.UUID) ([]*User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("select users: %w", err)
	}

	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("select users: %w", err)
	}

	return users, nil
}
