package loaders

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

type fixture struct {
	store  *store.Store
	tracer *testenv.StatementTracer
}

func setup(t *testing.T) *fixture {
	t.Helper()

	tracer := &testenv.StatementTracer{}
	pool := testenv.Pool(t, func(c *store.PoolConfig) { c.Tracer = tracer })

	return &fixture{store: store.New(pool), tracer: tracer}
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()

	_, err := f.store.Pool().Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func (f *fixture) addUser(t *testing.T) uuid.UUID {
	t.Helper()

	id := uuid.New()
	f.exec(t, `INSERT INTO users (id, email, name) VALUES ($1, $2, 'Test User')`, id, id.String()+"@example.com")

	return id
}

func (f *fixture) addMeeting(t *testing.T, creator uuid.UUID) uuid.UUID {
	t.Helper()

	id := uuid.New()
	f.exec(t, `INSERT INTO meetings (id, title, creator_id) VALUES ($1, 'Planning', $2)`, id, creator)

	return id
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()

	id, err := uuid.Parse(s)
	require.NoError(t, err)

	return id
}
