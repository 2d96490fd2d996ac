package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

const (
	apiAudience  = "https://orders.example"
	clientID     = "sid1"       // the example storage's client-credentials service user
	clientSecret = "verysecret" // #nosec G101 -- the example storage's fixed test secret
)

// signingKey is one RSA key of the provider, with its kid.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// rotatingStorage is zitadel's example storage with two changes a real
// deployment makes: the signing key can be rotated at runtime (the
// example's is fixed), and the client-credentials client gets JWT access
// tokens for this API's audience, with the granted scopes in a "scope"
// claim (the example issues opaque tokens and adds no scope claim).
type rotatingStorage struct {
	*storage.Storage
	mu      sync.Mutex
	current *signingKey
	n       int
}

func newKey(t *testing.T, n int) *signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{id: fmt.Sprintf("key-%d", n), key: k}
}

// rotate replaces the signing key; the old one leaves the JWK Set at once.
func (s *rotatingStorage) rotate(t *testing.T) string {
	k := newKey(t, s.n+1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.current = k
	return k.id
}

func (s *rotatingStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

func (s *rotatingStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *rotatingStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []op.Key{publicKey{s.current}}, nil
}

type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (s *rotatingStorage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

func (s *rotatingStorage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	if _, err := s.Storage.ClientCredentialsTokenRequest(ctx, id, scopes); err != nil {
		return nil, err
	}
	return &oidc.JWTTokenRequest{Subject: id, Audience: []string{apiAudience}, Scopes: scopes}, nil
}

func (s *rotatingStorage) GetPrivateClaimsFromScopes(_ context.Context, _, _ string, scopes []string) (map[string]any, error) {
	return map[string]any{"scope": strings.Join(scopes, " ")}, nil
}

// startProvider runs zitadel's OpenID provider on a loopback port.
func startProvider(t *testing.T) (issuer string, st *rotatingStorage) {
	srv := httptest.NewUnstartedServer(nil)
	issuer = "http://" + srv.Listener.Addr().String()
	st = &rotatingStorage{Storage: storage.NewStorage(storage.NewUserStore(issuer))}
	st.current = newKey(t, 0)
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatal(err)
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:          cryptoKey,
		AuthMethodPost:     true,
		SupportedUILocales: []language.Tag{language.English},
	}, st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = provider
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer, st
}

// clientCredentials obtains an access token from the provider.
func clientCredentials(t *testing.T, issuer, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequest(http.MethodPost, issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: status %d, %v", resp.StatusCode, err)
	}
	if strings.Count(tr.AccessToken, ".") != 2 {
		t.Fatalf("access token is not a JWT: %q", tr.AccessToken)
	}
	return tr.AccessToken
}

func call(t *testing.T, api, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body strings.Builder
	_, _ = fmt.Fprint(&body, resp.Header.Get("WWW-Authenticate"))
	if resp.StatusCode == http.StatusOK {
		var out struct{ Subject, Scopes string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Subject + " " + out.Scopes
	}
	return resp.StatusCode, body.String()
}

// TestRealProvider obtains tokens from a real OpenID provider by the
// client-credentials grant, calls an API protected by bulwark that found
// the provider's keys by OIDC discovery, then rotates the provider's
// signing key and shows the next token works without a restart while a
// token under the removed key is refused.
func TestRealProvider(t *testing.T) {
	issuer, st := startProvider(t)

	// The clock is real time plus a skew the test can move forward: the
	// refresh that an unknown kid triggers is rate-limited (at least
	// UnknownKeyRefresh apart), and the test moves time instead of
	// sleeping.
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	v, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     issuer,
			Audiences:  []string{apiAudience},
			Algorithms: []string{"RS256"},
			Discovery:  true,
			// zitadel signs its access tokens with typ "JWT", not RFC
			// 9068's "at+jwt", so the typ check must be off for this
			// issuer or none of its tokens would pass. What keeps its ID
			// tokens out instead is the audience: an ID token's aud is
			// the client it was issued to, never this API.
			DangerouslySkipTypeCheck: true,
			// Only this service client may call the API.
			RequiredClaims: map[string][]string{"client_id": {clientID}},
		}},
		UnknownKeyRefresh: time.Second,
		Now:               now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Close() }()
	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}})
	if err != nil {
		t.Fatal(err)
	}
	read, err := auth.RequireScopes("orders:read")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(authn.Handler(authn.Require(read)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"Subject": p.Subject, "Scopes": strings.Join(p.Scopes, ",")})
	}))))
	defer api.Close()

	first := clientCredentials(t, issuer, "orders:read")
	if code, got := call(t, api.URL, first); code != http.StatusOK || got != clientID+" orders:read" {
		t.Fatalf("first token: %d %q, want 200 %q", code, got, clientID+" orders:read")
	}
	// A token without the route's scope is authenticated but refused.
	if code, got := call(t, api.URL, clientCredentials(t, issuer, "orders:write")); code != http.StatusForbidden ||
		!strings.Contains(got, `error="insufficient_scope"`) {
		t.Fatalf("token without orders:read: %d %q, want 403 insufficient_scope", code, got)
	}

	newKid := st.rotate(t)
	skew.Add(int64(2 * time.Second))
	second := clientCredentials(t, issuer, "orders:read")
	if !strings.Contains(decodeHeader(t, second), `"kid":"`+newKid+`"`) {
		t.Fatalf("the provider did not sign with the rotated key %s", newKid)
	}
	if code, got := call(t, api.URL, second); code != http.StatusOK {
		t.Fatalf("token under the rotated key: %d %q, want 200 without a restart", code, got)
	}
	// The provider dropped the old key from its JWK Set, so its token,
	// though unexpired and once accepted, is now refused.
	if code, got := call(t, api.URL, first); code != http.StatusUnauthorized || !strings.Contains(got, `error="invalid_token"`) {
		t.Fatalf("token under the removed key: %d %q, want 401 invalid_token", code, got)
	}
	// Tampering is still caught with the real provider's keys.
	forged := second[:strings.LastIndexByte(second, '.')+1] + strings.Repeat("A", 342)
	if code, _ := call(t, api.URL, forged); code != http.StatusUnauthorized {
		t.Fatalf("forged signature: %d, want 401", code)
	}
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify(forged) = %v, want ErrInvalidToken", err)
	}

	// With the RFC 9068 typ check on (the gateway's require_typ default),
	// the provider's typ "JWT" tokens are refused, and the client is told
	// why in fixed words, with nothing of the token in the answer.
	strict, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{{
		Issuer: issuer, Audiences: []string{apiAudience}, Algorithms: []string{"RS256"}, Discovery: true,
	}}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = strict.Close() }()
	strictAuthn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{strict}})
	if err != nil {
		t.Fatal(err)
	}
	strictAPI := httptest.NewServer(strictAuthn.Handler(http.NotFoundHandler()))
	defer strictAPI.Close()
	const wantTyp = `Bearer error="invalid_token", error_description="typ must be at+jwt"`
	code, got := call(t, strictAPI.URL, second)
	if code != http.StatusUnauthorized || got != wantTyp {
		t.Fatalf("typ JWT token with the typ check on: %d %q, want 401 %q", code, got, wantTyp)
	}
	for _, seg := range strings.Split(second, ".") {
		if len(seg) >= 8 && strings.Contains(got, seg[:8]) {
			t.Fatalf("the challenge %q carries part of the token", got)
		}
	}
}

func decodeHeader(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
