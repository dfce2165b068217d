package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

func TestOpenDefaultsToGenericPlans(t *testing.T) {
	t.Parallel()

	ctx := testenv.Context(t, 30*time.Second)

	var mode string

	require.NoError(t, testenv.Pool(t).QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode))
	require.Equal(t, "force_generic_plan", mode)

	custom := testenv.Pool(t, func(c *store.PoolConfig) { c.URL += "&plan_cache_mode=auto" })
	require.NoError(t, custom.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode))
	require.Equal(t, "auto", mode)
}

func TestUUIDsRoundTrip(t *testing.T) {
	t.Parallel()

	ctx := testenv.Context(t, 30*time.Second)
	pool := testenv.Pool(t)
	id := uuid.MustParse("6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b")
	ids := []uuid.UUID{id, uuid.Nil, uuid.MustParse("00000000-0000-0000-0000-0000000000ff")}

	var (
		gotID      uuid.UUID
		gotIDs     []uuid.UUID
		gotNull    *uuid.UUID
		gotPointer *uuid.UUID
		gotText    string
		gotFromStr uuid.UUID
		gotNullID  uuid.NullUUID
	)

	err := pool.QueryRow(ctx, `SELECT $1::uuid, $2::uuid[], NULL::uuid, $1::uuid, $1::uuid::text, $3::uuid, NULL::uuid`,
		id, ids, id.String()).
		Scan(&gotID, &gotIDs, &gotNull, &gotPointer, &gotText, &gotFromStr, &gotNullID)
	require.NoError(t, err)

	require.Equal(t, id, gotID)
	require.Equal(t, ids, gotIDs)
	require.Nil(t, gotNull)
	require.NotNil(t, gotPointer)
	require.Equal(t, id, *gotPointer)
	require.Equal(t, id.String(), gotText)
	require.Equal(t, id, gotFromStr)
	require.False(t, gotNullID.Valid)

	var found bool

	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::uuid = ANY($2)`, ids[2], ids).Scan(&found))
	require.True(t, found)

	var scanned uuid.UUID

	err = pool.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&scanned)
	require.ErrorContains(t, err, "NULL")
}
