package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// system is one `meetgraph all` process run in-process on test services.
type system struct {
	baseURL     string
	settings    []string
	cancel      context.CancelFunc
	done        chan error
	databaseURL string
}

// settingArgs returns the global flags that point meetgraph at this test's
// database, broker and bucket.
func settingArgs(t testing.TB, databaseURL string) []string {
	t.Helper()

	bucket := testenv.Bucket(t)

	return []string{
		"--database-url", databaseURL,
		// A vhost of its own, because every process declares and consumes
		// the same fixed queue names.
		"--amqp-url", testenv.VHost(t),
		"--s3-endpoint", bucket.Endpoint,
		"--s3-access-key", bucket.AccessKey,
		"--s3-secret-key", bucket.SecretKey,
		"--s3-bucket", bucket.Bucket,
		"--dev",
	}
}

// startSystem runs `meetgraph all` with extraArgs and waits until /readyz
// returns 200.
func startSystem(t testing.TB, databaseURL string, extraArgs ...string) *system {
	t.Helper()

	return launchSystem(t, "all", databaseURL, settingArgs(t, databaseURL), extraArgs...)
}

// startRole runs the meetgraph subcommand role (all or serve) and waits
// until /readyz returns 200. Each option may change the settings first.
func startRole(t testing.TB, databaseURL, role string, options ...func(settings []string)) *system {
	t.Helper()

	settings := settingArgs(t, databaseURL)
	for _, option := range options {
		option(settings)
	}

	return launchSystem(t, role, databaseURL, settings)
}

// launchSystem runs a meetgraph subcommand that serves HTTP with settings
// and extra flags, and waits until /readyz returns 200.
func launchSystem(t testing.TB, command, databaseURL string, settings []string, extra ...string) *system {
	t.Helper()

	addr := testenv.FreeAddr(t)
	s := &system{
		baseURL:     "http://" + addr,
		settings:    settings,
		done:        make(chan error, 1),
		databaseURL: databaseURL,
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	// Load tests send hundreds of requests per second with one token, so
	// the rate limit is off unless a test sets one in extra.
	args := append([]string{command, "--http-addr", addr, "--rate-limit", "0"}, s.settings...)
	args = append(args, extra...)

	go func() {
		var stderr bytes.Buffer
		err := run(ctx, args, &bytes.Buffer{}, &stderr)
		t.Log(stderr.String())
		s.done <- err
	}()

	t.Cleanup(func() { s.stop(t) })

	testenv.Eventually(t, 30*time.Second, func() error {
		status, body := get(t, s.baseURL+"/readyz")
		if status != http.StatusOK {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		return nil
	})

	return s
}

// stop cancels the process's context and checks that it shuts down cleanly.
func (s *system) stop(t testing.TB) {
	t.Helper()

	if s.cancel == nil {
		return
	}

	s.cancel()
	s.cancel = nil

	select {
	case err := <-s.done:
		require.NoError(t, err, "meetgraph all should stop cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("meetgraph all did not stop within 30s of cancellation")
	}
}

// command runs a meetgraph subcommand with the system's settings and
// returns its standard output.
func (s *system) command(t testing.TB, args ...string) string {
	t.Helper()

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append(args, s.settings...), &stdout, &stderr)
	require.NoError(t, err, "meetgraph %s: %s", strings.Join(args, " "), stderr.String())

	return stdout.String()
}

func get(t testing.TB, rawURL string) (int, string) {
	t.Helper()

	client := &http.Client{Timeout: 10 * time.Second}

	response, err := client.Get(rawURL)
	if err != nil {
		return 0, err.Error()
	}
	defer response.Body.Close()

	var body bytes.Buffer
	_, _ = body.ReadFrom(response.Body)

	return response.StatusCode, body.String()
}

func TestAllServesSeededUserWithToken(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")
	token := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token, `{ me { id name email } }`, nil)
	require.Empty(t, response.Errors)

	var data struct {
		Me struct{ ID, Name, Email string }
	}
	require.NoError(t, json.Unmarshal(response.Data, &data))
	require.Equal(t, store.SeedID("user:alice").String(), data.Me.ID)
	require.Equal(t, "Alice Archer", data.Me.Name)
	require.Equal(t, "alice@example.com", data.Me.Email)
}

func TestAllRejectsMissingToken(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))

	response := testenv.PostGraphQL(t, s.baseURL+"/query", "", `{ me { id } }`, nil)
	require.Len(t, response.Errors, 1)
	require.Equal(t, "UNAUTHENTICATED", response.Errors[0].Code())
}

func TestTokenForUnknownUserFails(t *testing.T) {
	t.Parallel()

	var stderr bytes.Buffer
	args := append([]string{"token", "--user", "nobody@example.com"}, settingArgs(t, testenv.DatabaseURL(t))...)
	err := run(context.Background(), args, &bytes.Buffer{}, &stderr)

	require.ErrorContains(t, err, `no user with id or e-mail "nobody@example.com"`)
}

func TestMigrateAndSeedAreIdempotent(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	args := settingArgs(t, databaseURL)

	for range 2 {
		require.NoError(t, run(context.Background(), append([]string{"migrate"}, args...), &bytes.Buffer{}, &bytes.Buffer{}))
	}

	var first, second bytes.Buffer
	require.NoError(t, run(context.Background(), append([]string{"seed"}, args...), &bytes.Buffer{}, &first))
	require.NoError(t, run(context.Background(), append([]string{"seed"}, args...), &bytes.Buffer{}, &second))

	require.Contains(t, first.String(), "users_inserted=5")
	require.Contains(t, second.String(), "users_inserted=0")
	require.Contains(t, second.String(), "meetings_inserted=0")
}

func TestReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	parsed, err := url.Parse(databaseURL)
	require.NoError(t, err)

	proxy := testenv.NewProxy(t, parsed.Host)
	parsed.Host = proxy.Addr
	s := startSystem(t, parsed.String())

	proxy.Cut()

	testenv.Eventually(t, 10*time.Second, func() error {
		status, body := get(t, s.baseURL+"/readyz")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, `"postgres"`) {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		var readiness struct{ Checks map[string]string }
		if err := json.Unmarshal([]byte(body), &readiness); err != nil {
			return err
		}

		if readiness.Checks["postgres"] == "ok" || readiness.Checks["rabbitmq"] != "ok" {
			return fmt.Errorf("want only postgres failing, got %v", readiness.Checks)
		}

		return nil
	})

	proxy.Restore()

	testenv.Eventually(t, 10*time.Second, func() error {
		if status, body := get(t, s.baseURL+"/readyz"); status != http.StatusOK {
			return fmt.Errorf("readyz answered %d: %s", status, body)
		}

		return nil
	})
}

func TestStartupErrorsNameSetting(t *testing.T) {
	t.Parallel()

	databaseURL := testenv.DatabaseURL(t)
	bucket := testenv.Bucket(t)
	base := []string{
		"--s3-endpoint", bucket.Endpoint, "--s3-access-key", bucket.AccessKey,
		"--s3-secret-key", bucket.SecretKey, "--s3-bucket", bucket.Bucket, "--dev",
	}

	cases := []struct {
		name    string
		args    []string
		setting string
		address string
	}{
		{
			name:    "unreachable database",
			args:    []string{"--database-url", "postgres://meetgraph@127.0.0.1:1/meetgraph", "--amqp-url", testenv.AMQPURL(t)},
			setting: "MEETGRAPH_DATABASE_URL",
			address: "127.0.0.1:1",
		},
		{
			name:    "malformed database URL",
			args:    []string{"--database-url", "postgres://%zz", "--amqp-url", testenv.AMQPURL(t)},
			setting: "MEETGRAPH_DATABASE_URL",
			address: "invalid database URL",
		},
		{
			name:    "malformed broker URL keeps its password out",
			args:    []string{"--database-url", databaseURL, "--amqp-url", "amqp://guest:s3cretpw@127.0.0.1:notaport/"},
			setting: "MEETGRAPH_AMQP_URL",
			address: "invalid AMQP URL",
		},
		{
			name:    "unreachable broker",
			args:    []string{"--database-url", databaseURL, "--amqp-url", "amqp://guest:guest@127.0.0.1:1/"},
			setting: "MEETGRAPH_AMQP_URL",
			address: "127.0.0.1:1",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			err := run(ctx, append([]string{"serve", "--http-addr", testenv.FreeAddr(t)}, append(tc.args, base...)...),
				&bytes.Buffer{}, &bytes.Buffer{})

			require.Error(t, err)
			require.NotContains(t, err.Error(), "\n", "the error must fit on one line")
			require.Contains(t, err.Error(), tc.setting)
			require.Contains(t, err.Error(), tc.address)
			require.False(t, errors.Is(err, context.DeadlineExceeded), "start-up must fail, not hang")
			require.NotContains(t, err.Error(), "s3cretpw", "the error must not show the password")
		})
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()

	for _, command := range []string{"serve", "work", "all"} {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{command, "--help"}, &stdout, &bytes.Buffer{})
		require.NoError(t, err)

		for _, name := range []string{
			"MEETGRAPH_DATABASE_URL", "MEETGRAPH_AMQP_URL", "MEETGRAPH_S3_ENDPOINT", "MEETGRAPH_S3_BUCKET",
			"MEETGRAPH_JWT_SECRET", "MEETGRAPH_DEV", "MEETGRAPH_LOG_LEVEL",
		} {
			require.Contains(t, stdout.String(), name, "%s --help", command)
		}
	}

	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"serve", "--help"}, &stdout, &bytes.Buffer{}))
	require.Contains(t, stdout.String(), "MEETGRAPH_HTTP_ADDR")
	require.Contains(t, stdout.String(), `--shutdown-timeout=15s`)
}

func TestMissingSecretWithoutDevFails(t *testing.T) {
	t.Parallel()

	err := run(context.Background(), []string{"token", "--user", "alice@example.com",
		"--database-url", "postgres://unused@127.0.0.1:1/x"}, &bytes.Buffer{}, &bytes.Buffer{})

	require.ErrorContains(t, err, "MEETGRAPH_JWT_SECRET")
	require.ErrorContains(t, err, "--dev")
}

// serve and all must name the missing secret before they try a service: a
// database that is down would otherwise hide it behind a connection error.
func TestMissingSecretFailsBeforeServices(t *testing.T) {
	t.Parallel()

	for _, command := range []string{"serve", "all"} {
		t.Run(command, func(t *testing.T) {
			var stderr bytes.Buffer

			err := run(testenv.Context(t, 20*time.Second), []string{command,
				"--database-url", "postgres://unused@127.0.0.1:1/x", "--http-addr", testenv.FreeAddr(t)},
				&bytes.Buffer{}, &stderr)

			require.ErrorContains(t, err, "MEETGRAPH_JWT_SECRET")
			require.NotContains(t, stderr.String(), "127.0.0.1:1", "no service may be tried first")
		})
	}
}

func TestMeetingVisibleOnlyToParticipants(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")

	planning := store.SeedID("meeting:planning").String()
	query := `query($id: ID!) { meeting(id: $id) { id title status creator { name email } } }`

	alice := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com"))
	response := testenv.PostGraphQL(t, s.baseURL+"/query", alice, query, map[string]any{"id": planning})
	require.Empty(t, response.Errors)
	require.JSONEq(t, `{"meeting": {"id": "`+planning+`", "title": "Weekly planning", "status": "SCHEDULED",
		"creator": {"name": "Alice Archer", "email": "alice@example.com"}}}`, string(response.Data))

	bob := strings.TrimSpace(s.command(t, "token", "--user", "bob@example.com"))
	response = testenv.PostGraphQL(t, s.baseURL+"/query", bob, query, map[string]any{"id": planning})
	require.Empty(t, response.Errors)
	require.Contains(t, string(response.Data), `"email":null`, "bob must not see alice's e-mail")

	dave := strings.TrimSpace(s.command(t, "token", "--user", "dave@example.com"))
	response = testenv.PostGraphQL(t, s.baseURL+"/query", dave, query, map[string]any{"id": planning})
	require.JSONEq(t, `{"meeting": null}`, string(response.Data))
	require.Len(t, response.Errors, 1)
	require.Equal(t, "NOT_FOUND", response.Errors[0].Code())

	response = testenv.PostGraphQL(t, s.baseURL+"/query", alice, query, map[string]any{"id": "not-a-uuid"})
	require.Len(t, response.Errors, 1)
	require.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code())
}

func TestAllStopsWhenGatewayCannotListen(t *testing.T) {
	t.Parallel()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	args := append([]string{"all", "--http-addr", taken.Addr().String()}, settingArgs(t, testenv.DatabaseURL(t))...)
	err = run(ctx, args, &bytes.Buffer{}, &bytes.Buffer{})

	require.ErrorContains(t, err, "MEETGRAPH_HTTP_ADDR")
	require.NoError(t, ctx.Err(), "the workers must stop with the gateway, not keep the process running")
}

func TestHostsSeeParticipantEmails(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t))
	s.command(t, "seed")

	query := `query($id: ID!) { meeting(id: $id) { participants { user { name email } } } }`
	variables := map[string]any{"id": store.SeedID("meeting:planning").String()}

	emails := func(user string) map[string]any {
		token := strings.TrimSpace(s.command(t, "token", "--user", user))
		response := testenv.PostGraphQL(t, s.baseURL+"/query", token, query, variables)
		require.Empty(t, response.Errors)

		var data struct {
			Meeting struct {
				Participants []struct {
					User struct {
						Name  string
						Email *string
					}
				}
			}
		}
		require.NoError(t, json.Unmarshal(response.Data, &data))

		byName := map[string]any{}
		for _, p := range data.Meeting.Participants {
			if p.User.Email == nil {
				byName[p.User.Name] = nil
			} else {
				byName[p.User.Name] = *p.User.Email
			}
		}

		return byName
	}

	require.Equal(t, map[string]any{
		"Alice Archer": "alice@example.com", "Bob Baker": "bob@example.com", "Carol Chen": "carol@example.com",
	}, emails("alice@example.com"), "the host sees every participant's address")

	require.Equal(t, map[string]any{
		"Alice Archer": nil, "Bob Baker": "bob@example.com", "Carol Chen": nil,
	}, emails("bob@example.com"), "an attendee sees only their own address")
}

func TestUnmigratedDatabaseStopsStartup(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A database without the schema: the test one, emptied again.
	databaseURL := testenv.DatabaseURL(t)
	pool, err := store.Open(ctx, store.PoolConfig{URL: databaseURL})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`)
	require.NoError(t, err)
	pool.Close()

	args := settingArgs(t, databaseURL)

	for _, command := range [][]string{{"serve", "--http-addr", testenv.FreeAddr(t)}, {"work", "--metrics-addr", ""}, {"seed"}} {
		err := run(ctx, append(command, args...), &bytes.Buffer{}, &bytes.Buffer{})
		require.ErrorContains(t, err, "run `meetgraph migrate` first", "meetgraph %s", command[0])
	}
}

func TestExitCodeOfUsageErrorIsQuiet(t *testing.T) {
	t.Parallel()

	var stderr bytes.Buffer

	err := run(context.Background(), []string{"serve", "--no-such-flag"}, &bytes.Buffer{}, &stderr)
	require.Error(t, err)
	require.Contains(t, stderr.String(), "unknown flag --no-such-flag")

	stderr.Reset()
	require.Equal(t, 2, exitCode(err, &stderr))
	require.Empty(t, stderr.String(), "kong has printed the usage error already")

	require.Equal(t, 1, exitCode(errors.New("database is down"), &stderr))
	require.Equal(t, "meetgraph: database is down\n", stderr.String())

	require.Zero(t, exitCode(nil, &stderr))
}

func TestOutOfRangeLimitIsRejected(t *testing.T) {
	t.Parallel()

	valid := HTTPFlags{
		MaxDepth: 12, MaxAliases: 30, MaxComplexity: 50000, DefaultListSize: 10, MaxBodyBytes: 1 << 20,
		MaxBatchOperations: 10, RateLimit: 50, RateBurst: 100, PersistedQueryCache: 1000,
		MaxSubscriptionsPerConnection: 100,
	}
	require.NoError(t, checkLimitFlags(valid))

	rateLimitOff := valid
	rateLimitOff.RateLimit = 0
	require.NoError(t, checkLimitFlags(rateLimitOff), "a rate limit of 0 turns it off")

	negativeRate := valid
	negativeRate.RateLimit = -5
	require.EqualError(t, checkLimitFlags(negativeRate),
		"MEETGRAPH_RATE_LIMIT (--rate-limit) is -5: it must be at least 0")

	negativeDepth := valid
	negativeDepth.MaxDepth = -1
	require.EqualError(t, checkLimitFlags(negativeDepth),
		"MEETGRAPH_MAX_DEPTH (--max-depth) is -1: it must be at least 1")

	// 0 used to mean the default without saying so.
	zeroDepth := valid
	zeroDepth.MaxDepth = 0
	require.EqualError(t, checkLimitFlags(zeroDepth), "MEETGRAPH_MAX_DEPTH (--max-depth) is 0: it must be at least 1")

	zeroBody := valid
	zeroBody.MaxBodyBytes = 0
	require.EqualError(t, checkLimitFlags(zeroBody),
		"MEETGRAPH_MAX_BODY_BYTES (--max-body-bytes) is 0: it must be at least 1")
}

// Each bad setting is named before any service is tried, so an unreachable
// database URL shows that the check came first.
func TestInvalidGatewaySettingFailsAtStart(t *testing.T) {
	t.Parallel()

	for flag, variable := range map[string]string{
		"--max-upload-bytes=9223372036854775807":               "MEETGRAPH_MAX_UPLOAD_BYTES",
		"--request-timeout=-1s":                                "MEETGRAPH_REQUEST_TIMEOUT",
		"--upload-timeout=0s":                                  "MEETGRAPH_UPLOAD_TIMEOUT",
		"--max-subscriptions-per-connection=0":                 "MEETGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION",
		"--websocket-allowed-origins=[,app.example.com":        "MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS",
		"--websocket-allowed-origins=https://p.example.com/ui": "MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS",
		"--publish-timeout=0s":                                 "MEETGRAPH_PUBLISH_TIMEOUT",
		"--outbox-poll-interval=-1s":                           "MEETGRAPH_OUTBOX_POLL_INTERVAL",
		"--jwt-leeway=-1s":                                     "MEETGRAPH_JWT_LEEWAY",
		"--loader-max-batch=0":                                 "MEETGRAPH_LOADER_MAX_BATCH",
	} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()

			err := run(testenv.Context(t, 20*time.Second), []string{"serve", flag, "--dev",
				"--database-url", "postgres://unused@127.0.0.1:1/x", "--http-addr", testenv.FreeAddr(t)},
				&bytes.Buffer{}, &bytes.Buffer{})
			require.ErrorContains(t, err, variable)
		})
	}
}

func TestDurationRangeMessages(t *testing.T) {
	t.Parallel()

	valid := Globals{MessagingFlags: MessagingFlags{PublishTimeout: 5 * time.Second, OutboxPollInterval: 10 * time.Second}}
	require.NoError(t, checkDurations(&valid), "a JWT leeway of 0 tolerates no clock skew")

	negativeLeeway := valid
	negativeLeeway.JWTLeeway = -time.Second
	require.EqualError(t, checkDurations(&negativeLeeway), "MEETGRAPH_JWT_LEEWAY (--jwt-leeway) is -1s: it must not be negative")

	zeroPublish := valid
	zeroPublish.PublishTimeout = 0
	require.EqualError(t, checkDurations(&zeroPublish), "MEETGRAPH_PUBLISH_TIMEOUT (--publish-timeout) is 0s: it must be more than 0")
}

func TestWebSocketOriginsAreTrimmed(t *testing.T) {
	t.Parallel()

	origins, err := websocketOrigins(HTTPFlags{WebSocketAllowedOrigins: []string{"app.example.com", " *.example.org "}})
	require.NoError(t, err)
	require.Equal(t, []string{"app.example.com", "*.example.org"}, origins)
}

// An S3 endpoint that accepts connections and never replies must fail
// start-up with the setting's name instead of holding it until a signal.
func TestSilentObjectStoreFailsStartup(t *testing.T) {
	t.Parallel()

	settings := settingArgs(t, testenv.DatabaseURL(t))
	settings = append(settings, "--s3-endpoint", "http://"+testenv.SilentServer(t))
	start := time.Now()

	err := run(testenv.Context(t, 60*time.Second), append([]string{"serve", "--http-addr", testenv.FreeAddr(t)}, settings...),
		&bytes.Buffer{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "MEETGRAPH_S3_ENDPOINT")
	require.ErrorContains(t, err, "no reply within")
	require.Less(t, time.Since(start), 30*time.Second)
}
