package store

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerUUIDCodec makes types encode and scan github.com/google/uuid's
// UUID as the 16 bytes of PostgreSQL's binary uuid format. Without it pgx
// v5 encodes a uuid.UUID through its driver.Valuer, which formats it as
// text for pgx to parse again, and scans one through its sql.Scanner from
// text. Both cost allocations and parsing on every id of every statement.
func registerUUIDCodec(types *pgtype.Map) {
	uuidType := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	types.RegisterType(uuidType)
	// The array type keeps the element type it was registered with, so it
	// is registered again with the new one.
	types.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: uuidType}})
}

// uuidCodec is pgtype.UUIDCodec with binary plans for uuid.UUID.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(types *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return encodeUUIDBinary{}
	}

	return c.UUIDCodec.PlanEncode(types, oid, format, value)
}

func (c uuidCodec) PlanScan(types *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUIDBinary{}
	}

	return c.UUIDCodec.PlanScan(types, oid, format, target)
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID)

	return append(buf, id[:]...), nil
}

type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, target any) error {
	// uuid.UUID's sql.Scanner, which pgx used before, scans NULL as the
	// zero UUID, and callers may rely on that.
	if src == nil {
		*target.(*uuid.UUID) = uuid.Nil

		return nil
	}

	if len(src) != len(uuid.UUID{}) {
		return fmt.Errorf("invalid binary uuid: %d bytes, expected 16", len(src))
	}

	copy(target.(*uuid.UUID)[:], src)

	return nil
}
