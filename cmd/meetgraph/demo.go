package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/meetgraph/meetgraph/internal/gqlclient"
)

// demoSentences is the text the demo speaks when --text is not set.
const demoSentences = "Hello everyone. Welcome to the weekly planning meeting. " +
	"Today we discuss the budget and the release schedule. Thank you all for joining."

// demoPollInterval is the pause between two polls of the task's state.
const demoPollInterval = 250 * time.Millisecond

// The GraphQL operations of the demo.
//
// NOTE: the arguments and results of createMeeting, startMeeting and
// endMeeting are assumed, because the mutation side defines them. This
// command has not yet run end to end in this repository's tests.
const (
	demoCreateMeeting = `mutation($title: String!) { createMeeting(input: {title: $title}) { id title } }`
	demoStartMeeting  = `mutation($id: ID!) { startMeeting(id: $id) { id status } }`
	demoUpload        = `mutation($meetingId: ID!, $file: Upload!) {
		uploadRecording(meetingId: $meetingId, file: $file) { id status sizeBytes } }`
	demoEndMeeting = `mutation($id: ID!) { endMeeting(id: $id) { id kind status } }`
	demoTaskQuery  = `query($id: ID!) { task(id: $id) { id kind status progress lastSeq lastError } }`
	demoAnalysis   = `query($id: ID!) { meeting(id: $id) { analysis {
		transcript { text segments { start end text } } summary keywords } } }`
)

// DemoCmd runs the main job on real input against a running meetgraph.
type DemoCmd struct {
	URL     string        `name:"url" default:"http://127.0.0.1:8080/query" help:"GraphQL endpoint of the running gateway."`
	User    string        `name:"user" default:"alice@example.com" help:"Id or e-mail address of the user who hosts the demo meeting; needs create_meeting."`
	Text    string        `name:"text" default:"${demo_text}" help:"Text spoken by the synthesised voice."`
	Espeak  string        `name:"espeak" default:"espeak-ng" help:"espeak-ng command or path."`
	Timeout time.Duration `name:"timeout" default:"5m" help:"How long to wait for the transcript (duration)."`
}

type demoTask struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Status    string  `json:"status"`
	Progress  float64 `json:"progress"`
	LastSeq   int64   `json:"lastSeq"`
	LastError *string `json:"lastError"`
}

type demoAnalysisResult struct {
	Meeting struct {
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

	ctx, cancel := context.WithTimeout(env.ctx, c.Timeout)
	defer cancel()

	session := &demoSession{endpoint: c.URL, token: token, client: &http.Client{Timeout: time.Minute}, env: env}

	dir, err := os.MkdirTemp("", "meetgraph-demo-")
	if err != nil {
		return fmt.Errorf("create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)

	speech := filepath.Join(dir, "speech.wav")
	if output, err := exec.CommandContext(ctx, c.Espeak, "-w", speech, c.Text).CombinedOutput(); err != nil {
		return fmt.Errorf("synthesise speech with %s: %w: %s", c.Espeak, err, output)
	}

	session.printf("synthesised %q into %s\n", c.Text, speech)

	meetingID, err := session.prepareMeeting(ctx, speech)
	if err != nil {
		return err
	}

	var ended struct{ EndMeeting demoTask }
	if err := session.call(ctx, demoEndMeeting, map[string]any{"id": meetingID}, &ended); err != nil {
		return err
	}

	session.printf("meeting ended; recording task %s queued\n", ended.EndMeeting.ID)

	if err := session.follow(ctx, ended.EndMeeting.ID); err != nil {
		return err
	}

	return session.printTranscript(ctx, meetingID)
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

// follow polls the task and prints each change until it is terminal.
//
// TODO: subscribe to taskUpdated(id, afterSeq) instead, which also
// delivers each event's stage and message.
func (s *demoSession) follow(ctx context.Context, taskID string) error {
	var lastSeq int64 = -1

	for {
		var result struct{ Task demoTask }
		if err := s.call(ctx, demoTaskQuery, map[string]any{"id": taskID}, &result); err != nil {
			return err
		}

		task := result.Task
		if task.LastSeq != lastSeq {
			lastSeq = task.LastSeq
			s.printf("task %s %-13s seq %3d  %-10s %5.1f%%\n", task.ID[:8], task.Kind, task.LastSeq, task.Status,
				task.Progress*100)
		}

		switch task.Status {
		case "SUCCEEDED":
			return nil
		case "FAILED", "CANCELLED", "DEAD_LETTERED":
			reason := "no reason recorded"
			if task.LastError != nil {
				reason = *task.LastError
			}

			return fmt.Errorf("task %s ended %s: %s", task.ID, task.Status, reason)
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for task %s: %w", taskID, ctx.Err())
		case <-time.After(demoPollInterval):
		}
	}
}

// printTranscript waits for the chained transcription and prints it.
func (s *demoSession) printTranscript(ctx context.Context, meetingID string) error {
	for {
		var result demoAnalysisResult
		if err := s.call(ctx, demoAnalysis, map[string]any{"id": meetingID}, &result); err != nil {
			return err
		}

		if analysis := result.Meeting.Analysis; analysis != nil && analysis.Transcript != nil {
			s.printf("\ntranscript: %s\n", analysis.Transcript.Text)

			for _, segment := range analysis.Transcript.Segments {
				s.printf("  [%6.2f – %6.2f] %s\n", segment.Start, segment.End, segment.Text)
			}

			if analysis.Summary != nil {
				s.printf("summary: %s\nkeywords: %v\n", *analysis.Summary, analysis.Keywords)
			}

			return nil
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the transcript of meeting %s: %w", meetingID, ctx.Err())
		case <-time.After(demoPollInterval):
		}
	}
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
