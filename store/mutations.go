package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/events"
)

// Participant roles.
const (
	roleHost     = "HOST"
	roleAttendee = "ATTENDEE"
)

// NewMeeting is the input of CreateMeeting.
type NewMeeting struct {
	Title       string
	Visibility  string
	ScheduledAt *time.Time
	// InviteeIDs become ATTENDEE participants; the creator is the HOST.
	InviteeIDs []uuid.UUID
}

// CreateMeeting creates a meeting hosted by actor, invites the invitees
// and announces meeting.created, in one transaction.
func (s *Store) CreateMeeting(ctx context.Context, actor *User, input NewMeeting) (*Meeting, error) {
	if err := RequireCreateMeeting(actor); err != nil {
		return nil, err
	}

	var messages []OutboxMessage

	meeting, err := inTx(ctx, s, func(tx pgx.Tx) (*Meeting, error) {
		meeting, err := scanMeeting(tx.QueryRow(ctx, `INSERT INTO meetings AS m (id, title, visibility, creator_id, scheduled_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+meetingColumns,
			uuid.New(), input.Title, input.Visibility, actor.ID, input.ScheduledAt))
		if err != nil {
			return nil, fmt.Errorf("insert meeting for user %s: %w", actor.ID, err)
		}

		_, err = tx.Exec(ctx, `INSERT INTO participants (meeting_id, user_id, role)
			SELECT $1::uuid, $2::uuid, 'HOST'
			UNION ALL SELECT $1::uuid, u, 'ATTENDEE' FROM unnest($3::uuid[]) AS u WHERE u <> $2::uuid
			ON CONFLICT DO NOTHING`, meeting.ID, actor.ID, input.InviteeIDs)
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" {
			return nil, errUnknownInvitee
		}

		if err != nil {
			return nil, fmt.Errorf("insert participants of meeting %s: %w", meeting.ID, err)
		}

		message, err := s.meetingEvent(ctx, tx, meeting.ID, "created", actor.ID)
		messages = []OutboxMessage{message}

		return meeting, err
	})
	if errors.Is(err, errUnknownInvitee) {
		return nil, s.unknownInviteesError(ctx, input.InviteeIDs)
	}

	if err != nil {
		return nil, err
	}

	s.afterCommit(messages)

	return meeting, nil
}

// errUnknownInvitee is the error for an invitee id that matches no user.
var errUnknownInvitee = errors.New("an invited user does not exist")

// unknownInviteesError returns the BAD_USER_INPUT error that names the
// invitees without a user. The failed transaction could not look them up,
// so this reads them after it.
func (s *Store) unknownInviteesError(ctx context.Context, inviteeIDs []uuid.UUID) error {
	rows, err := s.pool.Query(ctx, `SELECT i FROM unnest($1::uuid[]) AS i
		WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = i)`, inviteeIDs)
	if err != nil {
		return fmt.Errorf("find unknown invitees: %w", err)
	}

	missing, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("find unknown invitees: %w", err)
	}

	ids := make([]string, len(missing))
	for i, id := range missing {
		ids[i] = id.String()
	}

	// The users may have been created since the insert, which leaves none
	// to name.
	if len(ids) == 0 {
		return apperr.Wrap(errUnknownInvitee, apperr.BadUserInput, "an invited user does not exist")
	}

	return apperr.Wrap(errUnknownInvitee, apperr.BadUserInput,
		"no user has the invited id "+strings.Join(ids, ", ")+": invite existing users only")
}

// meetingEvent writes meeting.<eventType> to the outbox in tx.
func (s *Store) meetingEvent(ctx context.Context, tx pgx.Tx, meetingID uuid.UUID, eventType string, actorID uuid.UUID) (OutboxMessage, error) {
	body, err := json.Marshal(events.MeetingEvent{MeetingID: meetingID, Type: eventType, ActorID: &actorID, At: time.Now().UTC()})
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("encode %s event of meeting %s: %w", eventType, meetingID, err)
	}

	inserted, err := s.insertOutbox(ctx, tx, OutboxMessage{
		Exchange:   events.Exchange,
		RoutingKey: "meeting." + eventType,
		MessageID:  meetingID.String() + "/" + eventType,
		Body:       body,
	})
	if err != nil {
		return OutboxMessage{}, err
	}

	return inserted[0], nil
}

// membership is a user's relation to a locked meeting.
type membership struct {
	meeting *Meeting
	// role is the user's participant role, "" when not a participant.
	role      string
	isCreator bool
}

// Row locks that lockMeeting takes.
const (
	// forUpdate serialises changes of the meeting's status.
	forUpdate = "FOR UPDATE OF m"
	// noLock suits writes that only need the membership check, so that
	// concurrent task requests on one meeting do not queue behind each other.
	noLock = ""
)

// lockMeeting selects the meeting, with the row lock lock, and the user's
// role in it. A meeting the user may not see is NOT_FOUND, so that private
// meetings do not leak. With the pool as tx it takes no lock that outlasts
// the statement.
func lockMeeting(ctx context.Context, tx queryRower, meetingID, userID uuid.UUID, lock string) (*membership, error) {
	var (
		m    Meeting
		role *string
	)

	err := tx.QueryRow(ctx, `SELECT `+meetingColumns+`,
			(SELECT p.role FROM participants p WHERE p.meeting_id = m.id AND p.user_id = $2)
		FROM meetings m WHERE m.id = $1 AND `+visibleTo+` `+lock, meetingID, userID).
		Scan(&m.ID, &m.Title, &m.Status, &m.Visibility, &m.CreatorID,
			&m.ScheduledAt, &m.StartedAt, &m.EndedAt, &m.CreatedAt, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.Wrap(ErrNotFound, apperr.NotFound, "meeting "+meetingID.String()+" not found")
	}

	if err != nil {
		return nil, fmt.Errorf("lock meeting %s for user %s: %w", meetingID, userID, err)
	}

	result := &membership{meeting: &m, isCreator: m.CreatorID == userID}
	if role != nil {
		result.role = *role
	}

	return result, nil
}

// requireMeetingStatus rejects a state change from any status but allowed.
func requireMeetingStatus(meeting *Meeting, action string, allowed ...string) error {
	for _, status := range allowed {
		if meeting.Status == status {
			return nil
		}
	}

	return apperr.New(apperr.BadUserInput, "cannot %s meeting %s: it is %s", action, meeting.ID, meeting.Status)
}

// JoinMeeting marks actor as joined; a public meeting adds them as an
// attendee first. Only SCHEDULED and LIVE meetings can be joined.
func (s *Store) JoinMeeting(ctx context.Context, actor *User, meetingID uuid.UUID) (*Meeting, error) {
	return inTx(ctx, s, func(tx pgx.Tx) (*Meeting, error) {
		member, err := lockMeeting(ctx, tx, meetingID, actor.ID, forUpdate)
		if err != nil {
			return nil, err
		}

		if err := RequireMayJoin(member.meeting, member.role != ""); err != nil {
			return nil, err
		}

		if err := requireMeetingStatus(member.meeting, "join", MeetingScheduled, MeetingLive); err != nil {
			return nil, err
		}

		_, err = tx.Exec(ctx, `INSERT INTO participants (meeting_id, user_id, role, joined_at)
			VALUES ($1, $2, 'ATTENDEE', now())
			ON CONFLICT (meeting_id, user_id) DO UPDATE SET joined_at = coalesce(participants.joined_at, now())`,
			meetingID, actor.ID)
		if err != nil {
			return nil, fmt.Errorf("join user %s to meeting %s: %w", actor.ID, meetingID, err)
		}

		return member.meeting, nil
	})
}

// StartMeeting moves a SCHEDULED meeting to LIVE and announces
// meeting.started; only a host may do it.
func (s *Store) StartMeeting(ctx context.Context, actor *User, meetingID uuid.UUID) (*Meeting, error) {
	var message OutboxMessage

	meeting, err := inTx(ctx, s, func(tx pgx.Tx) (*Meeting, error) {
		var (
			meeting *Meeting
			err     error
		)

		meeting, message, err = s.changeMeetingStatus(ctx, tx, actor, meetingID, startMeeting)

		return meeting, err
	})
	if err != nil {
		return nil, err
	}

	s.afterCommit([]OutboxMessage{message})

	return meeting, nil
}

// meetingChange is a status change of a meeting that only a host may make.
type meetingChange struct {
	action, from, to string
	// timestampColumn is set to now(); eventType names the meeting event.
	timestampColumn, eventType string
}

var (
	startMeeting = meetingChange{action: "start", from: MeetingScheduled, to: MeetingLive, timestampColumn: "started_at", eventType: "started"}
	endMeeting   = meetingChange{action: "end", from: MeetingLive, to: MeetingEnded, timestampColumn: "ended_at", eventType: "ended"}
)

// changeMeetingStatus applies change in tx after checking that actor hosts
// the meeting and that it is in change.from, and writes the meeting event
// to the outbox.
func (s *Store) changeMeetingStatus(ctx context.Context, tx pgx.Tx, actor *User, meetingID uuid.UUID,
	change meetingChange,
) (*Meeting, OutboxMessage, error) {
	member, err := lockMeeting(ctx, tx, meetingID, actor.ID, forUpdate)
	if err != nil {
		return nil, OutboxMessage{}, err
	}

	if err := RequireHost(meetingID, member.role, member.isCreator); err != nil {
		return nil, OutboxMessage{}, err
	}

	if err := requireMeetingStatus(member.meeting, change.action, change.from); err != nil {
		return nil, OutboxMessage{}, err
	}

	meeting, err := scanMeeting(tx.QueryRow(ctx, `UPDATE meetings m SET status = $2, `+change.timestampColumn+` = now()
		WHERE id = $1 RETURNING `+meetingColumns, meetingID, change.to))
	if err != nil {
		return nil, OutboxMessage{}, fmt.Errorf("%s meeting %s: %w", change.action, meetingID, err)
	}

	message, err := s.meetingEvent(ctx, tx, meetingID, change.eventType, actor.ID)

	return meeting, message, err
}

// EndedMeeting is the result of EndMeeting.
type EndedMeeting struct {
	Meeting *Meeting
	// RecordingTask processes the meeting's newest uploaded recording; nil
	// when the meeting has no recording in status UPLOADED.
	RecordingTask *Task
	// recordingTasks are the tasks of every uploaded recording, newest first.
	recordingTasks []*Task
}

// EndMeeting moves a LIVE meeting to ENDED and announces meeting.ended.
// When the meeting has an UPLOADED recording, it also queues a RECORDING
// task for it. Only a host may end a meeting. With an idempotency key that
// already made a task, it returns that task and the meeting as it is.
func (s *Store) EndMeeting(ctx context.Context, actor *User, meetingID uuid.UUID, idempotencyKey *string) (*EndedMeeting, error) {
	if existing, err := s.taskByIdempotencyKey(ctx, actor.ID, idempotencyKey); err != nil || existing != nil {
		if err != nil {
			return nil, err
		}

		if err := sameRequest(existing, meetingID, TaskKindRecording); err != nil {
			return nil, err
		}

		meeting, err := s.MeetingByID(ctx, existing.MeetingID)
		if err != nil {
			return nil, err
		}

		return &EndedMeeting{Meeting: meeting, RecordingTask: existing}, nil
	}

	var messages []OutboxMessage

	result, err := inTx(ctx, s, func(tx pgx.Tx) (*EndedMeeting, error) {
		meeting, message, err := s.changeMeetingStatus(ctx, tx, actor, meetingID, endMeeting)
		if err != nil {
			return nil, err
		}

		messages = append(messages, message)
		result := &EndedMeeting{Meeting: meeting}

		rows, err := tx.Query(ctx, `SELECT id FROM recordings WHERE meeting_id = $1 AND status = 'UPLOADED'
			ORDER BY created_at DESC, id DESC`, meetingID)
		if err != nil {
			return nil, fmt.Errorf("select uploaded recordings of meeting %s: %w", meetingID, err)
		}

		recordingIDs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return nil, fmt.Errorf("select uploaded recordings of meeting %s: %w", meetingID, err)
		}

		// Every uploaded recording gets processed. The newest one's task is
		// the payload's recordingTask and carries the idempotency key.
		// NOTE: each recording is transcribed on its own, and the meeting's
		// analysis holds the transcript that finished last.
		for i, recordingID := range recordingIDs {
			input := newTask{meetingID: meetingID, recordingID: &recordingID, kind: TaskKindRecording, requestedBy: &actor.ID}
			if i == 0 {
				input.idempotencyKey = idempotencyKey
			}

			task, taskMessages, err := s.createTask(ctx, tx, input)
			if err != nil {
				return nil, err
			}

			messages = append(messages, taskMessages...)
			result.recordingTasks = append(result.recordingTasks, task)

			if i == 0 {
				result.RecordingTask = task
			}
		}

		return result, nil
	})
	if errors.Is(err, errDuplicateKey) {
		// A concurrent request with the same key committed first; this one
		// now returns what that one made.
		return s.EndMeeting(ctx, actor, meetingID, idempotencyKey)
	}

	if err != nil {
		return nil, err
	}

	s.afterCommit(messages)

	for _, task := range result.recordingTasks {
		s.observeCreated(task)
	}

	return result, nil
}

// RequestAnalysis queues a task of kind for the meeting on behalf of the
// user requesterID; any participant may request one. With an idempotency
// key that already made a task, it returns that task. The task, its first
// event and its outbox messages are written by one statement, which is
// its own transaction and also checks the membership, so the user is not
// loaded first.
func (s *Store) RequestAnalysis(ctx context.Context, requesterID, meetingID uuid.UUID, kind string, idempotencyKey *string) (*Task, error) {
	if existing, err := s.taskByIdempotencyKey(ctx, requesterID, idempotencyKey); err != nil || existing != nil {
		if err != nil {
			return nil, err
		}

		return existing, sameRequest(existing, meetingID, kind)
	}

	task, messages, err := s.createTask(ctx, s.pool, newTask{
		meetingID: meetingID, kind: kind, requestedBy: &requesterID, idempotencyKey: idempotencyKey, membersOnly: true,
	})
	if errors.Is(err, errTaskNotCreated) {
		err = s.whyTaskNotCreated(ctx, requesterID, meetingID)
	}

	if errors.Is(err, errDuplicateKey) {
		// A concurrent request with the same key committed first; this one
		// now returns what that one made.
		return s.RequestAnalysis(ctx, requesterID, meetingID, kind, idempotencyKey)
	}

	if err != nil {
		return nil, err
	}

	s.afterCommit(messages)
	s.observeCreated(task)

	return task, nil
}

// whyTaskNotCreated returns the error for a members-only task that
// createTask did not insert. It is UNAUTHENTICATED for a user who no
// longer exists, NOT_FOUND for a meeting the user may not see and
// FORBIDDEN for one they do not take part in. For a member it is
// errDuplicateKey, because then the idempotency key was taken.
func (s *Store) whyTaskNotCreated(ctx context.Context, userID, meetingID uuid.UUID) error {
	if _, err := s.UserByID(ctx, userID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return apperr.Wrap(err, apperr.Unauthenticated, "the token's user no longer exists")
		}

		return err
	}

	member, err := lockMeeting(ctx, s.pool, meetingID, userID, noLock)
	if err != nil {
		return err
	}

	if err := RequireMember(meetingID, member.role, member.isCreator); err != nil {
		return err
	}

	// NOTE: a user who joined the meeting after createTask's statement
	// also gets here without a key conflict, and RequestAnalysis then
	// tries again.
	return errDuplicateKey
}

// sameRequest rejects an idempotency key that the user already used for a
// task of another meeting or kind, which is a client bug rather than a retry.
func sameRequest(existing *Task, meetingID uuid.UUID, kind string) error {
	if existing.MeetingID != meetingID || existing.Kind != kind {
		return apperr.New(apperr.BadUserInput,
			"idempotency key already used for a %s task of meeting %s: use a new key for a different request",
			existing.Kind, existing.MeetingID)
	}

	return nil
}

// errDuplicateKey means another transaction created a task with the same
// idempotency key first.
var errDuplicateKey = errors.New("idempotency key already used")

// errTaskNotCreated means that createTask inserted no members-only task,
// because the requester is not a member of the meeting or the idempotency
// key is taken.
var errTaskNotCreated = errors.New("task not created")

type newTask struct {
	meetingID   uuid.UUID
	recordingID *uuid.UUID
	kind        string
	// requestedBy is the user who asked for the task; nil for a follow-up
	// task that a worker queues.
	requestedBy    *uuid.UUID
	idempotencyKey *string
	// membersOnly inserts the task only if requestedBy created the meeting
	// or takes part in it.
	membersOnly bool
}

// queryRower runs a statement that returns at most one row. It is a
// pgx.Tx, or the pool for a statement that is its own transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// createTaskSQL inserts a QUEUED task ($7 to $12, with the members-only
// check when $13 is true), its first event (stage $14, time $15) and,
// only if the task was inserted, the outbox messages in $1 to $6 of
// insertOutboxSQL. It returns the task and the outbox rows' message ids
// and ids, or no row when no task was inserted. PostgreSQL checks the
// foreign keys of task_events at the end of the statement, after the task
// row exists.
const createTaskSQL = `WITH task AS (
		INSERT INTO tasks AS t (id, meeting_id, recording_id, kind, requested_by, idempotency_key, last_seq)
		SELECT $7::uuid, $8::uuid, $9::uuid, $10::text, $11::uuid, $12::text, 1
		WHERE NOT $13::boolean OR EXISTS (SELECT 1 FROM meetings m WHERE m.id = $8::uuid AND (m.creator_id = $11::uuid
			OR EXISTS (SELECT 1 FROM participants p WHERE p.meeting_id = m.id AND p.user_id = $11::uuid)))
		ON CONFLICT (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING ` + taskColumns + `
	), event AS (
		INSERT INTO task_events (task_id, seq, status, progress, stage, created_at)
		SELECT id, 1, status, progress, $14::text, $15::timestamptz FROM task
	), messages AS (
		` + insertOutboxSQL + `
		WHERE EXISTS (SELECT FROM task)
		RETURNING message_id, id
	)
	SELECT task.*, ARRAY(SELECT message_id FROM messages), ARRAY(SELECT id FROM messages) FROM task`

// createTask inserts a QUEUED task with its first event (seq 1) and its
// task message, all with one statement in tx. The event's time comes from
// this process's clock, because its outbox message carries it and is
// encoded before the statement runs.
func (s *Store) createTask(ctx context.Context, tx queryRower, input newTask) (*Task, []OutboxMessage, error) {
	planned := &Task{
		ID: uuid.New(), MeetingID: input.meetingID, RecordingID: input.recordingID, Kind: input.kind,
		Status: TaskQueued, RequestedBy: input.requestedBy,
	}
	// PostgreSQL stores microseconds, and the message must carry the
	// stored time.
	event := TaskEvent{
		TaskID: planned.ID, Seq: 1, Status: TaskQueued, Stage: "queued",
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}

	eventMessage, err := taskEventMessage(planned, event)
	if err != nil {
		return nil, nil, err
	}

	message, err := taskMessage(planned, WorkRoute(planned, 1))
	if err != nil {
		return nil, nil, err
	}

	messages := []OutboxMessage{eventMessage, message}

	arguments, err := s.outboxArguments(ctx, messages)
	if err != nil {
		return nil, nil, err
	}

	arguments = append(arguments, planned.ID, input.meetingID, input.recordingID, input.kind, input.requestedBy,
		input.idempotencyKey, input.membersOnly, event.Stage, event.CreatedAt)

	var (
		messageIDs []string
		outboxIDs  []int64
	)

	task, err := scanTask(tx.QueryRow(ctx, createTaskSQL, arguments...), &messageIDs, &outboxIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		if input.membersOnly {
			return nil, nil, errTaskNotCreated
		}

		return nil, nil, errDuplicateKey
	}

	if err != nil {
		return nil, nil, fmt.Errorf("insert %s task for meeting %s: %w", input.kind, input.meetingID, err)
	}

	ids := make(map[string]int64, len(messageIDs))
	for i, messageID := range messageIDs {
		ids[messageID] = outboxIDs[i]
	}

	setOutboxIDs(messages, ids)

	return task, messages, nil
}

// taskByIdempotencyKey returns the task that user created with key, or
// nil when key is nil or unused.
func (s *Store) taskByIdempotencyKey(ctx context.Context, userID uuid.UUID, key *string) (*Task, error) {
	if key == nil {
		return nil, nil
	}

	task, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t
		WHERE t.requested_by = $1 AND t.idempotency_key = $2`, userID, *key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}

	if err != nil {
		return nil, fmt.Errorf("select task of user %s with idempotency key %q: %w", userID, *key, err)
	}

	return task, nil
}

// CancelTask cancels a QUEUED or RUNNING task. A running task's worker
// learns of it through TaskCancelChannel and cancels the handler's context.
func (s *Store) CancelTask(ctx context.Context, actor *User, taskID uuid.UUID) (*Task, error) {
	// Operators may cancel any task, including those of meetings they do
	// not take part in; everyone else must see the task's meeting.
	var (
		task *Task
		err  error
	)

	if actor.Can(PermissionOperator) {
		task, err = s.TaskByID(ctx, taskID)
	} else {
		task, err = s.TaskForViewer(ctx, taskID, actor.ID)
	}

	if err != nil {
		return nil, err
	}

	isHost, err := s.IsMeetingHost(ctx, task.MeetingID, actor.ID)
	if err != nil {
		return nil, err
	}

	if err := RequireTaskOwner(task, actor, isHost); err != nil {
		return nil, err
	}

	task, err = s.TransitionTask(ctx, taskID, TaskTransition{
		From:         []string{TaskQueued, TaskRunning},
		Change:       TaskChange{Status: TaskCancelled, Progress: task.Progress, Stage: "cancelled", Message: "cancelled by " + actor.ID.String()},
		NotifyCancel: true,
	})
	if errors.Is(err, ErrTaskNotInState) {
		return nil, apperr.New(apperr.BadUserInput, "cannot cancel task %s: it is %s", taskID, task.Status)
	}

	return task, err
}

// RetryTask sends a FAILED, DEAD_LETTERED or CANCELLED task back to its
// work queue with fresh attempts; only operators may do it.
func (s *Store) RetryTask(ctx context.Context, actor *User, taskID uuid.UUID) (*Task, error) {
	if err := RequireOperator(actor); err != nil {
		return nil, err
	}

	task, err := s.ReplayTask(ctx, taskID, "retried by "+actor.ID.String())
	if errors.Is(err, ErrNotFound) {
		return nil, apperr.Wrap(err, apperr.NotFound, "task "+taskID.String()+" not found")
	}

	if errors.Is(err, ErrTaskNotInState) {
		return nil, apperr.New(apperr.BadUserInput, "cannot retry task %s: it is %s", taskID, task.Status)
	}

	return task, err
}

// ReplayTask queues a FAILED, DEAD_LETTERED or CANCELLED task again, as
// RetryTask does, without a permission check (for `meetgraph dlq replay`).
//
// A RUNNING task whose lease expired is replayed too: the broker
// dead-letters a message past the delivery limit when workers crash on it,
// and such a task stays RUNNING with no worker.
func (s *Store) ReplayTask(ctx context.Context, taskID uuid.UUID, reason string) (*Task, error) {
	transition := TaskTransition{
		From:          []string{TaskFailed, TaskDeadLettered, TaskCancelled},
		Change:        TaskChange{Status: TaskQueued, Stage: "retry", Message: reason},
		ResetAttempts: true,
		Route:         func(task *Task) TaskRoute { return WorkRoute(task, 1) },
	}

	task, err := s.TransitionTask(ctx, taskID, transition)
	if !errors.Is(err, ErrTaskNotInState) || task.Status != TaskRunning {
		return task, err
	}

	transition.From = []string{TaskRunning}
	transition.RequireExpiredLease = true

	return s.TransitionTask(ctx, taskID, transition)
}

// DeadLetters returns the newest FAILED and DEAD_LETTERED tasks, at most limit.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]*Task, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks t
		WHERE t.status IN ('FAILED', 'DEAD_LETTERED') ORDER BY t.updated_at DESC, t.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("select dead-lettered tasks: %w", err)
	}

	tasks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Task, error) { return scanTask(row) })
	if err != nil {
		return nil, fmt.Errorf("select dead-lettered tasks: %w", err)
	}

	return tasks, nil
}
