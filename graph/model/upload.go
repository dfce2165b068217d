package model

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/meetgraph/meetgraph/apperr"
)

// MarshalUpload writes an Upload the way gqlgen does; the schema never
// returns one.
func MarshalUpload(f graphql.Upload) graphql.Marshaler {
	return graphql.MarshalUpload(f)
}

// UnmarshalUpload reads the file that gqlgen's multipart transport put in
// place of a variable. Any other value, such as a string in a JSON body,
// is the client's mistake, so it is a BAD_USER_INPUT error that names the
// request form to use.
func UnmarshalUpload(v any) (graphql.Upload, error) {
	upload, err := graphql.UnmarshalUpload(v)
	if err != nil {
		return graphql.Upload{}, apperr.New(apperr.BadUserInput,
			"invalid file: got a JSON %T, expected a file part of a multipart request "+
				"(GraphQL multipart request specification)", v)
	}

	return upload, nil
}
