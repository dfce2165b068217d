package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/internal/testenv"
	"github.com/meetgraph/meetgraph/store"
)

// writeRSAKeys writes a fresh key pair as PEM files and returns their paths.
func writeRSAKeys(t *testing.T) (publicFile, privateFile string) {
	t.Helper()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	publicDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)

	dir := t.TempDir()
	publicFile = filepath.Join(dir, "jwt.pub.pem")
	privateFile = filepath.Join(dir, "jwt.key.pem")

	require.NoError(t, os.WriteFile(publicFile,
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER}), 0o600))
	require.NoError(t, os.WriteFile(privateFile,
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))

	return publicFile, privateFile
}

func TestRS256TokensEndToEnd(t *testing.T) {
	t.Parallel()

	publicFile, privateFile := writeRSAKeys(t)
	databaseURL := testenv.DatabaseURL(t)

	hs256 := startSystem(t, databaseURL)
	hs256.command(t, "seed")
	hs256Token := strings.TrimSpace(hs256.command(t, "token", "--user", "alice@example.com"))

	s := startSystem(t, databaseURL, "--jwt-public-key-file", publicFile)
	rs256Token := strings.TrimSpace(s.command(t, "token", "--user", "alice@example.com",
		"--jwt-public-key-file", publicFile, "--jwt-private-key-file", privateFile))

	allowed := testenv.PostGraphQL(t, s.baseURL+"/query", rs256Token, `{ me { name } }`, nil)
	require.Empty(t, allowed.Errors)
	require.JSONEq(t, `{"me": {"name": "Alice Archer"}}`, string(allowed.Data))

	refused := testenv.PostGraphQL(t, s.baseURL+"/query", hs256Token, `{ me { name } }`, nil)
	require.Len(t, refused.Errors, 1)
	require.Equal(t, "UNAUTHENTICATED", refused.Errors[0].Code())
	require.Contains(t, refused.Errors[0].Message, "signature")
}

func TestExpiredTokenIsUnauthenticated(t *testing.T) {
	t.Parallel()

	s := startSystem(t, testenv.DatabaseURL(t), "--jwt-leeway", "0s")
	s.command(t, "seed")
	claims := jwt.RegisteredClaims{
		Subject:   store.SeedID("user:alice").String(),
		Issuer:    "meetgraph",
		Audience:  jwt.ClaimStrings{"meetgraph"},
		IssuedAt:  jwt.NewNumericDate(time.Now().Add(-time.Hour)),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute)),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(auth.DevSecret))
	require.NoError(t, err)

	response := testenv.PostGraphQL(t, s.baseURL+"/query", token, `{ me { name } }`, nil)
	require.Equal(t, 200, response.Status, "an expired token is a GraphQL error, never a 500")
	require.Len(t, response.Errors, 1)
	require.Equal(t, "UNAUTHENTICATED", response.Errors[0].Code())
	require.Equal(t, "token expired", response.Errors[0].Message)
}

func TestTokenRejectsTTLUnderSecond(t *testing.T) {
	t.Parallel()

	// JWT times count whole seconds, so a shorter token expires as it is
	// issued.
	for _, ttl := range []string{"0s", "1ns", "999ms"} {
		err := run(t.Context(), []string{"token", "--dev", "--user", "alice@example.com", "--ttl", ttl},
			&strings.Builder{}, &strings.Builder{})
		require.ErrorContains(t, err, "--ttl is "+ttl, ttl)
	}
}
