package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/meetgraph/meetgraph/store"
)

// runSeed fills a migrated database with the benchmark data set: one
// viewer who created every meeting, each meeting with its participants,
// recordings, an analysis and tasks. It prints the viewer's id and the id
// of the newest meeting as shell assignments.
func runSeed(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("seed", flag.ContinueOnError)
	databaseURL := flags.String("database-url", "", "PostgreSQL URL of a migrated, empty database (required)")
	meetings := flags.Int("meetings", 60, "meetings to create")
	participants := flags.Int("participants", 5, "participants per meeting, the creator included")
	recordings := flags.Int("recordings", 2, "recordings per meeting")
	tasks := flags.Int("tasks", 3, "tasks per meeting")

	if err := flags.Parse(args); err != nil {
		return err
	}

	if *databaseURL == "" {
		return fmt.Errorf("missing -database-url")
	}

	pool, err := store.Open(ctx, store.PoolConfig{URL: *databaseURL})
	if err != nil {
		return err
	}
	defer pool.Close()

	viewer := uuid.New()

	var newest uuid.UUID

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		users := make([]uuid.UUID, *participants)
		users[0] = viewer

		for i := range users {
			if i > 0 {
				users[i] = uuid.New()
			}

			if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, name) VALUES ($1, $2, $3)`,
				users[i], fmt.Sprintf("bench-%d-%s@example.com", i, users[i]), fmt.Sprintf("Bench User %d", i)); err != nil {
				return fmt.Errorf("insert user %d: %w", i, err)
			}
		}

		start := time.Now().Add(-time.Duration(*meetings) * time.Minute)

		for i := range *meetings {
			newest = uuid.New()
			if err := seedMeeting(ctx, tx, newest, users, start.Add(time.Duration(i)*time.Minute), *recordings, *tasks); err != nil {
				return fmt.Errorf("insert meeting %d: %w", i, err)
			}
		}

		return nil
	})
	if err != nil {
		return err
	}

	fmt.Printf("VIEWER_ID=%s\nMEETING_ID=%s\n", viewer, newest)

	return nil
}

func seedMeeting(ctx context.Context, tx pgx.Tx, id uuid.UUID, users []uuid.UUID, createdAt time.Time, recordings, tasks int) error {
	if _, err := tx.Exec(ctx, `INSERT INTO meetings (id, title, status, creator_id, created_at)
		VALUES ($1, $2, 'ENDED', $3, $4)`, id, "Bench meeting "+id.String()[:8], users[0], createdAt); err != nil {
		return err
	}

	for i, user := range users {
		role := "ATTENDEE"
		if i == 0 {
			role = "HOST"
		}

		if _, err := tx.Exec(ctx, `INSERT INTO participants (meeting_id, user_id, role, joined_at)
			VALUES ($1, $2, $3, $4)`, id, user, role, createdAt); err != nil {
			return err
		}
	}

	for range recordings {
		if _, err := tx.Exec(ctx, `INSERT INTO recordings (id, meeting_id, status, content_type, size_bytes, duration_seconds)
			VALUES ($1, $2, 'PROCESSING', 'video/webm', 52428800, 1800)`, uuid.New(), id); err != nil {
			return err
		}
	}

	if _, err := tx.Exec(ctx, `INSERT INTO analyses (meeting_id, transcript_text, transcript_segments, summary, keywords)
		VALUES ($1, 'We agreed on the plan.', '[{"start": 0, "end": 2.5, "text": "We agreed on the plan."}]',
		        'The team agreed on the plan.', '{plan,agreement}')`, id); err != nil {
		return err
	}

	for range tasks {
		if _, err := tx.Exec(ctx, `INSERT INTO tasks (id, meeting_id, kind, status, progress)
			VALUES ($1, $2, 'SUMMARY', 'SUCCEEDED', 1)`, uuid.New(), id); err != nil {
			return err
		}
	}

	return nil
}
