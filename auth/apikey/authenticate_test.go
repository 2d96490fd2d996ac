package apikey_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/secevent"
)

func TestMemoryStoreConformance(t *testing.T) {
	apikeytest.TestStore(t, func(*testing.T) apikey.Store { return apikey.NewMemoryStore() })
}

func TestAuthenticatePrincipal(t *testing.T) {
	f := newFixture(t, nil)
	key, rec := f.create(t, apikey.Spec{
		Name: "billing", Owner: "team-a", Scopes: []string{"invoices:read"}, Roles: []string{"service"},
		Tier: "gold", Metadata: map[string]string{"env": "prod"}, TTL: time.Hour,
	})
	p, err := f.keys.Authenticate(bearer(key))
	if err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	if p.Subject != "apikey:"+rec.ID || p.Method != "api_key" || p.Issuer != "apikey" {
		t.Errorf("principal %q/%q/%q, want apikey:%s/api_key/apikey", p.Subject, p.Method, p.Issuer, rec.ID)
	}
	if !p.HasScope("invoices:read") || !p.HasRole("service") || !p.ExpiresAt.Equal(rec.ExpiresAt) {
		t.Errorf("principal %+v lacks the key's scopes, roles or expiry", p)
	}
	if p.Claims["tier"] != "gold" || p.Claims["name"] != "billing" || p.Claims["key_id"] != rec.ID {
		t.Errorf("principal claims = %v", p.Claims)
	}
	if tier, ok := apikey.Tier(auth.NewContext(t.Context(), p)); !ok || tier != "gold" {
		t.Errorf("Tier = %q, %v; want gold", tier, ok)
	}
	if _, ok := apikey.Tier(auth.NewContext(t.Context(), &auth.Principal{Method: "jwt", Claims: map[string]any{"tier": "gold"}})); ok {
		t.Error("Tier read a tier from a JWT principal")
	}
	if !strings.HasPrefix(key, rec.Start) || len(rec.Start) != len(prefix)+1+apikey.StartLen {
		t.Errorf("Start %q is not the start of the key", rec.Start)
	}
}

// TestStoredDigestIsPepperedHMAC: the store never sees the key, only
// HMAC-SHA256 under the pepper; unpeppered mode stores SHA-256.
func TestStoredDigestIsPepperedHMAC(t *testing.T) {
	f := newFixture(t, nil)
	key, rec := f.create(t, apikey.Spec{})
	if rec.Digest == apikey.Digest(sha256.Sum256([]byte(key))) {
		t.Error("peppered store holds plain SHA-256")
	}
	g := newFixture(t, func(c *apikey.Config) { c.Pepper, c.InsecureNoPepper = nil, true })
	key, rec = g.create(t, apikey.Spec{})
	if rec.Digest != apikey.Digest(sha256.Sum256([]byte(key))) {
		t.Error("InsecureNoPepper store does not hold SHA-256 of the key")
	}
	if _, err := g.keys.Authenticate(bearer(key)); err != nil {
		t.Errorf("unpeppered Authenticate = %v", err)
	}
}

// TestPepperRotation: keys made under a retired pepper keep working while
// it is listed in PreviousPeppers, and stop when it is removed.
func TestPepperRotation(t *testing.T) {
	store := apikey.NewMemoryStore()
	oldPepper := apikeytest.Pepper()
	newPepper := []byte("a-completely-different-pepper-0123456789")
	mk := func(p []byte, prev ...[]byte) *apikey.Keys {
		k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: p, PreviousPeppers: prev, LastUsedInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	key, _, err := mk(oldPepper).Create(t.Context(), apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk(newPepper, oldPepper).Authenticate(bearer(key)); err != nil {
		t.Errorf("with the old pepper in PreviousPeppers, Authenticate = %v", err)
	}
	if _, err := mk(newPepper).Authenticate(bearer(key)); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("after the old pepper is dropped, Authenticate = %v, want ErrNotFound", err)
	}
}

func TestAuthenticateSources(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*apikey.Config)
		req   func(key string) *http.Request
		want  error // nil: accepted
		label string
	}{
		{"bearer", nil, bearer, nil, ""},
		{"bearer lowercase scheme", nil, func(k string) *http.Request {
			r := bearer(k)
			r.Header.Set("Authorization", "bearer "+k)
			return r
		}, nil, ""},
		{"no credentials", nil, func(string) *http.Request { return httptest.NewRequest("GET", "/", nil) }, auth.ErrNoCredentials, ""},
		{"basic scheme is not ours", nil, func(string) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.SetBasicAuth("u", "p")
			return r
		}, auth.ErrNoCredentials, ""},
		{"a JWT is not ours", nil, func(string) *http.Request { return bearer("eyJhbGciOiJIUzI1NiJ9.e30.sig") }, auth.ErrNotMine, ""},
		{"two Authorization headers", nil, func(k string) *http.Request {
			r := bearer(k)
			r.Header.Add("Authorization", "Bearer "+k)
			return r
		}, auth.ErrInvalidRequest, ""},
		{"x-api-key", func(c *apikey.Config) { c.Header = "X-API-Key" }, func(k string) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-Api-Key", k)
			return r
		}, nil, ""},
		{"x-api-key ignores Authorization", func(c *apikey.Config) { c.Header = "X-API-Key" }, bearer, auth.ErrNoCredentials, ""},
		{"x-api-key garbage", func(c *apikey.Config) { c.Header = "X-API-Key" }, func(string) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("X-API-Key", "hunter2")
			return r
		}, apikey.ErrMalformedKey, ""},
		{"query allowed", func(c *apikey.Config) { c.InsecureQueryParam = "api_key" }, func(k string) *http.Request {
			return httptest.NewRequest("GET", "/?api_key="+k, nil)
		}, nil, ""},
		{"query and header", func(c *apikey.Config) { c.InsecureQueryParam = "api_key" }, func(k string) *http.Request {
			r := httptest.NewRequest("GET", "/?api_key="+k, nil)
			r.Header.Set("Authorization", "Bearer "+k)
			return r
		}, auth.ErrInvalidRequest, ""},
		{"query twice", func(c *apikey.Config) { c.InsecureQueryParam = "api_key" }, func(k string) *http.Request {
			return httptest.NewRequest("GET", "/?api_key="+k+"&api_key="+k, nil)
		}, auth.ErrInvalidRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mod)
			key, _ := f.create(t, apikey.Spec{})
			p, err := f.keys.Authenticate(tc.req(key))
			if tc.want == nil {
				if err != nil || p == nil {
					t.Fatalf("Authenticate = %v, %v; want a principal", p, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCacheServesRepeatedKeys(t *testing.T) {
	f := newFixture(t, nil)
	key, _ := f.create(t, apikey.Spec{})
	for range 100 {
		if _, err := f.keys.Authenticate(bearer(key)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.store.lookups.Load(); n != 1 {
		t.Errorf("100 requests with one key caused %d lookups, want 1", n)
	}
	f.clock.Advance(apikey.DefaultCacheTTL)
	if _, err := f.keys.Authenticate(bearer(key)); err != nil {
		t.Fatal(err)
	}
	if n := f.store.lookups.Load(); n != 2 {
		t.Errorf("after CacheTTL, lookups = %d, want 2", n)
	}
}

// TestCacheBounded: more keys than CacheSize still all authenticate.
func TestCacheBounded(t *testing.T) {
	f := newFixture(t, func(c *apikey.Config) { c.CacheSize = 4 })
	var keys []string
	for range 10 {
		k, _ := f.create(t, apikey.Spec{})
		keys = append(keys, k)
	}
	for range 3 {
		for _, k := range keys {
			if _, err := f.keys.Authenticate(bearer(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := f.store.lookups.Load(); n < 10 || n > 30 {
		t.Errorf("lookups = %d, want between 10 and 30", n)
	}
}

// TestStoreDownFailsClosed: a store error refuses with 503, never lets the
// request through.
func TestStoreDownFailsClosed(t *testing.T) {
	f := newFixture(t, nil)
	key, _ := f.create(t, apikey.Spec{})
	f.store.fail = errors.New("connection refused")
	_, err := f.keys.Authenticate(bearer(key))
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Authenticate with the store down = %v, want ErrUnavailable", err)
	}
	rec := httptest.NewRecorder()
	f.keys.Handler(http.NotFoundHandler()).ServeHTTP(rec, bearer(key))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "connection refused") {
		t.Errorf("Handler with the store down: %d %s", rec.Code, rec.Body)
	}
}

// TestHandlerRefusal: 401, a Bearer challenge, a problem body that echoes
// nothing, and a security event with a reason but not the key.
func TestHandlerRefusal(t *testing.T) {
	f := newFixture(t, nil)
	key, _ := f.create(t, apikey.Spec{})
	bad := key[:len(key)-1] + flip(key[len(key)-1])
	ev := &events{}
	h := f.keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_, _ = w.Write([]byte(p.Subject))
	}))
	for _, tc := range []struct {
		name, key string
		code      int
	}{{"valid", key, 200}, {"bad checksum", bad, 401}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := bearer(tc.key)
			h.ServeHTTP(rec, r.WithContext(secevent.NewContext(r.Context(), ev)))
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d", rec.Code, tc.code)
			}
			if tc.code == 200 {
				if !strings.HasPrefix(rec.Body.String(), apikey.SubjectPrefix) {
					t.Errorf("handler saw subject %q", rec.Body)
				}
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != float64(401) {
				t.Errorf("body %s is not a 401 problem: %v", rec.Body, err)
			}
			if strings.Contains(rec.Body.String(), tc.key[len(prefix):]) || strings.Contains(rec.Body.String(), "checksum") {
				t.Errorf("body %s echoes the key or the reason", rec.Body)
			}
		})
	}
	got := ev.named(secevent.AuthnTokenInvalid)
	if len(got) != 1 || got[0].Reason != "bad key checksum" {
		t.Fatalf("events = %+v, want one authn_token_invalid with reason", ev.all())
	}
	for _, a := range got[0].Attrs {
		if strings.Contains(a.Value.String(), bad[len(prefix):]) {
			t.Errorf("event contains the presented key")
		}
	}
}

// TestChainPassesForeignBearerTokens: in an auth chain, a Bearer token that
// is not an API key goes to the next authenticator.
func TestChainPassesForeignBearerTokens(t *testing.T) {
	f := newFixture(t, nil)
	other := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
		if r.Header.Get("Authorization") == "Bearer eyJ.jwt.sig" {
			return &auth.Principal{Subject: "jwt-user", Method: "jwt"}, nil
		}
		return nil, auth.ErrNoCredentials
	})
	a, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{f.keys, other}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(bearer("eyJ.jwt.sig"))
	if err != nil || p.Subject != "jwt-user" {
		t.Fatalf("chain Authenticate(jwt) = %v, %v", p, err)
	}
}

func TestCloseFlushesLastUsed(t *testing.T) {
	store := apikey.NewMemoryStore()
	clock := apikeytest.NewClock()
	k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: apikeytest.Pepper(), Now: clock.Now, LastUsedInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	key, rec, err := k.Create(t.Context(), apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Authenticate(bearer(key)); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(t.Context(), rec.ID); !got.LastUsedAt.Equal(clock.Now()) {
		t.Errorf("after Close LastUsedAt = %v, want %v", got.LastUsedAt, clock.Now())
	}
	if err := k.Close(t.Context()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := k.Authenticate(bearer(key)); err != nil {
		t.Errorf("Authenticate after Close = %v", err)
	}
}

// TestConcurrentAuthenticateAndClose: requests racing with Close and Flush
// (run with -race).
func TestConcurrentAuthenticateAndClose(t *testing.T) {
	store := apikey.NewMemoryStore()
	k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: apikeytest.Pepper(), LastUsedInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := k.Create(t.Context(), apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				if _, err := k.Authenticate(bearer(key)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	_ = k.Flush(t.Context())
	if err := k.Close(t.Context()); err != nil {
		t.Error(err)
	}
	for range 4 {
		<-done
	}
}

// TestRevocationIgnoresClockSkew: a key revoked by an instance whose clock
// is ahead is refused at once, not when this clock catches up.
func TestRevocationIgnoresClockSkew(t *testing.T) {
	f := newFixture(t, func(c *apikey.Config) { c.CacheSize = -1 })
	key, rec := f.create(t, apikey.Spec{})
	if err := f.store.Revoke(t.Context(), rec.ID, f.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Authenticate(bearer(key)); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("Authenticate(revoked by a clock ahead) = %v, want ErrRevoked", err)
	}
}
