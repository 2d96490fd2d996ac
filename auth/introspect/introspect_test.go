package introspect_test

import (
	"context"
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
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/introspect"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// endpoint is an RFC 7662 introspection endpoint: it authenticates the
// resource server, reads the form, and answers from a table.
type endpoint struct {
	clientID, secret string
	answers          map[string]map[string]any // token → answer
	calls            atomic.Int32
	gate             chan struct{} // when set, answers wait for it
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	if e.gate != nil {
		<-e.gate
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != e.clientID || secret != e.secret {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	ans, ok := e.answers[r.PostForm.Get("token")]
	if !ok {
		ans = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

func newEndpoint() *endpoint {
	return &endpoint{
		clientID: "resource server", secret: "s3cr=t&x",
		answers: map[string]map[string]any{
			"good":       {"active": true, "sub": "alice", "scope": "orders:read orders:write", "exp": t0.Add(time.Hour).Unix(), "iss": "https://idp.example", "aud": []string{"https://api.example"}, "roles": []string{"admin"}},
			"soon":       {"active": true, "sub": "bob", "exp": t0.Add(5 * time.Second).Unix(), "aud": "https://api.example"},
			"client":     {"active": true, "client_id": "batch-job", "aud": "https://api.example"},
			"expired":    {"active": true, "sub": "carol", "exp": t0.Add(-time.Second).Unix(), "aud": "https://api.example"},
			"future":     {"active": true, "sub": "dave", "nbf": t0.Add(time.Hour).Unix(), "aud": "https://api.example"},
			"other-aud":  {"active": true, "sub": "erin", "aud": "https://other.example"},
			"other-iss":  {"active": true, "sub": "frank", "iss": "https://evil.example", "aud": "https://api.example"},
			"no-subject": {"active": true, "aud": "https://api.example"},
			"refresh":    {"active": true, "sub": "gina", "token_type": "refresh_token", "aud": "https://api.example"},
		},
	}
}

type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.now.Store(t0.UnixNano())
	return c
}

func setup(t *testing.T, mod func(*introspect.Config)) (*introspect.Introspector, *endpoint, *clock) {
	t.Helper()
	ep := newEndpoint()
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	clk := newClock()
	cfg := introspect.Config{
		Endpoint: srv.URL, ClientID: ep.clientID, ClientSecret: ep.secret,
		Issuer: "https://idp.example", Audience: "https://api.example", Now: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	in, err := introspect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in, ep, clk
}

func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/orders", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		kind    error
		subject string
	}{
		{"active token", "good", nil, "alice"},
		{"client-credentials token without sub uses client_id", "client", nil, "batch-job"},
		{"forged token is inactive", "forged", auth.ErrInvalidToken, ""},
		{"active answer but expired", "expired", auth.ErrInvalidToken, ""},
		{"not yet valid", "future", auth.ErrInvalidToken, ""},
		{"token for another resource", "other-aud", auth.ErrInvalidToken, ""},
		{"token from another issuer", "other-iss", auth.ErrInvalidToken, ""},
		{"no subject at all", "no-subject", auth.ErrInvalidToken, ""},
		{"refresh token presented as access token", "refresh", auth.ErrInvalidToken, ""},
		{"no credentials", "", auth.ErrNoCredentials, ""},
		{"oversized token refused without a call", strings.Repeat("a", 9000), auth.ErrInvalidToken, ""},
		{"not token68", "a b", auth.ErrInvalidToken, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, ep, _ := setup(t, nil)
			p, err := in.Authenticate(bearerRequest(tc.token))
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("Authenticate = %v, %v; want %v", p, err, tc.kind)
				}
				if strings.HasPrefix(tc.name, "oversized") && ep.calls.Load() != 0 {
					t.Errorf("endpoint called %d times for an oversized token", ep.calls.Load())
				}
				return
			}
			if err != nil || p.Subject != tc.subject || p.Method != "introspection" {
				t.Fatalf("Authenticate = %+v, %v; want subject %s", p, err, tc.subject)
			}
		})
	}
}

func TestPrincipalFields(t *testing.T) {
	in, _, _ := setup(t, nil)
	p, err := in.Authenticate(bearerRequest("good"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer != "https://idp.example" || !p.HasScope("orders:write") || !p.HasRole("admin") ||
		!p.ExpiresAt.Equal(t0.Add(time.Hour)) || p.Claims["sub"] != "alice" {
		t.Errorf("principal = %+v", p)
	}
}

func TestMalformedRequests(t *testing.T) {
	in, _, _ := setup(t, nil)
	r := bearerRequest("good")
	r.Header.Add("Authorization", "Bearer other")
	if _, err := in.Authenticate(r); !errors.Is(err, auth.ErrInvalidRequest) {
		t.Errorf("two Authorization headers: %v, want ErrInvalidRequest", err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Basic dXNlcjpwdw==")
	if _, err := in.Authenticate(r); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("Basic credentials: %v, want ErrNoCredentials", err)
	}
	r.Header.Set("Authorization", "bearer good") // scheme is case-insensitive
	if _, err := in.Authenticate(r); err != nil {
		t.Errorf("lower-case scheme: %v", err)
	}
}

func TestCache(t *testing.T) {
	in, ep, clk := setup(t, nil)
	for range 3 {
		if _, err := in.Authenticate(bearerRequest("good")); err != nil {
			t.Fatal(err)
		}
	}
	if n := ep.calls.Load(); n != 1 {
		t.Errorf("3 uses of one token made %d calls, want 1", n)
	}
	clk.Advance(61 * time.Second) // past CacheTTL
	_, _ = in.Authenticate(bearerRequest("good"))
	if n := ep.calls.Load(); n != 2 {
		t.Errorf("after CacheTTL: %d calls, want 2", n)
	}

	// A token expiring in 5 s is cached for 5 s, not CacheTTL.
	_, _ = in.Authenticate(bearerRequest("soon"))
	clk.Advance(6 * time.Second)
	if _, err := in.Authenticate(bearerRequest("soon")); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("cached past exp: %v, want ErrInvalidToken", err)
	}

	// A flood of one bad token costs one call per NegativeTTL.
	before := ep.calls.Load()
	for range 50 {
		_, _ = in.Authenticate(bearerRequest("forged"))
	}
	if n := ep.calls.Load() - before; n != 1 {
		t.Errorf("50 uses of a bad token made %d calls, want 1", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	in, ep, _ := setup(t, func(c *introspect.Config) { c.MaxCacheEntries = 10 })
	for i := range 100 {
		_, _ = in.Authenticate(bearerRequest(fmt.Sprintf("random-%d", i)))
	}
	if got := in.CacheLen(); got > 10 {
		t.Errorf("cache holds %d entries, want at most 10", got)
	}
	if ep.calls.Load() != 100 {
		t.Errorf("calls = %d", ep.calls.Load())
	}
}

func TestEndpointFailuresFailClosed(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"JSON array", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[{"active":true}]`)) }},
		{"huge body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"active":true,"sub":"x","pad":"` + strings.Repeat("a", 100<<10) + `"}`))
		}},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusTemporaryRedirect)
		}},
		{"wrong type for active", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"active":"true","sub":"x"}`)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			in, err := introspect.New(introspect.Config{Endpoint: srv.URL, ClientID: "a", ClientSecret: "b"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := in.Authenticate(bearerRequest("tok"))
			if !errors.Is(err, auth.ErrUnavailable) {
				t.Errorf("Authenticate = %v, %v; want ErrUnavailable", p, err)
			}
		})
	}
	// Unreachable endpoint.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	in, _ := introspect.New(introspect.Config{Endpoint: srv.URL, ClientID: "a", ClientSecret: "b"})
	if _, err := in.Authenticate(bearerRequest("tok")); !errors.Is(err, auth.ErrUnavailable) || strings.Contains(err.Error(), "tok") {
		t.Errorf("unreachable: %v, want ErrUnavailable without the token", err)
	}
}

func TestClientSecretPost(t *testing.T) {
	in, _, _ := setup(t, func(c *introspect.Config) { c.AuthMethod = introspect.ClientSecretPost })
	if _, err := in.Authenticate(bearerRequest("good")); err != nil {
		t.Errorf("client_secret_post: %v", err)
	}
	bad, _, _ := setup(t, func(c *introspect.Config) { c.ClientSecret = "wrong" })
	if _, err := bad.Authenticate(bearerRequest("good")); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("rejected client credentials: %v, want ErrUnavailable", err)
	}
}

func TestJWTShapedTokensGoToJWT(t *testing.T) {
	var got string
	jwt := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
		got = r.Header.Get("Authorization")
		return &auth.Principal{Subject: "jwt-sub", Method: "jwt"}, nil
	})
	in, ep, _ := setup(t, func(c *introspect.Config) { c.JWT = jwt })
	// A JWS (three segments, even with a detached payload) or a JWE (five)
	// is the JWT verifier's, by the rule auth/jwt itself claims tokens by.
	for _, jose := range []string{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "a..c", "h.k.iv.ct.tag"} {
		got = ""
		p, err := in.Authenticate(bearerRequest(jose))
		if err != nil || p.Method != "jwt" || got == "" || ep.calls.Load() != 0 {
			t.Errorf("JWT-shaped token %q: %+v, %v, calls %d", jose, p, err, ep.calls.Load())
		}
	}
	for _, opaque := range []string{"good", "a.b", ".b.c", "a.b.c.d"} {
		_, _ = in.Authenticate(bearerRequest(opaque))
	}
	if ep.calls.Load() != 4 {
		t.Errorf("opaque tokens made %d calls, want 4", ep.calls.Load())
	}
}

func TestSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ep := newEndpoint()
		ep.gate = make(chan struct{})
		client := &http.Client{Transport: handlerTransport{ep}}
		in, err := introspect.New(introspect.Config{
			Endpoint: "https://idp.example/introspect", ClientID: ep.clientID, ClientSecret: ep.secret,
			HTTPClient: client, Now: func() time.Time { return t0 },
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var ok atomic.Int32
		for range 20 {
			wg.Go(func() {
				if _, err := in.Introspect(context.Background(), "good"); err == nil {
					ok.Add(1)
				}
			})
		}
		synctest.Wait() // all 20 are blocked: one in the endpoint, 19 waiting for it
		close(ep.gate)
		wg.Wait()
		if ep.calls.Load() != 1 || ok.Load() != 20 {
			t.Errorf("20 concurrent requests: %d calls, %d succeeded; want 1 call, 20 successes", ep.calls.Load(), ok.Load())
		}
	})
}

// handlerTransport serves requests in-process, so the single-flight test
// can run inside a synctest bubble (which has no network).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestConfigErrors(t *testing.T) {
	_, err := introspect.New(introspect.Config{Endpoint: "http://idp.example/introspect", AuthMethod: "private_key_jwt", Issuer: "ftp://x", MaxTokenBytes: -1})
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *auth.ConfigError
		if !errors.As(e, &ce) {
			t.Errorf("%v is not a *auth.ConfigError", e)
		}
		n++
	}
	if n != 5 {
		t.Errorf("got %d problems, want 5: %v", n, err)
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer good", "bearer a.b.c", "Bearer ", "Bearer a=b", "Bearer abc==", "Basic x", "Bearer  x", "Bearer a b"} {
		f.Add(s)
	}
	srv := httptest.NewServer(newEndpoint())
	defer srv.Close()
	in, err := introspect.New(introspect.Config{Endpoint: srv.URL, ClientID: "resource server", ClientSecret: "s3cr=t&x", MaxTokenBytes: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		p, err := in.Authenticate(r)
		if err == nil && p == nil {
			t.Fatal("nil principal without error")
		}
		if err == nil && p.Subject == "" {
			t.Fatalf("principal without subject for %q", h)
		}
	})
}

func TestTokenExtractor(t *testing.T) {
	in, ep, _ := setup(t, func(c *introspect.Config) {
		c.TokenExtractor = func(r *http.Request) (string, error) {
			if v := r.Header.Get("X-Access-Token"); v != "" {
				return v, nil
			}
			return "", auth.ErrNoCredentials
		}
	})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Access-Token", "good")
	if p, err := in.Authenticate(r); err != nil || p.Subject != "alice" {
		t.Fatalf("Authenticate = %v, %v; want alice", p, err)
	}
	if _, err := in.Authenticate(bearerRequest("good")); !errors.Is(err, auth.ErrNoCredentials) || ep.calls.Load() != 1 {
		t.Fatalf("Authorization header with an extractor = %v (calls %d), want ErrNoCredentials", err, ep.calls.Load())
	}
}
