// Package broker keeps meetgraph's RabbitMQ connection alive and declares
// and uses the queue topology on it.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotConnected is returned while the supervisor has no open connection.
var ErrNotConnected = errors.New("not connected to RabbitMQ")

// Config sets how the supervisor connects.
type Config struct {
	// URL is the AMQP 0-9-1 URL, for example amqp://guest:guest@127.0.0.1:5672/.
	URL string
	// ConnectionName is shown in the RabbitMQ management UI for this connection.
	ConnectionName string
	// DialTimeout bounds one connection attempt; 0 means 5 s.
	DialTimeout time.Duration
	// MaxReconnectDelay caps the pause between reconnection attempts; 0 means 30 s.
	MaxReconnectDelay time.Duration
}

// Supervisor owns one AMQP connection and replaces it when it closes. Code
// that needs channels registers an OnConnect hook, which runs on every new
// connection (the first and each reconnection) to declare topology and
// re-open channels.
type Supervisor struct {
	config Config
	logger *slog.Logger

	mu      sync.RWMutex
	conn    *amqp.Connection
	hooks   []func(*amqp.Connection) error
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

// Dial opens the first connection and starts the goroutine that reconnects.
// It fails at once when the broker cannot be reached, so that a wrong URL is
// reported at start-up rather than retried forever.
func Dial(ctx context.Context, config Config, logger *slog.Logger) (*Supervisor, error) {
	if config.DialTimeout == 0 {
		config.DialTimeout = 5 * time.Second
	}

	if config.MaxReconnectDelay == 0 {
		config.MaxReconnectDelay = 30 * time.Second
	}

	s := &Supervisor{
		config:  config,
		logger:  logger.With(slog.String("broker", Address(config.URL))),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}

	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}

	s.conn = conn
	s.logger.Info("broker connected")

	go s.superviseLoop(conn)

	return s, nil
}

// Address returns host:port of an AMQP URL without its credentials, for messages.
func Address(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}

	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5672")
	}

	return u.Host
}

func (s *Supervisor) dial(ctx context.Context) (*amqp.Connection, error) {
	properties := amqp.NewConnectionProperties()
	if s.config.ConnectionName != "" {
		properties.SetClientConnectionName(s.config.ConnectionName)
	}

	dialer := &net.Dialer{Timeout: s.config.DialTimeout}

	// stopWatch ends the watch that closes the socket when ctx ends, which
	// is the only way to interrupt amqp091's handshake.
	stopWatch := func() bool { return false }

	conn, err := amqp.DialConfig(s.config.URL, amqp.Config{
		Properties: properties,
		Heartbeat:  10 * time.Second,
		Dial: func(network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}

			// The deadline bounds the TLS and AMQP handshakes too: a server
			// that accepts the connection and never replies would otherwise
			// hang the dial. amqp091 clears it once the connection is open.
			if err := conn.SetDeadline(time.Now().Add(s.config.DialTimeout)); err != nil {
				_ = conn.Close()

				return nil, err
			}

			stopWatch = context.AfterFunc(ctx, func() { _ = conn.Close() })

			return conn, nil
		},
	})
	stopWatch()

	if err != nil {
		// url.Error quotes the whole URL, password included.
		if urlErr, ok := errors.AsType[*url.Error](err); ok {
			return nil, fmt.Errorf("invalid AMQP URL: %w", urlErr.Err)
		}

		return nil, fmt.Errorf("connect to RabbitMQ at %s: %w", Address(s.config.URL), err)
	}

	return conn, nil
}

// OnConnect registers hook to run on the current connection now and on
// every later one. An error from hook on the current connection is
// returned; on a reconnection it is logged and the connection is replaced.
func (s *Supervisor) OnConnect(hook func(*amqp.Connection) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.hooks = append(s.hooks, hook)
	if s.conn == nil || s.conn.IsClosed() {
		return nil
	}

	return hook(s.conn)
}

// Connected reports whether the supervisor holds an open connection.
func (s *Supervisor) Connected() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()

	return s.conn != nil && !s.conn.IsClosed()
}

// Channel opens a channel on the current connection.
func (s *Supervisor) Channel() (*amqp.Channel, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()

	if s.conn == nil || s.conn.IsClosed() {
		return nil, ErrNotConnected
	}

	return s.conn.Channel()
}

// Close stops reconnecting and closes the connection.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()

		return nil
	}

	s.closed = true
	conn := s.conn
	s.mu.Unlock()

	close(s.stop)

	var err error
	if conn != nil && !conn.IsClosed() {
		err = conn.Close()
	}

	<-s.stopped
	s.logger.Info("broker connection closed")

	return err
}

func (s *Supervisor) superviseLoop(conn *amqp.Connection) {
	defer close(s.stopped)

	for {
		closeErr := <-conn.NotifyClose(make(chan *amqp.Error, 1))

		select {
		case <-s.stop:
			return
		default:
		}

		s.logger.Warn("broker connection lost", slog.Any("reason", closeErr))

		conn = s.reconnect()
		if conn == nil {
			return
		}
	}
}

// reconnect dials until it gets a connection on which every hook succeeds,
// pausing with exponential backoff and jitter between attempts. It returns
// nil when Close is called first.
func (s *Supervisor) reconnect() *amqp.Connection {
	delays := backoff.NewExponentialBackOff()
	delays.InitialInterval = 200 * time.Millisecond
	delays.MaxInterval = s.config.MaxReconnectDelay

	for attempt := 1; ; attempt++ {
		delay := delays.NextBackOff()

		select {
		case <-s.stop:
			return nil
		case <-time.After(delay):
		}

		conn, err := s.dial(context.Background())
		if err != nil {
			s.logger.Warn("broker reconnect failed",
				slog.Int("attempt", attempt), slog.Duration("waited", delay), slog.Any("error", err))

			continue
		}

		if err := s.install(conn); err != nil {
			s.logger.Error("broker set-up after reconnect failed", slog.Int("attempt", attempt), slog.Any("error", err))
			_ = conn.Close()

			continue
		}

		s.logger.Info("broker reconnected", slog.Int("attempt", attempt), slog.Duration("waited", delay))

		return conn
	}
}

// install runs the hooks on conn and makes it the current connection.
func (s *Supervisor) install(conn *amqp.Connection) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		_ = conn.Close()

		return nil
	}

	for _, hook := range s.hooks {
		if err := hook(conn); err != nil {
			return err
		}
	}

	s.conn = conn

	return nil
}
