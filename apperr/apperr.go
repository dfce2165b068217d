// Package apperr defines the errors that meetgraph shows to clients: a
// machine-readable code plus a message that is safe to show. Every other
// error is logged in full and shown to clients as INTERNAL.
package apperr

import (
	"errors"
	"fmt"
)

// Code is the value of a GraphQL error's extensions.code.
type Code string

const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Unavailable     Code = "UNAVAILABLE"
	// RateLimited answers a caller over the rate limit, with HTTP 429 and Retry-After.
	RateLimited Code = "RATE_LIMITED"
	Internal    Code = "INTERNAL"
)

// Error is an error whose message may be shown to the client as it is.
type Error struct {
	Code    Code
	Message string
	// Err is the underlying cause, logged but never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}

	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the given code and a message formatted like fmt.Sprintf.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the given code and client-safe message that
// keeps err as its cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}

	return Internal
}
