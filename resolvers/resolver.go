// Package resolvers implements meetgraph's GraphQL schema on top of the
// store. Files named *.resolvers.go follow the schema files and are kept in
// shape by gqlgen; the helpers beside them are written by hand.
package resolvers

import (
	"log/slog"
	"time"

	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
)

// Resolver carries the dependencies that every resolver shares.
type Resolver struct {
	Store   *store.Store
	Objects *media.ObjectStore
	Logger  *slog.Logger
	// RecordingURLExpiry is how long a presigned recording URL stays valid.
	RecordingURLExpiry time.Duration
	// Hub delivers live task and meeting events to subscriptions.
	Hub *events.Hub
	// MaxUploadBytes caps the size of an uploaded recording; media.DefaultMaxUploadBytes when 0.
	MaxUploadBytes int64
}

func (r *Resolver) maxUploadBytes() int64 {
	if r.MaxUploadBytes <= 0 {
		return media.DefaultMaxUploadBytes
	}

	return r.MaxUploadBytes
}
