package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/apperr"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func newTestTokens(t *testing.T, config TokenConfig) *Tokens {
	t.Helper()

	if config.Secret == nil {
		config.Secret = []byte(testSecret)
	}

	tokens, err := NewTokens(config)
	require.NoError(t, err)

	return tokens
}

func TestTokensRoundTrip(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{Issuer: "meetgraph", Audience: "meetgraph"})
	userID := uuid.New()

	token, err := tokens.Sign(userID, time.Hour)
	require.NoError(t, err)

	got, err := tokens.Verify(token)
	require.NoError(t, err)
	require.Equal(t, userID, got)
}

func TestTokensRejectShortSecret(t *testing.T) {
	t.Parallel()

	_, err := NewTokens(TokenConfig{Secret: []byte("short")})
	require.ErrorContains(t, err, "at least 32")
}

func TestVerifySaysWhatIsWrong(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{Issuer: "meetgraph", Audience: "meetgraph"})
	userID := uuid.New()

	sign := func(claims jwt.RegisteredClaims, method jwt.SigningMethod, key any) string {
		token, err := jwt.NewWithClaims(method, claims).SignedString(key)
		require.NoError(t, err)

		return token
	}
	valid := func() jwt.RegisteredClaims {
		return jwt.RegisteredClaims{
			Subject: userID.String(), Issuer: "meetgraph", Audience: jwt.ClaimStrings{"meetgraph"},
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}
	}

	expired := valid()
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	noExpiry := valid()
	noExpiry.ExpiresAt = nil
	wrongIssuer := valid()
	wrongIssuer.Issuer = "someone-else"
	wrongAudience := valid()
	wrongAudience.Audience = jwt.ClaimStrings{"another-service"}
	badSubject := valid()
	badSubject.Subject = "alice"

	cases := []struct {
		name, token, message string
	}{
		{"expired", sign(expired, jwt.SigningMethodHS256, []byte(testSecret)), "token expired"},
		{"malformed", "not.a.jwt", "malformed token"},
		{"wrong key", sign(valid(), jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32))), "invalid token signature"},
		{"none algorithm", sign(valid(), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), "invalid token signature"},
		{"wrong issuer", sign(wrongIssuer, jwt.SigningMethodHS256, []byte(testSecret)), "invalid token issuer"},
		{"wrong audience", sign(wrongAudience, jwt.SigningMethodHS256, []byte(testSecret)), "invalid token audience"},
		{"no expiry", sign(noExpiry, jwt.SigningMethodHS256, []byte(testSecret)), "missing a required claim"},
		{"subject not a user id", sign(badSubject, jwt.SigningMethodHS256, []byte(testSecret)), "subject is not a user id"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			_, err := tokens.Verify(tc.token)
			require.Error(t, err)
			require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err))
			require.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestMiddlewareRecordsCaller(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{})
	userID := uuid.New()
	token, err := tokens.Sign(userID, time.Hour)
	require.NoError(t, err)

	cases := []struct {
		name, header string
		wantUser     uuid.UUID
		wantMessage  string
	}{
		{"valid token", "Bearer " + token, userID, ""},
		{"lower-case scheme", "bearer " + token, userID, ""},
		{"no header", "", uuid.Nil, "authentication required"},
		{"basic scheme", "Basic dXNlcjpwYXNz", uuid.Nil, "Authorization: Bearer <token>"},
		{"token without scheme", token, uuid.Nil, "Authorization: Bearer <token>"},
		{"scheme without token", "Bearer", uuid.Nil, "Authorization: Bearer <token>"},
		{"garbage token", "Bearer xyz", uuid.Nil, "malformed token"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			var (
				gotUser uuid.UUID
				gotErr  error
			)

			handler := tokens.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				gotUser, gotErr = UserID(r.Context())
			}))

			request := httptest.NewRequest(http.MethodPost, "/query", nil)
			if tc.header != "" {
				request.Header.Set("Authorization", tc.header)
			}

			handler.ServeHTTP(httptest.NewRecorder(), request)

			require.Equal(t, tc.wantUser, gotUser)

			if tc.wantMessage == "" {
				require.NoError(t, gotErr)

				return
			}

			require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(gotErr))
			require.Contains(t, gotErr.Error(), tc.wantMessage)
		})
	}
}

func TestRS256Tokens(t *testing.T) {
	t.Parallel()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	signer := newTestTokens(t, TokenConfig{PublicKey: &key.PublicKey, PrivateKey: key, Issuer: "idp"})
	verifier := newTestTokens(t, TokenConfig{PublicKey: &key.PublicKey, Issuer: "idp"})
	userID := uuid.New()

	token, err := signer.Sign(userID, time.Hour)
	require.NoError(t, err)

	got, err := verifier.Verify(token)
	require.NoError(t, err)
	require.Equal(t, userID, got)

	_, err = verifier.Sign(userID, time.Hour)
	require.ErrorContains(t, err, "private key")

	// An HS256 token keyed with the public key's bytes must not pass.
	confused := newTestTokens(t, TokenConfig{Secret: key.PublicKey.N.Bytes(), Issuer: "idp"})
	forged, err := confused.Sign(userID, time.Hour)
	require.NoError(t, err)

	_, err = verifier.Verify(forged)
	require.Error(t, err)
	require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err))
}

func TestRS256RejectsShortKey(t *testing.T) {
	t.Parallel()

	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	_, err = NewTokens(TokenConfig{PublicKey: &key.PublicKey})
	require.ErrorContains(t, err, "at least 2048")
}

func TestVerifyRejectsCachedTokenAfterExpiry(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{Leeway: time.Second})
	start := time.Now()
	clock := start
	tokens.now = func() time.Time { return clock }

	userID := uuid.New()
	token, err := tokens.Sign(userID, time.Minute)
	require.NoError(t, err)

	for range 2 {
		got, err := tokens.Verify(token)
		require.NoError(t, err)
		require.Equal(t, userID, got)
	}

	require.Equal(t, 1, tokens.verified.Len())

	clock = start.Add(time.Minute + 2*time.Second)

	_, err = tokens.Verify(token)
	require.ErrorContains(t, err, "token expired")
	require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err))
	require.Zero(t, tokens.verified.Len())
}

func TestVerifyCachesOnlyAcceptedTokens(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{})
	token, err := tokens.Sign(uuid.New(), time.Hour)
	require.NoError(t, err)

	tampered := token[:len(token)-2] + "xx"
	if tampered == token {
		tampered = token[:len(token)-2] + "yy"
	}

	for range 2 {
		_, err = tokens.Verify(tampered)
		require.ErrorContains(t, err, "invalid token signature")
	}

	require.Zero(t, tokens.verified.Len())
}

func TestAcceptedUntilIsExpiryPlusLeeway(t *testing.T) {
	t.Parallel()

	tokens := newTestTokens(t, TokenConfig{Leeway: 5 * time.Second})
	token, err := tokens.Sign(uuid.New(), time.Hour)
	require.NoError(t, err)

	parsed, err := tokens.AcceptedUntil(token)
	require.NoError(t, err)

	_, err = tokens.Verify(token)
	require.NoError(t, err)

	cached, err := tokens.AcceptedUntil(token)
	require.NoError(t, err)
	require.True(t, parsed.Equal(cached), "parsed %s, cached %s", parsed, cached)
	require.WithinDuration(t, time.Now().Add(time.Hour+5*time.Second), cached, 2*time.Second)
}
