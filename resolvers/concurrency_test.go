package resolvers_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMeetingRelationsResolveConcurrently(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	ids := g.addFullMeetings(t, alice, 1)

	g.tracer.Delay("FROM participants p JOIN users", 50*time.Millisecond)
	g.tracer.Delay("FROM recordings WHERE meeting_id = ANY", 30*time.Millisecond)
	g.tracer.Delay("FROM analyses WHERE meeting_id = ANY", 100*time.Millisecond)
	g.tracer.Delay("t.meeting_id = ANY", 200*time.Millisecond)
	// The meeting's own statement, which reads its creator too.
	g.tracer.Delay("WHERE m.id = ANY", 200*time.Millisecond)

	start := time.Now()
	response, _ := g.query(t, alice, `query($id: ID!) { meeting(id: $id) { `+fullMeetingFields+` } }`,
		map[string]any{"id": ids[0].String()})
	elapsed := time.Since(start)

	require.Empty(t, response.Errors)
	// Run one after another the meeting and its relations would take
	// 580 ms. A lone meeting field reads its relations at the same time as
	// itself, so the request takes about the slowest statement (200 ms).
	assert.Less(t, elapsed, 330*time.Millisecond)
}

type viewerResult struct {
	Me struct {
		ID    string  `json:"id"`
		Email *string `json:"email"`
	} `json:"me"`
	Meetings struct {
		Edges []struct {
			Node struct {
				ID      string `json:"id"`
				Creator struct {
					ID    string  `json:"id"`
					Email *string `json:"email"`
				} `json:"creator"`
				Participants []struct {
					User struct {
						ID    string  `json:"id"`
						Email *string `json:"email"`
					} `json:"user"`
				} `json:"participants"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"meetings"`
}

func TestConcurrentCallersSeeOnlyTheirOwnResults(t *testing.T) {
	t.Parallel()

	g := setup(t)
	users := []uuid.UUID{g.addUser(t, "Alice"), g.addUser(t, "Bob")}
	own := map[uuid.UUID][]string{}

	for _, user := range users {
		for _, id := range g.addFullMeetings(t, user, 3) {
			own[user] = append([]string{id.String()}, own[user]...)
		}
	}

	const rounds = 10

	var wg sync.WaitGroup

	results := make([][]viewerResult, len(users))

	for i, user := range users {
		results[i] = make([]viewerResult, rounds)

		for round := range rounds {
			wg.Go(func() {
				response, _ := g.query(t, user, `{ me { id email }
					meetings { edges { node { id creator { id email } participants { user { id email } } } } } }`, nil)
				assert.Empty(t, response.Errors)
				assert.NoError(t, json.Unmarshal(response.Data, &results[i][round]))
			})
		}
	}

	wg.Wait()

	for i, user := range users {
		for _, result := range results[i] {
			assert.Equal(t, user.String(), result.Me.ID)
			assert.NotNil(t, result.Me.Email)

			var seen []string

			for _, edge := range result.Meetings.Edges {
				seen = append(seen, edge.Node.ID)
				assert.Equal(t, user.String(), edge.Node.Creator.ID)
				assert.NotNil(t, edge.Node.Creator.Email, "a caller sees their own email")

				// Every meeting here is the caller's own, and a host is shown the
				// addresses of its participants.
				for _, participant := range edge.Node.Participants {
					assert.NotNil(t, participant.User.Email, "the host sees participant %s's address", participant.User.ID)
				}
			}

			assert.Equal(t, own[user], seen)
		}
	}
}
