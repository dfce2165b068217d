package model

import "time"

type TaskEvent struct {
	Seq      int64      `json:"seq"`
	Status   TaskStatus `json:"status"`
	Progress float64    `json:"progress"`
	Stage    string     `json:"stage"`
	Message  string     `json:"message"`
	At       time.Time  `json:"at"`
	Terminal bool       `json:"terminal"`
	// TaskID is resolved to the task field.
	TaskID string `json:"-"`
}

type MeetingEvent struct {
	Type MeetingEventType `json:"type"`
	At   time.Time        `json:"at"`
	// MeetingID is resolved to the meeting field.
	MeetingID string `json:"-"`
	// ActorID is resolved to the actor field; nil for reminders.
	ActorID *string `json:"-"`
}
