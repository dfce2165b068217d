package store

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// The round trip in postgres_test.go also passes through pgx's text
// detour; this checks that the detour is gone.
func TestUUIDCodecSkipsText(t *testing.T) {
	t.Parallel()

	m := pgtype.NewMap()
	registerUUIDCodec(m)

	require.IsType(t, encodeUUIDBinary{}, m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.UUID{}))

	var id uuid.UUID
	require.IsType(t, scanUUIDBinary{}, m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id))

	buf, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, []uuid.UUID{uuid.New()}, nil)
	require.NoError(t, err)
	require.NotEmpty(t, buf)
}
