package server

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// detachedWebsocket runs gqlgen's WebSocket transport in a goroutine of its
// own and lets the HTTP handler return once the connection is hijacked.
// net/http keeps the request, the response, their buffers and the handler
// goroutine's stack, which HTTP parsing and the middleware chain have grown,
// for as long as a handler runs. For a hijacked connection that is the
// connection's whole life, so returning frees them.
type detachedWebsocket struct {
	transport.Websocket

	logger *slog.Logger
}

func (t detachedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	slot, _ := r.Context().Value(connectionSlotKey{}).(*connectionSlot)
	if slot == nil {
		t.Websocket.Do(w, r, exec)

		return
	}

	// net/http cancels the request's context when the handler returns, so
	// the connection gets a context that only its own end cancels. Shutdown
	// ends it too, because it closes every registered connection.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	result := make(chan any, 1)

	// The goroutine gets w and r as arguments and not in a closure, so that
	// nothing keeps them reachable once gqlgen has no more use for them.
	go t.serve(w, r.WithContext(ctx), exec, slot, result, cancel)

	// Until the upgrade succeeds the transport may still write an HTTP
	// error response through w, so the handler waits for one or the other.
	select {
	case <-slot.hijacked:
	case panicked := <-result:
		// net/http then logs the panic and closes the connection, as it
		// does for a panic in the handler goroutine.
		if panicked != nil {
			panic(panicked)
		}
	}
}

// serve runs gqlgen's transport for one connection, cancels the
// connection's context when it ends, and sends to result the value of a
// panic in it, or nil.
func (t detachedWebsocket) serve(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor,
	slot *connectionSlot, result chan<- any, cancel context.CancelFunc,
) {
	defer cancel()

	requestID := RequestID(r.Context())
	panicked := true

	defer func() {
		if !panicked {
			result <- nil

			return
		}

		value := recover()

		select {
		case <-slot.hijacked:
			t.logger.Error("WebSocket connection panicked", slog.String("request_id", requestID),
				slog.Any("panic", value), slog.String("stack", string(debug.Stack())))

			_ = slot.conn.Close()
		default:
		}

		result <- value
	}()

	t.Websocket.Do(w, r, exec)

	panicked = false
}
