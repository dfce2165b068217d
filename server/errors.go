package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/meetgraph/meetgraph/apperr"
)

// presentError decides what a client sees of a resolver error: an
// *apperr.Error keeps its message and code, errors that gqlgen made while
// parsing or validating keep theirs, and anything else is logged in full and
// shown as INTERNAL with the request id that finds the log line.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)

		if appErr, ok := errors.AsType[*apperr.Error](err); ok {
			presented.Message = appErr.Message
			setCode(presented, appErr.Code)

			return presented
		}

		if presented.Extensions["code"] != nil {
			return presented
		}

		// The request's deadline (MEETGRAPH_REQUEST_TIMEOUT) passed while a
		// resolver waited: the client may retry, perhaps asking for less.
		if errors.Is(err, context.DeadlineExceeded) {
			logger.WarnContext(ctx, "resolver timed out",
				slog.String("request_id", RequestID(ctx)),
				slog.String("path", presented.Path.String()),
				slog.Any("error", err))

			presented.Message = "request timed out: the server stopped it at its time limit; retry, or ask for less"
			setCode(presented, apperr.Unavailable)

			return presented
		}

		// The client went away, or its WebSocket operation ended, while a
		// resolver ran: nothing failed on the server's side.
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			logger.InfoContext(ctx, "resolver stopped: request cancelled",
				slog.String("request_id", RequestID(ctx)),
				slog.String("path", presented.Path.String()))

			presented.Message = "request cancelled"
			setCode(presented, apperr.Unavailable)

			return presented
		}

		requestID := RequestID(ctx)
		logger.ErrorContext(ctx, "resolver failed",
			slog.String("request_id", requestID),
			slog.String("path", presented.Path.String()),
			slog.Any("error", err))

		presented.Message = "internal error"
		setCode(presented, apperr.Internal)
		presented.Extensions["requestId"] = requestID

		return presented
	}
}

// recoverPanic turns a resolver panic into an INTERNAL error after logging
// the panic value with the request id.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, value any) error {
		logger.ErrorContext(ctx, "resolver panicked",
			slog.String("request_id", RequestID(ctx)),
			slog.Any("panic", value))

		return errors.New("resolver panicked")
	}
}

func setCode(err *gqlerror.Error, code apperr.Code) {
	if err.Extensions == nil {
		err.Extensions = map[string]any{}
	}

	err.Extensions["code"] = string(code)
}
