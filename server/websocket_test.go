package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// A subscriber that stops reading must not hold a writer forever: the
// socket buffers fill, the next write blocks, and the ping that gets no
// pong closes the connection, which ends the blocked write with an error.
func TestWriteToStalledPeerFails(t *testing.T) {
	t.Parallel()

	const pingInterval = 200 * time.Millisecond

	acceptor := &websocketAcceptor{
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		pingInterval: pingInterval,
		conns:        map[*websocketConn]struct{}{},
	}
	accepted := make(chan *websocketConn, 1)

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := acceptor.Accept(w, r, transport.WebsocketAcceptOptions{Subprotocols: []string{"graphql-ws"}})
		if err != nil {
			t.Errorf("accept: %v", err)

			return
		}

		accepted <- conn.(*websocketConn)
	}))
	defer server.Close()

	// A small receive buffer makes the server's writes block after a few
	// hundred kilobytes at most.
	dialer := &net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		var err error
		if controlErr := raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); controlErr != nil {
			return controlErr
		}

		return err
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	peer, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(server.URL, "http"),
		&websocket.DialOptions{HTTPClient: client, Subprotocols: []string{"graphql-ws"}})
	require.NoError(t, err)

	defer peer.CloseNow()

	// Accept started the pings. The peer never reads, so it sends no pongs.
	conn := <-accepted

	payload, err := json.Marshal(map[string]string{"data": strings.Repeat("x", 16<<10)})
	require.NoError(t, err)

	message := struct {
		Type    string
		ID      string
		Payload json.RawMessage
	}{Type: "data", ID: "1", Payload: payload}

	type result struct {
		writes      int
		maxDuration time.Duration
	}

	done := make(chan result, 1)

	go func() {
		var r result

		for {
			start := time.Now()
			err := conn.WriteJSON(message)
			r.maxDuration = max(r.maxDuration, time.Since(start))

			if err != nil {
				done <- r

				return
			}

			r.writes++
		}
	}()

	var r result

	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes to a peer that stopped reading still succeed or block after 5 s")
	}

	require.Greater(t, r.maxDuration, pingInterval/2,
		"no write blocked in %d writes, so the test did not fill the socket buffers", r.writes)
}
