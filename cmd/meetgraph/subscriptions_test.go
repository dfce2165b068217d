package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/events"
	"github.com/meetgraph/meetgraph/internal/taskfeed"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

const taskUpdatedQuery = `subscription ($id: ID!, $after: Int) {
	taskUpdated(id: $id, afterSeq: $after) { seq status progress stage terminal }
}`

// subscriptionSystem is two gateways on one database and one broker vhost,
// with a feed that records task events the way workers do.
type subscriptionSystem struct {
	gateways    []*system
	feed        *taskfeed.Feed
	aliceToken  string
	erinToken   string
	planning    uuid.UUID
	alice       uuid.UUID
	databaseURL string
}

// startGateway runs `meetgraph serve` on amqpURL with extra flags.
func startGateway(t *testing.T, databaseURL, amqpURL string, extra ...string) *system {
	t.Helper()

	settings := append(settingArgs(t, databaseURL), "--amqp-url", amqpURL)

	return launchSystem(t, "serve", databaseURL, settings, extra...)
}

func setupSubscriptions(t *testing.T, gateways int, extra ...string) *subscriptionSystem {
	t.Helper()

	databaseURL := testenv.DatabaseURL(t)
	amqpURL := testenv.VHost(t)

	sys := &subscriptionSystem{
		planning:    store.SeedID("meeting:planning"),
		alice:       store.SeedID("user:alice"),
		databaseURL: databaseURL,
	}

	for range gateways {
		sys.gateways = append(sys.gateways, startGateway(t, databaseURL, amqpURL, extra...))
	}

	sys.gateways[0].command(t, "seed")
	sys.aliceToken = strings.TrimSpace(sys.gateways[0].command(t, "token", "--user", "alice@example.com"))
	sys.erinToken = strings.TrimSpace(sys.gateways[0].command(t, "token", "--user", "erin@example.com"))

	feed, err := taskfeed.Open(testenv.Context(t, 30*time.Second), databaseURL, amqpURL)
	require.NoError(t, err)
	t.Cleanup(feed.Close)

	sys.feed = feed

	return sys
}

// record stores and publishes the NOOP task's events with the given indexes (0-based).
func (s *subscriptionSystem) record(t *testing.T, taskID uuid.UUID, from, to int) {
	t.Helper()

	for _, change := range taskfeed.NoopChanges[from:to] {
		_, err := s.feed.Record(context.Background(), taskID, change, true)
		require.NoError(t, err)
	}
}

func (s *subscriptionSystem) newTask(t *testing.T) uuid.UUID {
	t.Helper()

	id, err := s.feed.CreateTask(context.Background(), s.planning, s.alice, "NOOP")
	require.NoError(t, err)

	return id
}

// stats reads a gateway's /debug/subscriptions counts.
func stats(t *testing.T, gateway *system) map[string]int {
	t.Helper()

	status, body := get(t, gateway.baseURL+"/debug/subscriptions")
	require.Equal(t, http.StatusOK, status, body)

	var counts map[string]int
	require.NoError(t, json.Unmarshal([]byte(body), &counts))

	return counts
}

func TestTaskUpdatedAcrossGatewaysAndProtocols(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 2)
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 2)

	variables := map[string]any{"id": taskID.String(), "after": 1}

	modern := dialWS(t, sys.gateways[1].baseURL, "graphql-transport-ws", nil)
	modern.init(sys.aliceToken)
	modern.subscribe("subscribe", "1", taskUpdatedQuery, variables)

	legacy := dialWS(t, sys.gateways[0].baseURL, "graphql-ws", nil)
	legacy.init(sys.aliceToken)
	legacy.subscribe("start", "1", taskUpdatedQuery, variables)

	// The replayed event 2 shows that both subscriptions are open before
	// the live events are recorded.
	require.Equal(t, int64(2), eventSeq(t, modern.next().Payload, "taskUpdated"))
	require.Equal(t, int64(2), eventSeq(t, legacy.next().Payload, "taskUpdated"))

	sys.record(t, taskID, 2, 4)

	require.Equal(t, []int64{3, 4}, modern.taskSeqs("1", "taskUpdated"))
	require.Equal(t, []int64{3, 4}, legacy.taskSeqs("1", "taskUpdated"))

	sse := readSSE(t, sys.gateways[0].baseURL, sys.aliceToken, taskUpdatedQuery, map[string]any{"id": taskID.String()})
	require.Equal(t, []int64{1, 2, 3, 4}, sse)
}

// readSSE runs a subscription over SSE and returns the seq of each event
// until the stream completes.
func readSSE(t *testing.T, baseURL, token, query string, variables map[string]any) []int64 {
	t.Helper()

	response := postSSE(t, baseURL, token, query, variables)
	defer response.Body.Close()

	require.Equal(t, http.StatusOK, response.StatusCode)

	var seqs []int64

	scanner := bufio.NewScanner(response.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "event: complete" {
			return seqs
		}

		if data, ok := strings.CutPrefix(line, "data: "); ok {
			seqs = append(seqs, eventSeq(t, json.RawMessage(data), "taskUpdated"))
		}
	}

	t.Fatalf("SSE stream ended without complete after %v: %v", seqs, scanner.Err())

	return nil
}

func postSSE(t *testing.T, baseURL, token, query string, variables map[string]any) *http.Response {
	t.Helper()

	body, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	require.NoError(t, err)

	request, err := http.NewRequestWithContext(testenv.Context(t, 30*time.Second), http.MethodPost,
		baseURL+"/query", bytes.NewReader(body))
	require.NoError(t, err)

	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "text/event-stream")

	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}

	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err)

	return response
}

func TestSubscriptionProtocolViolationsCloseWithCodes(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--subscription-init-timeout", "300ms", "--jwt-leeway", "0s")
	baseURL := sys.gateways[0].baseURL

	tokens, err := auth.NewTokens(auth.TokenConfig{
		Secret: []byte(auth.DevSecret), Issuer: "meetgraph", Audience: "meetgraph",
	})
	require.NoError(t, err)

	expired, err := tokens.Sign(sys.alice, -time.Hour)
	require.NoError(t, err)

	cases := []struct {
		name   string
		steps  func(c *wsClient)
		code   websocket.StatusCode
		reason string
	}{
		{"ExpiredToken", func(c *wsClient) {
			c.send("connection_init", "", map[string]string{"Authorization": "Bearer " + expired})
		}, 4403, "Forbidden: token expired"},
		{"MissingToken", func(c *wsClient) { c.send("connection_init", "", nil) }, 4403, ""},
		{"TokenExpiresWhileOpen", func(c *wsClient) {
			shortLived, err := tokens.Sign(sys.alice, 3*time.Second)
			require.NoError(t, err)

			c.init(shortLived)
			c.subscribe("subscribe", "a", `subscription ($m: ID!) { meetingEvents(meetingId: $m) { type } }`,
				map[string]any{"m": sys.planning.String()})
		}, 4403, "Forbidden: token expired"},
		{"NoConnectionInit", func(*wsClient) {}, 4408, "Connection initialisation timeout"},
		{"SubscribeBeforeInit", func(c *wsClient) {
			c.subscribe("subscribe", "1", taskUpdatedQuery, map[string]any{"id": uuid.NewString()})
		}, 4401, "Unauthorized"},
		{"InvalidMessage", func(c *wsClient) { c.sendRaw("{not json") }, 4400, "Invalid message received"},
		{"InitPayloadNotObject", func(c *wsClient) { c.send("connection_init", "", "token") }, 4400, ""},
		{"SecondInit", func(c *wsClient) {
			c.init(sys.aliceToken)
			c.send("connection_init", "", nil)
		}, 4429, "Too many initialisation requests"},
		{"DuplicateID", func(c *wsClient) {
			c.init(sys.aliceToken)
			c.subscribe("subscribe", "a", `subscription ($m: ID!) { meetingEvents(meetingId: $m) { type } }`,
				map[string]any{"m": sys.planning.String()})
			c.subscribe("subscribe", "a", `subscription ($m: ID!) { meetingEvents(meetingId: $m) { type } }`,
				map[string]any{"m": sys.planning.String()})
		}, 4409, "Subscriber for a already exists"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, baseURL, "graphql-transport-ws", nil)
			tc.steps(c)

			code, reason := c.closeStatus()
			require.Equal(t, tc.code, code)

			if tc.reason != "" {
				require.Equal(t, tc.reason, reason)
			}
		})
	}
}

func TestTaskUpdatedRejectsSeqBeyondLast(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, len(taskfeed.NoopChanges))
	last := len(taskfeed.NoopChanges)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)

	// At the terminal event's seq the finished stream completes at once.
	c.subscribe("subscribe", "done", taskUpdatedQuery, map[string]any{"id": taskID.String(), "after": last})

	done := c.next()
	require.Equal(t, "done", done.ID)
	require.Equal(t, "complete", done.Type)

	// A seq beyond it was never sent. Completing without a terminal event
	// would make the client resubscribe in a loop.
	c.subscribe("subscribe", "beyond", taskUpdatedQuery, map[string]any{"id": taskID.String(), "after": last + 1})

	beyond := c.next()
	require.Equal(t, "beyond", beyond.ID)
	require.Contains(t, string(beyond.Payload), `"BAD_USER_INPUT"`)
	require.Contains(t, string(beyond.Payload), fmt.Sprintf("last event, seq %d", last))
	require.Equal(t, "complete", c.next().Type)
}

// graphql-transport-ws allows no message for an operation after the
// client's complete, though gqlgen may still have its last response on the
// way.
func TestNothingSentAfterClientComplete(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 1)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)

	variables := map[string]any{"id": taskID.String()}

	for i := range 30 {
		id := fmt.Sprintf("cancelled-%d", i)
		c.subscribe("subscribe", id, taskUpdatedQuery, variables)
		c.send("complete", id, nil)
	}

	// The stored event of a last, kept subscription marks the end of the
	// messages for the ones before it.
	c.subscribe("subscribe", "kept", taskUpdatedQuery, variables)

	for {
		message := c.next()
		if message.ID == "kept" {
			break
		}

		// An operation may send its event before the complete arrives.
		if message.Type == "next" && !strings.Contains(string(message.Payload), `"errors"`) {
			continue
		}

		t.Fatalf("message for %s after the client completed it: %s %s", message.ID, message.Type, message.Payload)
	}
}

func TestSubscriptionWithTwoRootFieldsIsInvalid(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)

	// An anonymous operation with the same field under two aliases.
	c.subscribe("subscribe", "twice", `subscription ($id: ID!) { a: taskUpdated(id: $id) { seq } b: taskUpdated(id: $id) { seq } }`,
		map[string]any{"id": taskID.String()})

	message := c.next()
	require.Equal(t, "twice", message.ID)
	require.Equal(t, "error", message.Type)
	require.Contains(t, string(message.Payload), `"GRAPHQL_VALIDATION_FAILED"`)
	require.Contains(t, string(message.Payload), "exactly one root field")
}

func TestFailingOperationLeavesOthersRunning(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 1)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.erinToken)

	// erin may not see the private planning meeting or its tasks.
	c.subscribe("subscribe", "hidden", taskUpdatedQuery, map[string]any{"id": taskID.String()})

	hidden := c.next()
	require.Equal(t, "hidden", hidden.ID)
	require.Contains(t, string(hidden.Payload), `"NOT_FOUND"`)
	require.Equal(t, "complete", c.next().Type)

	visibleTask, err := sys.feed.CreateTask(context.Background(), store.SeedID("meeting:all-hands"),
		store.SeedID("user:erin"), "NOOP")
	require.NoError(t, err)

	c.subscribe("subscribe", "visible", taskUpdatedQuery, map[string]any{"id": visibleTask.String()})
	c.subscribe("subscribe", "invalid", `subscription { noSuchField }`, nil)

	invalid := c.next()
	require.Equal(t, "invalid", invalid.ID)
	require.Equal(t, "error", invalid.Type)

	_, err = sys.feed.Record(context.Background(), visibleTask, taskfeed.NoopChanges[0], true)
	require.NoError(t, err)

	queued := c.next()
	require.Equal(t, "visible", queued.ID)
	require.Equal(t, int64(1), eventSeq(t, queued.Payload, "taskUpdated"))
}

func TestSSERequiresToken(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)

	response := postSSE(t, sys.gateways[0].baseURL, "", taskUpdatedQuery, map[string]any{"id": uuid.NewString()})
	defer response.Body.Close()

	require.Equal(t, http.StatusUnauthorized, response.StatusCode)
	require.Equal(t, "Bearer", response.Header.Get("WWW-Authenticate"))
}

func TestWebSocketOriginAllowList(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--websocket-allowed-origins", "https://app.example.com,*.trusted.test")
	baseURL := sys.gateways[0].baseURL

	for _, origin := range []string{"https://app.example.com", "http://web.trusted.test"} {
		c := dialWS(t, baseURL, "graphql-transport-ws", http.Header{"Origin": {origin}})
		c.init(sys.aliceToken)
	}

	ctx := testenv.Context(t, 10*time.Second)
	_, response, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/query",
		&websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"},
			HTTPHeader:   http.Header{"Origin": {"http://app.example.com"}},
		})
	require.Error(t, err, "an origin with the wrong scheme must be rejected")
	require.Equal(t, http.StatusForbidden, response.StatusCode)

	// The frontend's developer reads how to allow the origin.
	body, err := io.ReadAll(response.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS")
	require.Contains(t, string(body), `"FORBIDDEN"`)
}

func TestVanishedClientsReleaseSubscriptions(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--subscription-ping-interval", "500ms")
	gateway := sys.gateways[0]
	baseline := stats(t, gateway)
	taskID := sys.newTask(t)

	proxy := testenv.NewProxy(t, strings.TrimPrefix(gateway.baseURL, "http://"))

	const cut = 50
	for i := range cut {
		c := dialWS(t, "http://"+proxy.Addr, "graphql-transport-ws", nil)
		c.init(sys.aliceToken)
		c.subscribe("subscribe", fmt.Sprint(i), taskUpdatedQuery, map[string]any{"id": taskID.String()})
	}

	// A client that stops reading never answers pings, like a peer behind
	// a silent network.
	silent := dialWS(t, gateway.baseURL, "graphql-transport-ws", nil)
	silent.init(sys.aliceToken)
	silent.subscribe("subscribe", "silent", taskUpdatedQuery, map[string]any{"id": taskID.String()})

	testenv.Eventually(t, 10*time.Second, func() error {
		if n := stats(t, gateway)["subscriptions"]; n != cut+1 {
			return fmt.Errorf("%d subscriptions open, want %d", n, cut+1)
		}

		return nil
	})

	proxy.Cut()

	testenv.Eventually(t, 10*time.Second, func() error {
		now := stats(t, gateway)
		if now["subscriptions"] != 0 || now["websocketConnections"] != 0 {
			return fmt.Errorf("still open: %v", now)
		}

		// Other tests run in this process too, so goroutines get a margin.
		if now["goroutines"] > baseline["goroutines"]+20 {
			return fmt.Errorf("%d goroutines, baseline %d", now["goroutines"], baseline["goroutines"])
		}

		return nil
	})
}

func TestShutdownEndsSubscriptions(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--shutdown-timeout", "20s")
	gateway := sys.gateways[0]
	taskID := sys.newTask(t)

	ws := dialWS(t, gateway.baseURL, "graphql-transport-ws", nil)
	ws.init(sys.aliceToken)
	ws.subscribe("subscribe", "1", taskUpdatedQuery, map[string]any{"id": taskID.String()})

	sse := postSSE(t, gateway.baseURL, sys.aliceToken, taskUpdatedQuery, map[string]any{"id": taskID.String()})
	defer sse.Body.Close()

	testenv.Eventually(t, 10*time.Second, func() error {
		if n := stats(t, gateway)["subscriptions"]; n != 2 {
			return fmt.Errorf("%d subscriptions open, want 2", n)
		}

		return nil
	})

	// Hijacked WebSockets and streaming SSE responses would keep
	// http.Server.Shutdown waiting for the whole 20 s timeout.
	start := time.Now()
	gateway.stop(t)
	require.Less(t, time.Since(start), 10*time.Second, "shutdown must not wait for open subscriptions")

	code, _ := ws.closeStatus()
	require.Equal(t, websocket.StatusGoingAway, code)

	body, err := io.ReadAll(sse.Body)
	require.NoError(t, err, "the SSE stream must end")
	require.Contains(t, string(body), `"code":"UNAVAILABLE"`, "the SSE client must learn why its stream ended")
}

func TestMeetingSubscriptionsStreamLiveEvents(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)

	variables := map[string]any{"m": sys.planning.String()}
	c.subscribe("subscribe", "tasks", `subscription ($m: ID!) {
		meetingTasks(meetingId: $m) { seq status task { id kind meeting { id } } }
	}`, variables)
	c.subscribe("subscribe", "meeting", `subscription ($m: ID!) {
		meetingEvents(meetingId: $m) { type actor { name } meeting { title } }
	}`, variables)

	testenv.Eventually(t, 10*time.Second, func() error {
		if n := stats(t, sys.gateways[0])["subscriptions"]; n != 2 {
			return fmt.Errorf("%d subscriptions open, want 2", n)
		}

		return nil
	})

	// A task created after the subscription started is included.
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 1)

	taskMessage := c.next()
	require.Equal(t, "tasks", taskMessage.ID)

	var tasks struct {
		Data struct {
			MeetingTasks struct {
				Seq    int64
				Status string
				Task   struct {
					ID, Kind string
					Meeting  struct{ ID string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(taskMessage.Payload, &tasks))
	require.Equal(t, int64(1), tasks.Data.MeetingTasks.Seq)
	require.Equal(t, "QUEUED", tasks.Data.MeetingTasks.Status)
	require.Equal(t, taskID.String(), tasks.Data.MeetingTasks.Task.ID)
	require.Equal(t, "NOOP", tasks.Data.MeetingTasks.Task.Kind)
	require.Equal(t, sys.planning.String(), tasks.Data.MeetingTasks.Task.Meeting.ID)

	// An event type that the schema does not know is skipped, not sent as
	// an invalid enum value.
	publishMeetingEvent(t, sys, events.MeetingEvent{MeetingID: sys.planning, Type: "archived", At: time.Now()})
	publishMeetingEvent(t, sys, events.MeetingEvent{MeetingID: sys.planning, Type: "started", ActorID: &sys.alice, At: time.Now()})

	meetingMessage := c.next()
	require.Equal(t, "meeting", meetingMessage.ID)

	var meeting struct {
		Data struct {
			MeetingEvents struct {
				Type    string
				Actor   struct{ Name string }
				Meeting struct{ Title string }
			}
		}
	}
	require.NoError(t, json.Unmarshal(meetingMessage.Payload, &meeting))
	require.Equal(t, "STARTED", meeting.Data.MeetingEvents.Type)
	require.Equal(t, "Alice Archer", meeting.Data.MeetingEvents.Actor.Name)
	require.Equal(t, "Weekly planning", meeting.Data.MeetingEvents.Meeting.Title)
}

// publishMeetingEvent sends event to the events exchange of the system's vhost.
func publishMeetingEvent(t *testing.T, sys *subscriptionSystem, event events.MeetingEvent) {
	t.Helper()

	body, err := json.Marshal(event)
	require.NoError(t, err)

	require.NoError(t, sys.feed.PublishRaw(context.Background(), "meeting."+event.Type, "", body))
}

func TestInvalidSubscriptionSettingsFailAtStartup(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	settings := append(settingArgs(t, databaseURL), "--amqp-url", testenv.AMQPURL(t))

	for flag, variable := range map[string]string{
		"--subscription-ping-interval=0s": "MEETGRAPH_SUBSCRIPTION_PING_INTERVAL",
		"--subscription-init-timeout=-1s": "MEETGRAPH_SUBSCRIPTION_INIT_TIMEOUT",
		"--subscription-buffer=0":         "MEETGRAPH_SUBSCRIPTION_BUFFER",
	} {
		t.Run(variable, func(t *testing.T) {
			args := append([]string{"serve", "--http-addr", testenv.FreeAddr(t), flag}, settings...)

			err := run(testenv.Context(t, 20*time.Second), args, &bytes.Buffer{}, &bytes.Buffer{})
			require.Error(t, err)
			require.Contains(t, err.Error(), variable)
		})
	}
}

func TestSubscriptionsPerConnectionLimit(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--max-subscriptions-per-connection", "2")
	first, second, third := sys.newTask(t), sys.newTask(t), sys.newTask(t)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)
	c.subscribe("subscribe", "1", taskUpdatedQuery, map[string]any{"id": first.String()})
	c.subscribe("subscribe", "2", taskUpdatedQuery, map[string]any{"id": second.String()})

	// Operations start concurrently: wait until both are live, so that the
	// third is the one over the limit.
	sys.record(t, first, 0, 1)
	sys.record(t, second, 0, 1)
	require.ElementsMatch(t, []string{"1", "2"}, []string{c.next().ID, c.next().ID})

	c.subscribe("subscribe", "3", taskUpdatedQuery, map[string]any{"id": third.String()})

	refused := c.next()
	require.Equal(t, "3", refused.ID, "%s %s", refused.Type, refused.Payload)
	require.Contains(t, string(refused.Payload), `"BAD_USER_INPUT"`)
	require.Contains(t, string(refused.Payload), "the limit is 2")
	require.Equal(t, "complete", c.next().Type)

	// The first subscription ends with its task, which frees its place.
	sys.record(t, first, 1, 4)
	require.Equal(t, []int64{2, 3, 4}, c.taskSeqs("1", "taskUpdated"))

	c.subscribe("subscribe", "4", taskUpdatedQuery, map[string]any{"id": third.String()})
	sys.record(t, third, 0, 1)

	accepted := c.next()
	require.Equal(t, "4", accepted.ID)
	require.Equal(t, int64(1), eventSeq(t, accepted.Payload, "taskUpdated"))
}

func TestPrivateTaskHiddenOnEveryTransport(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)
	sys.record(t, taskID, 0, 1)

	variables := map[string]any{"id": taskID.String()}

	// erin takes no part in the private planning meeting that owns the task.
	legacy := dialWS(t, sys.gateways[0].baseURL, "graphql-ws", nil)
	legacy.init(sys.erinToken)
	legacy.subscribe("start", "hidden", taskUpdatedQuery, variables)

	refused := legacy.next()
	require.Equal(t, "hidden", refused.ID)
	require.Contains(t, string(refused.Payload), `"NOT_FOUND"`)

	response := postSSE(t, sys.gateways[0].baseURL, sys.erinToken, taskUpdatedQuery, variables)
	defer response.Body.Close()

	body, err := io.ReadAll(response.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), `"NOT_FOUND"`)
	require.NotContains(t, string(body), `"seq"`, "no event of the task reaches another user")

	// The owner sees the same task over SSE, to its end.
	sys.record(t, taskID, 1, 4)
	require.Equal(t, []int64{1, 2, 3, 4}, readSSE(t, sys.gateways[0].baseURL, sys.aliceToken, taskUpdatedQuery, variables))
}

func TestSubscriptionEventsReadFreshRelations(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)
	taskID := sys.newTask(t)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)
	c.subscribe("subscribe", "1", `subscription ($id: ID!) { taskUpdated(id: $id) { seq task { meeting { status } } } }`,
		map[string]any{"id": taskID.String()})

	meetingStatus := func() string {
		var payload struct {
			Data struct {
				TaskUpdated struct {
					Task struct{ Meeting struct{ Status string } }
				}
			}
		}
		require.NoError(t, json.Unmarshal(c.next().Payload, &payload))

		return payload.Data.TaskUpdated.Task.Meeting.Status
	}

	sys.record(t, taskID, 0, 1)
	require.Equal(t, "SCHEDULED", meetingStatus())

	pool, err := store.Open(t.Context(), store.PoolConfig{URL: sys.databaseURL})
	require.NoError(t, err)
	defer pool.Close()

	_, err = pool.Exec(t.Context(), `UPDATE meetings SET status = 'LIVE' WHERE id = $1`, sys.planning)
	require.NoError(t, err)

	// One WebSocket request serves every event, but each event gets fresh
	// loaders, so the second event shows the meeting as it is now.
	sys.record(t, taskID, 1, 2)
	require.Equal(t, "LIVE", meetingStatus())
}

func TestWebSocketQueriesReadFreshRows(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1)

	c := dialWS(t, sys.gateways[0].baseURL, "graphql-transport-ws", nil)
	c.init(sys.aliceToken)

	meetingStatus := func(id string) string {
		c.subscribe("subscribe", id, `query ($id: ID!) { meeting(id: $id) { status } }`,
			map[string]any{"id": sys.planning.String()})

		message := c.next()
		require.Equal(t, "next", message.Type, "first message of query %s: %s", id, message.Payload)

		var payload struct {
			Data struct{ Meeting struct{ Status string } }
		}
		require.NoError(t, json.Unmarshal(message.Payload, &payload))

		require.Equal(t, "complete", c.next().Type, "last message of query %s", id)

		return payload.Data.Meeting.Status
	}

	require.Equal(t, "SCHEDULED", meetingStatus("1"))

	pool, err := store.Open(t.Context(), store.PoolConfig{URL: sys.databaseURL})
	require.NoError(t, err)
	defer pool.Close()

	_, err = pool.Exec(t.Context(), `UPDATE meetings SET status = 'LIVE' WHERE id = $1`, sys.planning)
	require.NoError(t, err)

	// Each operation on the connection gets its own loaders, so the second
	// query does not see the row that the first one cached.
	require.Equal(t, "LIVE", meetingStatus("2"))
}

func TestSSEEndsWhenTokenExpires(t *testing.T) {
	t.Parallel()

	sys := setupSubscriptions(t, 1, "--jwt-leeway", "0s")

	tokens, err := auth.NewTokens(auth.TokenConfig{
		Secret: []byte(auth.DevSecret), Issuer: "meetgraph", Audience: "meetgraph",
	})
	require.NoError(t, err)

	shortLived, err := tokens.Sign(sys.alice, 2*time.Second)
	require.NoError(t, err)

	start := time.Now()
	response := postSSE(t, sys.gateways[0].baseURL, shortLived,
		`subscription ($m: ID!) { meetingEvents(meetingId: $m) { type } }`, map[string]any{"m": sys.planning.String()})

	defer response.Body.Close()

	require.Equal(t, http.StatusOK, response.StatusCode)

	// meetingEvents stays open while nothing happens, so only the token's
	// expiry ends the stream before postSSE's 30 s deadline.
	body, err := io.ReadAll(response.Body)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 15*time.Second)

	// A shutdown ends a stream too, so the client needs the reason.
	require.Contains(t, string(body), `"code":"UNAUTHENTICATED"`)
	require.True(t, strings.HasSuffix(string(body), "event: complete\n\n"), "the stream must end with complete: %q", body)
}
