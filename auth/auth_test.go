package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/secevent"
)

// bearer is a test authenticator over a fixed table of tokens. It is not a
// mock of a token format: it stands for any Authenticator.
type bearer map[string]*auth.Principal

func (b bearer) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return nil, auth.ErrNoCredentials
	}
	if len(h) > 1 {
		return nil, auth.Malformed("several Authorization headers")
	}
	tok, ok := strings.CutPrefix(h[0], "Bearer ")
	if !ok {
		return nil, auth.ErrNoCredentials
	}
	if tok == "provider-down" {
		return nil, auth.Unavailable("jwks unreachable", errors.New("dial tcp: refused"))
	}
	if p, ok := b[tok]; ok {
		return p, nil
	}
	return nil, auth.Invalid("unknown token", nil)
}

type apiKeys map[string]*auth.Principal

func (k apiKeys) Authenticate(r *http.Request) (*auth.Principal, error) {
	v := r.Header.Get("X-API-Key")
	if v == "" {
		return nil, auth.ErrNoCredentials
	}
	if p, ok := k[v]; ok {
		return p, nil
	}
	return nil, auth.Invalid("unknown key", nil)
}

func (apiKeys) Scheme() string { return "ApiKey" }

type events struct {
	mu    sync.Mutex
	names []string
	ids   []secevent.Identity
}

func (e *events) Record(_ context.Context, ev secevent.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names = append(e.names, ev.Name)
}

func (e *events) Identify(_ context.Context, id secevent.Identity) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
}

var (
	reader = &auth.Principal{Subject: "svc-reader", Issuer: "https://idp.example", Method: "jwt", Scopes: []string{"orders:read"}}
	admin  = &auth.Principal{Subject: "alice", Issuer: "https://idp.example", Method: "jwt", Scopes: []string{"orders:read"}, Roles: []string{"admin"}}
	keyed  = &auth.Principal{Subject: "key-1", Issuer: "apikey", Method: "apikey", Scopes: []string{"orders:read", "orders:write"}}
)

func newAuth(t *testing.T, cfg auth.Config) *auth.Auth {
	t.Helper()
	if cfg.Authenticators == nil {
		cfg.Authenticators = []auth.Authenticator{
			bearer{"reader": reader, "admin": admin},
			apiKeys{"k1": keyed},
		}
	}
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func TestHandler(t *testing.T) {
	a := newAuth(t, auth.Config{Realm: "orders", ResourceMetadata: "https://api.example/.well-known/oauth-protected-resource"})
	pol, err := auth.Compile("orders:read and (orders:write or role(admin))")
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_, _ = w.Write([]byte(p.Subject))
	})
	h := a.Handler(a.Require(pol)(app))

	const meta = `resource_metadata="https://api.example/.well-known/oauth-protected-resource"`
	tests := []struct {
		name      string
		headers   map[string][]string
		status    int
		challenge []string
		event     string
		body      string
	}{
		{"no credentials: bare challenges, no error code", nil, 401,
			[]string{`Bearer realm="orders", ` + meta, `ApiKey realm="orders", ` + meta}, "", ""},
		{"invalid token", map[string][]string{"Authorization": {"Bearer forged"}}, 401,
			[]string{`Bearer error="invalid_token", realm="orders", ` + meta}, secevent.AuthnTokenInvalid, ""},
		{"two Authorization headers is a malformed request", map[string][]string{"Authorization": {"Bearer reader", "Bearer admin"}}, 400,
			[]string{`Bearer error="invalid_request", error_description="several Authorization headers", realm="orders", ` + meta}, secevent.AuthnTokenInvalid, ""},
		{"valid token without the scope", map[string][]string{"Authorization": {"Bearer reader"}}, 403,
			[]string{`Bearer error="insufficient_scope", scope="orders:read orders:write", realm="orders", ` + meta}, secevent.AuthzFail, ""},
		{"role satisfies the policy", map[string][]string{"Authorization": {"Bearer admin"}}, 200, nil, "", "alice"},
		{"second authenticator", map[string][]string{"X-API-Key": {"k1"}}, 200, nil, "", "key-1"},
		{"bad bearer is not rescued by a valid API key", map[string][]string{"Authorization": {"Bearer forged"}, "X-API-Key": {"k1"}}, 401,
			[]string{`Bearer error="invalid_token", realm="orders", ` + meta}, secevent.AuthnTokenInvalid, ""},
		{"provider down fails closed with 503", map[string][]string{"Authorization": {"Bearer provider-down"}}, 503, nil, secevent.AuthnTokenInvalid, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{}
			r := httptest.NewRequest("GET", "/orders", nil)
			r = r.WithContext(secevent.NewContext(r.Context(), ev))
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(tc.challenge, "|") {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if tc.event != "" && (len(ev.names) != 1 || ev.names[0] != tc.event) {
				t.Errorf("events = %v, want [%s]", ev.names, tc.event)
			}
			if tc.event == "" && len(ev.names) != 0 {
				t.Errorf("events = %v, want none", ev.names)
			}
			if tc.status == 200 {
				if rec.Body.String() != tc.body {
					t.Errorf("body = %q, want %q", rec.Body, tc.body)
				}
				if len(ev.ids) != 1 || ev.ids[0].Subject != tc.body {
					t.Errorf("identities = %v, want one for %s", ev.ids, tc.body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var pb map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &pb); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			for _, leak := range []string{"forged", "unknown token", "jwks", "dial tcp", "orders:write"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("problem body leaks %q: %s", leak, rec.Body)
				}
			}
		})
	}
}

func TestNilPrincipalWithoutErrorFailsClosed(t *testing.T) {
	a := newAuth(t, auth.Config{Authenticators: []auth.Authenticator{
		auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) { return nil, nil }),
	}})
	called := false
	rec := httptest.NewRecorder()
	a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).
		ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if called || rec.Code != 401 {
		t.Errorf("called=%v status=%d, want refused with 401", called, rec.Code)
	}
}

// A foreign error from a custom authenticator must not reach the client.
func TestForeignErrorIsHidden(t *testing.T) {
	a := newAuth(t, auth.Config{Authenticators: []auth.Authenticator{
		auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) {
			return nil, errors.New("pq: password authentication failed for user admin")
		}),
	}})
	rec := httptest.NewRecorder()
	a.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 || strings.Contains(rec.Body.String(), "pq:") {
		t.Errorf("status=%d body=%s, want 401 without the error text", rec.Code, rec.Body)
	}
}

func TestRequireWithoutHandlerRefuses(t *testing.T) {
	a := newAuth(t, auth.Config{})
	pol, _ := auth.RequireScopes("orders:read")
	rec := httptest.NewRecorder()
	a.Require(pol)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 {
		t.Errorf("Require without Handler: status %d, want 401", rec.Code)
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(auth.NewContext(r.Context(), admin))
	a.Require(nil)(http.NotFoundHandler()).ServeHTTP(rec, r)
	if rec.Code != 403 {
		t.Errorf("Require(nil): status %d, want 403", rec.Code)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		cfg    auth.Config
		fields []string
	}{
		{"no authenticators", auth.Config{}, []string{"Authenticators"}},
		{"nil authenticator", auth.Config{Authenticators: []auth.Authenticator{nil}}, []string{"Authenticators"}},
		{"bad realm", auth.Config{Authenticators: []auth.Authenticator{bearer{}}, Realm: `a"b`}, []string{"Realm"}},
		{"http metadata URL", auth.Config{Authenticators: []auth.Authenticator{bearer{}}, ResourceMetadata: "http://api.example/meta"}, []string{"ResourceMetadata"}},
		{"all at once", auth.Config{Realm: "\n", ResourceMetadata: "ftp://x"}, []string{"Authenticators", "Realm", "ResourceMetadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.New(tc.cfg)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *auth.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("%v is not a *ConfigError", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	for s, ok := range map[string]bool{
		"https://idp.example":            true,
		"https://idp.example/realms/a":   true,
		"http://127.0.0.1:8080":          true,
		"http://[::1]:8080/x":            true,
		"http://localhost:9000":          true,
		"http://idp.example":             false,
		"http://127.0.0.1.evil.example/": false,
		"https://user:pw@idp.example":    false,
		"/relative":                      false,
		"ftp://idp.example":              false,
		"":                               false,
	} {
		if err := auth.CheckURL(s); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		auth.Invalid("x", nil):        401,
		auth.Malformed("x"):           400,
		auth.Unavailable("x", nil):    503,
		auth.ErrNoCredentials:         401,
		auth.NotMine("x"):             401,
		&auth.ScopeError{Policy: "x"}: 403,
	} {
		if got := auth.StatusCode(err); got != want {
			t.Errorf("StatusCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestCredentialsOptional: without a credential a request goes on as
// anonymous; with one, it is judged exactly as without the option: a bad,
// malformed, unrecognized or unjudgeable credential is never waved through
// as "anonymous".
func TestCredentialsOptional(t *testing.T) {
	a := newAuth(t, auth.Config{CredentialsOptional: true, Authenticators: []auth.Authenticator{
		bearer{"reader": reader}, shaped{prefix: "x_", p: keyed},
	}})
	pol, _ := auth.RequireScopes("orders:read")
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := auth.PrincipalFromContext(r.Context()); ok {
			_, _ = w.Write([]byte(p.Subject))
			return
		}
		_, _ = w.Write([]byte("anonymous"))
	})
	mux := http.NewServeMux()
	mux.Handle("/public", who)
	mux.Handle("/orders", a.Require(pol)(who))
	h := a.Handler(mux)
	tests := []struct {
		name, path string
		auth       []string
		status     int
		body       string
	}{
		{"no credential: anonymous", "/public", nil, 200, "anonymous"},
		{"valid credential", "/public", []string{"Bearer reader"}, 200, "svc-reader"},
		{"bad credential still refused", "/public", []string{"Bearer forged"}, 401, ""},
		{"bad credential of a recognizer still refused", "/public", []string{"Bearer x_bad"}, 401, ""},
		{"two credentials still refused", "/public", []string{"Bearer reader", "Bearer reader"}, 400, ""},
		{"provider down is not anonymous", "/public", []string{"Bearer provider-down"}, 503, ""},
		{"a route that needs a caller refuses anonymous", "/orders", nil, 401, ""},
		{"a route that needs a caller, with one", "/orders", []string{"Bearer reader"}, 200, "svc-reader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			for _, v := range tc.auth {
				r.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || (tc.status == 200 && w.Body.String() != tc.body) {
				t.Fatalf("status %d body %q, want %d %q", w.Code, w.Body, tc.status, tc.body)
			}
			if tc.status == 401 && tc.auth == nil && w.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("anonymous on a protected route: WWW-Authenticate %q, want a bare challenge", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("a credential no authenticator takes is refused, not anonymous", func(t *testing.T) {
		a := newAuth(t, auth.Config{CredentialsOptional: true, Authenticators: []auth.Authenticator{shaped{prefix: "x_", p: keyed}, shaped{prefix: "y_", p: admin}}})
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer something-else")
		w := httptest.NewRecorder()
		a.Handler(who).ServeHTTP(w, r)
		if w.Code != 401 {
			t.Fatalf("status %d body %q, want 401", w.Code, w.Body)
		}
	})
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name string
		hdr  []string
		tok  string
		want error
	}{
		{"none", nil, "", auth.ErrNoCredentials},
		{"bearer", []string{"Bearer abc"}, "abc", nil},
		{"scheme in any case, spaces", []string{"bEARER   abc"}, "abc", nil},
		{"another scheme", []string{"Basic dTpw"}, "", auth.ErrNoCredentials},
		{"no token", []string{"Bearer"}, "", auth.ErrInvalidRequest},
		{"empty token", []string{"Bearer  "}, "", auth.ErrInvalidRequest},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", auth.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.hdr != nil {
				r.Header["Authorization"] = tc.hdr
			}
			tok, err := auth.BearerToken(r)
			if tok != tc.tok || (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("BearerToken = %q, %v; want %q, %v", tok, err, tc.tok, tc.want)
			}
		})
	}
}

// FuzzBearerToken: whatever the header, BearerToken returns a non-empty
// token that ends the header, from a Bearer scheme only, or a typed error.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Bearer", "Bearer ", "Basic x", "", " Bearer x", "Bearer\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, err := auth.BearerToken(r)
		if err != nil {
			if !errors.Is(err, auth.ErrNoCredentials) && !errors.Is(err, auth.ErrInvalidRequest) {
				t.Fatalf("BearerToken(%q) = %v, want no-credentials or invalid-request", h, err)
			}
			return
		}
		if tok == "" || tok[0] == ' ' || !strings.HasSuffix(h, tok) || !strings.EqualFold(h[:6], "bearer") || h[6] != ' ' {
			t.Fatalf("BearerToken(%q) = %q", h, tok)
		}
	})
}

// TestErrorDescriptionIsFromAClosedSet: error_description carries a fixed
// phrase for a reason the auth package knows ("expired"), and nothing for
// one it does not: an authenticator's reason built from the request, the
// token or its own state never reaches the client, in any header or the
// body.
func TestErrorDescriptionIsFromAClosedSet(t *testing.T) {
	const tok = "tok-3f9a-secret-bytes"
	for _, tc := range []struct {
		name      string
		err       error
		challenge string
	}{
		{"a known reason", auth.Invalid("expired", nil), `Bearer error="invalid_token", error_description="token expired", realm="api"`},
		{"a known reason wrapped by the chain", auth.Invalid("recognized credential disowned", auth.Invalid("expired", nil)), `Bearer error="invalid_token", realm="api"`},
		{"a reason made of the token", auth.Invalid("expired "+tok, nil), `Bearer error="invalid_token", realm="api"`},
		{"a reason that tries to add a parameter", auth.Invalid(`x", error_description="come in`, nil), `Bearer error="invalid_token", realm="api"`},
		{"a malformed request with a known reason", auth.Malformed("several Authorization headers"), `Bearer error="invalid_request", error_description="several Authorization headers", realm="api"`},
		{"a malformed request with a reason made of the token", auth.Malformed("two tokens: " + tok), `Bearer error="invalid_request", realm="api"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuth(t, auth.Config{Realm: "api", Authenticators: []auth.Authenticator{
				auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) { return nil, tc.err }),
			}})
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			a.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			for name, vals := range rec.Header() {
				if strings.Contains(strings.Join(vals, " "), tok) {
					t.Errorf("header %s = %q carries the token", name, vals)
				}
			}
			if strings.Contains(rec.Body.String(), tok) {
				t.Errorf("body %s carries the token", rec.Body)
			}
		})
	}
}
