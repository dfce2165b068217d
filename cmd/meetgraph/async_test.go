package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

const requestNoop = `mutation ($meeting: ID!, $key: String) {
  requestAnalysis(meetingId: $meeting, kind: NOOP, idempotencyKey: $key) { id status }
}`

// graphQLData posts query and returns data, failing on any GraphQL error.
func graphQLData(t *testing.T, s *system, token, query string, variables map[string]any) map[string]any {
	t.Helper()

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token, query, variables)
	require.Empty(t, response.Errors, "query %s", query)

	var data map[string]any
	require.NoError(t, json.Unmarshal(response.Data, &data))

	return data
}

// graphQLCode posts query and returns the code of its single error.
func graphQLCode(t *testing.T, s *system, token, query string, variables map[string]any) string {
	t.Helper()

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token, query, variables)
	require.Len(t, response.Errors, 1, "query %s", query)

	return response.Errors[0].Code()
}

func field(data map[string]any, path ...string) any {
	var value any = data
	for _, key := range path {
		value = value.(map[string]any)[key]
	}

	return value
}

func waitTaskStatus(t *testing.T, s *system, token, id, status string) {
	t.Helper()

	testenv.Eventually(t, 20*time.Second, func() error {
		response := testenv.PostGraphQL(t, s.baseURL+"/query", token, `query ($id: ID!) { task(id: $id) { status } }`,
			map[string]any{"id": id})
		if !strings.Contains(string(response.Data), `"`+status+`"`) {
			return fmt.Errorf("task %s: %s", id, response.Data)
		}

		return nil
	})
}

func TestMeetingMutationsFollowStateMachine(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	bob := strings.TrimSpace(s.command(t, "token", "--user", "bob@example.com"))
	carol := strings.TrimSpace(s.command(t, "token", "--user", "carol@example.com"))
	erin := strings.TrimSpace(s.command(t, "token", "--user", "erin@example.com"))

	require.Equal(t, "FORBIDDEN", graphQLCode(t, s, carol,
		`mutation { createMeeting(input: {title: "Mine"}) { id } }`, nil), "carol lacks create_meeting")

	created := graphQLData(t, s, alice, `mutation ($bob: ID!) {
		createMeeting(input: {title: "Launch review", inviteeIds: [$bob]}) { id status visibility } }`,
		map[string]any{"bob": store.SeedID("user:bob").String()})
	meetingID := field(created, "createMeeting", "id").(string)
	require.Equal(t, "SCHEDULED", field(created, "createMeeting", "status"))
	require.Equal(t, "PRIVATE", field(created, "createMeeting", "visibility"))

	ids := map[string]any{"id": meetingID}
	require.Equal(t, "NOT_FOUND", graphQLCode(t, s, carol, `mutation ($id: ID!) { joinMeeting(id: $id) { id } }`, ids),
		"an uninvited user must not learn that a private meeting exists")
	graphQLData(t, s, bob, `mutation ($id: ID!) { joinMeeting(id: $id) { id } }`, ids)
	require.Equal(t, "FORBIDDEN", graphQLCode(t, s, bob, `mutation ($id: ID!) { startMeeting(id: $id) { id } }`, ids))

	started := graphQLData(t, s, alice, `mutation ($id: ID!) { startMeeting(id: $id) { status startedAt } }`, ids)
	require.Equal(t, "LIVE", field(started, "startMeeting", "status"))

	variables := map[string]any{"meeting": meetingID, "key": "analysis-1"}
	first := graphQLData(t, s, bob, requestNoop, variables)
	again := graphQLData(t, s, bob, requestNoop, variables)
	taskID := field(first, "requestAnalysis", "id").(string)
	require.Equal(t, taskID, field(again, "requestAnalysis", "id"), "the same idempotency key returns the same task")
	require.Equal(t, "BAD_USER_INPUT", graphQLCode(t, s, bob,
		`mutation ($meeting: ID!, $key: String) { requestAnalysis(meetingId: $meeting, kind: SUMMARY, idempotencyKey: $key) { id } }`,
		variables), "the same key for another request is a client error")
	waitTaskStatus(t, s, bob, taskID, "SUCCEEDED")
	require.Equal(t, "BAD_USER_INPUT", graphQLCode(t, s, bob, `mutation ($id: ID!) { cancelTask(id: $id) { id } }`,
		map[string]any{"id": taskID}), "a finished task cannot be cancelled")

	ended := graphQLData(t, s, alice, `mutation ($id: ID!) { endMeeting(id: $id) { meeting { status } recordingTask { id } } }`, ids)
	require.Equal(t, "ENDED", field(ended, "endMeeting", "meeting", "status"))
	require.Nil(t, field(ended, "endMeeting", "recordingTask"), "no recording was uploaded")
	require.Equal(t, "BAD_USER_INPUT", graphQLCode(t, s, alice,
		`mutation ($id: ID!) { endMeeting(id: $id) { meeting { id } } }`, ids), "a second endMeeting is an error")

	// A summary without a transcript fails permanently, on its first attempt.
	failed := graphQLData(t, s, alice, `mutation ($meeting: ID!) { requestAnalysis(meetingId: $meeting, kind: SUMMARY) { id } }`,
		map[string]any{"meeting": meetingID})
	failedID := field(failed, "requestAnalysis", "id").(string)
	waitTaskStatus(t, s, alice, failedID, "FAILED")

	require.Equal(t, "FORBIDDEN", graphQLCode(t, s, alice, `{ deadLetters { id } }`, nil))
	// erin is no participant of the private meeting, but as an operator she
	// sees its dead letters with their meeting.
	letters := graphQLData(t, s, erin, `{ deadLetters { id status lastError meeting { id } } }`, nil)
	require.Equal(t, []any{map[string]any{"id": failedID, "status": "FAILED",
		"lastError": "meeting " + meetingID + " has no transcript to summarise yet",
		"meeting":   map[string]any{"id": meetingID}}}, letters["deadLetters"])

	require.Equal(t, "FORBIDDEN", graphQLCode(t, s, alice, `mutation ($id: ID!) { retryTask(id: $id) { id } }`,
		map[string]any{"id": failedID}))
	retried := graphQLData(t, s, erin, `mutation ($id: ID!) { retryTask(id: $id) { status } }`, map[string]any{"id": failedID})
	require.Equal(t, "QUEUED", field(retried, "retryTask", "status"))
	waitTaskStatus(t, s, alice, failedID, "FAILED")

	listed := s.command(t, "dlq", "list", "--queue", "ai.tasks.dlq")
	require.Contains(t, listed, failedID)
	require.Contains(t, listed, "has no transcript to summarise yet")
	require.Contains(t, listed, "2 messages in ai.tasks.dlq")

	replayed := s.command(t, "dlq", "replay", "--queue", "ai.tasks.dlq")
	require.Contains(t, replayed, "1 tasks queued again, 1 stale messages removed")
	waitTaskStatus(t, s, alice, failedID, "FAILED")
	testenv.Eventually(t, 10*time.Second, func() error {
		if out := s.command(t, "dlq", "purge", "--queue", "ai.tasks.dlq"); !strings.Contains(out, "1 messages deleted") {
			return fmt.Errorf("purge: %s", out)
		}

		return nil
	})
}

// postMutation sends one GraphQL request without the testing helpers, so
// that it may run on any goroutine, and returns the task id.
func postMutation(client *http.Client, endpoint, token string, variables map[string]any) (string, error) {
	body, err := json.Marshal(map[string]any{"query": requestNoop, "variables": variables})
	if err != nil {
		return "", err
	}

	request, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", err
	}

	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Authorization", "Bearer "+token)

	response, err := client.Do(request)
	if err != nil {
		return "", err
	}
	defer response.Body.Close()

	var decoded struct {
		Data struct {
			RequestAnalysis struct{ ID, Status string }
		}
		Errors []testenv.GraphQLError
	}
	if err := json.NewDecoder(response.Body).Decode(&decoded); err != nil {
		return "", err
	}

	if len(decoded.Errors) > 0 || decoded.Data.RequestAnalysis.Status != "QUEUED" {
		return "", fmt.Errorf("requestAnalysis: %+v %+v", decoded.Errors, decoded.Data)
	}

	return decoded.Data.RequestAnalysis.ID, nil
}

func TestThousandMutationsSurviveBrokerDisconnects(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	s := startSystem(t, databaseURL)
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	amqpURL := s.settings[3] // the value of --amqp-url

	const mutations, clients = 1000, 16

	ids := make(chan string, mutations)
	client := &http.Client{Timeout: 30 * time.Second}
	meeting := store.SeedID("meeting:planning").String()

	var group errgroup.Group
	for c := range clients {
		group.Go(func() error {
			for i := c; i < mutations; i += clients {
				id, err := postMutation(client, s.baseURL+"/query", alice, map[string]any{"meeting": meeting})
				if err != nil {
					return err
				}

				ids <- id
			}

			return nil
		})
	}

	// Close the broker's side of every connection a few times while the
	// mutations run and the worker consumes.
	var closer sync.WaitGroup
	closer.Go(func() {
		for range 3 {
			time.Sleep(700 * time.Millisecond)
			testenv.CloseBrokerConnections(t, amqpURL)
		}
	})

	require.NoError(t, group.Wait())
	closer.Wait()
	close(ids)

	unique := map[string]bool{}
	for id := range ids {
		unique[id] = true
	}

	require.Len(t, unique, mutations)

	ctx := testenv.Context(t, 2*time.Minute)
	pool, err := store.Open(ctx, store.PoolConfig{URL: databaseURL})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	testenv.Eventually(t, 90*time.Second, func() error {
		var done int

		err := pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE status = 'SUCCEEDED'`).Scan(&done)
		if err != nil {
			return err
		}

		if done != mutations {
			return fmt.Errorf("%d of %d tasks succeeded", done, mutations)
		}

		return nil
	})

	// Exactly once in effect: one handler run per task, and each task's
	// events are QUEUED, RUNNING, RUNNING at 0.5, SUCCEEDED.
	var runs, wrongEvents int
	require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(sum(attempts), 0) FROM tasks`).Scan(&runs))
	require.Equal(t, mutations, runs)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasks t WHERE t.last_seq <> 4
		OR (SELECT string_agg(status, ',' ORDER BY seq) FROM task_events e WHERE e.task_id = t.id)
		   <> 'QUEUED,RUNNING,RUNNING,SUCCEEDED'`).Scan(&wrongEvents))
	require.Zero(t, wrongEvents)
}

func TestReadyzFollowsBroker(t *testing.T) {
	t.Parallel()

	var proxy *testenv.Proxy

	s := startRole(t, testenv.DatabaseURL(t), "all", func(settings []string) {
		// settings[3] is the value of --amqp-url.
		parsed, err := url.Parse(settings[3])
		require.NoError(t, err)

		proxy = testenv.NewProxy(t, parsed.Host)
		parsed.Host = proxy.Addr
		settings[3] = parsed.String()
	})

	proxy.Cut()
	testenv.Eventually(t, 10*time.Second, func() error {
		status, body := get(t, s.baseURL+"/readyz")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, `"rabbitmq"`) {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		return nil
	})

	proxy.Restore()
	testenv.Eventually(t, 20*time.Second, func() error {
		if status, body := get(t, s.baseURL+"/readyz"); status != http.StatusOK {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		return nil
	})
}
