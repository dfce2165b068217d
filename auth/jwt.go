// Package auth verifies bearer tokens and carries the caller's identity
// through a request's context.
package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/meetgraph/meetgraph/apperr"
)

// DevSecret is the HS256 secret used when the operator passes --dev and sets
// no secret. Tokens signed with it are worthless outside a laptop.
const DevSecret = "meetgraph-development-secret-not-for-production"

// MinSecretLength is the shortest HS256 secret accepted, in bytes: RFC 7518
// requires a key at least as long as the hash output (256 bits).
const MinSecretLength = 32

// TokenConfig sets how tokens are signed and checked: with PublicKey set,
// tokens must be RS256 and Secret is not used; otherwise they must be HS256
// with Secret.
type TokenConfig struct {
	// Secret is the HS256 key.
	Secret []byte
	// PublicKey verifies RS256 tokens issued by an identity provider.
	PublicKey *rsa.PublicKey
	// PrivateKey signs RS256 tokens; only the token command needs it.
	PrivateKey *rsa.PrivateKey
	// Issuer, when set, is written to the iss claim and required on verification.
	Issuer string
	// Audience, when set, is written to the aud claim and required on verification.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
}

// verifiedCacheSize bounds the tokens that Verify remembers: about 300
// bytes each, so at most a few MiB.
const verifiedCacheSize = 10_000

// Tokens signs and verifies meetgraph's JWTs.
type Tokens struct {
	config TokenConfig
	method jwt.SigningMethod
	parser *jwt.Parser
	now    func() time.Time
	// verified maps each token that passed every check to its user and the
	// end of its validity, so that a client's next requests skip the
	// signature check and the claims' JSON. The key cannot change while the
	// process runs, so an entry stays true until the token expires.
	verified *lru.Cache[string, verifiedToken]
}

type verifiedToken struct {
	userID uuid.UUID
	// acceptedUntil is the exp claim plus the leeway.
	acceptedUntil time.Time
}

// NewTokens checks config and returns a Tokens.
func NewTokens(config TokenConfig) (*Tokens, error) {
	method := jwt.SigningMethod(jwt.SigningMethodHS256)

	switch {
	case config.PublicKey != nil:
		method = jwt.SigningMethodRS256
		if config.PublicKey.N.BitLen() < 2048 {
			return nil, fmt.Errorf("JWT public key has %d bits; RS256 needs at least 2048", config.PublicKey.N.BitLen())
		}
	case len(config.Secret) < MinSecretLength:
		return nil, fmt.Errorf("JWT secret is %d bytes long, but it must be at least %d", len(config.Secret), MinSecretLength)
	}

	// Only the configured algorithm is accepted, so that a token cannot pick
	// HS256 and use the public key as its secret.
	tokens := &Tokens{config: config, method: method, now: time.Now}

	verified, err := lru.New[string, verifiedToken](verifiedCacheSize)
	if err != nil {
		return nil, fmt.Errorf("create token cache: %w", err)
	}

	tokens.verified = verified

	options := []jwt.ParserOption{
		jwt.WithTimeFunc(func() time.Time { return tokens.now() }),
		jwt.WithValidMethods([]string{method.Alg()}),
		jwt.WithLeeway(config.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if config.Issuer != "" {
		options = append(options, jwt.WithIssuer(config.Issuer))
	}

	if config.Audience != "" {
		options = append(options, jwt.WithAudience(config.Audience))
	}

	tokens.parser = jwt.NewParser(options...)

	return tokens, nil
}

// verificationKey is the key that checks signatures for the configured algorithm.
func (t *Tokens) verificationKey() any {
	if t.config.PublicKey != nil {
		return t.config.PublicKey
	}

	return t.config.Secret
}

// signingKey is the key that signs tokens, or an error when meetgraph only
// verifies tokens that another service issues.
func (t *Tokens) signingKey() (any, error) {
	if t.config.PublicKey == nil {
		return t.config.Secret, nil
	}

	if t.config.PrivateKey == nil {
		return nil, errors.New("tokens are RS256: set the private key file to sign one")
	}

	return t.config.PrivateKey, nil
}

// Sign returns a token for userID that expires after ttl.
func (t *Tokens) Sign(userID uuid.UUID, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   userID.String(),
		Issuer:    t.config.Issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	if t.config.Audience != "" {
		claims.Audience = jwt.ClaimStrings{t.config.Audience}
	}

	key, err := t.signingKey()
	if err != nil {
		return "", err
	}

	signed, err := jwt.NewWithClaims(t.method, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}

	return signed, nil
}

// Verify checks a token and returns the user id in its subject. Every
// failure is an UNAUTHENTICATED *apperr.Error whose message states what is
// wrong with the token.
func (t *Tokens) Verify(token string) (uuid.UUID, error) {
	now := t.now()

	if cached, ok := t.verified.Get(token); ok {
		// iat and nbf were in the past when the token was checked and still
		// are, so only the expiry can have changed.
		if now.Before(cached.acceptedUntil) {
			return cached.userID, nil
		}

		t.verified.Remove(token)
	}

	var claims jwt.RegisteredClaims

	_, err := t.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return t.verificationKey(), nil
	})
	if err != nil {
		return uuid.Nil, apperr.Wrap(err, apperr.Unauthenticated, describeTokenError(err))
	}

	userID, err := uuid.Parse(claims.Subject)
	if err != nil {
		return uuid.Nil, apperr.Wrap(err, apperr.Unauthenticated, "invalid token: the subject is not a user id")
	}

	// The parser requires exp, so ExpiresAt is set.
	t.verified.Add(token, verifiedToken{userID: userID, acceptedUntil: claims.ExpiresAt.Add(t.config.Leeway)})

	return userID, nil
}

func describeTokenError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "invalid token signature"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "invalid token issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid token audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token is missing a required claim"
	default:
		return "invalid token"
	}
}
