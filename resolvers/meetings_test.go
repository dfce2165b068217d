package resolvers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/store"
)

type meetingsPage struct {
	Meetings struct {
		Edges []struct {
			Cursor string `json:"cursor"`
			Node   struct {
				ID           string `json:"id"`
				Participants []struct {
					User struct {
						ID string `json:"id"`
					} `json:"user"`
				} `json:"participants"`
				Recordings []json.RawMessage `json:"recordings"`
				Tasks      []json.RawMessage `json:"tasks"`
				Analysis   *struct {
					Summary string `json:"summary"`
				} `json:"analysis"`
			} `json:"node"`
		} `json:"edges"`
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
	} `json:"meetings"`
}

const meetingsQuery = `query($first: Int, $after: String, $status: MeetingStatus) {
	meetings(first: $first, after: $after, status: $status) {
		edges { cursor node { ` + fullMeetingFields + ` } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
	}
}`

func TestMeetingsStatementCountIsConstant(t *testing.T) {
	t.Parallel()

	// The default batch window: pages must not depend on a generous one.
	g := setupWith(t, loaders.Config{})
	alice := g.addUser(t, "Alice")
	g.addFullMeetings(t, alice, 55)

	counts := map[int]int64{}

	for _, first := range []int{5, 50} {
		response, statements := g.query(t, alice, meetingsQuery, map[string]any{"first": first})
		require.Empty(t, response.Errors)

		var page meetingsPage
		require.NoError(t, json.Unmarshal(response.Data, &page))
		require.Len(t, page.Meetings.Edges, first)

		for _, edge := range page.Meetings.Edges {
			assert.Len(t, edge.Node.Participants, 3)
			assert.Len(t, edge.Node.Recordings, 1)
			assert.Len(t, edge.Node.Tasks, 2)
			assert.NotNil(t, edge.Node.Analysis)
		}

		counts[first] = statements
	}

	// The list with the creators, then one statement each for participants
	// with their users, recordings, analyses and tasks. Task.meeting is
	// primed.
	assert.Equal(t, int64(5), counts[5])
	assert.Equal(t, counts[5], counts[50])
}

func TestMeetingDetailStatementCount(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	ids := g.addFullMeetings(t, alice, 1)

	response, statements := g.query(t, alice, `query($id: ID!) { meeting(id: $id) { `+fullMeetingFields+` } }`,
		map[string]any{"id": ids[0].String()})
	require.Empty(t, response.Errors)
	// The meeting with its creator, then participants with their users,
	// recordings, analysis and tasks.
	assert.Equal(t, int64(5), statements)
	assert.JSONEq(t, `"A greeting."`, string(mustField(t, response.Data, "meeting", "analysis", "summary")))
}

// The benchmark's baseline must cost what resolving field by field costs,
// or the loaders' gain it reports is too small.
func TestBaselineReadsUsersOneByOne(t *testing.T) {
	t.Parallel()

	g := setupWith(t, loaders.Config{Disabled: true})
	alice := g.addUser(t, "Alice")
	ids := g.addFullMeetings(t, alice, 1)

	response, statements := g.query(t, alice, `query($id: ID!) { meeting(id: $id) { `+fullMeetingFields+` } }`,
		map[string]any{"id": ids[0].String()})
	require.Empty(t, response.Errors)

	var data struct {
		Meeting struct {
			Participants []struct {
				User struct{ Name string } `json:"user"`
			} `json:"participants"`
		} `json:"meeting"`
	}
	require.NoError(t, json.Unmarshal(response.Data, &data))

	names := make([]string, len(data.Meeting.Participants))
	for i, p := range data.Meeting.Participants {
		names[i] = p.User.Name
	}

	assert.ElementsMatch(t, []string{"Alice", "Ann", "Ben"}, names)
	// The meeting, its creator, participants and each of their 3 users,
	// recordings, analysis, tasks and each of the 2 tasks' meeting.
	assert.Equal(t, int64(11), statements)
}

func TestMeetingAliasesKeepTheirOrder(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	ids := g.addFullMeetings(t, alice, 3)
	missing := uuid.New()

	response, statements := g.query(t, alice, `query($m1: ID!, $m2: ID!, $m3: ID!, $missing: ID!) {
		a: meeting(id: $m3) { id }
		b: meeting(id: $m1) { id }
		c: meeting(id: $missing) { id }
		d: meeting(id: $m2) { id }
		e: meeting(id: $m1) { id }
	}`, map[string]any{"m1": ids[0].String(), "m2": ids[1].String(), "m3": ids[2].String(), "missing": missing.String()})

	var data map[string]*struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(response.Data, &data))
	require.NotNil(t, data["a"])
	assert.Equal(t, ids[2].String(), data["a"].ID)
	require.NotNil(t, data["b"])
	assert.Equal(t, ids[0].String(), data["b"].ID)
	assert.Nil(t, data["c"])
	require.NotNil(t, data["d"])
	assert.Equal(t, ids[1].String(), data["d"].ID)
	require.NotNil(t, data["e"])
	assert.Equal(t, ids[0].String(), data["e"].ID)

	require.Len(t, response.Errors, 1)
	assert.Equal(t, "NOT_FOUND", response.Errors[0].Code())
	assert.Equal(t, []any{"c"}, response.Errors[0].Path)
	assert.Equal(t, int64(1), statements, "all five aliases should share one batch")
}

func TestMeetingUnknownIDIsNotFound(t *testing.T) {
	t.Parallel()

	// A lone meeting field is prefetched; the prefetch once cached the
	// missing meeting as a nil value, and the resolver panicked on it.
	g := setupWith(t, loaders.Config{})
	alice := g.addUser(t, "Alice")

	response, _ := g.query(t, alice, `query($id: ID!) { meeting(id: $id) { id creator { name } } }`,
		map[string]any{"id": uuid.NewString()})
	assert.JSONEq(t, `{"meeting": null}`, string(response.Data))
	require.Len(t, response.Errors, 1)
	assert.Equal(t, "NOT_FOUND", response.Errors[0].Code())
	assert.Equal(t, []any{"meeting"}, response.Errors[0].Path)
}

func TestMeetingsRejectsBadInputBeforeSQL(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")

	cases := map[string]struct {
		query     string
		variables map[string]any
	}{
		"malformed id":      {`{ meeting(id: "not-a-uuid") { id } }`, nil},
		"first zero":        {meetingsQuery, map[string]any{"first": 0}},
		"first over cap":    {meetingsQuery, map[string]any{"first": 101}},
		"negative first":    {meetingsQuery, map[string]any{"first": -1}},
		"malformed cursor":  {meetingsQuery, map[string]any{"after": "!!!"}},
		"cursor not ours":   {meetingsQuery, map[string]any{"after": "aGVsbG8"}},
		"cursor bad id":     {meetingsQuery, map[string]any{"after": "MjAyNi0wMS0wMVQwMDowMDowMFp8bm9wZQ"}},
		"malformed task id": {`{ task(id: "42") { id } }`, nil},
	}

	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			response, statements := g.query(t, alice, c.query, c.variables)
			require.Len(t, response.Errors, 1, "errors: %v", errorCodes(response))
			assert.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
			assert.Zero(t, statements)
		})
	}
}

func TestMeetingsPagesThroughVisibleMeetings(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	bob := g.addUser(t, "Bob")
	start := time.Now().Add(-time.Hour)

	// Alice may see her own, the public one and the one she is invited to,
	// but not Bob's private meeting.
	own := g.addMeeting(t, meetingFixture{creator: alice, createdAt: start})
	public := g.addMeeting(t, meetingFixture{creator: bob, visibility: store.VisibilityPublic, createdAt: start.Add(time.Minute)})
	invited := g.addMeeting(t, meetingFixture{creator: bob, participants: []uuid.UUID{bob, alice}, createdAt: start.Add(2 * time.Minute)})
	g.addMeeting(t, meetingFixture{creator: bob, createdAt: start.Add(3 * time.Minute)})
	// Same created_at as invited: the id breaks the tie, and the cursor
	// must not skip or repeat either of them.
	sameTime := g.addMeeting(t, meetingFixture{creator: alice, status: store.MeetingLive, createdAt: start.Add(2 * time.Minute)})

	var seen []string

	var after any

	for range 10 {
		response, _ := g.query(t, alice, `query($after: String) { meetings(first: 2, after: $after) {
			edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
		require.Empty(t, response.Errors)

		var page meetingsPage
		require.NoError(t, json.Unmarshal(response.Data, &page))

		for _, edge := range page.Meetings.Edges {
			seen = append(seen, edge.Node.ID)
		}

		if !page.Meetings.PageInfo.HasNextPage {
			break
		}

		after = *page.Meetings.PageInfo.EndCursor
	}

	first, second := invited.String(), sameTime.String()
	if second > first {
		first, second = second, first
	}

	assert.Equal(t, []string{first, second, public.String(), own.String()}, seen)

	response, _ := g.query(t, alice, `{ meetings(status: LIVE) { edges { node { id } } } }`, nil)
	require.Empty(t, response.Errors)
	assert.JSONEq(t, `{"meetings":{"edges":[{"node":{"id":"`+sameTime.String()+`"}}]}}`, string(response.Data))
}

func TestMeetingsNullPropagatesThroughNonNullLists(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	g.addMeeting(t, meetingFixture{creator: alice})

	// A creator row that vanished (possible only without the foreign key)
	// makes the non-null creator fail, which nulls the node, the edge, the
	// non-null edges list and finally the non-null meetings field.
	g.exec(t, `ALTER TABLE meetings DROP CONSTRAINT meetings_creator_id_fkey`)
	g.addMeeting(t, meetingFixture{creator: uuid.New(), visibility: store.VisibilityPublic})

	response, _ := g.query(t, alice, `{ meetings { edges { node { id creator { id } } } } }`, nil)
	assert.JSONEq(t, `null`, string(response.Data))
	require.Len(t, response.Errors, 1)
	assert.Equal(t, "INTERNAL", response.Errors[0].Code())
	assert.Equal(t, []any{"meetings", "edges", float64(0), "node", "creator"}, response.Errors[0].Path)
}

func TestMeetingRequiresSignIn(t *testing.T) {
	t.Parallel()

	g := setup(t)

	response := postAnonymous(t, g, `{ meetings { edges { node { id } } } }`)
	require.Len(t, response.Errors, 1)
	assert.Equal(t, "UNAUTHENTICATED", response.Errors[0].Code())
}

func TestRequestAnalysisStatementCount(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	meeting := g.addMeeting(t, meetingFixture{creator: alice, participants: []uuid.UUID{alice}})

	response, statements := g.query(t, alice, `mutation($meeting: ID!) {
		requestAnalysis(meetingId: $meeting, kind: NOOP) { id status }
	}`, map[string]any{"meeting": meeting.String()})
	require.Empty(t, response.Errors)
	assert.JSONEq(t, `"QUEUED"`, string(mustField(t, response.Data, "requestAnalysis", "status")))
	// The membership check, the task, its event and its outbox rows in one
	// statement that is its own transaction.
	assert.Equal(t, int64(1), statements)
}
