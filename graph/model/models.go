// Package model holds the Go types of meetgraph's GraphQL schema. The types
// in this file are written by hand so that relation fields (a meeting's
// creator, participants, …) get their own resolvers, which gqlgen runs
// concurrently; models_gen.go is generated.
package model

import "time"

type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Email is set only when the caller is this user (see the schema). It
	// is a plain field rather than a resolver because a resolver on User
	// makes gqlgen marshal every list that contains users with one
	// goroutine per element.
	Email *string `json:"email,omitempty"`
}

type Meeting struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Status      MeetingStatus     `json:"status"`
	Visibility  MeetingVisibility `json:"visibility"`
	ScheduledAt *time.Time        `json:"scheduledAt,omitempty"`
	StartedAt   *time.Time        `json:"startedAt,omitempty"`
	EndedAt     *time.Time        `json:"endedAt,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	// CreatorID is resolved to the creator field by a loader.
	CreatorID string `json:"-"`
}

type Task struct {
	ID         string     `json:"id"`
	Kind       TaskKind   `json:"kind"`
	Status     TaskStatus `json:"status"`
	Progress   float64    `json:"progress"`
	Attempts   int        `json:"attempts"`
	LastError  *string    `json:"lastError,omitempty"`
	LastSeq    int64      `json:"lastSeq"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// MeetingID is resolved to the meeting field.
	MeetingID string `json:"-"`
}

// Participant carries its user, which the participants query joins, so
// that gqlgen needs no resolver (and no goroutine) per participant.
type Participant struct {
	User      *User           `json:"user"`
	Role      ParticipantRole `json:"role"`
	InvitedAt time.Time       `json:"invitedAt"`
	JoinedAt  *time.Time      `json:"joinedAt,omitempty"`
}

type Recording struct {
	ID              string          `json:"id"`
	Status          RecordingStatus `json:"status"`
	ContentType     *string         `json:"contentType,omitempty"`
	SizeBytes       *float64        `json:"sizeBytes,omitempty"`
	DurationSeconds *float64        `json:"durationSeconds,omitempty"`
	FailureReason   *string         `json:"failureReason,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	// PlaybackObjectKey is presigned into the url field while the recording is READY.
	PlaybackObjectKey *string `json:"-"`
	MeetingID         string  `json:"-"`
}
