package gqlclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// transportMessage is a message of the graphql-transport-ws protocol, which
// the graphql-ws JavaScript library defines.
type transportMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscriptionID is the id of the one operation that Subscribe runs per socket.
const subscriptionID = "1"

// Subscribe runs a subscription over graphql-transport-ws on endpoint's
// WebSocket URL and calls onData with the data of each result, in order.
// It returns nil when the server completes the subscription, the first
// error of onData, a result's GraphQL errors, or ctx's error.
func Subscribe(ctx context.Context, endpoint, token, query string, variables map[string]any,
	onData func(data json.RawMessage) error,
) error {
	socketURL, err := webSocketURL(endpoint)
	if err != nil {
		return err
	}

	conn, response, err := websocket.Dial(ctx, socketURL,
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if response != nil && response.Body != nil {
		_ = response.Body.Close()
	}

	if err != nil {
		return fmt.Errorf("open WebSocket to %s: %w", socketURL, err)
	}
	defer conn.CloseNow()

	init := map[string]any{"type": "connection_init"}
	if token != "" {
		init["payload"] = map[string]string{"Authorization": "Bearer " + token}
	}

	if err := wsjson.Write(ctx, conn, init); err != nil {
		return fmt.Errorf("send connection_init to %s: %w", socketURL, err)
	}

	if err := awaitAck(ctx, conn); err != nil {
		return fmt.Errorf("start subscription on %s: %w", socketURL, err)
	}

	subscribe := map[string]any{"type": "subscribe", "id": subscriptionID,
		"payload": map[string]any{"query": query, "variables": variables}}
	if err := wsjson.Write(ctx, conn, subscribe); err != nil {
		return fmt.Errorf("send subscribe to %s: %w", socketURL, err)
	}

	for {
		message, err := readMessage(ctx, conn)
		if err != nil {
			return fmt.Errorf("read subscription results from %s: %w", socketURL, err)
		}

		switch message.Type {
		case "next":
			var result Response
			if err := json.Unmarshal(message.Payload, &result); err != nil {
				return fmt.Errorf("decode subscription result: %w: %.200s", err, message.Payload)
			}

			if err := result.Err(); err != nil {
				return err
			}

			if err := onData(result.Data); err != nil {
				return err
			}
		case "error":
			var errs []Error
			if err := json.Unmarshal(message.Payload, &errs); err != nil {
				return fmt.Errorf("decode subscription error: %w: %.200s", err, message.Payload)
			}

			return Response{Errors: errs}.Err()
		case "complete":
			_ = conn.Close(websocket.StatusNormalClosure, "")

			return nil
		case "ping":
			if err := wsjson.Write(ctx, conn, map[string]string{"type": "pong"}); err != nil {
				return fmt.Errorf("send pong to %s: %w", socketURL, err)
			}
		}
	}
}

// awaitAck reads until the server acknowledges connection_init.
func awaitAck(ctx context.Context, conn *websocket.Conn) error {
	for {
		message, err := readMessage(ctx, conn)
		if err != nil {
			return err
		}

		switch message.Type {
		case "connection_ack":
			return nil
		case "ping", "pong":
		default:
			return fmt.Errorf("expected connection_ack, got %s: %.200s", message.Type, message.Payload)
		}
	}
}

// readMessage reads one protocol message and turns a close frame into an
// error that carries the server's code and reason, such as 4403 Forbidden.
func readMessage(ctx context.Context, conn *websocket.Conn) (transportMessage, error) {
	var message transportMessage

	err := wsjson.Read(ctx, conn, &message)

	var closeErr websocket.CloseError
	if errors.As(err, &closeErr) {
		return message, fmt.Errorf("server closed the socket with %d %s", closeErr.Code, closeErr.Reason)
	}

	return message, err
}

// webSocketURL turns an http(s) GraphQL endpoint into its ws(s) URL.
func webSocketURL(endpoint string) (string, error) {
	parsed, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("invalid GraphQL endpoint %q: %w", endpoint, err)
	}

	switch parsed.Scheme {
	case "http":
		parsed.Scheme = "ws"
	case "https":
		parsed.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("invalid GraphQL endpoint %q: want an http, https, ws or wss URL", endpoint)
	}

	return parsed.String(), nil
}
