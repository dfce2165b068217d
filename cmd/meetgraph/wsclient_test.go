package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// wsMessage is a message of either GraphQL WebSocket protocol.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsClient speaks a GraphQL WebSocket protocol to a gateway, one message at
// a time, so that tests control every step.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, baseURL, subprotocol string, header http.Header) *wsClient {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, response, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{subprotocol}, HTTPHeader: header})
	if response != nil && response.Body != nil {
		_ = response.Body.Close()
	}

	require.NoError(t, err, "dial WebSocket")

	t.Cleanup(func() { _ = conn.CloseNow() })

	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) send(messageType, id string, payload any) {
	c.t.Helper()

	message := map[string]any{"type": messageType}
	if id != "" {
		message["id"] = id
	}

	if payload != nil {
		message["payload"] = payload
	}

	data, err := json.Marshal(message)
	require.NoError(c.t, err)
	c.sendRaw(string(data))
}

func (c *wsClient) sendRaw(data string) {
	c.t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageText, []byte(data)))
}

func (c *wsClient) init(token string) {
	c.t.Helper()

	c.send("connection_init", "", map[string]string{"Authorization": "Bearer " + token})
	require.Equal(c.t, "connection_ack", c.next().Type)
}

func (c *wsClient) subscribe(messageType, id, query string, variables map[string]any) {
	c.t.Helper()

	c.send(messageType, id, map[string]any{"query": query, "variables": variables})
}

// next returns the next message other than keep-alives and pings.
func (c *wsClient) next() wsMessage {
	c.t.Helper()

	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := c.conn.Read(ctx)

		cancel()
		require.NoError(c.t, err, "read WebSocket message")

		var message wsMessage
		require.NoError(c.t, json.Unmarshal(data, &message))

		switch message.Type {
		case "ka", "pong":
			continue
		case "ping":
			c.send("pong", "", nil)

			continue
		}

		return message
	}
}

// closeStatus reads until the server closes the socket and returns the code.
func (c *wsClient) closeStatus() (websocket.StatusCode, string) {
	c.t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for {
		_, _, err := c.conn.Read(ctx)
		if err == nil {
			continue
		}

		var closeErr websocket.CloseError
		if errors.As(err, &closeErr) {
			return closeErr.Code, closeErr.Reason
		}

		c.t.Fatalf("expected a close frame, got %v", err)
	}
}

// taskSeqs reads data messages of operation id until it completes and
// returns the seq of each event.
func (c *wsClient) taskSeqs(id, field string) []int64 {
	c.t.Helper()

	var seqs []int64

	for {
		message := c.next()
		if message.ID != id {
			c.t.Fatalf("unexpected message for operation %q: %+v", message.ID, message)
		}

		switch message.Type {
		case "complete":
			return seqs
		case "next", "data":
			seqs = append(seqs, eventSeq(c.t, message.Payload, field))
		default:
			c.t.Fatalf("unexpected %s message: %s", message.Type, message.Payload)
		}
	}
}

// eventSeq decodes the seq of an event from an execution result.
func eventSeq(t *testing.T, payload json.RawMessage, field string) int64 {
	t.Helper()

	var result struct {
		Data   map[string]struct{ Seq int64 } `json:"data"`
		Errors []json.RawMessage              `json:"errors"`
	}

	require.NoError(t, json.Unmarshal(payload, &result))
	require.Empty(t, result.Errors, "event has errors: %s", payload)

	return result.Data[field].Seq
}
