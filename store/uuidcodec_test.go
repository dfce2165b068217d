package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
)

func TestPoolRoundTripsUUIDs(t *testing.T) {
	t.Parallel()

	pool := testenv.Pool(t)
	ctx := testenv.Context(t, 30*time.Second)
	id := uuid.New()
	ids := []uuid.UUID{uuid.New(), uuid.New()}

	var (
		scanned     uuid.UUID
		text        string
		scannedIDs  []uuid.UUID
		null        *uuid.UUID
		nullAsValue uuid.UUID
		present     *uuid.UUID
	)

	err := pool.QueryRow(ctx, `SELECT $1::uuid, $1::uuid::text, $2::uuid[], NULL::uuid, NULL::uuid, $3::uuid`,
		id, ids, &id).Scan(&scanned, &text, &scannedIDs, &null, &nullAsValue, &present)
	require.NoError(t, err)
	assert.Equal(t, id, scanned)
	assert.Equal(t, id.String(), text, "PostgreSQL stores the same id")
	assert.Equal(t, ids, scannedIDs)
	assert.Nil(t, null)
	assert.Equal(t, uuid.Nil, nullAsValue)
	require.NotNil(t, present)
	assert.Equal(t, id, *present)
}
