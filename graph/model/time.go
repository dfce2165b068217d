package model

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/meetgraph/meetgraph/apperr"
)

// MarshalTime writes a Time as RFC 3339 with nanoseconds, as gqlgen's
// built-in Time scalar does.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.MarshalTime(t)
}

// UnmarshalTime reads an RFC 3339 timestamp with a time zone. A value in
// another form is the client's mistake, so it is a BAD_USER_INPUT error
// that shows the expected form.
func UnmarshalTime(v any) (time.Time, error) {
	text, ok := v.(string)
	if !ok {
		return time.Time{}, apperr.New(apperr.BadUserInput, "invalid time %v: expected a string", v)
	}

	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return time.Time{}, apperr.New(apperr.BadUserInput,
			"invalid time %q: use RFC 3339 with a time zone, for example 2026-12-04T16:00:00Z", text)
	}

	return t, nil
}
