package store

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// uuidCodec is pgx's UUID codec taught github.com/google/uuid's UUID.
// Without it pgx treats uuid.UUID as a driver.Valuer and a sql.Scanner: it
// formats every id parameter as text and parses it back, and scans every
// id column through a string and uuid.Parse. Every loader statement sends
// an array of ids and reads ids back, so the detour cost a measurable share
// of the gateway's CPU per request. Other Go types go to pgtype.UUIDCodec
// unchanged.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return encodeUUIDBinary{}
	}

	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUIDBinary{}
	}

	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(uuid.UUID) // PlanEncode chose this plan for a uuid.UUID.

	return append(buf, id[:]...), nil
}

type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, target any) error {
	if src == nil {
		return fmt.Errorf("cannot scan NULL into %T", target)
	}

	if len(src) != len(uuid.UUID{}) {
		return fmt.Errorf("invalid length %d for a binary uuid", len(src))
	}

	copy(target.(*uuid.UUID)[:], src) // PlanScan chose this plan for a *uuid.UUID.

	return nil
}

// registerUUIDCodec replaces the uuid type and its array type in m with
// uuidCodec.
func registerUUIDCodec(m *pgtype.Map) {
	element := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(element)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: element}})
}
