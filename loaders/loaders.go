// Package loaders holds the per-request dataloaders that turn the field
// resolvers' many small reads into one SQL statement per relation and
// batch window. A fresh set is made for every HTTP request, so cached rows
// never cross from one caller to another.
package loaders

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/metrics"
	"github.com/meetgraph/meetgraph/store"
)

// Defaults for Config.
const (
	// DefaultWait is short because gqlgen starts the resolvers of sibling
	// fields and list elements within microseconds of each other: a wait of
	// a fraction of a millisecond already collects them, while
	// dataloader's own default of 16 ms would add 16 ms to every level of
	// every query, even for a single client.
	DefaultWait = 250 * time.Microsecond
	// DefaultMaxBatch bounds the keys in one `= ANY($1)` array. A 100-item
	// page with all its relations stays in one batch per loader.
	DefaultMaxBatch = 500
)

// Config sets how loaders batch.
type Config struct {
	// Wait is how long a loader collects keys after the first one before it
	// runs its statement; 0 means DefaultWait.
	Wait time.Duration
	// MaxBatch is the number of keys after which a batch runs at once,
	// without waiting; 0 means DefaultMaxBatch.
	MaxBatch int
	// Disabled makes every Load run its own statement with no batching and
	// no cache, and reads each participant's user by itself: the one-by-one
	// baseline that the benchmark compares with.
	Disabled bool
	// Metrics, when set, records the size of every batch.
	Metrics *metrics.Metrics
}

func (c Config) withDefaults() Config {
	if c.Wait <= 0 {
		c.Wait = DefaultWait
	}

	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}

	return c
}

// Loaders is the set of loaders of one request.
type Loaders struct {
	// Users loads users by id; a missing user is an error wrapping store.ErrNotFound.
	Users *Loader[uuid.UUID, *store.User]
	// Meetings loads the meetings that the request's caller may see; a
	// missing or hidden meeting is an error wrapping store.ErrNotFound, and
	// a request without a signed-in caller fails with UNAUTHENTICATED.
	Meetings *Loader[uuid.UUID, *store.Meeting]
	// Participants loads each meeting's participants with their users.
	Participants *Loader[uuid.UUID, []*store.Participant]
	// Recordings loads each meeting's recordings.
	Recordings *Loader[uuid.UUID, []*store.Recording]
	// Analyses loads each meeting's analysis, nil when it has none.
	Analyses *Loader[uuid.UUID, *store.Analysis]
	// Tasks loads each meeting's tasks.
	Tasks *Loader[uuid.UUID, []*store.Task]
}

// New returns a fresh set of loaders reading through st.
func New(st *store.Store, config Config, logger *slog.Logger) *Loaders {
	config = config.withDefaults()
	l := &Loaders{}

	l.Users = newLoader("users", config, logger,
		byKey(st.UsersByIDs, func(u *store.User) uuid.UUID { return u.ID }),
		notFound[*store.User]("user"))
	l.Meetings = newLoader("meetings", config, logger,
		byKey(func(ctx context.Context, ids []uuid.UUID) ([]*store.Meeting, error) {
			viewer, err := auth.UserID(ctx)
			if err != nil {
				return nil, err
			}

			meetings, err := st.MeetingsForViewerByIDs(ctx, ids, viewer)
			for _, m := range meetings {
				l.primeCreator(ctx, m)
			}

			return meetings, err
		}, func(m *store.Meeting) uuid.UUID { return m.ID }),
		notFound[*store.Meeting]("meeting"))
	participants := groupedBy(st.ParticipantsByMeetingIDs, func(p *store.Participant) uuid.UUID { return p.MeetingID })
	if config.Disabled {
		participants = l.readUsersOneByOne(participants)
	}

	l.Participants = newLoader("participants", config, logger, participants, empty[[]*store.Participant])
	l.Recordings = newLoader("recordings", config, logger,
		groupedBy(st.RecordingsByMeetingIDs, func(r *store.Recording) uuid.UUID { return r.MeetingID }),
		empty[[]*store.Recording])
	l.Analyses = newLoader("analyses", config, logger,
		byKey(st.AnalysesByMeetingIDs, func(a *store.Analysis) uuid.UUID { return a.MeetingID }),
		empty[*store.Analysis])
	l.Tasks = newLoader("tasks", config, logger,
		groupedBy(st.TasksByMeetingIDs, func(t *store.Task) uuid.UUID { return t.MeetingID }),
		empty[[]*store.Task])

	return l
}

// readUsersOneByOne replaces the users that the participants statement
// joins with a read of each user by id. The baseline without loaders then
// costs what a server that resolves Participant.user field by field costs:
// one statement per participant.
func (l *Loaders) readUsersOneByOne(fetch fetchFunc[uuid.UUID, []*store.Participant],
) fetchFunc[uuid.UUID, []*store.Participant] {
	return func(ctx context.Context, meetingIDs []uuid.UUID) (map[uuid.UUID][]*store.Participant, error) {
		grouped, err := fetch(ctx, meetingIDs)
		if err != nil {
			return nil, err
		}

		for _, participants := range grouped {
			for _, p := range participants {
				user, err := l.Users.Load(ctx, p.User.ID)
				if err != nil {
					return nil, fmt.Errorf("load user of participant of meeting %s: %w", p.MeetingID, err)
				}

				p.User = *user
			}
		}

		return grouped, nil
	}
}

// PrimeMeeting caches m, read by another statement than the loader's, and
// its creator, so that neither costs a statement later in the request.
func (l *Loaders) PrimeMeeting(ctx context.Context, m *store.Meeting) {
	l.Meetings.Prime(ctx, m.ID, m)
	l.primeCreator(ctx, m)
}

// primeCreator caches the creator that the meeting queries read along with
// the meeting, which spares the creator field a statement of its own.
func (l *Loaders) primeCreator(ctx context.Context, m *store.Meeting) {
	if m.Creator != nil {
		l.Users.Prime(ctx, m.Creator.ID, m.Creator)
	}
}

type contextKey struct{}

// ForResponse returns a function that gives a context a fresh set of
// loaders, for resolving one subscription event or one operation on a
// WebSocket connection. The set is made at its first use: gqlgen prepares
// a subscription's context for its next event before the event arrives,
// and an idle subscription should not hold loaders while it waits.
func ForResponse(st *store.Store, config Config, logger *slog.Logger) func(context.Context) context.Context {
	return func(ctx context.Context) context.Context {
		return context.WithValue(ctx, contextKey{}, &lazyLoaders{newLoaders: func() *Loaders { return New(st, config, logger) }})
	}
}

// lazyLoaders makes a set of loaders at its first use.
type lazyLoaders struct {
	newLoaders func() *Loaders
	once       sync.Once
	loaders    *Loaders
}

func (l *lazyLoaders) get() *Loaders {
	l.once.Do(func() { l.loaders = l.newLoaders() })

	return l.loaders
}

// Middleware puts a fresh set of loaders into each request's context,
// except a WebSocket upgrade's. A WebSocket or SSE request lives as long as
// its subscriptions, and later responses must not show rows cached for
// earlier ones. So the gateway gives every subscription event and every
// operation on a WebSocket connection a fresh set (see ForResponse), and an
// idle WebSocket connection holds no loaders.
func Middleware(st *store.Store, config Config, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "" {
				next.ServeHTTP(w, r)

				return
			}

			ctx := WithLoaders(r.Context(), New(st, config, logger))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// WithLoaders returns a context that carries l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, contextKey{}, l)
}

// From returns the loaders of ctx's request. It panics when Middleware (or
// WithLoaders) did not run, which is a wiring mistake; gqlgen recovers the
// panic into an INTERNAL error.
func From(ctx context.Context) *Loaders {
	switch l := ctx.Value(contextKey{}).(type) {
	case *Loaders:
		return l
	case *lazyLoaders:
		return l.get()
	default:
		panic("loaders: no loaders in the request context; install loaders.Middleware")
	}
}

// byKey adapts a store query that returns one row per key.
func byKey[V any](query func(context.Context, []uuid.UUID) ([]V, error), key func(V) uuid.UUID) fetchFunc[uuid.UUID, V] {
	return func(ctx context.Context, keys []uuid.UUID) (map[uuid.UUID]V, error) {
		rows, err := query(ctx, keys)
		if err != nil {
			return nil, err
		}

		found := make(map[uuid.UUID]V, len(rows))
		for _, row := range rows {
			found[key(row)] = row
		}

		return found, nil
	}
}

// groupedBy adapts a store query that returns any number of rows per key,
// keeping the query's order within each key.
func groupedBy[V any](query func(context.Context, []uuid.UUID) ([]V, error), key func(V) uuid.UUID) fetchFunc[uuid.UUID, []V] {
	return func(ctx context.Context, keys []uuid.UUID) (map[uuid.UUID][]V, error) {
		rows, err := query(ctx, keys)
		if err != nil {
			return nil, err
		}

		return groupBy(rows, key), nil
	}
}

func groupBy[V any](rows []V, key func(V) uuid.UUID) map[uuid.UUID][]V {
	grouped := make(map[uuid.UUID][]V)
	for _, row := range rows {
		grouped[key(row)] = append(grouped[key(row)], row)
	}

	return grouped
}

func notFound[V any](kind string) missingFunc[uuid.UUID, V] {
	return func(key uuid.UUID) (V, error) {
		var zero V

		return zero, fmt.Errorf("%s %s: %w", kind, key, store.ErrNotFound)
	}
}

func empty[V any](uuid.UUID) (V, error) {
	var zero V

	return zero, nil
}
