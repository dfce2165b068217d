-- +goose Up
-- Users and what they may do. Permissions are plain names checked by the
-- application: create_meeting lets a user create meetings, operator opens the
-- dead-letter tools.
CREATE TABLE users (
    id         uuid PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_permissions (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission text NOT NULL CHECK (permission IN ('create_meeting', 'operator')),
    PRIMARY KEY (user_id, permission)
);

CREATE TABLE meetings (
    id               uuid PRIMARY KEY,
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    status           text NOT NULL DEFAULT 'SCHEDULED'
                     CHECK (status IN ('SCHEDULED', 'LIVE', 'ENDED', 'CANCELLED')),
    visibility       text NOT NULL DEFAULT 'PRIVATE' CHECK (visibility IN ('PRIVATE', 'PUBLIC')),
    creator_id       uuid NOT NULL REFERENCES users (id),
    scheduled_at     timestamptz,
    started_at       timestamptz,
    ended_at         timestamptz,
    reminder_sent_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX meetings_creator_id_idx ON meetings (creator_id);
-- Keyset pagination of meeting lists: newest first, optionally by status.
CREATE INDEX meetings_created_at_id_idx ON meetings (created_at DESC, id DESC);
CREATE INDEX meetings_status_created_at_id_idx ON meetings (status, created_at DESC, id DESC);
-- Reminder scans look only at scheduled meetings that have not been reminded.
CREATE INDEX meetings_reminder_due_idx ON meetings (scheduled_at)
    WHERE status = 'SCHEDULED' AND reminder_sent_at IS NULL;

-- A participant row is an invitation; joined_at is set when the user joins.
CREATE TABLE participants (
    meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('HOST', 'ATTENDEE')),
    invited_at timestamptz NOT NULL DEFAULT now(),
    joined_at  timestamptz,
    PRIMARY KEY (meeting_id, user_id)
);

CREATE INDEX participants_user_id_idx ON participants (user_id);

CREATE TABLE recordings (
    id                  uuid PRIMARY KEY,
    meeting_id          uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    status              text NOT NULL
                        CHECK (status IN ('UPLOADING', 'UPLOADED', 'PROCESSING', 'READY', 'FAILED')),
    content_type        text,
    raw_object_key      text,
    playback_object_key text,
    audio_object_key    text,
    size_bytes          bigint,
    duration_seconds    double precision,
    failure_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX recordings_meeting_id_idx ON recordings (meeting_id, created_at);

-- One analysis per meeting: the transcript and what was derived from it.
CREATE TABLE analyses (
    meeting_id            uuid PRIMARY KEY REFERENCES meetings (id) ON DELETE CASCADE,
    transcript_text       text,
    transcript_segments   jsonb,
    transcript_object_key text,
    summary               text,
    keywords              text[] NOT NULL DEFAULT '{}',
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id              uuid PRIMARY KEY,
    meeting_id      uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    recording_id    uuid REFERENCES recordings (id) ON DELETE SET NULL,
    kind            text NOT NULL,
    status          text NOT NULL DEFAULT 'QUEUED'
                    CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD_LETTERED')),
    progress        double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    requested_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    idempotency_key text,
    last_seq        bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

CREATE INDEX tasks_meeting_id_idx ON tasks (meeting_id, created_at);
-- A retried mutation with the same client key returns the task it made first.
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON tasks (requested_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Every task state change, numbered per task from 1 so that subscribers can
-- resume after the last sequence number they saw.
CREATE TABLE task_events (
    task_id    uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq > 0),
    status     text NOT NULL,
    progress   double precision NOT NULL,
    stage      text NOT NULL DEFAULT '',
    message    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, seq)
);

-- Messages written in the same transaction as the change they announce and
-- published to RabbitMQ after commit; published_at is set once the broker
-- confirmed the message.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    exchange        text NOT NULL,
    routing_key     text NOT NULL,
    message_id      text NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',
    body            bytea NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX outbox_unpublished_idx ON outbox (next_attempt_at, id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE task_events;
DROP TABLE tasks;
DROP TABLE analyses;
DROP TABLE recordings;
DROP TABLE participants;
DROP TABLE meetings;
DROP TABLE user_permissions;
DROP TABLE users;
