package resolvers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAbusiveQueriesRejectedBeforeSQL(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "alice")
	meetingID := g.addMeeting(t, meetingFixture{creator: alice})

	// Meeting.tasks and Task.meeting alternate, so the schema allows any depth.
	deep := "title"
	for range 25 {
		deep = "tasks { meeting { " + deep + " } }"
	}

	var aliases strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&aliases, " m%d: meeting(id: $id) { title }", i)
	}

	cases := []struct {
		name, query, code, message string
	}{
		{"50 levels deep", `query($id: ID!) { meeting(id: $id) { ` + deep + ` } }`, "BAD_USER_INPUT", "levels deep"},
		{"1000 aliases", `query($id: ID!) {` + aliases.String() + ` }`, "BAD_USER_INPUT", "aliased fields"},
		// The cost of 100000 items exceeds the complexity limit before the
		// resolver's own check of first (at most 100) could run.
		{"first 100000", `query { meetings(first: 100000) { edges { node { title } } } }`,
			"COMPLEXITY_LIMIT_EXCEEDED", "exceeds the limit"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			response, statements := g.query(t, alice, tc.query, map[string]any{"id": meetingID.String()})

			require.Len(t, response.Errors, 1)
			require.Equal(t, tc.code, response.Errors[0].Code())
			require.Contains(t, response.Errors[0].Message, tc.message)
			require.Zero(t, statements, "no SQL may run for a rejected query")
		})
	}
}
