package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/secevent"
)

// jwksServer is a real loopback JWKS endpoint whose answer the test
// changes, counting the requests it gets.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	fn   http.HandlerFunc
}

func newJWKSServer(t *testing.T, fn http.HandlerFunc) *jwksServer {
	s := &jwksServer{fn: fn}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		fn := s.fn
		s.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(fn http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = fn
}

func serveJSON(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

func remoteIssuer(url string) jwt.Issuer {
	return jwt.Issuer{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256", "ES256"}, JWKSURL: url}
}

func TestRandomKidFloodIsRateLimited(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, serveJSON(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})))
	clk := newClock()
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(srv.URL)}, Now: clk.Now})
	if _, err := v.Verify(context.Background(), token(t, "rsa1", nil)); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tk := signRaw(t, "RS256", k.evil, header("RS256", fmt.Sprintf("random-%d-%d", time.Now().UnixNano(), i)), claims(nil))
				w, events := serve(t, v, bearer(tk))
				if w.Code != 401 || w.Header().Get("WWW-Authenticate") != invalidToken || len(events) != 1 || events[0].Name != secevent.AuthnTokenInvalid || events[0].Reason != "unknown key id" {
					t.Errorf("random kid: status %d, events %+v; want 401 unknown key id", w.Code, events)
				}
			})
		}
		wg.Wait()
	}
	flood(200)
	// The initial fetch, plus at most one refresh for the burst.
	if got := srv.hits.Load(); got > 2 {
		t.Errorf("JWKS fetched %d times during the flood, want at most 2", got)
	}
	before := srv.hits.Load()
	clk.Advance(jwt.DefaultUnknownKeyRefresh)
	flood(200)
	if got := srv.hits.Load() - before; got > 1 {
		t.Errorf("JWKS fetched %d times in the next interval, want at most 1", got)
	}
	// The flood did not lock out the real key.
	if _, err := v.Verify(context.Background(), token(t, "rsa1", map[string]any{"jti": "after-flood"})); err != nil {
		t.Errorf("valid token after the flood: %v", err)
	}
}

func TestKeyRotationAndRemoval(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, serveJSON(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})))
	clk := newClock()
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(srv.URL)}, Now: clk.Now})
	old := token(t, "rsa1", nil)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("token under the first key: %v", err)
	}
	// The provider rotates to a new key and drops the old one.
	srv.set(serveJSON(jwksJSON(t, jwkEntry{kid: "ec1", alg: "ES256", key: &k.ec.PublicKey})))
	clk.Advance(jwt.DefaultUnknownKeyRefresh)
	if _, err := v.Verify(context.Background(), token(t, "ec1", nil)); err != nil {
		t.Fatalf("token under the new key, no restart: %v", err)
	}
	// The old key is gone from the set: its token, though cached, is
	// refused.
	_, err := v.Verify(context.Background(), old)
	checkReason(t, err, "unknown key id")
}

func TestJWKSUnavailable(t *testing.T) {
	k := keys(t)
	good := jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name string
		fn   http.HandlerFunc
	}{
		{"JWKS endpoint down", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }},
		{"JWKS endpoint slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}},
		{"JWKS huge with Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", 1<<20) + `]}`))
		}},
		{"JWKS huge, chunked", func(w http.ResponseWriter, _ *http.Request) {
			for range 64 {
				_, _ = w.Write([]byte(strings.Repeat(" ", 32<<10)))
				w.(http.Flusher).Flush()
			}
		}},
		{"JWKS not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"JWKS redirects to plain http", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://jwks.example/keys", http.StatusFound)
		}},
		{"JWKS with only encryption keys", serveJSON([]byte(strings.Replace(string(good), `"use":"sig"`, `"use":"enc"`, 1)))},
		{"JWKS with key_ops lacking verify", serveJSON([]byte(strings.Replace(string(good), `"use":"sig"`, `"key_ops":["encrypt"]`, 1)))},
		{"JWKS with only symmetric keys", serveJSON([]byte(`{"keys":[{"kty":"oct","kid":"rsa1","alg":"HS256","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.fn)
			v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(srv.URL)}, FetchTimeout: 300 * time.Millisecond})
			w, events := serve(t, v, bearer(token(t, "rsa1", nil)))
			if w.Code != http.StatusServiceUnavailable {
				t.Errorf("status = %d, want 503", w.Code)
			}
			if h := w.Header().Get("WWW-Authenticate"); h != "" {
				t.Errorf("WWW-Authenticate = %q, want none: the token was not judged", h)
			}
			if len(events) != 1 || events[0].Name != secevent.AuthnTokenInvalid || events[0].Reason != "no keys from the issuer yet" {
				t.Errorf("events = %+v", events)
			}
		})
	}

	t.Run("last known good while down", func(t *testing.T) {
		srv := newJWKSServer(t, serveJSON(good))
		clk := newClock()
		v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(srv.URL)}, Now: clk.Now, CacheSize: -1})
		if _, err := v.Verify(context.Background(), token(t, "rsa1", nil)); err != nil {
			t.Fatal(err)
		}
		srv.set(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		clk.Advance(time.Minute)
		before := srv.hits.Load()
		// An unknown kid makes it try the provider, which fails...
		_, err := v.Verify(context.Background(), token(t, "ec1", nil))
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("unknown kid while down = %v, want invalid token", err)
		}
		if srv.hits.Load() == before {
			t.Error("the provider was not asked about the unknown kid")
		}
		// ...and the known key keeps working.
		if _, err := v.Verify(context.Background(), token(t, "rsa1", nil)); err != nil {
			t.Errorf("known key while the provider is down: %v", err)
		}
	})
}

func TestDiscovery(t *testing.T) {
	k := keys(t)
	var srv *jwksServer
	issuerField := func() string { return srv.URL }
	srv = newJWKSServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, issuerField(), srv.URL+"/keys")
		case "/keys":
			_, _ = w.Write(jwksJSON(t, jwkEntry{kid: "rsa1", key: &k.rsa.PublicKey})) // no alg: inferred, RS256 being the only RSA algorithm allowed
		default:
			http.NotFound(w, r)
		}
	})
	is := jwt.Issuer{Issuer: srv.URL, Audiences: []string{testAudience}, Algorithms: []string{"RS256"}, Discovery: true}
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{is}})
	if _, err := v.Verify(context.Background(), token(t, "rsa1", map[string]any{"iss": srv.URL})); err != nil {
		t.Fatalf("token via discovery: %v", err)
	}

	t.Run("metadata naming another issuer", func(t *testing.T) {
		issuerField = func() string { return "https://evil.example" }
		v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{is}})
		_, err := v.Verify(context.Background(), token(t, "rsa1", map[string]any{"iss": srv.URL}))
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("Verify = %v, want ErrUnavailable", err)
		}
	})
}

// TestBackgroundRefreshFollowsCacheControl runs in a synctest bubble, so
// the hours of refresh schedule pass instantly. The transport is in
// memory: bubbles cannot wait on real sockets.
func TestBackgroundRefreshFollowsCacheControl(t *testing.T) {
	k := keys(t)
	body := jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})
	tests := []struct {
		name         string
		cacheControl string
		want         time.Duration
	}{
		{"max-age within bounds", "public, max-age=600", 10 * time.Minute},
		{"max-age below the floor", "max-age=10", jwt.DefaultRefreshFloor},
		{"max-age above the ceiling", "max-age=86400", jwt.DefaultRefreshCeiling},
		{"no-store", "no-store", jwt.DefaultRefreshFloor},
		{"no Cache-Control", "", jwt.DefaultRefreshCeiling},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var hits atomic.Int32
				client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
					hits.Add(1)
					w := httptest.NewRecorder()
					if tc.cacheControl != "" {
						w.Header().Set("Cache-Control", tc.cacheControl)
					}
					_, _ = w.Write(body)
					return w.Result(), nil
				})}
				v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{remoteIssuer("https://idp.example/jwks")}, HTTPClient: client})
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = v.Close() }()
				synctest.Wait()
				if got := hits.Load(); got != 1 {
					t.Fatalf("fetches at start = %d, want 1", got)
				}
				time.Sleep(tc.want - time.Second)
				synctest.Wait()
				if got := hits.Load(); got != 1 {
					t.Fatalf("fetches just before %v = %d, want 1", tc.want, got)
				}
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if got := hits.Load(); got != 2 {
					t.Fatalf("fetches just after %v = %d, want 2", tc.want, got)
				}
			})
		})
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestJWKSKeyRecords(t *testing.T) {
	k := keys(t)
	srv := newJWKSServer(t, serveJSON(jwksJSON(t,
		jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey},
		jwkEntry{kid: "ec1", key: &k.ec.PublicKey}, // no alg: P-256 fits only ES256
		jwkEntry{kid: "ed1", alg: "EdDSA", key: k.ed.Public()},
		jwkEntry{kid: "evil", alg: "RS384", key: &k.evil.PublicKey}, // alg not allowed: left out
	)))
	is := remoteIssuer(srv.URL)
	is.Algorithms = []string{"RS256", "ES256", "EdDSA"} // not RS384
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{is}})
	tests := []struct {
		name   string
		tok    string
		reason string
	}{
		{"RSA key with alg", token(t, "rsa1", nil), ""},
		{"EC key without alg", token(t, "ec1", nil), ""},
		{"Ed25519 key", token(t, "ed1", nil), ""},
		{"key whose alg is not allowed", signRaw(t, "RS384", k.evil, header("RS384", "evil"), claims(nil)), "algorithm not allowed"},
		{"kid of a key left out of the set", signRaw(t, "RS256", k.evil, header("RS256", "evil"), claims(nil)), "unknown key id"},
		{"ES256 header on the RSA key", signRaw(t, "ES256", k.evilEC, header("ES256", "rsa1"), claims(nil)), "unknown key id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.tok)
			checkReason(t, err, tc.reason)
		})
	}
}

func TestParserErrorsAreTyped(t *testing.T) {
	v := newVerifier(t, jwt.Config{})
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"oversized", strings.Repeat("a", 9000), jwt.ErrTokenTooLarge},
		{"two segments", "a.b", jwt.ErrTokenShape},
		{"duplicate header member", b64(`{"alg":"RS256","alg":"RS256"}`) + "." + b64(claims(nil)) + ".AA", jwt.ErrHeader},
		{"duplicate claim", b64(header("RS256", "rsa1")) + "." + b64(`{"iss":"a","iss":"b"}`) + ".AA", jwt.ErrClaims},
		{"expired", token(t, "rsa1", map[string]any{"exp": t0.Add(-time.Hour).Unix()}), jwt.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.tok)
			if !errors.Is(err, tc.want) || !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want %v and auth.ErrInvalidToken", err, tc.want)
			}
		})
	}
}

func TestReady(t *testing.T) {
	if err := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{staticIssuer(t)}}).Ready(); err != nil {
		t.Errorf("static keys: Ready() = %v", err)
	}
	k := keys(t)
	down := newJWKSServer(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(down.URL)}})
	_, _ = serve(t, v, bearer(token(t, "rsa1", nil)))
	if err := v.Ready(); err == nil {
		t.Error("Ready() = nil before any key set could be fetched")
	}
	down.set(serveJSON(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})))
	up := newJWKSServer(t, serveJSON(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})))
	v2 := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(up.URL)}})
	if rec, _ := serve(t, v2, bearer(token(t, "rsa1", nil))); rec.Code != http.StatusOK {
		t.Fatalf("token against a live JWKS: %d", rec.Code)
	}
	if err := v2.Ready(); err != nil {
		t.Errorf("after a fetch: Ready() = %v", err)
	}
}
