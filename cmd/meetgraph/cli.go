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
	Demo    DemoCmd    `cmd:"" help:"Synthesise speech, upload it to a new meeting on a running gateway, end the meeting and print the task's progress and the transcript."`
	DLQ     DLQCmd     `cmd:"" name:"dlq" help:"List, replay or purge the messages of a dead-letter queue."`
}

// Globals are the settings that every subcommand shares.
type Globals struct {
	DatabaseURL       string        `name:"database-url" env:"MEETGRAPH_DATABASE_URL" default:"postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable" help:"PostgreSQL connection URL."`
	DatabaseMaxConns  int32         `name:"database-max-conns" env:"MEETGRAPH_DATABASE_MAX_CONNS" default:"0" help:"Maximum open PostgreSQL connections; 0 means the larger of 4 and the number of CPUs."`
	AMQPURL           string        `name:"amqp-url" env:"MEETGRAPH_AMQP_URL" default:"amqp://guest:guest@127.0.0.1:5672/" help:"RabbitMQ AMQP 0-9-1 URL."`
	S3Endpoint        string        `name:"s3-endpoint" env:"MEETGRAPH_S3_ENDPOINT" default:"http://127.0.0.1:9000" help:"S3-compatible object store URL; https enables TLS."`
	S3AccessKey       string        `name:"s3-access-key" env:"MEETGRAPH_S3_ACCESS_KEY" default:"meetgraph" help:"S3 access key id."`
	S3SecretKey       string        `name:"s3-secret-key" env:"MEETGRAPH_S3_SECRET_KEY" default:"meetgraph-secret" help:"S3 secret access key."`
	S3Bucket          string        `name:"s3-bucket" env:"MEETGRAPH_S3_BUCKET" default:"meetgraph" help:"S3 bucket for recordings and transcripts."`
	S3Region          string        `name:"s3-region" env:"MEETGRAPH_S3_REGION" default:"us-east-1" help:"S3 region."`
	JWTSecret         string        `name:"jwt-secret" env:"MEETGRAPH_JWT_SECRET" help:"HS256 secret for bearer tokens, at least 32 bytes. Required unless --dev is set."`
	JWTPublicKeyFile  string        `name:"jwt-public-key-file" env:"MEETGRAPH_JWT_PUBLIC_KEY_FILE" type:"path" help:"PEM file with an RSA public key: tokens must then be RS256 signed with its private key, and the JWT secret is not used."`
	JWTPrivateKeyFile string        `name:"jwt-private-key-file" env:"MEETGRAPH_JWT_PRIVATE_KEY_FILE" type:"path" help:"PEM file with the RSA private key that the token command signs RS256 tokens with."`
	JWTIssuer         string        `name:"jwt-issuer" env:"MEETGRAPH_JWT_ISSUER" default:"meetgraph" help:"Issuer written to and required in tokens; empty disables the check."`
	JWTAudience       string        `name:"jwt-audience" env:"MEETGRAPH_JWT_AUDIENCE" default:"meetgraph" help:"Audience written to and required in tokens; empty disables the check."`
	JWTLeeway         time.Duration `name:"jwt-leeway" env:"MEETGRAPH_JWT_LEEWAY" default:"30s" help:"Clock skew tolerated when checking token times (duration, for example 30s)."`
	Dev               bool          `name:"dev" env:"MEETGRAPH_DEV" help:"Development mode: use a built-in JWT secret when none is set, and serve the Playground and introspection."`
	OTLPEndpoint      string        `name:"otlp-endpoint" env:"MEETGRAPH_OTLP_ENDPOINT" help:"OTLP/HTTP endpoint that traces are exported to, for example http://127.0.0.1:4318; empty turns tracing off."`
	LogLevel          string        `name:"log-level" env:"MEETGRAPH_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Lowest level logged: debug, info, warn or error."`
	LogFormat         string        `name:"log-format" env:"MEETGRAPH_LOG_FORMAT" default:"text" enum:"text,json" help:"Log line format: text or json."`
	MessagingFlags    `embed:""`
}

// MessagingFlags set the RabbitMQ topology and the outbox, which every
// role shares: a queue declared with other arguments is a start-up error.
type MessagingFlags struct {
	RetryDelays        []time.Duration `name:"retry-delays" env:"MEETGRAPH_RETRY_DELAYS" default:"1s,5s,30s,2m" sep:"," help:"Pauses before each retry of a failed task, comma-separated durations; a task gets one attempt more than there are delays. Each delay is a retry queue."`
	DeliveryLimit      int             `name:"delivery-limit" env:"MEETGRAPH_DELIVERY_LIMIT" default:"5" help:"How often a task message may return to its quorum queue unacknowledged (a worker crashing on it) before the broker dead-letters it."`
	PublishTimeout     time.Duration   `name:"publish-timeout" env:"MEETGRAPH_PUBLISH_TIMEOUT" default:"5s" help:"Maximum wait for a publisher confirm, or for a blocked connection to unblock (duration)."`
	OutboxGrace        time.Duration   `name:"outbox-grace" env:"MEETGRAPH_OUTBOX_GRACE" default:"10s" help:"How long after commit the outbox relay leaves a message to the immediate publisher; must exceed --publish-timeout (duration)."`
	OutboxPollInterval time.Duration   `name:"outbox-poll-interval" env:"MEETGRAPH_OUTBOX_POLL_INTERVAL" default:"10s" help:"Fallback poll of the outbox relay when no notification wakes it (duration)."`
}

// HTTPFlags are the gateway's settings.
type HTTPFlags struct {
	HTTPAddr            string        `name:"http-addr" env:"MEETGRAPH_HTTP_ADDR" default:"127.0.0.1:8080" help:"Address the gateway listens on (host:port)."`
	ShutdownTimeout     time.Duration `name:"shutdown-timeout" env:"MEETGRAPH_SHUTDOWN_TIMEOUT" default:"15s" help:"How long in-flight requests may run after SIGINT or SIGTERM (duration)."`
	Playground          bool          `name:"playground" env:"MEETGRAPH_PLAYGROUND" help:"Serve the GraphQL Playground at / (always on with --dev)."`
	Introspection       bool          `name:"introspection" env:"MEETGRAPH_INTROSPECTION" help:"Answer introspection queries (always on with --dev)."`
	AllowedOrigins      []string      `name:"allowed-origins" env:"MEETGRAPH_ALLOWED_ORIGINS" sep:"," help:"Browser origins allowed to call the API from other sites (CORS), comma-separated; * allows any. Empty allows same-origin pages only."`
	MaxDepth            int           `name:"max-depth" env:"MEETGRAPH_MAX_DEPTH" default:"12" help:"Deepest field nesting an operation may have (fields)."`
	MaxAliases          int           `name:"max-aliases" env:"MEETGRAPH_MAX_ALIASES" default:"30" help:"Most aliased fields an operation may have."`
	MaxComplexity       int           `name:"max-complexity" env:"MEETGRAPH_MAX_COMPLEXITY" default:"50000" help:"Highest cost an operation may have: 1 per field, lists multiplied by first or by --default-list-size."`
	DefaultListSize     int           `name:"default-list-size" env:"MEETGRAPH_DEFAULT_LIST_SIZE" default:"10" help:"Assumed length of lists without a first argument when costing an operation (items)."`
	MaxBodyBytes        int64         `name:"max-body-bytes" env:"MEETGRAPH_MAX_BODY_BYTES" default:"1048576" help:"Largest JSON request body (bytes); uploads have their own limit."`
	UploadTimeout       time.Duration `name:"upload-timeout" env:"MEETGRAPH_UPLOAD_TIMEOUT" default:"1h" help:"Maximum duration of a multipart upload request."`
	RequestTimeout      time.Duration `name:"request-timeout" env:"MEETGRAPH_REQUEST_TIMEOUT" default:"30s" help:"Maximum duration of a query, a mutation or a batch of them."`
	MaxBatchOperations  int           `name:"max-batch-operations" env:"MEETGRAPH_MAX_BATCH_OPERATIONS" default:"10" help:"Most operations one batched request (a JSON array) may hold."`
	RateLimit           float64       `name:"rate-limit" env:"MEETGRAPH_RATE_LIMIT" default:"50" help:"Sustained requests per second per user, or per IP address without a token; 0 disables the limit."`
	RateBurst           int           `name:"rate-burst" env:"MEETGRAPH_RATE_BURST" default:"100" help:"Requests a caller may send at once before the rate limit applies."`
	PersistedQueryCache int           `name:"persisted-query-cache" env:"MEETGRAPH_PERSISTED_QUERY_CACHE" default:"1000" help:"Automatic persisted queries remembered by hash (entries)."`
	// RecordingURLExpiry is capped by S3 at 7 days for presigned URLs.
	RecordingURLExpiry time.Duration `name:"recording-url-expiry" env:"MEETGRAPH_RECORDING_URL_EXPIRY" default:"1h" help:"How long a presigned recording download URL stays valid (duration, at most 168h)."`
	MaxUploadBytes     int64         `name:"max-upload-bytes" env:"MEETGRAPH_MAX_UPLOAD_BYTES" default:"2147483648" help:"Largest recording accepted by uploadRecording and completeRecordingUpload, in bytes (2 GiB by default, at most 5 TiB)."`

	SubscriptionPingInterval      time.Duration `name:"subscription-ping-interval" env:"MEETGRAPH_SUBSCRIPTION_PING_INTERVAL" default:"15s" help:"Pause between WebSocket pings and SSE keep-alives; a connection whose pong or write takes longer is closed (duration)."`
	SubscriptionInitTimeout       time.Duration `name:"subscription-init-timeout" env:"MEETGRAPH_SUBSCRIPTION_INIT_TIMEOUT" default:"10s" help:"How long a WebSocket client may take to send connection_init before the socket is closed with 4408 (duration)."`
	SubscriptionBuffer            int           `name:"subscription-buffer" env:"MEETGRAPH_SUBSCRIPTION_BUFFER" default:"32" help:"Events buffered per subscription before progress events of a slow subscriber are coalesced."`
	MaxSubscriptionsPerConnection int           `name:"max-subscriptions-per-connection" env:"MEETGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION" default:"100" help:"Most open subscriptions on one WebSocket connection; one more is rejected with BAD_USER_INPUT."`
	WebSocketAllowedOrigins       []string      `name:"websocket-allowed-origins" env:"MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS" sep:"," help:"Comma-separated Origin patterns, besides the gateway's own host, that may open WebSockets: app.example.com, *.example.com or https://app.example.com."`
	// LoaderWait is far below dataloader's 16 ms default; loaders.DefaultWait explains why.
	LoaderWait     time.Duration `name:"loader-wait" env:"MEETGRAPH_LOADER_WAIT" default:"250us" help:"How long a dataloader collects keys before it runs its SQL statement (duration)."`
	LoaderMaxBatch int           `name:"loader-max-batch" env:"MEETGRAPH_LOADER_MAX_BATCH" default:"500" help:"Keys after which a dataloader runs its statement without waiting."`
	// NoLoaders is the benchmark's one-by-one baseline, never a production setting.
	NoLoaders bool `name:"no-loaders" env:"MEETGRAPH_NO_LOADERS" hidden:"" help:"Resolve every relation and every participant's user with its own SQL statement, without batching or caching (benchmark baseline)."`
}

// WorkerFlags are the workers' settings.
type WorkerFlags struct {
	MetricsAddr           string        `name:"metrics-addr" env:"MEETGRAPH_METRICS_ADDR" default:"127.0.0.1:9091" help:"Address (host:port) where the work command serves /metrics; empty disables it. The gateway serves /metrics on its own address."`
	WorkerShutdownTimeout time.Duration `name:"worker-shutdown-timeout" env:"MEETGRAPH_WORKER_SHUTDOWN_TIMEOUT" default:"30s" help:"How long in-flight tasks may run after SIGINT or SIGTERM before their messages are returned to the queue (duration)."`
	WorkerPrefetch        int           `name:"worker-prefetch" env:"MEETGRAPH_WORKER_PREFETCH" default:"8" help:"Unacknowledged task messages per work queue, and so tasks run at once per queue."`
	TaskLease             time.Duration `name:"task-lease" env:"MEETGRAPH_TASK_LEASE" default:"30s" help:"How long a running task stays claimed without a heartbeat from its worker; after that another worker may take it over (duration)."`
	MediaFlags            `embed:""`
	NotificationFlags     `embed:""`
}

// MediaFlags are the settings of recording processing, transcription and summaries.
type MediaFlags struct {
	WorkDir            string `name:"work-dir" env:"MEETGRAPH_WORK_DIR" help:"Directory for the temporary files of running tasks; empty means the system's temporary directory."`
	FFmpeg             string `name:"ffmpeg" env:"MEETGRAPH_FFMPEG" default:"ffmpeg" help:"ffmpeg command or path."`
	FFprobe            string `name:"ffprobe" env:"MEETGRAPH_FFPROBE" default:"ffprobe" help:"ffprobe command or path."`
	Recognizer         string `name:"recognizer" env:"MEETGRAPH_RECOGNIZER" default:"pocketsphinx" enum:"pocketsphinx,openai" help:"Speech recognizer: pocketsphinx (offline) or openai (an OpenAI-compatible transcription endpoint)."`
	Pocketsphinx       string `name:"pocketsphinx" env:"MEETGRAPH_POCKETSPHINX" default:"pocketsphinx_continuous" help:"pocketsphinx_continuous command or path."`
	TranscriptionURL   string `name:"transcription-url" env:"MEETGRAPH_TRANSCRIPTION_URL" help:"Base URL of the OpenAI-compatible API that transcribes, including /v1; required with --recognizer=openai."`
	TranscriptionModel string `name:"transcription-model" env:"MEETGRAPH_TRANSCRIPTION_MODEL" default:"whisper-1" help:"Model name sent to the transcription endpoint."`
	TranscriptionKey   string `name:"transcription-key" env:"MEETGRAPH_TRANSCRIPTION_KEY" help:"Bearer token for the transcription endpoint; empty sends none."`
	ChatURL            string `name:"chat-url" env:"MEETGRAPH_CHAT_URL" help:"Base URL of an OpenAI-compatible chat API for summaries, including /v1; empty uses the offline extractive summary."`
	ChatModel          string `name:"chat-model" env:"MEETGRAPH_CHAT_MODEL" default:"gpt-4o-mini" help:"Model name sent to the chat endpoint."`
	ChatKey            string `name:"chat-key" env:"MEETGRAPH_CHAT_KEY" help:"Bearer token for the chat endpoint; empty sends none."`
}

// NotificationFlags are the e-mail settings of meeting notifications.
type NotificationFlags struct {
	SMTPHost     string `name:"smtp-host" env:"MEETGRAPH_SMTP_HOST" help:"SMTP server for meeting notifications; empty disables e-mail."`
	SMTPPort     int    `name:"smtp-port" env:"MEETGRAPH_SMTP_PORT" default:"587" help:"SMTP server port."`
	SMTPSecurity string `name:"smtp-security" env:"MEETGRAPH_SMTP_SECURITY" default:"starttls" enum:"starttls,tls,none" help:"SMTP connection security: starttls, tls (implicit, port 465) or none (loopback relays only)."`
	SMTPUser     string `name:"smtp-user" env:"MEETGRAPH_SMTP_USER" help:"SMTP username; empty skips authentication."`
	SMTPPassword string `name:"smtp-password" env:"MEETGRAPH_SMTP_PASSWORD" help:"SMTP password."`
	SMTPFrom     string `name:"smtp-from" env:"MEETGRAPH_SMTP_FROM" default:"meetgraph <noreply@localhost>" help:"Sender address of notification e-mails."`
}

// environment holds the context, settings, logger and output streams
// that every subcommand's Run receives.
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
		kong.Vars{"demo_text": demoSentences},
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
