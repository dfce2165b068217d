// Command taskfeed drives task histories for the Node end-to-end tests: it
// creates databases and tasks and records task events the way workers do,
// through PostgreSQL and the RabbitMQ events exchange.
//
//	taskfeed createdb --admin-url URL --name NAME   prints the new database's URL
//	taskfeed dropdb --admin-url URL --name NAME
//	taskfeed create --database-url URL --amqp-url URL --meeting ID --user ID   prints the task id
//	taskfeed record --database-url URL --amqp-url URL --task ID --from 0 --to 4
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/meetgraph/meetgraph/internal/taskfeed"
)

type cli struct {
	CreateDB createDBCmd `cmd:"" name:"createdb" help:"Create an empty database and print its URL."`
	DropDB   dropDBCmd   `cmd:"" name:"dropdb" help:"Drop a database created with createdb."`
	Create   createCmd   `cmd:"" help:"Insert a QUEUED NOOP task without events and print its id."`
	Record   recordCmd   `cmd:"" help:"Record and publish the NOOP task events with indexes from..to-1 (0 to 4)."`
}

type adminFlags struct {
	AdminURL string `name:"admin-url" required:"" help:"PostgreSQL URL of a user that may create databases."`
	Name     string `name:"name" required:"" help:"Database name: lower-case letters, digits and underscores."`
}

var databaseName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (f adminFlags) exec(ctx context.Context, statement string) error {
	if !databaseName.MatchString(f.Name) {
		return fmt.Errorf("invalid database name %q: use lower-case letters, digits and underscores", f.Name)
	}

	conn, err := pgx.Connect(ctx, f.AdminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", f.AdminURL, err)
	}
	defer conn.Close(ctx)

	if _, err := conn.Exec(ctx, fmt.Sprintf(statement, f.Name)); err != nil {
		return fmt.Errorf("%s: %w", fmt.Sprintf(statement, f.Name), err)
	}

	return nil
}

type createDBCmd struct{ adminFlags }

func (c *createDBCmd) Run(ctx context.Context) error {
	if err := c.exec(ctx, "CREATE DATABASE %s"); err != nil {
		return err
	}

	parsed, err := url.Parse(c.AdminURL)
	if err != nil {
		return fmt.Errorf("parse admin URL: %w", err)
	}

	parsed.Path = "/" + c.Name
	fmt.Println(parsed.String())

	return nil
}

type dropDBCmd struct{ adminFlags }

func (c *dropDBCmd) Run(ctx context.Context) error {
	return c.exec(ctx, "DROP DATABASE IF EXISTS %s WITH (FORCE)")
}

type feedFlags struct {
	DatabaseURL string `name:"database-url" required:"" help:"PostgreSQL URL of a migrated meetgraph database."`
	AMQPURL     string `name:"amqp-url" required:"" help:"RabbitMQ URL of the gateways' vhost."`
}

func (f feedFlags) open(ctx context.Context) (*taskfeed.Feed, error) {
	return taskfeed.Open(ctx, f.DatabaseURL, f.AMQPURL)
}

type createCmd struct {
	feedFlags
	Meeting uuid.UUID `name:"meeting" required:"" help:"Meeting id."`
	User    uuid.UUID `name:"user" required:"" help:"Id of the user who requests the task."`
}

func (c *createCmd) Run(ctx context.Context) error {
	feed, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer feed.Close()

	id, err := feed.CreateTask(ctx, c.Meeting, c.User, "NOOP")
	if err != nil {
		return err
	}

	fmt.Println(id)

	return nil
}

type recordCmd struct {
	feedFlags
	Task      uuid.UUID `name:"task" required:"" help:"Task id."`
	From      int       `name:"from" default:"0" help:"Index of the first NOOP event to record (0 to 3)."`
	To        int       `name:"to" default:"4" help:"Index after the last NOOP event to record (1 to 4)."`
	NoPublish bool      `name:"no-publish" help:"Store the events without publishing them, as if they were lost on the way."`
}

func (c *recordCmd) Run(ctx context.Context) error {
	if c.From < 0 || c.To > len(taskfeed.NoopChanges) || c.From >= c.To {
		return fmt.Errorf("invalid range --from %d --to %d: need 0 <= from < to <= %d", c.From, c.To, len(taskfeed.NoopChanges))
	}

	feed, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer feed.Close()

	for _, change := range taskfeed.NoopChanges[c.From:c.To] {
		event, err := feed.Record(ctx, c.Task, change, !c.NoPublish)
		if err != nil {
			return err
		}

		fmt.Println(event.Seq)
	}

	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)

	var c cli
	parser := kong.Parse(&c, kong.Name("taskfeed"), kong.BindTo(ctx, (*context.Context)(nil)))
	err := parser.Run()

	cancel()
	stop()
	parser.FatalIfErrorf(err)
}
