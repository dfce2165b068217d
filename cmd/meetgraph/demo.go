package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
)

// demoSentences is the text the demo speaks when --text is not set.
const demoSentences = "Hello everyone. Welcome to the weekly planning meeting. " +
	"Today we discuss the budget and the release schedule. Thank you all for joining."

// The GraphQL operations of the demo.
const (
	demoCreateMeeting = `mutation($title: String!) { createMeeting(input: {title: $title}) { id title } }`
	demoStartMeeting  = `mutation($id: ID!) { startMeeting(id: $id) { id status } }`
	demoUpload        = `mutation($meetingId: ID!, $file: Upload!) {
		uploadRecording(meetingId: $meetingId, file: $file) { id status sizeBytes } }`
	demoEndMeeting = `mutation($id: ID!) { endMeeting(id: $id) { meeting { status } recordingTask { id kind } } }`
	demoTaskEvents = `subscription($id: ID!) {
		taskUpdated(id: $id) { seq status progress stage message terminal task { id kind attempts lastError } } }`
	demoMeetingTasks = `query($id: ID!) { meeting(id: $id) { tasks { id kind } } }`
	demoAnalysis     = `query($id: ID!) { meeting(id: $id) {
		recordings { status durationSeconds }
		analysis { transcript { text segments { start end text } } summary keywords } } }`
)

// demoChain is the order in which tasks follow each other after endMeeting.
var demoChain = []string{"RECORDING", "TRANSCRIPTION", "SUMMARY"}

// DemoCmd runs the main job on real input against a running meetgraph.
type DemoCmd struct {
	URL     string        `name:"url" default:"http://127.0.0.1:8080/query" help:"GraphQL endpoint of the running gateway."`
	User    string        `name:"user" default:"alice@example.com" help:"Id or e-mail address of the user who hosts the demo meeting; needs create_meeting."`
	Text    string        `name:"text" default:"${demo_text}" help:"Text spoken by the synthesised voice."`
	Espeak  string        `name:"espeak" default:"espeak-ng" help:"espeak-ng command or path."`
	Timeout time.Duration `name:"timeout" default:"5m" help:"How long the demo may wait for the recording, transcription and summary tasks together (duration)."`
}

// demoTaskEvent is one taskUpdated event.
type demoTaskEvent struct {
	Seq      int64   `json:"seq"`
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Stage    string  `json:"stage"`
	Message  string  `json:"message"`
	Terminal bool    `json:"terminal"`
	Task     struct {
		ID        string  `json:"id"`
		Kind      string  `json:"kind"`
		Attempts  int     `json:"attempts"`
		LastError *string `json:"lastError"`
	} `json:"task"`
}

type demoAnalysisResult struct {
	Meeting struct {
		Recordings []struct {
			Status          string   `json:"status"`
			DurationSeconds *float64 `json:"durationSeconds"`
		} `json:"recordings"`
		Analysis *struct {
			Transcript *struct {
				Text     string `json:"text"`
				Segments []struct {
					Start float64 `json:"start"`
					End   float64 `json:"end"`
					Text  string  `json:"text"`
				} `json:"segments"`
			} `json:"transcript"`
			Summary  *string  `json:"summary"`
			Keywords []string `json:"keywords"`
		} `json:"analysis"`
	} `json:"meeting"`
}

// demoSession is one run of the demo: an endpoint, a token and an HTTP client.
type demoSession struct {
	endpoint string
	token    string
	client   *http.Client
	env      *environment
}

func (c *DemoCmd) Run(env *environment) error {
	token, err := env.userToken(c.User, time.Hour)
	if err != nil {
		return err
	}

	if c.Timeout <= 0 {
		return fmt.Errorf("--timeout is %s: it must be more than 0", c.Timeout)
	}

	timedOut := fmt.Errorf("the demo did not finish within --timeout %s: raise it on a slow machine", c.Timeout)

	ctx, cancel := context.WithTimeoutCause(env.ctx, c.Timeout, timedOut)
	defer cancel()

	session := &demoSession{endpoint: c.URL, token: token, client: &http.Client{Timeout: time.Minute}, env: env}

	err = c.run(ctx, session)
	if err != nil && errors.Is(context.Cause(ctx), timedOut) && !errors.Is(err, timedOut) {
		return fmt.Errorf("%w: %w", timedOut, err)
	}

	return err
}

// run synthesises the speech and takes it through the meeting's tasks.
func (c *DemoCmd) run(ctx context.Context, session *demoSession) error {
	// A cheap query first, so that a wrong --url fails before the speech
	// synthesis and the uploads.
	if err := session.call(ctx, `{ __typename }`, nil, nil); err != nil {
		return fmt.Errorf("query to --url %s failed: %w (--url is the GraphQL endpoint, such as "+
			"http://127.0.0.1:8080/query)", c.URL, err)
	}

	dir, err := os.MkdirTemp("", "meetgraph-demo-")
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)

	speech := filepath.Join(dir, "speech.wav")
	if output, err := exec.CommandContext(ctx, c.Espeak, "-w", speech, c.Text).CombinedOutput(); err != nil {
		if len(bytes.TrimSpace(output)) == 0 {
			return fmt.Errorf("synthesise speech with %s: %w", c.Espeak, err)
		}

		return fmt.Errorf("synthesise speech with %s: %w: %s", c.Espeak, err, bytes.TrimSpace(output))
	}

	session.printf("synthesised %q into %s\n", c.Text, speech)

	meetingID, err := session.prepareMeeting(ctx, speech)
	if err != nil {
		return err
	}

	if err := session.endAndFollow(ctx, meetingID); err != nil {
		return err
	}

	return session.printResults(ctx, meetingID)
}

// endAndFollow ends the meeting and follows the recording task it queues,
// then the transcription and summary tasks that each queues the next.
func (s *demoSession) endAndFollow(ctx context.Context, meetingID string) error {
	var ended struct {
		EndMeeting struct {
			RecordingTask *struct{ ID string } `json:"recordingTask"`
		} `json:"endMeeting"`
	}
	if err := s.call(ctx, demoEndMeeting, map[string]any{"id": meetingID}, &ended); err != nil {
		return err
	}

	if ended.EndMeeting.RecordingTask == nil {
		return fmt.Errorf("endMeeting of meeting %s queued no recording task although the upload succeeded", meetingID)
	}

	s.printf("meeting ended; following its tasks over a taskUpdated subscription\n")

	taskID := ended.EndMeeting.RecordingTask.ID
	for i, kind := range demoChain {
		if i > 0 {
			// The previous task queued this one before it succeeded.
			var err error
			if taskID, err = s.chainedTask(ctx, meetingID, kind); err != nil {
				return err
			}
		}

		if err := s.follow(ctx, taskID); err != nil {
			return err
		}
	}

	return nil
}

// prepareMeeting creates and starts a meeting and uploads the speech to it.
func (s *demoSession) prepareMeeting(ctx context.Context, speech string) (string, error) {
	var created struct {
		CreateMeeting struct{ ID, Title string }
	}

	title := "meetgraph demo " + time.Now().UTC().Format(time.RFC3339)
	if err := s.call(ctx, demoCreateMeeting, map[string]any{"title": title}, &created); err != nil {
		return "", err
	}

	meetingID := created.CreateMeeting.ID
	s.printf("created meeting %s (%s)\n", meetingID, title)

	if err := s.call(ctx, demoStartMeeting, map[string]any{"id": meetingID}, nil); err != nil {
		return "", err
	}

	file, err := os.Open(speech)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", speech, err)
	}
	defer file.Close()

	info, err := file.Stat()
	if err != nil {
		return "", fmt.Errorf("stat %s: %w", speech, err)
	}

	request, err := gqlclient.NewUploadRequest(ctx, s.endpoint, s.token, gqlclient.Upload{
		Query: demoUpload, Variables: map[string]any{"meetingId": meetingID}, FileVariable: "file",
		FileName: "speech.wav", ContentType: "audio/wav", File: file, Size: info.Size(),
	})
	if err != nil {
		return "", err
	}

	response, err := gqlclient.Do(s.client, request)
	if err != nil {
		return "", err
	}

	if err := response.Err(); err != nil {
		return "", fmt.Errorf("uploadRecording: %w", err)
	}

	s.printf("uploaded %d bytes of speech\n", info.Size())

	return meetingID, nil
}

// follow prints each event of the task as the subscription delivers it,
// and returns an error unless the task succeeds.
func (s *demoSession) follow(ctx context.Context, taskID string) error {
	var last demoTaskEvent

	err := gqlclient.Subscribe(ctx, s.endpoint, s.token, demoTaskEvents, map[string]any{"id": taskID},
		func(data json.RawMessage) error {
			var result struct{ TaskUpdated demoTaskEvent }
			if err := json.Unmarshal(data, &result); err != nil {
				return fmt.Errorf("decode event of task %s: %w", taskID, err)
			}

			last = result.TaskUpdated
			line := fmt.Sprintf("%-13s #%-3d %-10s %5.1f%%  %-10s %s", last.Task.Kind, last.Seq, last.Status,
				last.Progress*100, last.Stage, last.Message)
			s.printf("%s\n", strings.TrimRight(line, " "))

			return nil
		})
	if err != nil {
		return fmt.Errorf("follow task %s: %w", taskID, err)
	}

	if !last.Terminal {
		return fmt.Errorf("subscription to task %s completed before its terminal event", taskID)
	}

	if last.Status != "SUCCEEDED" {
		reason := "no reason recorded"
		if last.Task.LastError != nil {
			reason = *last.Task.LastError
		}

		return fmt.Errorf("task %s ended %s after %d attempts: %s", taskID, last.Status, last.Task.Attempts, reason)
	}

	return nil
}

// chainedTask returns the id of the meeting's newest task of kind.
func (s *demoSession) chainedTask(ctx context.Context, meetingID, kind string) (string, error) {
	var result struct {
		Meeting struct {
			Tasks []struct{ ID, Kind string }
		}
	}
	if err := s.call(ctx, demoMeetingTasks, map[string]any{"id": meetingID}, &result); err != nil {
		return "", err
	}

	// Tasks are listed oldest first, and a retried upload may have queued
	// more than one of a kind.
	for i := len(result.Meeting.Tasks) - 1; i >= 0; i-- {
		if task := result.Meeting.Tasks[i]; task.Kind == kind {
			return task.ID, nil
		}
	}

	return "", fmt.Errorf("meeting %s has no %s task, although the previous task succeeded", meetingID, kind)
}

// printResults prints the recording's duration, the transcript with its
// timed segments and the summary.
func (s *demoSession) printResults(ctx context.Context, meetingID string) error {
	var result demoAnalysisResult
	if err := s.call(ctx, demoAnalysis, map[string]any{"id": meetingID}, &result); err != nil {
		return err
	}

	for _, recording := range result.Meeting.Recordings {
		if recording.DurationSeconds != nil {
			s.printf("\nrecording %s, %.2f s\n", recording.Status, *recording.DurationSeconds)
		}
	}

	analysis := result.Meeting.Analysis
	if analysis == nil || analysis.Transcript == nil {
		return fmt.Errorf("meeting %s has no transcript although its transcription succeeded", meetingID)
	}

	s.printf("\ntranscript: %s\n", analysis.Transcript.Text)

	for _, segment := range analysis.Transcript.Segments {
		s.printf("  [%6.2f – %6.2f] %s\n", segment.Start, segment.End, segment.Text)
	}

	if analysis.Summary == nil {
		return fmt.Errorf("meeting %s has no summary although its summary task succeeded", meetingID)
	}

	s.printf("\nsummary: %s\nkeywords: %s\n", *analysis.Summary, strings.Join(analysis.Keywords, ", "))

	return nil
}

// call runs one GraphQL operation and decodes its data into out, when not nil.
func (s *demoSession) call(ctx context.Context, query string, variables map[string]any, out any) error {
	request, err := gqlclient.NewRequest(ctx, s.endpoint, s.token, query, variables)
	if err != nil {
		return err
	}

	response, err := gqlclient.Do(s.client, request)
	if err != nil {
		return err
	}

	if err := response.Err(); err != nil {
		return err
	}

	if out == nil {
		return nil
	}

	if err := json.Unmarshal(response.Data, out); err != nil {
		return fmt.Errorf("decode response data of %s: %w", s.endpoint, err)
	}

	return nil
}

func (s *demoSession) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(s.env.stdout, format, args...)
}
