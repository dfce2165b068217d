package resolvers

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/store"
)

// maxIdempotencyKeyLength bounds client idempotency keys, which are stored per task.
const maxIdempotencyKeyLength = 200

// currentUser loads the signed-in user with their permissions.
func (r *Resolver) currentUser(ctx context.Context) (*store.User, error) {
	userID, err := auth.UserID(ctx)
	if err != nil {
		return nil, err
	}

	user, err := r.Store.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.Wrap(err, apperr.Unauthenticated, "the token's user no longer exists")
	}

	return user, err
}

// actorAndID loads the signed-in user and parses the id argument.
func (r *Resolver) actorAndID(ctx context.Context, kind, id string) (*store.User, uuid.UUID, error) {
	parsed, err := parseID(kind, id)
	if err != nil {
		return nil, uuid.Nil, err
	}

	actor, err := r.currentUser(ctx)
	if err != nil {
		return nil, uuid.Nil, err
	}

	return actor, parsed, nil
}

func parseIDs(kind string, ids []string) ([]uuid.UUID, error) {
	parsed := make([]uuid.UUID, len(ids))

	for i, id := range ids {
		var err error
		if parsed[i], err = parseID(kind, id); err != nil {
			return nil, err
		}
	}

	return parsed, nil
}

func checkIdempotencyKey(key *string) error {
	if key != nil && (*key == "" || len(*key) > maxIdempotencyKeyLength) {
		return apperr.New(apperr.BadUserInput, "invalid idempotencyKey: expected 1 to %d bytes", maxIdempotencyKeyLength)
	}

	return nil
}
