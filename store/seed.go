package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// seedNamespace makes the demo rows' ids the same in every database, so
// that a token printed once keeps working after the database is re-seeded.
var seedNamespace = uuid.MustParse("6f1c2a9e-3d4b-4c5a-9e8f-7a6b5c4d3e2f")

// SeedID returns the fixed id of the demo row with the given name.
func SeedID(name string) uuid.UUID {
	return uuid.NewSHA1(seedNamespace, []byte(name))
}

type seedUser struct {
	key, email, name string
	permissions      []string
}

type seedParticipant struct {
	user, role string
	joined     bool
}

type seedMeeting struct {
	key, title, status, visibility, creator string
	// scheduledIn, startedAgo and endedAgo are offsets from the seeding time; 0 leaves the column NULL.
	scheduledIn, startedAgo, endedAgo time.Duration
	participants                      []seedParticipant
}

var seedUsers = []seedUser{
	{"alice", "alice@example.com", "Alice Archer", []string{PermissionCreateMeeting}},
	{"bob", "bob@example.com", "Bob Baker", []string{PermissionCreateMeeting}},
	{"carol", "carol@example.com", "Carol Chen", nil},
	{"dave", "dave@example.com", "Dave Diaz", nil},
	{"erin", "erin@example.com", "Erin Evans", []string{PermissionCreateMeeting, PermissionOperator}},
}

var seedMeetings = []seedMeeting{
	{
		key: "planning", title: "Weekly planning", status: MeetingScheduled, visibility: VisibilityPrivate,
		creator: "alice", scheduledIn: 24 * time.Hour,
		participants: []seedParticipant{{"alice", "HOST", false}, {"bob", "ATTENDEE", false}, {"carol", "ATTENDEE", false}},
	},
	{
		key: "design-review", title: "Design review", status: MeetingLive, visibility: VisibilityPrivate,
		creator: "alice", scheduledIn: -30 * time.Minute, startedAgo: 20 * time.Minute,
		participants: []seedParticipant{{"alice", "HOST", true}, {"bob", "ATTENDEE", true}, {"dave", "ATTENDEE", true}},
	},
	{
		key: "retro", title: "Quarterly retrospective", status: MeetingEnded, visibility: VisibilityPrivate,
		creator: "bob", startedAgo: 26 * time.Hour, endedAgo: 25 * time.Hour,
		participants: []seedParticipant{{"bob", "HOST", true}, {"alice", "ATTENDEE", true}, {"carol", "ATTENDEE", true}},
	},
	{
		key: "offsite", title: "Team offsite", status: MeetingCancelled, visibility: VisibilityPrivate,
		creator: "alice", scheduledIn: 72 * time.Hour,
		participants: []seedParticipant{{"alice", "HOST", false}, {"dave", "ATTENDEE", false}},
	},
	{
		key: "all-hands", title: "All-hands", status: MeetingScheduled, visibility: VisibilityPublic,
		creator: "erin", scheduledIn: 48 * time.Hour,
		participants: []seedParticipant{{"erin", "HOST", false}},
	},
}

// SeedSummary counts what Seed inserted; rows that already existed are not counted.
type SeedSummary struct {
	Users, Meetings int
}

// Seed inserts the demo users and meetings. Rows that already exist are
// left as they are, so running it again changes nothing.
func (s *Store) Seed(ctx context.Context) (SeedSummary, error) {
	var summary SeedSummary

	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := time.Now().UTC().Truncate(time.Second)

		for _, u := range seedUsers {
			inserted, err := seedOneUser(ctx, tx, u)
			if err != nil {
				return err
			}

			summary.Users += inserted
		}

		for _, m := range seedMeetings {
			inserted, err := seedOneMeeting(ctx, tx, m, now)
			if err != nil {
				return err
			}

			summary.Meetings += inserted
		}

		return nil
	})
	if err != nil {
		return SeedSummary{}, fmt.Errorf("seed demo data: %w", err)
	}

	return summary, nil
}

func seedOneUser(ctx context.Context, tx pgx.Tx, u seedUser) (int, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO users (id, email, name) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, SeedID("user:"+u.key), u.email, u.name)
	if err != nil {
		return 0, fmt.Errorf("insert user %s: %w", u.email, err)
	}

	for _, permission := range u.permissions {
		_, err := tx.Exec(ctx, `INSERT INTO user_permissions (user_id, permission) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, SeedID("user:"+u.key), permission)
		if err != nil {
			return 0, fmt.Errorf("grant %s to %s: %w", permission, u.email, err)
		}
	}

	return int(tag.RowsAffected()), nil
}

func seedOneMeeting(ctx context.Context, tx pgx.Tx, m seedMeeting, now time.Time) (int, error) {
	at := func(offset time.Duration) *time.Time {
		if offset == 0 {
			return nil
		}

		t := now.Add(offset)

		return &t
	}

	meetingID := SeedID("meeting:" + m.key)

	tag, err := tx.Exec(ctx, `INSERT INTO meetings
		(id, title, status, visibility, creator_id, scheduled_at, started_at, ended_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		meetingID, m.title, m.status, m.visibility, SeedID("user:"+m.creator),
		at(m.scheduledIn), at(-m.startedAgo), at(-m.endedAgo))
	if err != nil {
		return 0, fmt.Errorf("insert meeting %q: %w", m.title, err)
	}

	for _, p := range m.participants {
		var joinedAt *time.Time
		if p.joined {
			joinedAt = at(-m.startedAgo)
		}

		_, err := tx.Exec(ctx, `INSERT INTO participants (meeting_id, user_id, role, joined_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			meetingID, SeedID("user:"+p.user), p.role, joinedAt)
		if err != nil {
			return 0, fmt.Errorf("insert participant %s of %q: %w", p.user, m.title, err)
		}
	}

	return int(tag.RowsAffected()), nil
}
