package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/broker"
	"github.com/meetgraph/meetgraph/media"
	"github.com/meetgraph/meetgraph/store"
	"github.com/meetgraph/meetgraph/tracing"
)

// openDatabase connects to PostgreSQL. Its error names the setting to fix.
func (env *environment) openDatabase() (*pgxpool.Pool, error) {
	config := store.PoolConfig{
		URL:      env.globals.DatabaseURL,
		MaxConns: env.globals.DatabaseMaxConns,
	}
	if env.globals.OTLPEndpoint != "" {
		config.Tracer = tracing.QueryTracer{}
	}

	pool, err := store.Open(env.ctx, config)
	if err != nil {
		return nil, fmt.Errorf("MEETGRAPH_DATABASE_URL (--database-url): %w", err)
	}

	env.logger.Info("database connected", slog.String("database", store.Address(pool.Config().ConnConfig)))

	return pool, nil
}

// openBroker connects to RabbitMQ. Its error names the setting to fix.
func (env *environment) openBroker(role string) (*broker.Supervisor, error) {
	hostname, _ := os.Hostname()

	supervisor, err := broker.Dial(env.ctx, broker.Config{
		URL:            env.globals.AMQPURL,
		ConnectionName: fmt.Sprintf("meetgraph %s %s/%d", role, hostname, os.Getpid()),
	}, env.logger)
	if err != nil {
		return nil, fmt.Errorf("MEETGRAPH_AMQP_URL (--amqp-url): %w", err)
	}

	return supervisor, nil
}

// objectStoreTimeout bounds the start-up check of the S3 bucket, which may
// create it.
const objectStoreTimeout = 10 * time.Second

// openObjectStore creates the S3 client and checks that the bucket is
// there, creating it when missing. Its error names the setting to fix.
func (env *environment) openObjectStore() (*media.ObjectStore, error) {
	objects, err := media.NewObjectStore(media.ObjectStoreConfig{
		Endpoint:  env.globals.S3Endpoint,
		AccessKey: env.globals.S3AccessKey,
		SecretKey: env.globals.S3SecretKey,
		Bucket:    env.globals.S3Bucket,
		Region:    env.globals.S3Region,
	})
	if err != nil {
		return nil, fmt.Errorf("MEETGRAPH_S3_ENDPOINT (--s3-endpoint): %w", err)
	}

	// A server that accepts connections and never replies would otherwise
	// hold start-up until a signal.
	ctx, cancel := context.WithTimeoutCause(env.ctx, objectStoreTimeout,
		fmt.Errorf("no reply within %s", objectStoreTimeout))
	defer cancel()

	if err := objects.EnsureBucket(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && env.ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", err, cause)
		}

		return nil, fmt.Errorf("MEETGRAPH_S3_ENDPOINT (--s3-endpoint): %w", err)
	}

	env.logger.Info("object store connected", slog.String("bucket", objects.Address()))

	return objects, nil
}

// tokens returns the token signer and verifier: RS256 when a public key
// file is set, else HS256 with the secret. Without either it uses
// auth.DevSecret, and only when --dev is set.
func (env *environment) tokens() (*auth.Tokens, error) {
	config := auth.TokenConfig{
		Issuer:   env.globals.JWTIssuer,
		Audience: env.globals.JWTAudience,
		Leeway:   env.globals.JWTLeeway,
	}

	if env.globals.JWTPublicKeyFile != "" {
		if err := env.loadRSAKeys(&config); err != nil {
			return nil, err
		}
	} else {
		secret, err := env.jwtSecret()
		if err != nil {
			return nil, err
		}

		config.Secret = []byte(secret)
	}

	tokens, err := auth.NewTokens(config)
	if err != nil {
		return nil, fmt.Errorf("MEETGRAPH_JWT_SECRET or MEETGRAPH_JWT_PUBLIC_KEY_FILE: %w", err)
	}

	return tokens, nil
}

func (env *environment) jwtSecret() (string, error) {
	if env.globals.JWTSecret != "" {
		return env.globals.JWTSecret, nil
	}

	if !env.globals.Dev {
		return "", errors.New("MEETGRAPH_JWT_SECRET (--jwt-secret) is not set: " +
			"set a secret of at least 32 bytes, or pass --dev to use the built-in development secret")
	}

	env.logger.Warn("using the built-in development JWT secret: anyone can sign tokens; never use --dev in production")

	return auth.DevSecret, nil
}

func (env *environment) loadRSAKeys(config *auth.TokenConfig) error {
	pem, err := os.ReadFile(env.globals.JWTPublicKeyFile)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_JWT_PUBLIC_KEY_FILE (--jwt-public-key-file): %w", err)
	}

	config.PublicKey, err = jwt.ParseRSAPublicKeyFromPEM(pem)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_JWT_PUBLIC_KEY_FILE (--jwt-public-key-file) %s: %w", env.globals.JWTPublicKeyFile, err)
	}

	if env.globals.JWTPrivateKeyFile == "" {
		return nil
	}

	pem, err = os.ReadFile(env.globals.JWTPrivateKeyFile)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_JWT_PRIVATE_KEY_FILE (--jwt-private-key-file): %w", err)
	}

	config.PrivateKey, err = jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		return fmt.Errorf("MEETGRAPH_JWT_PRIVATE_KEY_FILE (--jwt-private-key-file) %s: %w", env.globals.JWTPrivateKeyFile, err)
	}

	return nil
}
