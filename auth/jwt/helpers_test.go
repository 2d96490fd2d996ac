package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/secevent"
)

const (
	testIssuer   = "https://idp.example"
	testAudience = "https://api.example"
)

// t0 is the fixed time the tests run at.
var t0 = time.Unix(1_800_000_000, 0)

// keys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
	hs     []byte
	evil   *rsa.PrivateKey // the attacker's own key
	evilEC *ecdsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  *testKeys
)

func keys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		k := &testKeys{hs: []byte("0123456789abcdef0123456789abcdef")}
		var err error
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.evil, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if k.evilEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
		keysVal = k
	})
	return keysVal
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw assembles a compact JWS from literal header and payload JSON, so
// tests can send exactly the bytes an attacker would.
func signRaw(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	sig, err := jwsbb.Sign(key, alg, []byte(in), rand.Reader)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// claims returns valid access-token claims at t0, with overrides; a nil
// override value deletes the claim.
func claims(over map[string]any) string {
	c := map[string]any{
		"iss":       testIssuer,
		"sub":       "user-1",
		"aud":       testAudience,
		"exp":       t0.Add(5 * time.Minute).Unix(),
		"iat":       t0.Add(-time.Minute).Unix(),
		"jti":       "id-1",
		"client_id": "client-1",
		"scope":     "orders:read orders:write",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func header(alg, kid string) string {
	h := map[string]string{"alg": alg, "typ": "at+jwt"}
	if kid != "" {
		h["kid"] = kid
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// token signs valid claims (with overrides) with the named test key.
func token(t testing.TB, kid string, over map[string]any) string {
	t.Helper()
	k := keys(t)
	switch kid {
	case "rsa1":
		return signRaw(t, "RS256", k.rsa, header("RS256", kid), claims(over))
	case "ec1":
		return signRaw(t, "ES256", k.ec, header("ES256", kid), claims(over))
	case "ed1":
		return signRaw(t, "EdDSA", k.ed, header("EdDSA", kid), claims(over))
	case "hs1":
		return signRaw(t, "HS256", k.hs, header("HS256", kid), claims(over))
	}
	t.Fatalf("no test key %q", kid)
	return ""
}

// staticIssuer is the test issuer with one key of each family.
func staticIssuer(t testing.TB) jwt.Issuer {
	k := keys(t)
	return jwt.Issuer{
		Issuer:     testIssuer,
		Audiences:  []string{testAudience},
		Algorithms: []string{"RS256", "ES256", "EdDSA", "HS256"},
		Keys: []jwt.Key{
			{ID: "rsa1", Algorithm: "RS256", Key: &k.rsa.PublicKey},
			{ID: "ec1", Algorithm: "ES256", Key: &k.ec.PublicKey},
			{ID: "ed1", Algorithm: "EdDSA", Key: k.ed.Public()},
			{ID: "hs1", Algorithm: "HS256", Key: k.hs},
		},
	}
}

func newVerifier(t testing.TB, cfg jwt.Config) *jwt.Verifier {
	t.Helper()
	if cfg.Issuers == nil {
		cfg.Issuers = []jwt.Issuer{staticIssuer(t)}
	}
	if cfg.Now == nil {
		cfg.Now = newClock().Now
	}
	v, err := jwt.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// recorder collects security events.
type recorder struct {
	mu     sync.Mutex
	events []secevent.Event
}

func (r *recorder) Record(_ context.Context, e secevent.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// serve runs req through auth.New(v).Handler and returns the response and
// the events emitted.
func serve(t testing.TB, v *jwt.Verifier, req *http.Request) (*httptest.ResponseRecorder, []secevent.Event) {
	t.Helper()
	a, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}, Realm: "api"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	req = req.WithContext(secevent.NewContext(req.Context(), rec))
	w := httptest.NewRecorder()
	a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_, _ = w.Write([]byte(p.Subject))
	})).ServeHTTP(w, req)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return w, append([]secevent.Event(nil), rec.events...)
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://api.example/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// jwksJSON renders public keys as a JWK Set.
func jwksJSON(t testing.TB, entries ...jwkEntry) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, e := range entries {
		k, err := jwk.Import(e.key)
		if err != nil {
			t.Fatal(err)
		}
		_ = k.Set(jwk.KeyIDKey, e.kid)
		if e.alg != "" {
			_ = k.Set(jwk.AlgorithmKey, e.alg)
		}
		_ = k.Set(jwk.KeyUsageKey, "sig")
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jwkEntry struct {
	kid, alg string
	key      any
}
