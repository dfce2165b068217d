package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/auth"
)

// Defaults of SubscriptionConfig.
const (
	DefaultPingInterval = 15 * time.Second
	DefaultInitTimeout  = 10 * time.Second

	DefaultMaxSubscriptionsPerConnection = 100
)

// SubscriptionConfig sets the WebSocket and SSE transports.
type SubscriptionConfig struct {
	// PingInterval is the pause between WebSocket ping frames, legacy
	// graphql-ws keep-alive messages and SSE keep-alive comments. A pong, or
	// a write, that takes longer than this closes the connection. 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
	// InitTimeout is how long a WebSocket client may take to send
	// connection_init. 0 means DefaultInitTimeout.
	InitTimeout time.Duration
	// AllowedOrigins are the Origin header values, besides the gateway's own
	// host, that may open a WebSocket: host patterns such as
	// "app.example.com" or "*.example.com", or "https://app.example.com" to
	// match the scheme too (path.Match syntax). Clients that send no Origin,
	// which browsers always send, are allowed.
	AllowedOrigins []string
	// MaxPerConnection bounds the open subscriptions of one WebSocket
	// connection; 0 means DefaultMaxSubscriptionsPerConnection.
	MaxPerConnection int
}

// Subscriptions is the size of the subscription machinery, for leak checks.
type Subscriptions interface {
	// Len returns the number of open subscriptions.
	Len() int
}

// subscriptionTransports owns the WebSocket connections and SSE streams so
// that shutdown can end them.
type subscriptionTransports struct {
	config    SubscriptionConfig
	logger    *slog.Logger
	tokens    *auth.Tokens
	websocket *websocketAcceptor

	// stopping ends when shutdown starts.
	stopping context.Context
	stop     context.CancelFunc
	stopOnce sync.Once
}

func newSubscriptionTransports(config SubscriptionConfig, deps Deps) *subscriptionTransports {
	if config.PingInterval <= 0 {
		config.PingInterval = DefaultPingInterval
	}

	if config.InitTimeout <= 0 {
		config.InitTimeout = DefaultInitTimeout
	}

	if config.MaxPerConnection <= 0 {
		config.MaxPerConnection = DefaultMaxSubscriptionsPerConnection
	}

	logger := deps.Logger.With(slog.String("component", "subscriptions"))
	stopping, stop := context.WithCancel(context.Background())

	return &subscriptionTransports{
		config: config,
		logger: logger,
		tokens: deps.Tokens,
		websocket: &websocketAcceptor{
			logger:         logger,
			originPatterns: config.AllowedOrigins,
			pingInterval:   config.PingInterval,
			initTimeout:    config.InitTimeout,
			conns:          map[*websocketConn]struct{}{},
		},
		stopping: stopping,
		stop:     stop,
	}
}

// addTo adds the WebSocket and SSE transports to srv. SSE comes before POST
// because both accept JSON POST requests and SSE is recognised by its Accept header.
// prepare, when set, prepares the context of each response of a
// subscription and of each operation on a WebSocket connection.
func (s *subscriptionTransports) addTo(srv *handler.Server, prepare func(context.Context) context.Context) {
	srv.AddTransport(detachedWebsocket{
		Websocket: transport.Websocket{
			Implementation: s.websocket,
			InitFunc:       s.initConnection,
			// The legacy protocol's keep-alive message lets its clients notice a
			// dead server; graphql-transport-ws clients rely on ping frames.
			KeepAlivePingInterval: s.config.PingInterval,
			ErrorFunc: func(ctx context.Context, err error) {
				s.logger.Debug("WebSocket error", slog.String("request_id", RequestID(ctx)), slog.Any("error", err))
			},
		},
		logger: s.logger,
	})
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: s.config.PingInterval})
	srv.AroundOperations(wrapOperations(s.config.MaxPerConnection, prepare))
}

// initConnection authenticates a WebSocket from its connection_init
// payload ({"Authorization": "Bearer <token>"}), or from the upgrade
// request's Authorization header when the payload has none. A rejected
// token closes the socket with 4403 before any operation runs.
func (s *subscriptionTransports) initConnection(ctx context.Context, payload transport.InitPayload,
) (context.Context, *transport.InitPayload, error) {
	header := payload.Authorization()
	if header == "" {
		if _, err := auth.UserID(ctx); err == nil {
			return ctx, nil, nil
		}

		return s.rejectConnection(ctx, apperr.New(apperr.Unauthenticated,
			`authentication required: send {"Authorization": "Bearer <token>"} in the connection_init payload`))
	}

	token, _ := auth.BearerToken(header)
	if !strings.Contains(header, " ") {
		token = header
	}

	userID, err := s.tokens.Verify(token)
	if err != nil {
		return s.rejectConnection(ctx, err)
	}

	until, err := s.tokens.AcceptedUntil(token)
	if err != nil {
		return s.rejectConnection(ctx, err)
	}

	if conn := connectionFromContext(ctx); conn != nil {
		conn.closeAt(until, closeForbidden, "Forbidden: token expired")
	}

	return auth.WithUser(ctx, userID), nil, nil
}

func (s *subscriptionTransports) rejectConnection(ctx context.Context, err error,
) (context.Context, *transport.InitPayload, error) {
	reason := err.Error()
	if appErr, ok := errors.AsType[*apperr.Error](err); ok {
		reason = appErr.Message
	}

	s.logger.Info("WebSocket connection rejected", slog.String("request_id", RequestID(ctx)),
		slog.String("reason", reason))

	ctx = transport.WithWebsocketCloseCode(ctx, closeForbidden)
	ctx = transport.AppendCloseReason(ctx, truncateReason("Forbidden: "+reason))

	return ctx, nil, err
}

// guard rejects, before any resolver runs, a WebSocket upgrade from an
// origin that is not allowed and an SSE request without a valid token, and
// ends SSE streams at shutdown, which http.Server.Shutdown would otherwise
// wait for until its timeout.
func (s *subscriptionTransports) guard(next http.Handler) http.Handler {
	sse := transport.SSE{}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") != "":
			if !s.originAllowed(r) {
				s.logger.Warn("WebSocket origin rejected", slog.String("request_id", RequestID(r.Context())),
					slog.String("origin", r.Header.Get("Origin")))
				writeGraphQLError(w, http.StatusForbidden, apperr.Forbidden, "origin "+r.Header.Get("Origin")+
					" may not open WebSocket connections: the gateway allows it with --websocket-allowed-origins"+
					" (MEETGRAPH_WEBSOCKET_ALLOWED_ORIGINS)")

				return
			}

			ctx := withTransportName(withConnectionSlot(r.Context()), websocketProtocol(r))
			next.ServeHTTP(w, r.WithContext(ctx))
		case sse.Supports(r):
			if _, err := auth.UserID(r.Context()); err != nil {
				message := err.Error()
				if appErr, ok := errors.AsType[*apperr.Error](err); ok {
					message = appErr.Message
				}

				w.Header().Set("WWW-Authenticate", "Bearer")
				writeGraphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated, message)

				return
			}

			// The stream ends when its token does, as a WebSocket closes
			// with 4403. The client reconnects with a fresh token.
			token, _ := auth.BearerToken(r.Header.Get("Authorization"))

			until, err := s.tokens.AcceptedUntil(token)
			if err != nil {
				writeGraphQLError(w, http.StatusUnauthorized, apperr.Unauthenticated, err.Error())

				return
			}

			s.serveSSE(next, w, r.WithContext(withTransportName(r.Context(), "sse")), until)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// serveSSE runs an SSE request with a context that ends at shutdown, at
// expiry (when the token stops being accepted), or when a write fails or
// times out, so that a vanished client's stream ends.
func (s *subscriptionTransports) serveSSE(next http.Handler, w http.ResponseWriter, r *http.Request, expiry time.Time) {
	expiring, cancelExpiry := context.WithDeadlineCause(r.Context(), expiry, errSSETokenExpired)
	defer cancelExpiry()

	ctx, cancel := context.WithCancelCause(expiring)
	defer cancel(nil)

	stopAtShutdown := context.AfterFunc(s.stopping, func() { cancel(errSSEShutdown) })
	defer stopAtShutdown()

	writer := &sseWriter{
		ResponseWriter: w,
		controller:     http.NewResponseController(w),
		timeout:        s.config.PingInterval,
		ctx:            ctx,
		cancel:         cancel,
	}

	next.ServeHTTP(writer, r.WithContext(ctx))
}

// Causes that end an SSE stream early. The client gets each as an error
// event before the stream's complete event, which names the next step.
var (
	errSSETokenExpired = apperr.New(apperr.Unauthenticated,
		"the token expired: subscribe again with a fresh token, and afterSeq for taskUpdated")
	errSSEShutdown = apperr.New(apperr.Unavailable,
		"the gateway is shutting down: subscribe again, and pass afterSeq for taskUpdated")
)

// sseWriter gives gqlgen's SSE transport the http.Flusher it asserts, and
// bounds each write: a client that stops reading makes the write time out,
// which ends the stream.
type sseWriter struct {
	http.ResponseWriter
	controller *http.ResponseController
	timeout    time.Duration
	ctx        context.Context
	cancel     context.CancelCauseFunc
}

// sseComplete starts the event with which gqlgen v0.17.98's SSE transport
// ends every stream, in a single write.
var sseComplete = []byte("event: complete\n")

func (w *sseWriter) Write(p []byte) (int, error) {
	// gqlgen ends a stream that expiry or shutdown cut short as it ends a
	// finished one, so the reason goes out first as an error event.
	if bytes.HasPrefix(p, sseComplete) {
		if reason, ok := errors.AsType[*apperr.Error](context.Cause(w.ctx)); ok {
			w.writeError(reason)
		}
	}

	return w.write(p)
}

func (w *sseWriter) write(p []byte) (int, error) {
	_ = w.controller.SetWriteDeadline(time.Now().Add(w.timeout))

	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.cancel(err)
	}

	return n, err
}

// writeError writes reason as a next event with a GraphQL error, the form
// in which graphql-sse clients report an operation's errors.
func (w *sseWriter) writeError(reason *apperr.Error) {
	payload, err := json.Marshal(graphql.Response{Errors: gqlerror.List{{
		Message:    reason.Message,
		Extensions: map[string]any{"code": reason.Code},
	}}})
	if err != nil {
		return
	}

	_, _ = w.write(fmt.Appendf(nil, "event: next\ndata: %s\n\n", payload))
}

func (w *sseWriter) Flush() {
	if err := w.controller.Flush(); err != nil {
		w.cancel(err)
	}
}

func (w *sseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// originAllowed applies the same rule as coder/websocket's Accept, so that a
// rejected origin gets a logged 403 here instead of a bare one there.
func (s *subscriptionTransports) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}

	parsed, err := url.Parse(origin)
	if err != nil || parsed.Host == "" {
		return false
	}

	if strings.EqualFold(parsed.Host, r.Host) {
		return true
	}

	for _, pattern := range s.config.AllowedOrigins {
		target := parsed.Host
		if strings.Contains(pattern, "://") {
			target = parsed.Scheme + "://" + parsed.Host
		}

		if matched, _ := path.Match(strings.ToLower(pattern), strings.ToLower(target)); matched {
			return true
		}
	}

	return false
}

// shutdown closes every WebSocket connection with 1001 and ends every SSE
// stream. It is registered with http.Server.RegisterOnShutdown because
// Shutdown does not track hijacked connections and would wait for SSE
// streams until its timeout.
func (s *subscriptionTransports) shutdown() {
	s.stopOnce.Do(func() {
		s.stop()
		s.websocket.closeAll()
	})
}

// handleSubscriptionStats reports the counts that show whether closed
// subscriptions released their resources. With ?gc=1 it first runs four
// garbage collections and returns freed memory to the operating system. An
// idle process gets there by itself, because the Go runtime forces a
// collection every two minutes and each one halves the goroutine stacks
// that use less than a quarter of their size, so the memory figures then
// count what idle subscriptions really hold.
func handleSubscriptionStats(transports *subscriptionTransports, subscriptions Subscriptions) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			for range 3 {
				runtime.GC()
			}

			debug.FreeOSMemory()
		}

		var memory runtime.MemStats
		runtime.ReadMemStats(&memory)

		stats := map[string]int{
			"goroutines":           runtime.NumGoroutine(),
			"websocketConnections": transports.websocket.Len(),
			"heapInuseBytes":       int(memory.HeapInuse),
			"stackInuseBytes":      int(memory.StackInuse),
		}
		if subscriptions != nil {
			stats["subscriptions"] = subscriptions.Len()
		}

		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats)
	}
}

// wrapOperations rejects a subscription that would exceed max open
// subscriptions on one WebSocket connection, and calls prepare, when set, on
// the context of each response of a subscription and of each operation on a
// WebSocket connection. A rejected subscription leaves the connection and
// its other operations running.
//
// One middleware does both and wraps the operation's response handler, not
// each response as AroundResponses would, because a subscription waits for
// its next event inside that handler. Go halves an idle goroutine's stack
// only while the goroutine uses less than a quarter of it, counting an
// 800-byte reserve. gqlgen's AroundResponses chain adds about 200 bytes of
// frames, with which an idle subscription's goroutine used about 1.35 KiB
// and kept an 8 KiB stack. With this one frame it uses about 1.1 KiB and
// keeps 4 KiB (gqlgen v0.17.98, Go 1.26.8, scripts/bench-subscriptions
// fanout).
func wrapOperations(max int, prepare func(context.Context) context.Context) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx).Operation
		subscription := op != nil && op.Operation == ast.Subscription
		slot, _ := ctx.Value(connectionSlotKey{}).(*connectionSlot)

		var release func()

		if slot != nil && subscription {
			if slot.subscriptions.Add(1) > int32(max) {
				slot.subscriptions.Add(-1)

				return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
					Message: fmt.Sprintf("too many subscriptions on this connection: the limit is %d; "+
						"complete one, or open another connection", max),
					Extensions: map[string]any{"code": string(apperr.BadUserInput)},
				}}})
			}

			// gqlgen cancels the operation's context however the operation
			// ends, but only after it sent complete to the client.
			release = sync.OnceFunc(func() { slot.subscriptions.Add(-1) })
			context.AfterFunc(ctx, release)
		}

		handler := next(ctx)

		prepareResponse := prepare
		if slot == nil && !subscription {
			prepareResponse = nil
		}

		if prepareResponse == nil && release == nil {
			return handler
		}

		return func(ctx context.Context) *graphql.Response {
			if prepareResponse != nil {
				ctx = prepareResponse(ctx)
			}

			response := handler(ctx)

			// A nil response ends the operation. The place is released
			// before gqlgen sends complete, so a client that subscribes
			// again once it reads complete finds the place free.
			if response == nil && release != nil {
				release()
			}

			return response
		}
	}
}
