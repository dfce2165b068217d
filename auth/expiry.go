package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AcceptedUntil returns when a token that Verify accepted stops being
// accepted: its expiry plus the configured leeway. It reads the exp claim
// without checking the signature again, so call it only after Verify.
func (t *Tokens) AcceptedUntil(token string) (time.Time, error) {
	// Verify remembers the expiry of every token it accepted.
	if cached, ok := t.verified.Get(token); ok {
		return cached.acceptedUntil, nil
	}

	var claims jwt.RegisteredClaims

	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		return time.Time{}, fmt.Errorf("read token expiry: %w", err)
	}

	if claims.ExpiresAt == nil {
		return time.Time{}, errors.New("read token expiry: the token has no exp claim")
	}

	return claims.ExpiresAt.Add(t.config.Leeway), nil
}
