// Package events defines the task and meeting events that workers and
// gateways publish to the meetgraph.events topic exchange, and the hub that
// fans them out to local subscriptions.
package events

import (
	"time"

	"github.com/google/uuid"
)

// Exchange is the durable topic exchange that carries every event.
const Exchange = "meetgraph.events"

// TaskEvent is the JSON body of a message with routing key
// task.<kind>.<status> (both lower case). Seq numbers one task's events from
// 1 without gaps, so a subscriber can de-duplicate and resume.
type TaskEvent struct {
	TaskID    uuid.UUID `json:"taskId"`
	MeetingID uuid.UUID `json:"meetingId"`
	Kind      string    `json:"kind"`
	Seq       int64     `json:"seq"`
	Status    string    `json:"status"`
	Progress  float64   `json:"progress"`
	Stage     string    `json:"stage"`
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
	// Traceparent is the W3C trace context of the message that carried the
	// event, so that pushing it to subscribers joins the task's trace.
	Traceparent string `json:"-"`
}

// MeetingEvent is the JSON body of a message with routing key
// meeting.<type>, where type is created, started, ended or reminder.
type MeetingEvent struct {
	MeetingID uuid.UUID `json:"meetingId"`
	Type      string    `json:"type"`
	// ActorID is the user who caused the event; nil for reminders.
	ActorID *uuid.UUID `json:"actorId,omitempty"`
	At      time.Time  `json:"at"`
}
