package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// CLI is meetgraph's command line. Every setting can also come from the
// MEETGRAPH_* environment variable named in its help; a flag wins over the
// variable.
type CLI struct {
	Globals

	Serve   ServeCmd   `cmd:"" help:"Run the GraphQL gateway (HTTP)."`
	Work    WorkCmd    `cmd:"" help:"Run the RabbitMQ workers."`
	All     AllCmd     `cmd:"" help:"Migrate the schema, then run the gateway and the workers in one process."`
	Migrate MigrateCmd `cmd:"" help:"Apply pending PostgreSQL migrations; safe to run again."`
	Seed    SeedCmd    `cmd:"" help:"Insert demo users and meetings; safe to run again."`
	Token   TokenCmd   `cmd:"" help:"Print a signed development token for a user."`
	DLQ     DLQCmd     `cmd:"" name:"dlq" help:"List, replay or purge the messages of a dead-letter queue."`
}

// Globals are the settings that every subcommand shares.
type Globals struct {
	DatabaseURL      string        `name:"database-url" env:"MEETGRAPH_DATABASE_URL" default:"postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable" help:"PostgreSQL connection URL."`
	DatabaseMaxConns int32         `name:"database-max-conns" env:"MEETGRAPH_DATABASE_MAX_CONNS" default:"0" help:"Maximum open PostgreSQL connections; 0 means the larger of 4 and the number of CPUs."`
	AMQPURL          string        `name:"amqp-url" env:"MEETGRAPH_AMQP_URL" default:"amqp://guest:guest@127.0.0.1:5672/" help:"RabbitMQ AMQP 0-9-1 URL."`
	S3Endpoint       string        `name:"s3-endpoint" env:"MEETGRAPH_S3_ENDPOINT" default:"http://127.0.0.1:9000" help:"S3-compatible object store URL; https enables TLS."`
	S3AccessKey      string        `name:"s3-access-key" env:"MEETGRAPH_S3_ACCESS_KEY" default:"meetgraph" help:"S3 access key id."`
	S3SecretKey      string        `name:"s3-secret-key" env:"MEETGRAPH_S3_SECRET_KEY" default:"meetgraph-secret" help:"S3 secret access key."`
	S3Bucket         string        `name:"s3-bucket" env:"MEETGRAPH_S3_BUCKET" default:"meetgraph" help:"S3 bucket for recordings and transcripts."`
	S3Region         string        `name:"s3-region" env:"MEETGRAPH_S3_REGION" default:"us-east-1" help:"S3 region."`
	JWTSecret        string        `name:"jwt-secret" env:"MEETGRAPH_JWT_SECRET" help:"HS256 secret for bearer tokens, at least 32 bytes. Required unless --dev is set."`
	JWTIssuer        string        `name:"jwt-issuer" env:"MEETGRAPH_JWT_ISSUER" default:"meetgraph" help:"Issuer written to and required in tokens; empty disables the check."`
	JWTAudience      string        `name:"jwt-audience" env:"MEETGRAPH_JWT_AUDIENCE" default:"meetgraph" help:"Audience written to and required in tokens; empty disables the check."`
	JWTLeeway        time.Duration `name:"jwt-leeway" env:"MEETGRAPH_JWT_LEEWAY" default:"30s" help:"Clock skew tolerated when checking token times (duration, for example 30s)."`
	Dev              bool          `name:"dev" env:"MEETGRAPH_DEV" help:"Development mode: use a built-in JWT secret when none is set, and serve the Playground and introspection."`
	LogLevel         string        `name:"log-level" env:"MEETGRAPH_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Lowest level logged: debug, info, warn or error."`
	LogFormat        string        `name:"log-format" env:"MEETGRAPH_LOG_FORMAT" default:"text" enum:"text,json" help:"Log line format: text or json."`
	MessagingFlags   `embed:""`
}

// MessagingFlags set the RabbitMQ topology and the outbox, which every
// role shares: a queue declared with other arguments is a start-up error.
type MessagingFlags struct {
	RetryDelays        []time.Duration `name:"retry-delays" env:"MEETGRAPH_RETRY_DELAYS" default:"1s,5s,30s,2m" sep:"," help:"Pauses before each retry of a failed task, comma-separated durations; a task gets one attempt more than there are delays. Each delay is a retry queue."`
	DeliveryLimit      int             `name:"delivery-limit" env:"MEETGRAPH_DELIVERY_LIMIT" default:"5" help:"How often a task message may return to its quorum queue unacknowledged (a worker crashing on it) before the broker dead-letters it."`
	PublishTimeout     time.Duration   `name:"publish-timeout" env:"MEETGRAPH_PUBLISH_TIMEOUT" default:"5s" help:"Longest wait for a publisher confirm, or for a blocked connection to unblock (duration)."`
	OutboxGrace        time.Duration   `name:"outbox-grace" env:"MEETGRAPH_OUTBOX_GRACE" default:"10s" help:"How long after commit the outbox relay leaves a message to the immediate publisher; must exceed --publish-timeout (duration)."`
	OutboxPollInterval time.Duration   `name:"outbox-poll-interval" env:"MEETGRAPH_OUTBOX_POLL_INTERVAL" default:"10s" help:"Fallback poll of the outbox relay when no notification wakes it (duration)."`
}

// HTTPFlags are the gateway's settings.
type HTTPFlags struct {
	HTTPAddr        string        `name:"http-addr" env:"MEETGRAPH_HTTP_ADDR" default:"127.0.0.1:8080" help:"Address the gateway listens on (host:port)."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"MEETGRAPH_SHUTDOWN_TIMEOUT" default:"15s" help:"How long in-flight requests may run after SIGINT or SIGTERM (duration)."`
	Playground      bool          `name:"playground" env:"MEETGRAPH_PLAYGROUND" help:"Serve the GraphQL Playground at / (always on with --dev)."`
	Introspection   bool          `name:"introspection" env:"MEETGRAPH_INTROSPECTION" help:"Answer introspection queries (always on with --dev)."`
	// RecordingURLExpiry is capped by S3 at 7 days for presigned URLs.
	RecordingURLExpiry time.Duration `name:"recording-url-expiry" env:"MEETGRAPH_RECORDING_URL_EXPIRY" default:"1h" help:"How long a presigned recording download URL stays valid (duration, at most 168h)."`
}

// WorkerFlags are the workers' settings.
type WorkerFlags struct {
	WorkerShutdownTimeout time.Duration `name:"worker-shutdown-timeout" env:"MEETGRAPH_WORKER_SHUTDOWN_TIMEOUT" default:"30s" help:"How long in-flight tasks may run after SIGINT or SIGTERM before their messages are returned to the queue (duration)."`
	WorkerPrefetch        int           `name:"worker-prefetch" env:"MEETGRAPH_WORKER_PREFETCH" default:"8" help:"Unacknowledged task messages per work queue, and so tasks run at once per queue."`
	TaskLease             time.Duration `name:"task-lease" env:"MEETGRAPH_TASK_LEASE" default:"30s" help:"How long a running task stays claimed without a heartbeat from its worker; after that another worker may take it over (duration)."`
}

// environment is what every subcommand's Run receives.
type environment struct {
	ctx     context.Context
	globals *Globals
	logger  *slog.Logger
	stdout  io.Writer
	stderr  io.Writer
}

func newParser(cli *CLI, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("meetgraph"),
		kong.Description("meetgraph is a GraphQL gateway for a meeting platform: queries through "+
			"PostgreSQL, slow work through RabbitMQ workers, results pushed over subscriptions."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest{code: code}) }),
		kong.ValueFormatter(formatFlagHelp),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
	)
}

// formatFlagHelp adds each setting's environment variable to its help
// line; kong already shows the default beside the flag's name.
func formatFlagHelp(value *kong.Value) string {
	if len(value.Tag.Envs) == 0 {
		return value.Help
	}

	names := make([]string, len(value.Tag.Envs))
	for i, name := range value.Tag.Envs {
		names[i] = "$" + name
	}

	return strings.TrimSuffix(value.Help, ".") + " (" + strings.Join(names, ", ") + ")."
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))

	options := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, options))
	}

	return slog.New(slog.NewTextHandler(w, options))
}
