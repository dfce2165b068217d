package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// followTaskEvents subscribes to taskUpdated over graphql-transport-ws and
// returns every event until the subscription completes. Speech recognition
// may go quiet for longer than wsClient.next waits, so it reads with its own
// deadline.
func followTaskEvents(t *testing.T, s *system, token, taskID string) []demoTaskEvent {
	t.Helper()

	client := dialWS(t, s.baseURL, "graphql-transport-ws", nil)
	client.init(token)
	client.subscribe("subscribe", "1", demoTaskEvents, map[string]any{"id": taskID})

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var events []demoTaskEvent

	for {
		_, data, err := client.conn.Read(ctx)
		require.NoError(t, err, "read events of task %s after %d events", taskID, len(events))

		var message wsMessage
		require.NoError(t, json.Unmarshal(data, &message))

		switch message.Type {
		case "ping":
			client.send("pong", "", nil)
		case "pong":
		case "complete":
			return events
		case "next":
			var result struct {
				Data   struct{ TaskUpdated demoTaskEvent } `json:"data"`
				Errors []json.RawMessage                   `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(message.Payload, &result))
			require.Empty(t, result.Errors, "event of task %s: %s", taskID, message.Payload)
			events = append(events, result.Data.TaskUpdated)
		default:
			t.Fatalf("unexpected %s message for task %s: %s", message.Type, taskID, message.Payload)
		}
	}
}

// requireOrderedSuccess checks that events are numbered 1, 2, … with
// progress within [0, 1], and that only the last is terminal and SUCCEEDED.
func requireOrderedSuccess(t *testing.T, kind string, events []demoTaskEvent) {
	t.Helper()

	require.NotEmpty(t, events, "%s task sent no events", kind)

	for i, event := range events {
		require.Greater(t, event.Seq, int64(0), "%s event %d", kind, i)
		if i > 0 {
			require.Greater(t, event.Seq, events[i-1].Seq, "%s events out of order: %+v", kind, events)
		}

		require.GreaterOrEqual(t, event.Progress, 0.0, "%s event %+v", kind, event)
		require.LessOrEqual(t, event.Progress, 1.0, "%s event %+v", kind, event)
		require.Equal(t, kind, event.Task.Kind)
		require.Equal(t, i == len(events)-1, event.Terminal, "%s event %d of %d: %+v", kind, i+1, len(events), event)
	}

	last := events[len(events)-1]
	require.Equal(t, "SUCCEEDED", last.Status, "%s task ended: %+v", kind, last)
	require.Equal(t, 1.0, last.Progress)
}

// mediaDuration returns the duration of a media file in seconds, as ffprobe reads it.
func mediaDuration(t *testing.T, path string) float64 {
	t.Helper()

	output, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=noprint_wrappers=1:nokey=1", path).Output()
	require.NoError(t, err, "ffprobe %s", path)

	duration, err := strconv.ParseFloat(strings.TrimSpace(string(output)), 64)
	require.NoError(t, err, "duration of %s: %q", path, output)

	return duration
}

// speechMeeting creates and starts a meeting hosted by alice, uploads
// synthesised speech to it and returns the meeting id and the speech file.
func speechMeeting(t *testing.T, s *system, alice string) (string, string) {
	t.Helper()

	created := graphQLData(t, s, alice, `mutation ($title: String!) { createMeeting(input: {title: $title}) { id } }`,
		map[string]any{"title": "Planning " + t.Name()})
	meetingID := field(created, "createMeeting", "id").(string)
	graphQLData(t, s, alice, `mutation ($id: ID!) { startMeeting(id: $id) { status } }`, map[string]any{"id": meetingID})

	return meetingID, uploadSpeech(t, s, alice, meetingID)
}

// uploadSpeech uploads synthesised speech to the meeting as a GraphQL
// multipart request and returns the speech file.
func uploadSpeech(t *testing.T, s *system, token, meetingID string) string {
	t.Helper()

	speech := testenv.Speech(t, testenv.DemoSentences)
	response := testenv.PostUpload(t, s.baseURL+"/query", token, fileUpload(t, meetingID, speech))
	require.Empty(t, response.Errors, "uploadRecording")

	return speech
}

// endMeeting ends the meeting and returns its recording task's id.
func endMeeting(t *testing.T, s *system, token, meetingID string) string {
	t.Helper()

	ended := graphQLData(t, s, token, `mutation ($id: ID!) {
		endMeeting(id: $id) { meeting { status } recordingTask { id kind status } } }`, map[string]any{"id": meetingID})
	require.Equal(t, "ENDED", field(ended, "endMeeting", "meeting", "status"))
	require.Equal(t, "RECORDING", field(ended, "endMeeting", "recordingTask", "kind"))

	return field(ended, "endMeeting", "recordingTask", "id").(string)
}

// meetingTaskID returns the id of the meeting's only task of kind, waiting
// for the worker that queues it.
func meetingTaskID(t *testing.T, s *system, token, meetingID, kind string) string {
	t.Helper()

	var id string

	testenv.Eventually(t, 30*time.Second, func() error {
		data := graphQLData(t, s, token, `query ($id: ID!) { meeting(id: $id) { tasks { id kind } } }`,
			map[string]any{"id": meetingID})

		var found []string

		for _, task := range field(data, "meeting", "tasks").([]any) {
			if task := task.(map[string]any); task["kind"] == kind {
				found = append(found, task["id"].(string))
			}
		}

		if len(found) != 1 {
			return fmt.Errorf("meeting %s has %d %s tasks", meetingID, len(found), kind)
		}

		id = found[0]

		return nil
	})

	return id
}

// requireChainSucceeds follows the transcription and summary tasks that
// the recording task queued, then checks what they left behind.
func requireChainSucceeds(t *testing.T, s *system, token, meetingID, speech string) {
	t.Helper()

	transcription := followTaskEvents(t, s, token, meetingTaskID(t, s, token, meetingID, "TRANSCRIPTION"))
	requireOrderedSuccess(t, "TRANSCRIPTION", transcription)

	summary := followTaskEvents(t, s, token, meetingTaskID(t, s, token, meetingID, "SUMMARY"))
	requireOrderedSuccess(t, "SUMMARY", summary)

	requireProcessedMeeting(t, s, token, meetingID, speech)
}

// requireProcessedMeeting checks what the whole chain left behind: the
// playback object as long as the speech, a READY recording with a URL, a
// transcript with timed segments and a summary.
func requireProcessedMeeting(t *testing.T, s *system, token, meetingID, speech string) {
	t.Helper()

	data := graphQLData(t, s, token, `query ($id: ID!) { meeting(id: $id) {
		recordings { id status durationSeconds url }
		analysis { transcript { text segments { start end text } } summary keywords } } }`,
		map[string]any{"id": meetingID})

	recordings := field(data, "meeting", "recordings").([]any)
	require.Len(t, recordings, 1)
	recording := recordings[0].(map[string]any)
	require.Equal(t, "READY", recording["status"])
	require.NotEmpty(t, recording["url"])

	source := mediaDuration(t, speech)
	require.InDelta(t, source, recording["durationSeconds"], 0.2)

	// The stored object itself, not only the duration the worker wrote down.
	row, err := s.store(t).RecordingByID(t.Context(), uuid.MustParse(recording["id"].(string)))
	require.NoError(t, err)
	require.NotNil(t, row.PlaybackObjectKey)
	require.Equal(t, store.RecordingReady, row.Status)

	playback := filepath.Join(t.TempDir(), "playback.mp4")
	require.NoError(t, s.objectStore(t).Download(t.Context(), *row.PlaybackObjectKey, playback))
	require.InDelta(t, source, mediaDuration(t, playback), 0.2, "playback object %s", *row.PlaybackObjectKey)

	transcript := field(data, "meeting", "analysis", "transcript").(map[string]any)
	require.NotEmpty(t, strings.TrimSpace(transcript["text"].(string)))
	segments := transcript["segments"].([]any)
	require.NotEmpty(t, segments)

	for _, segment := range segments {
		segment := segment.(map[string]any)
		require.LessOrEqual(t, segment["start"].(float64), segment["end"].(float64), "segment %v", segment)
		require.LessOrEqual(t, segment["end"].(float64), source+0.2, "segment %v", segment)
	}

	summary, _ := field(data, "meeting", "analysis", "summary").(string)
	require.NotEmpty(t, strings.TrimSpace(summary))
}

func TestSpeechThroughWholePipeline(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t), "--retry-delays", "500ms,1s")
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	meetingID, speech := speechMeeting(t, s, alice)
	recordingTask := endMeeting(t, s, alice, meetingID)

	recording := followTaskEvents(t, s, alice, recordingTask)
	requireOrderedSuccess(t, "RECORDING", recording)
	require.Equal(t, 1, recording[len(recording)-1].Task.Attempts)

	var stages []string
	for _, event := range recording {
		stages = append(stages, event.Stage)
	}

	require.Contains(t, stages, "transcode", "recording stages %v", stages)

	requireChainSucceeds(t, s, alice, meetingID, speech)
}

func TestUploadAfterEndRunsPipeline(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	created := graphQLData(t, s, alice, `mutation { createMeeting(input: {title: "Late upload"}) { id } }`, nil)
	meetingID := field(created, "createMeeting", "id").(string)
	ids := map[string]any{"id": meetingID}
	graphQLData(t, s, alice, `mutation ($id: ID!) { startMeeting(id: $id) { status } }`, ids)

	ended := graphQLData(t, s, alice, `mutation ($id: ID!) { endMeeting(id: $id) { recordingTask { id } } }`, ids)
	require.Nil(t, field(ended, "endMeeting", "recordingTask"), "nothing was uploaded before the end")

	speech := uploadSpeech(t, s, alice, meetingID)

	recording := followTaskEvents(t, s, alice, meetingTaskID(t, s, alice, meetingID, "RECORDING"))
	requireOrderedSuccess(t, "RECORDING", recording)
	requireChainSucceeds(t, s, alice, meetingID, speech)
}

func TestRecordingRetriesWhileS3Down(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	settings := settingArgs(t, databaseURL)
	endpoint := slices.Index(settings, "--s3-endpoint") + 1
	proxy := testenv.NewProxy(t, strings.TrimPrefix(settings[endpoint], "http://"))
	settings[endpoint] = "http://" + proxy.Addr

	// The gateway checks S3 when it starts, so the proxy is cut only
	// after the upload, before the worker fetches the upload.
	s := launchSystem(t, "all", databaseURL, settings, "--retry-delays", "1s,1s,1s,1s,1s,1s")
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	meetingID, speech := speechMeeting(t, s, alice)

	proxy.Cut()

	recordingTask := endMeeting(t, s, alice, meetingID)

	testenv.Eventually(t, time.Minute, func() error {
		data := graphQLData(t, s, alice, `query ($id: ID!) { task(id: $id) { status attempts lastError } }`,
			map[string]any{"id": recordingTask})
		if field(data, "task", "lastError") == nil {
			return fmt.Errorf("recording task %s has not failed yet: %v", recordingTask, data)
		}

		return nil
	})

	proxy.Restore()

	// The subscription replays the stored events first, so nothing is lost
	// by subscribing after the retry.
	recording := followTaskEvents(t, s, alice, recordingTask)
	requireOrderedSuccess(t, "RECORDING", recording)
	require.GreaterOrEqual(t, recording[len(recording)-1].Task.Attempts, 2)

	var retries []demoTaskEvent

	for _, event := range recording {
		if event.Stage == "retry" {
			retries = append(retries, event)
		}
	}

	require.NotEmpty(t, retries, "no retry among %+v", recording)
	require.Equal(t, "QUEUED", retries[0].Status)
	require.Contains(t, retries[0].Message, "attempt 1 failed")

	requireChainSucceeds(t, s, alice, meetingID, speech)
}

func TestDemoFollowsTaskChain(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")

	output := s.command(t, "demo", "--url", s.baseURL+"/query", "--user", "alice@example.com", "--timeout", "2m")
	t.Log(output)

	for _, kind := range []string{"RECORDING", "TRANSCRIPTION", "SUMMARY"} {
		require.Regexp(t, `(?m)^`+kind+` +#\d+ +SUCCEEDED +100\.0%`, output, "%s task's terminal event", kind)
	}

	require.Regexp(t, `(?m)^RECORDING +#\d+ +RUNNING`, output, "the recording task's events before its end")
	require.Regexp(t, `(?m)^recording READY, \d+\.\d\d s$`, output)
	require.Regexp(t, `(?m)^transcript: \S`, output)
	require.Regexp(t, `(?m)^  \[ *\d+\.\d\d – +\d+\.\d\d\] \S`, output, "timed segments")
	require.Regexp(t, `(?m)^summary: \S`, output)
}

func TestSubscribeClientReturnsErrors(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")
	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	ctx := testenv.Context(t, 30*time.Second)
	unexpected := func(data json.RawMessage) error { return fmt.Errorf("unexpected result %s", data) }

	err := gqlclient.Subscribe(ctx, s.baseURL+"/query", "not-a-token", demoTaskEvents,
		map[string]any{"id": uuid.NewString()}, unexpected)
	require.ErrorContains(t, err, "4403")

	err = gqlclient.Subscribe(ctx, s.baseURL+"/query", alice, demoTaskEvents,
		map[string]any{"id": uuid.NewString()}, unexpected)
	require.ErrorContains(t, err, "NOT_FOUND")

	err = gqlclient.Subscribe(ctx, "ftp://"+strings.TrimPrefix(s.baseURL, "http://"), alice, demoTaskEvents, nil, unexpected)
	require.ErrorContains(t, err, "invalid GraphQL endpoint")
}

func TestDemoErrorsNameTheirFlag(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	s := startSystem(t, databaseURL)
	s.command(t, "seed")

	settings := settingArgs(t, databaseURL)
	ctx := testenv.Context(t, 60*time.Second)

	// Nothing listens on a fresh free port.
	dead := "http://" + testenv.FreeAddr(t) + "/query"

	var output bytes.Buffer

	err := run(ctx, append([]string{"demo", "--url", dead, "--user", "alice@example.com"}, settings...),
		&output, &bytes.Buffer{})
	require.ErrorContains(t, err, "--url "+dead)
	require.NotContains(t, output.String(), "synthesised", "the gateway check must come before the speech")

	err = run(ctx, append([]string{"demo", "--url", s.baseURL + "/query", "--user", "alice@example.com",
		"--timeout", "1ms"}, settings...), &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "within --timeout 1ms")
	require.Equal(t, 1, strings.Count(err.Error(), "within --timeout"), "the timeout is named once: %v", err)

	err = run(ctx, append([]string{"demo", "--url", s.baseURL + "/query", "--user", "alice@example.com",
		"--timeout", "0s"}, settings...), &bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "--timeout is 0s")
}
