package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/graph"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/resolvers"
	"github.com/meetgraph/meetgraph/server"
	"github.com/meetgraph/meetgraph/store"
)

// gateway is the GraphQL endpoint on a fresh database, with the real
// middleware stack and a tracer that counts its SQL statements.
type gateway struct {
	endpoint string
	pool     *pgxpool.Pool
	tracer   *testenv.StatementTracer
	tokens   *auth.Tokens
}

// testLoaderConfig waits longer than the default, because goroutines start
// slowly under the race detector on a busy 2-core machine, and a batch
// window that closes before the last sibling field asks would split a
// batch and make the statement counts flaky.
var testLoaderConfig = loaders.Config{Wait: 20 * time.Millisecond}

func setup(t *testing.T) *gateway {
	t.Helper()

	return setupWith(t, testLoaderConfig)
}

// setupWith is setup with the given loader settings.
func setupWith(t *testing.T, loaderConfig loaders.Config) *gateway {
	t.Helper()

	tracer := &testenv.StatementTracer{}
	pool := testenv.Pool(t, func(c *store.PoolConfig) { c.Tracer = tracer })
	st := store.New(pool)
	logger := testenv.Logger(t)

	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(auth.DevSecret), Issuer: "meetgraph", Audience: "meetgraph"})
	require.NoError(t, err)

	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Store: st, Logger: logger}})
	handler := server.NewHandler(server.Config{}, server.Deps{
		Logger:            logger,
		Schema:            schema,
		Tokens:            tokens,
		GraphQLMiddleware: loaders.Middleware(st, loaderConfig, logger),
	})

	httpServer := httptest.NewServer(handler)
	t.Cleanup(httpServer.Close)

	return &gateway{endpoint: httpServer.URL + "/query", pool: pool, tracer: tracer, tokens: tokens}
}

func (g *gateway) token(t *testing.T, userID uuid.UUID) string {
	t.Helper()

	token, err := g.tokens.Sign(userID, time.Hour)
	require.NoError(t, err)

	return token
}

// query posts a query as userID and returns the response and the number
// of SQL statements it cost.
func (g *gateway) query(t *testing.T, userID uuid.UUID, query string, variables map[string]any) (testenv.GraphQLResponse, int64) {
	t.Helper()

	before := g.tracer.Count()
	response := testenv.PostGraphQL(t, g.endpoint, g.token(t, userID), query, variables)

	return response, g.tracer.Count() - before
}

func (g *gateway) exec(t *testing.T, sql string, args ...any) {
	t.Helper()

	_, err := g.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

func (g *gateway) addUser(t *testing.T, name string) uuid.UUID {
	t.Helper()

	id := uuid.New()
	g.exec(t, `INSERT INTO users (id, email, name) VALUES ($1, $2, $3)`, id, name+"-"+id.String()[:8]+"@example.com", name)

	return id
}

// meetingFixture describes what addMeeting inserts.
type meetingFixture struct {
	creator      uuid.UUID
	visibility   string
	status       string
	createdAt    time.Time
	participants []uuid.UUID
	recordings   int
	analysis     bool
	tasks        int
}

// addMeeting inserts a meeting with its relations and returns its id.
func (g *gateway) addMeeting(t *testing.T, f meetingFixture) uuid.UUID {
	t.Helper()

	if f.visibility == "" {
		f.visibility = store.VisibilityPrivate
	}

	if f.status == "" {
		f.status = store.MeetingScheduled
	}

	if f.createdAt.IsZero() {
		f.createdAt = time.Now()
	}

	id := uuid.New()
	g.exec(t, `INSERT INTO meetings (id, title, status, visibility, creator_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, "Meeting "+id.String()[:8], f.status, f.visibility, f.creator, f.createdAt)

	for i, user := range f.participants {
		role := "ATTENDEE"
		if i == 0 {
			role = "HOST"
		}

		g.exec(t, `INSERT INTO participants (meeting_id, user_id, role, invited_at) VALUES ($1, $2, $3, $4)`,
			id, user, role, f.createdAt.Add(time.Duration(i)*time.Second))
	}

	for i := range f.recordings {
		g.exec(t, `INSERT INTO recordings (id, meeting_id, status, content_type, size_bytes, created_at)
			VALUES ($1, $2, 'UPLOADED', 'audio/ogg', $3, $4)`, uuid.New(), id, 1000+i, f.createdAt.Add(time.Duration(i)*time.Second))
	}

	if f.analysis {
		g.exec(t, `INSERT INTO analyses (meeting_id, transcript_text, transcript_segments, summary, keywords)
			VALUES ($1, 'hello world', '[{"start": 0, "end": 1.5, "text": "hello world"}]', 'A greeting.', '{hello,world}')`, id)
	}

	for i := range f.tasks {
		g.exec(t, `INSERT INTO tasks (id, meeting_id, kind, created_at) VALUES ($1, $2, $3, $4)`,
			uuid.New(), id, "NOOP", f.createdAt.Add(time.Duration(i)*time.Second))
	}

	return id
}

// addFullMeetings inserts n meetings created by creator, newest last, each
// with three participants, a recording, an analysis and two tasks.
func (g *gateway) addFullMeetings(t *testing.T, creator uuid.UUID, n int) []uuid.UUID {
	t.Helper()

	others := []uuid.UUID{g.addUser(t, "Ann"), g.addUser(t, "Ben")}
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	ids := make([]uuid.UUID, n)

	for i := range ids {
		ids[i] = g.addMeeting(t, meetingFixture{
			creator:      creator,
			createdAt:    start.Add(time.Duration(i) * time.Minute),
			participants: []uuid.UUID{creator, others[0], others[1]},
			recordings:   1,
			analysis:     true,
			tasks:        2,
		})
	}

	return ids
}

// fullMeetingFields selects every relation of a meeting.
const fullMeetingFields = `id title status createdAt
	creator { id name email }
	participants { role invitedAt joinedAt user { id name } }
	recordings { id status contentType sizeBytes url }
	analysis { summary keywords transcript { text segments { start end text } } }
	tasks { id kind status meeting { id } }`

func errorCodes(response testenv.GraphQLResponse) []string {
	codes := make([]string, len(response.Errors))
	for i, e := range response.Errors {
		codes[i] = fmt.Sprintf("%s %v", e.Code(), e.Path)
	}

	return codes
}

func postAnonymous(t *testing.T, g *gateway, query string) testenv.GraphQLResponse {
	t.Helper()

	return testenv.PostGraphQL(t, g.endpoint, "", query, nil)
}

// mustField walks data along path and returns the JSON found there.
func mustField(t *testing.T, data json.RawMessage, path ...string) json.RawMessage {
	t.Helper()

	current := data
	for _, key := range path {
		var object map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(current, &object), "at %s in %s", key, data)

		current = object[key]
	}

	return current
}
