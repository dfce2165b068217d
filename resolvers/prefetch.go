package resolvers

import (
	"context"
	"log/slog"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/store"
)

// prefetchMeetingRelations loads the selected relations (fields, see
// selectedMeetingFields) of meetings, one statement per relation and all
// concurrently, and caches them in the request's loaders.
//
// The loaders' batch window alone does not hold a page together: on a busy
// machine gqlgen's goroutines for 50 meetings start over more than the
// window, so the batch splits and a page costs more statements than a
// detail view. Fetching before the field resolvers run keeps the count at
// one per relation whatever the scheduling, and spares the field resolvers
// the window's wait. Relations inside @defer are left to their resolvers so
// that the first response does not wait for them.
//
// NOTE: each meeting field prefetches for itself, so an operation with
// several aliased meeting fields that select relations costs one statement
// per relation and alias, not one per relation.
func (r *Resolver) prefetchMeetingRelations(ctx context.Context, meetings []*store.Meeting, fields map[string]bool) {
	if len(fields) == 0 || len(meetings) == 0 {
		return
	}

	l := loaders.From(ctx)
	meetingIDs := make([]uuid.UUID, len(meetings))
	creatorSet := make(map[uuid.UUID]struct{})

	for i, m := range meetings {
		meetingIDs[i] = m.ID

		// The meeting queries read the creator along with the meeting, and
		// the loaders cached it then. Only a creator they did not find
		// needs a statement.
		if m.Creator == nil {
			creatorSet[m.CreatorID] = struct{}{}
		}
	}

	creatorIDs := make([]uuid.UUID, 0, len(creatorSet))
	for id := range creatorSet {
		creatorIDs = append(creatorIDs, id)
	}

	var wg sync.WaitGroup

	if fields["creator"] && len(creatorIDs) > 0 {
		wg.Go(func() {
			r.prefetch(ctx, "creator", len(meetingIDs), func() error { return l.Users.Prefetch(ctx, creatorIDs) })
		})
	}

	r.prefetchByMeetingID(ctx, meetingIDs, fields)
	wg.Wait()
}

// prefetchByMeetingID loads the selected relations that are keyed by the
// meeting's id, which is all of them but the creator, one statement per
// relation and all concurrently.
func (r *Resolver) prefetchByMeetingID(ctx context.Context, meetingIDs []uuid.UUID, fields map[string]bool) {
	l := loaders.From(ctx)
	prefetches := map[string]func() error{
		"participants": func() error { return l.Participants.Prefetch(ctx, meetingIDs) },
		"recordings":   func() error { return l.Recordings.Prefetch(ctx, meetingIDs) },
		"analysis":     func() error { return l.Analyses.Prefetch(ctx, meetingIDs) },
		"tasks":        func() error { return l.Tasks.Prefetch(ctx, meetingIDs) },
	}

	var wg sync.WaitGroup

	for field, prefetch := range prefetches {
		if fields[field] {
			wg.Go(func() { r.prefetch(ctx, field, len(meetingIDs), prefetch) })
		}
	}

	wg.Wait()
}

// prefetch runs one relation's prefetch and logs its failure. The field
// resolvers load again and report the error to the client, so a failure
// here only costs a statement. Loader.Prefetch recovers a panic of its
// fetch into an error.
func (r *Resolver) prefetch(ctx context.Context, field string, meetings int, prefetch func() error) {
	if err := prefetch(); err != nil {
		r.Logger.WarnContext(ctx, "prefetching meeting relation failed",
			slog.String("field", field), slog.Int("meetings", meetings), slog.Any("error", err))
	}
}

// selectedMeetingFields returns the names of the Meeting fields selected
// outside @defer fragments under the current field, following path: no
// steps for a field of type Meeting, or the connection's field names, for
// example edges and node.
func selectedMeetingFields(ctx context.Context, path ...pathStep) map[string]bool {
	opCtx := graphql.GetOperationContext(ctx)
	selections := []ast.SelectionSet{graphql.GetFieldContext(ctx).Field.Selections}

	for _, step := range path {
		var next []ast.SelectionSet

		for _, selection := range selections {
			for _, field := range graphql.CollectFields(opCtx, selection, []string{step.typeName}) {
				if field.Name == step.field {
					next = append(next, field.Selections)
				}
			}
		}

		selections = next
	}

	names := map[string]bool{}

	for _, selection := range selections {
		for _, field := range graphql.CollectFields(opCtx, selection, []string{"Meeting"}) {
			if !field.IsDeferred() {
				names[field.Name] = true
			}
		}
	}

	return names
}

// pathStep is a field of a GraphQL type.
type pathStep struct{ typeName, field string }

// connectionNode is the path from a MeetingConnection to its meetings.
var connectionNode = []pathStep{{"MeetingConnection", "edges"}, {"MeetingEdge", "node"}}

// rootFieldCount returns how many fields of the operation's root selection
// are named name, aliases and fragments included.
func rootFieldCount(ctx context.Context, name string) int {
	opCtx := graphql.GetOperationContext(ctx)
	count := 0

	for _, field := range graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Query"}) {
		if field.Name == name {
			count++
		}
	}

	return count
}
