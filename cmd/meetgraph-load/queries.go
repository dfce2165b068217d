package main

import (
	"encoding/json"
	"fmt"
)

// meetingFields selects a meeting with every relation, as the meeting
// screen of a client does.
const meetingFields = `id title status createdAt
	creator { id name }
	participants { role joinedAt user { id name } }
	recordings { id status contentType sizeBytes durationSeconds }
	analysis { summary keywords transcript { text } }
	tasks { id kind status progress }`

// queries are the operations that -query selects by name.
var queries = map[string]string{
	"detail":  `query Detail($id: ID!) { meeting(id: $id) { ` + meetingFields + ` } }`,
	"list5":   `query List { meetings(first: 5) { edges { cursor node { ` + meetingFields + ` } } pageInfo { hasNextPage endCursor } } }`,
	"list50":  `query List { meetings(first: 50) { edges { cursor node { ` + meetingFields + ` } } pageInfo { hasNextPage endCursor } } }`,
	"trivial": `{ __typename }`,
	// analysis queues a NOOP task: one requestAnalysis mutation.
	"analysis": `mutation Analysis($id: ID!) { requestAnalysis(meetingId: $id, kind: NOOP) { id status } }`,
}

// requestBody encodes the JSON body for the named query.
func requestBody(name, meetingID string) ([]byte, error) {
	query, ok := queries[name]
	if !ok {
		return nil, fmt.Errorf("unknown -query %q: use detail, list5, list50, trivial or analysis", name)
	}

	body := map[string]any{"query": query}

	if name == "detail" || name == "analysis" {
		if meetingID == "" {
			return nil, fmt.Errorf("-query %s needs -meeting", name)
		}

		body["variables"] = map[string]any{"id": meetingID}
	}

	return json.Marshal(body)
}
