package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// Close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md). gqlgen
// v0.17.98 closes with 1002 or 1000 in these cases, so websocketConn
// enforces them itself.
const (
	closeInvalidMessage   = 4400
	closeUnauthorized     = 4401
	closeForbidden        = 4403
	closeInitTimeout      = 4408
	closeSubscriberExists = 4409
	closeTooManyInits     = 4429
	closeGoingAway        = 1001
)

const graphqlTransportWS = "graphql-transport-ws"

// errClosedByServer ends gqlgen's read loop after websocketConn closed the
// connection for a protocol violation. gqlgen treats it as a normal close.
var errClosedByServer = transport.ErrWebsocketClosed

// websocketAcceptor accepts WebSocket connections with coder/websocket for
// gqlgen's transport.Websocket. It replaces gqlgen's own adapter so that
// every connection gets RFC 6455 ping frames, the graphql-transport-ws close
// codes and a registry that shutdown can close.
type websocketAcceptor struct {
	logger         *slog.Logger
	originPatterns []string
	// pingInterval is the pause between pings and the time a pong may take.
	pingInterval time.Duration
	initTimeout  time.Duration

	mu    sync.Mutex
	conns map[*websocketConn]struct{}
}

var _ transport.WebsocketImplementation = (*websocketAcceptor)(nil)

func (a *websocketAcceptor) Accept(w http.ResponseWriter, r *http.Request,
	options transport.WebsocketAcceptOptions,
) (transport.WebsocketConn, error) {
	for key, values := range options.ResponseHeader {
		for _, value := range values {
			w.Header().Add(key, value)
		}
	}

	conn, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		Subprotocols:   options.Subprotocols,
		OriginPatterns: a.originPatterns,
	})
	if err != nil {
		return nil, fmt.Errorf("accept WebSocket from %s: %w", r.RemoteAddr, err)
	}

	c := &websocketConn{
		acceptor:   a,
		conn:       conn,
		strict:     conn.Subprotocol() == graphqlTransportWS,
		remoteAddr: r.RemoteAddr,
		active:     map[string]struct{}{},
	}

	if !a.register(c) {
		_ = conn.Close(closeGoingAway, "server shutting down")

		return nil, errors.New("server shutting down")
	}

	c.start(a.pingInterval, a.initTimeout)

	if slot, ok := r.Context().Value(connectionSlotKey{}).(*connectionSlot); ok {
		slot.conn = c
		close(slot.hijacked)
	}

	return c, nil
}

type connectionSlotKey struct{}

// connectionSlot carries the accepted connection from Accept to the
// transport's InitFunc, which gqlgen calls with the upgrade request's
// context and no reference to the connection.
type connectionSlot struct {
	conn *websocketConn
	// hijacked is closed once Accept has taken the connection from net/http.
	hijacked chan struct{}
	// subscriptions counts the connection's open subscriptions.
	subscriptions atomic.Int32
}

func withConnectionSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, connectionSlotKey{}, &connectionSlot{hijacked: make(chan struct{})})
}

func connectionFromContext(ctx context.Context) *websocketConn {
	slot, _ := ctx.Value(connectionSlotKey{}).(*connectionSlot)
	if slot == nil {
		return nil
	}

	return slot.conn
}

// websocketBufferSize is the size of a connection's read and write
// buffers. A task event and a subscribe message take 100 to 400 bytes, and
// bufio reads and writes a larger message straight from and to the socket,
// with one more system call for the part that filled the buffer.
const websocketBufferSize = 512

// smallBuffers hands coder/websocket a hijacked connection with 512-byte
// read and write buffers instead of the 4 KiB ones that net/http uses,
// which an idle subscription would hold for its whole life.
type smallBuffers struct {
	http.ResponseWriter
}

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, buffers, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}

	reader := buffers.Reader

	// Bytes that the client sent after the upgrade request are in net/http's
	// buffer. They move to the small one, which takes them in one read.
	if buffered := reader.Buffered(); buffered <= websocketBufferSize {
		pending, _ := reader.Peek(buffered)
		reader = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), conn), websocketBufferSize)

		if _, err := reader.Peek(buffered); err != nil {
			_ = conn.Close()

			return nil, nil, fmt.Errorf("move buffered bytes of hijacked connection: %w", err)
		}
	}

	return conn, bufio.NewReadWriter(reader, bufio.NewWriterSize(conn, websocketBufferSize)), nil
}

// register adds c to the registry; it fails once closeAll has run.
func (a *websocketAcceptor) register(c *websocketConn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()

	if a.conns == nil {
		return false
	}

	a.conns[c] = struct{}{}

	return true
}

func (a *websocketAcceptor) unregister(c *websocketConn) {
	a.mu.Lock()
	defer a.mu.Unlock()

	delete(a.conns, c)
}

// Len returns the number of open connections.
func (a *websocketAcceptor) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()

	return len(a.conns)
}

// closeAll closes every connection with 1001 (going away), which signals
// clients to reconnect, and rejects new ones. WebSocket connections are
// hijacked, so http.Server.Shutdown neither waits for nor closes them.
func (a *websocketAcceptor) closeAll() {
	a.mu.Lock()
	conns := a.conns
	a.conns = nil
	a.mu.Unlock()

	for c := range conns {
		_ = c.WriteClose(closeGoingAway, "server shutting down")
	}

	if len(conns) > 0 {
		a.logger.Info("closed WebSocket connections for shutdown", slog.Int("connections", len(conns)))
	}
}

// websocketConn is one accepted connection in the form gqlgen's transport uses.
// For graphql-transport-ws it checks each client message before gqlgen
// reads it and closes the socket with the protocol's code on a violation.
type websocketConn struct {
	acceptor   *websocketAcceptor
	conn       *websocket.Conn
	strict     bool
	remoteAddr string

	mu           sync.Mutex
	initReceived bool
	acknowledged bool
	active       map[string]struct{}
	pingTimer    *time.Timer
	initTimer    *time.Timer
	expiryTimer  *time.Timer
	closing      bool
	releaseOnce  sync.Once
	pingInterval time.Duration
	closeStarted bool
}

var _ transport.WebsocketConn = (*websocketConn)(nil)

// log returns the connection's logger. It is made at each use, which is
// rare, so that an idle connection holds no formatted attributes.
func (c *websocketConn) log() *slog.Logger {
	return c.acceptor.logger.With(slog.String("remote_addr", c.remoteAddr), slog.String("subprotocol", c.conn.Subprotocol()))
}

func (c *websocketConn) start(pingInterval, initTimeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.pingInterval = pingInterval
	if pingInterval > 0 {
		c.pingTimer = time.AfterFunc(pingInterval, c.ping)
	}

	if initTimeout > 0 {
		c.initTimer = time.AfterFunc(initTimeout, c.initTimedOut)
	}
}

// ping sends a ping frame and closes the connection when no pong comes
// within the ping interval: a peer that vanished without a TCP close (a
// silent network, a sleeping laptop) is found this way. It runs on a timer,
// so an idle connection costs no goroutine between pings.
func (c *websocketConn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.pingInterval)
	err := c.conn.Ping(ctx)

	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()

	if c.closing {
		return
	}

	if err != nil {
		c.log().Debug("closing WebSocket without pong", slog.Any("error", err))
		_ = c.conn.CloseNow()

		return
	}

	c.pingTimer.Reset(c.pingInterval)
}

// closeAt closes the connection with code and reason at deadline, so that
// subscriptions end when the token that opened them expires.
func (c *websocketConn) closeAt(deadline time.Time, code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.closing {
		return
	}

	c.expiryTimer = time.AfterFunc(time.Until(deadline), func() {
		c.log().Debug("closing WebSocket whose token expired")
		_ = c.WriteClose(code, reason)
	})
}

func (c *websocketConn) initTimedOut() {
	c.mu.Lock()
	received := c.initReceived
	c.mu.Unlock()

	if !received {
		c.log().Debug("closing WebSocket without connection_init")
		_ = c.WriteClose(closeInitTimeout, "Connection initialisation timeout")
	}
}

func (c *websocketConn) NextReader() (int, io.Reader, error) {
	messageType, data, err := c.conn.Read(context.Background())
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd, websocket.StatusGoingAway:
			return int(messageType), nil, transport.ErrWebsocketClosed
		}

		return int(messageType), nil, err
	}

	c.mu.Lock()
	code, reason := c.check(data)
	c.mu.Unlock()

	if code != 0 {
		c.log().Debug("closing WebSocket for a protocol violation", slog.Int("code", code), slog.String("reason", reason))
		_ = c.WriteClose(code, reason)

		return int(messageType), nil, errClosedByServer
	}

	return int(messageType), bytes.NewReader(data), nil
}

// check applies the graphql-transport-ws rules that gqlgen does not, and
// returns the close code and reason for a violation, or 0.
func (c *websocketConn) check(data []byte) (int, string) {
	var header struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}

	if err := json.Unmarshal(data, &header); err != nil {
		if c.strict {
			return closeInvalidMessage, "Invalid message received"
		}

		return 0, ""
	}

	if header.Type == "connection_init" {
		if c.initReceived && c.strict {
			return closeTooManyInits, "Too many initialisation requests"
		}

		// gqlgen v0.17.98 returns without closing the socket when the
		// payload is not an object, which would leave the connection open
		// with nothing reading it.
		if !isObjectOrNull(header.Payload) {
			return closeInvalidMessage, "Invalid message received: the connection_init payload must be an object"
		}

		c.initReceived = true

		if c.initTimer != nil {
			c.initTimer.Stop()
		}

		return 0, ""
	}

	if !c.strict {
		return 0, ""
	}

	switch header.Type {
	case "subscribe":
		if !c.acknowledged {
			return closeUnauthorized, "Unauthorized"
		}

		if header.ID == "" {
			return closeInvalidMessage, "Invalid message received"
		}

		if _, exists := c.active[header.ID]; exists {
			return closeSubscriberExists, truncateReason("Subscriber for " + header.ID + " already exists")
		}

		c.active[header.ID] = struct{}{}
	case "complete":
		delete(c.active, header.ID)
	case "ping", "pong":
	default:
		return closeInvalidMessage, "Invalid message received"
	}

	return 0, ""
}

// WriteJSON writes one server message. For graphql-transport-ws it notes
// the acknowledgement and each operation's end, and drops the complete that
// gqlgen sends after an error, which the protocol forbids.
func (c *websocketConn) WriteJSON(v any) error {
	message := readMessage(v)

	if c.strict && !c.track(message.messageType, message.id) {
		return nil
	}

	data, err := message.encode()
	if err != nil {
		return fmt.Errorf("encode %s message: %w", message.messageType, err)
	}

	// The write has no deadline of its own. A peer that stops reading also
	// sends no pongs, so the next ping closes the connection, which ends a
	// blocked write. A timeout per write would cost a timer and a context
	// for each event and each subscriber.
	return c.conn.Write(context.Background(), websocket.MessageText, data)
}

// track updates the connection's state for a server message and reports
// whether it should be sent.
func (c *websocketConn) track(messageType, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()

	switch messageType {
	case "connection_ack":
		c.acknowledged = true
	case "next":
		// After the client's complete, gqlgen may still send the cancelled
		// operation's last response. The protocol allows nothing more for
		// that id.
		_, ok := c.active[id]

		return ok
	case "error", "complete":
		if _, ok := c.active[id]; !ok {
			return messageType == "error"
		}

		delete(c.active, id)
	}

	return true
}

// serverMessage is the content of gqlgen's unexported message structs.
type serverMessage struct {
	messageType string
	id          string
	payload     []byte
	value       any
}

// readMessage reads the Type, ID and Payload fields of gqlgen's message
// structs, which are unexported types with exported fields.
func readMessage(v any) serverMessage {
	message := serverMessage{value: v}

	value := reflect.ValueOf(v)
	if value.Kind() == reflect.Pointer {
		value = value.Elem()
	}

	if value.Kind() != reflect.Struct {
		return message
	}

	if field := value.FieldByName("Type"); field.IsValid() && field.Kind() == reflect.String {
		message.messageType = field.String()
	}

	if field := value.FieldByName("ID"); field.IsValid() && field.Kind() == reflect.String {
		message.id = field.String()
	}

	if field := value.FieldByName("Payload"); field.IsValid() && field.Kind() == reflect.Slice &&
		field.Type().Elem().Kind() == reflect.Uint8 {
		message.payload = field.Bytes()
	}

	return message
}

// encode writes the message as JSON. The payload is gqlgen's own
// json.Marshal output and goes in unchanged: encoding the struct again
// would make encoding/json scan and compact every event a second time, once
// per subscriber.
func (m serverMessage) encode() ([]byte, error) {
	if m.messageType == "" {
		return json.Marshal(m.value)
	}

	id, err := json.Marshal(m.id)
	if err != nil {
		return nil, err
	}

	data := make([]byte, 0, len(m.payload)+len(m.messageType)+len(id)+32)
	data = append(data, `{"type":"`...)
	data = append(data, m.messageType...)
	data = append(data, '"')

	if m.id != "" {
		data = append(data, `,"id":`...)
		data = append(data, id...)
	}

	if len(m.payload) > 0 {
		data = append(data, `,"payload":`...)
		data = append(data, m.payload...)
	}

	return append(data, '}'), nil
}

// WriteClose starts the closing handshake in the background, because
// coder/websocket waits up to 5 s for the peer's close frame. Only the
// first call has an effect.
func (c *websocketConn) WriteClose(code int, reason string) error {
	c.mu.Lock()
	if c.closeStarted {
		c.mu.Unlock()

		return nil
	}

	c.closeStarted = true
	c.closing = true
	c.mu.Unlock()

	c.stopTimers()

	go func() {
		defer c.release()

		_ = c.conn.Close(websocket.StatusCode(code), truncateReason(reason))
	}()

	return nil
}

// Close closes the connection at once unless a closing handshake runs, which
// then owns the connection.
func (c *websocketConn) Close() error {
	c.mu.Lock()
	c.closing = true
	handshake := c.closeStarted
	c.mu.Unlock()

	if handshake {
		return nil
	}

	c.stopTimers()
	defer c.release()

	return c.conn.CloseNow()
}

func (c *websocketConn) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}

	if c.initTimer != nil {
		c.initTimer.Stop()
	}

	if c.expiryTimer != nil {
		c.expiryTimer.Stop()
	}
}

func (c *websocketConn) release() {
	c.releaseOnce.Do(func() { c.acceptor.unregister(c) })
}

func (c *websocketConn) Subprotocol() string {
	return c.conn.Subprotocol()
}

func (c *websocketConn) SetReadLimit(limit int64) {
	c.conn.SetReadLimit(limit)
}

func isObjectOrNull(payload json.RawMessage) bool {
	trimmed := bytes.TrimSpace(payload)

	return len(trimmed) == 0 || trimmed[0] == '{' || bytes.Equal(trimmed, []byte("null"))
}

// truncateReason keeps a close reason within the 123 bytes that a close
// frame allows.
func truncateReason(reason string) string {
	const maxReason = 123
	if len(reason) <= maxReason {
		return reason
	}

	return reason[:maxReason]
}
