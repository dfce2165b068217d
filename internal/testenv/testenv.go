// Package testenv gives tests their own database, broker address and
// bucket on the real local services. It never mocks them: when a service is
// missing, the test fails with a hint on how to start it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"

	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
)

// Defaults match the services that scripts/services starts; the
// MEETGRAPH_TEST_* variables point tests elsewhere.
const (
	defaultDatabaseURL = "postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable"
	defaultAMQPURL     = "amqp://guest:guest@127.0.0.1:5672/"
	defaultS3Endpoint  = "http://127.0.0.1:9000"
	defaultS3AccessKey = "meetgraph"
	defaultS3SecretKey = "meetgraph-secret"
)

const startHint = "start the local services with scripts/services up"

func setting(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}

	return fallback
}

// RandomSuffix returns 12 random hex characters for unique names.
func RandomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)

	return hex.EncodeToString(b)
}

// Logger returns a logger that writes to the test's log, so that output
// shows only for failing tests or with -v.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()

	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))

	return len(p), nil
}

// DiscardLogger returns a logger that drops everything, for benchmarks.
func DiscardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// DatabaseURL creates an empty, migrated database for this test, drops it
// when the test ends, and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	adminURL := setting("MEETGRAPH_TEST_DATABASE_URL", defaultDatabaseURL)

	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL for tests (MEETGRAPH_TEST_DATABASE_URL): %v; %s", err, startHint)
	}
	defer admin.Close(ctx)

	name := "meetgraph_test_" + RandomSuffix()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("connect to drop test database %s: %v", name, err)

			return
		}
		defer conn.Close(ctx)

		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	parsed, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parse MEETGRAPH_TEST_DATABASE_URL: %v", err)
	}

	parsed.Path = "/" + name
	databaseURL := parsed.String()

	pool, err := store.Open(ctx, store.PoolConfig{URL: databaseURL})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	defer pool.Close()

	if err := store.Migrate(ctx, pool, DiscardLogger()); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}

	return databaseURL
}

// Pool returns a pool on a fresh migrated database (see DatabaseURL),
// closed when the test ends.
func Pool(t testing.TB, options ...func(*store.PoolConfig)) *pgxpool.Pool {
	t.Helper()

	config := store.PoolConfig{URL: DatabaseURL(t)}
	for _, option := range options {
		option(&config)
	}

	pool, err := store.Open(context.Background(), config)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}

	t.Cleanup(pool.Close)

	return pool
}

// AMQPURL returns the RabbitMQ URL for tests after checking that the broker
// accepts TCP connections.
func AMQPURL(t testing.TB) string {
	t.Helper()

	amqpURL := setting("MEETGRAPH_TEST_AMQP_URL", defaultAMQPURL)
	requireListening(t, "RabbitMQ (MEETGRAPH_TEST_AMQP_URL)", amqpURL, "5672")

	return amqpURL
}

// S3Config describes the test object store and a bucket made for this test.
type S3Config struct {
	Endpoint, AccessKey, SecretKey, Bucket string
}

// ObjectStoreConfig returns the same settings in the form media.NewObjectStore takes.
func (c S3Config) ObjectStoreConfig() media.ObjectStoreConfig {
	return media.ObjectStoreConfig{
		Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey,
		Bucket: c.Bucket, Region: "us-east-1",
	}
}

// Bucket creates an empty bucket for this test and removes it, with its
// objects, when the test ends.
func Bucket(t testing.TB) S3Config {
	t.Helper()

	config := S3Config{
		Endpoint:  setting("MEETGRAPH_TEST_S3_ENDPOINT", defaultS3Endpoint),
		AccessKey: setting("MEETGRAPH_TEST_S3_ACCESS_KEY", defaultS3AccessKey),
		SecretKey: setting("MEETGRAPH_TEST_S3_SECRET_KEY", defaultS3SecretKey),
		Bucket:    "test-" + RandomSuffix(),
	}
	requireListening(t, "the S3 server (MEETGRAPH_TEST_S3_ENDPOINT)", config.Endpoint, "80")

	objects, err := media.NewObjectStore(config.ObjectStoreConfig())
	if err != nil {
		t.Fatalf("create S3 client: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := objects.EnsureBucket(ctx); err != nil {
		t.Fatalf("create test bucket: %v; %s", err, startHint)
	}

	t.Cleanup(func() { removeBucket(t, objects.Client(), config.Bucket) })

	return config
}

func removeBucket(t testing.TB, client *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	objects := client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for result := range client.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		t.Errorf("remove object %s from test bucket: %v", result.ObjectName, result.Err)
	}

	if err := client.RemoveBucket(ctx, bucket); err != nil {
		t.Errorf("remove test bucket %s: %v", bucket, err)
	}
}

func requireListening(t testing.TB, what, rawURL, defaultPort string) {
	t.Helper()

	parsed, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse the URL of %s: %v", what, err)
	}

	port := parsed.Port()
	if port == "" {
		port = defaultPort
	}

	conn, err := net.DialTimeout("tcp", net.JoinHostPort(parsed.Hostname(), port), 3*time.Second)
	if err != nil {
		t.Fatalf("%s is not reachable at %s: %v; %s", what, net.JoinHostPort(parsed.Hostname(), port), err, startHint)
	}

	_ = conn.Close()
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}

	addr := listener.Addr().String()
	_ = listener.Close()

	return addr
}

// ErrNotYet is the error an Eventually condition returns while it waits
// for something that has not happened yet.
var ErrNotYet = errors.New("not yet")

// Eventually polls condition every 50 ms until it returns nil or timeout
// passes, then fails the test with the last error.
func Eventually(t testing.TB, timeout time.Duration, condition func() error) {
	t.Helper()

	deadline := time.Now().Add(timeout)

	for {
		err := condition()
		if err == nil {
			return
		}

		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}

		time.Sleep(50 * time.Millisecond)
	}
}

// Context returns a context cancelled when the test ends or after timeout.
func Context(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)

	return ctx
}
