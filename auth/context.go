package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
)

type contextKey struct{}

// caller is the identity that the request's Authorization header established: a user id,
// or the reason the presented token was rejected.
type caller struct {
	userID uuid.UUID
	err    error
}

// WithUser returns a context whose caller is userID.
func WithUser(ctx context.Context, userID uuid.UUID) context.Context {
	return context.WithValue(ctx, contextKey{}, caller{userID: userID})
}

// withError returns a context whose caller presented a token that failed verification.
func withError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, contextKey{}, caller{err: err})
}

// UserID returns the signed-in user's id, or an UNAUTHENTICATED error that
// gives the reason there is none.
func UserID(ctx context.Context) (uuid.UUID, error) {
	c, ok := ctx.Value(contextKey{}).(caller)
	if !ok {
		return uuid.Nil, apperr.New(apperr.Unauthenticated, "authentication required: send an Authorization: Bearer token")
	}

	if c.err != nil {
		return uuid.Nil, c.err
	}

	return c.userID, nil
}

// Middleware verifies the bearer token of each request and records the
// caller in the request's context. A request without a token goes on
// anonymously, and one with a bad token goes on carrying the error, so that
// GraphQL returns an UNAUTHENTICATED error rather than a bare 401.
func (t *Tokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, present := BearerToken(r.Header.Get("Authorization"))
		if !present {
			next.ServeHTTP(w, r)

			return
		}

		ctx := r.Context()
		if token == "" {
			ctx = withError(ctx, apperr.New(apperr.Unauthenticated,
				`invalid Authorization header: send "Authorization: Bearer <token>"`))
		} else if userID, err := t.Verify(token); err != nil {
			ctx = withError(ctx, err)
		} else {
			ctx = WithUser(ctx, userID)
		}

		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// BearerToken extracts the token from an Authorization header value. present
// is false when the header is empty. A header with another scheme, or
// without a token, yields an empty token.
func BearerToken(header string) (token string, present bool) {
	if header == "" {
		return "", false
	}

	scheme, value, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}

	return strings.TrimSpace(value), true
}
