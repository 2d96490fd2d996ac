package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/introspect"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// The chain tests put the three real authenticators side by side, as an
// API that accepts JWT access tokens, opaque tokens and API keys does, with
// a real (loopback) introspection endpoint that records every token it is
// sent.

var (
	chainKey = ed25519.NewKeyFromSeed([]byte("bulwark chain test signing key!!"))
	chainNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

const (
	chainIssuer   = "https://idp.example"
	chainAudience = "https://api.example"
	chainOpaque   = "2YotnFZFEjr1zCsicMWpAA"
	chainPrefix   = "bwk_live"
)

// signedJWT issues an access token with the given extra claims.
func signedJWT(t testing.TB, extra string) string {
	t.Helper()
	hdr := `{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}`
	claims := fmt.Sprintf(`{"iss":%q,"sub":"checkout","aud":%q,"iat":%d,"exp":%d%s}`,
		chainIssuer, chainAudience, chainNow.Unix(), chainNow.Add(5*time.Minute).Unix(), extra)
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(claims))
	sig, err := jwsbb.Sign(chainKey, "EdDSA", []byte(in), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

// introspectionServer is an RFC 7662 endpoint that knows one active opaque
// token and records every token posted to it.
type introspectionServer struct {
	*httptest.Server
	mu       sync.Mutex
	received []string
	answers  map[string]map[string]any
}

func newIntrospectionServer(t testing.TB) *introspectionServer {
	s := &introspectionServer{answers: map[string]map[string]any{
		chainOpaque: {"active": true, "sub": "reporting-job", "scope": "orders:read", "aud": chainAudience},
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		tok := r.PostForm.Get("token")
		s.mu.Lock()
		s.received = append(s.received, tok)
		ans, ok := s.answers[tok]
		s.mu.Unlock()
		if !ok {
			ans = map[string]any{"active": false}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *introspectionServer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.received
	s.received = nil
	return out
}

// chainFixture holds one of each authenticator.
type chainFixture struct {
	jwt        *jwt.Verifier
	introspect *introspect.Introspector
	apikey     *apikey.Keys
	server     *introspectionServer
	key        string // a valid API key
	keyID      string
}

func newChainFixture(t testing.TB) *chainFixture {
	t.Helper()
	now := func() time.Time { return chainNow }
	v, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: chainIssuer, Audiences: []string{chainAudience}, Algorithms: []string{"EdDSA"},
			Keys: []jwt.Key{{ID: "k1", Algorithm: "EdDSA", Key: chainKey.Public()}},
		}},
		Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	srv := newIntrospectionServer(t)
	in, err := introspect.New(introspect.Config{
		Endpoint: srv.URL, ClientID: "orders-api", ClientSecret: "secret", Audience: chainAudience, Now: now,
		CacheTTL: -1, NegativeTTL: -1, // every judgement reaches the endpoint, so the test sees all it is sent
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.New(apikey.Config{
		Store: apikey.NewMemoryStore(), Prefix: chainPrefix, Pepper: []byte("chain-test-pepper-0123456789abcdef"),
		Now: now, LastUsedInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close(t.Context()) })
	key, rec, err := keys.Create(t.Context(), apikey.Spec{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	return &chainFixture{jwt: v, introspect: in, apikey: keys, server: srv, key: key, keyID: rec.ID}
}

func (f *chainFixture) authenticator(name string) auth.Authenticator {
	switch name {
	case "jwt":
		return f.jwt
	case "introspect":
		return f.introspect
	}
	return f.apikey
}

// orders returns every ordering of every non-empty subset of names.
func orders(names []string) [][]string {
	var out [][]string
	var walk func(prefix []string)
	walk = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, slices.Clone(prefix))
		}
		for _, n := range names {
			if !slices.Contains(prefix, n) {
				walk(append(prefix, n))
			}
		}
	}
	walk(nil)
	return out
}

// TestChainEveryOrderEveryCredential: every ordering of {jwt, introspect,
// apikey} (and of every subset) against every kind of credential, in
// Authorization: Bearer. A credential is accepted exactly when its owner is
// in the chain, whatever the order; and the introspection endpoint — a
// third party — is never sent a credential that another authenticator of
// the chain owns: not a JWT, not an API key, not a mistyped one of either.
//
// Before, the documented chain {jwt, apikey} refused every valid API key
// (the JWT verifier took any bearer value as its own and refused it), and
// an introspector placed before the key authenticator posted API keys to
// the authorization server.
func TestChainEveryOrderEveryCredential(t *testing.T) {
	f := newChainFixture(t)
	good := signedJWT(t, `,"scope":"orders:read"`)
	forged := good[:len(good)-4] + "AAAA"
	mistyped := f.key[:len(f.key)-1] + map[bool]string{true: "A", false: "B"}[f.key[len(f.key)-1] != 'A']
	otherPrefix := otherPrefixKey(t)
	creds := []struct {
		name, value string
		owner       string // the authenticator whose credential it is; "" for none
		subject     string // the accepted subject; "" if it must be refused
	}{
		{"JWT", good, "jwt", "checkout"},
		{"opaque token", chainOpaque, "introspect", "reporting-job"},
		{"API key", f.key, "apikey", apikey.SubjectPrefix + f.keyID},
		{"garbage", "not a token at all", "", ""},
		{"forged JWT", forged, "jwt", ""},
		{"mistyped API key", mistyped, "apikey", ""},
		{"API key of another prefix", otherPrefix, "apikey", ""},
	}
	for _, order := range orders([]string{"jwt", "introspect", "apikey"}) {
		list := make([]auth.Authenticator, len(order))
		for i, n := range order {
			list[i] = f.authenticator(n)
		}
		a, err := auth.New(auth.Config{Authenticators: list})
		if err != nil {
			t.Fatal(err)
		}
		h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFromContext(r.Context())
			_, _ = fmt.Fprint(w, p.Subject)
		}))
		for _, c := range creds {
			t.Run(strings.Join(order, ",")+"/"+c.name, func(t *testing.T) {
				f.server.take()
				r := httptest.NewRequest(http.MethodGet, "/orders", nil)
				r.Header.Set("Authorization", "Bearer "+c.value)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)

				present := slices.Contains(order, c.owner)
				if c.subject != "" && present {
					if w.Code != http.StatusOK || w.Body.String() != c.subject {
						t.Errorf("status %d, body %q; want 200 %q", w.Code, w.Body, c.subject)
					}
				} else if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Errorf("status %d, WWW-Authenticate %q; want 401 invalid_token", w.Code, w.Header().Get("WWW-Authenticate"))
				}

				sent := f.server.take()
				// Only the introspector's own credentials may leave the
				// process, and those of an owner that is not in the chain
				// (the introspector cannot tell them from opaque tokens).
				mayLeave := slices.Contains(order, "introspect") && (c.owner == "introspect" || (c.owner != "" && !present))
				for _, s := range sent {
					if !mayLeave || s != c.value {
						t.Errorf("the introspection endpoint was sent %q", s)
					}
				}
				if c.owner == "introspect" && present && len(sent) != 1 {
					t.Errorf("the opaque token was sent %d times, want once", len(sent))
				}
			})
		}
	}
}

// otherPrefixKey is a well-formed key of another environment.
func otherPrefixKey(t testing.TB) string {
	k, err := apikey.GenerateKey("bwk_test")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// shaped stands for an authenticator that owns bearer values by a prefix:
// it implements Recognizer, and disowns what it recognized when disown is
// set (a bug the chain must not turn into "no credentials").
type shaped struct {
	prefix string
	p      *auth.Principal
	disown bool
}

func (s shaped) value(r *http.Request) (string, bool) {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return v, ok
}

func (s shaped) Recognizes(r *http.Request) bool {
	v, ok := s.value(r)
	return ok && strings.HasPrefix(v, s.prefix)
}

func (s shaped) Authenticate(r *http.Request) (*auth.Principal, error) {
	v, ok := s.value(r)
	switch {
	case !ok:
		return nil, auth.ErrNoCredentials
	case !strings.HasPrefix(v, s.prefix):
		return nil, auth.NotMine("not " + s.prefix)
	case s.disown:
		return nil, auth.ErrNoCredentials
	case v == s.prefix+"good":
		return s.p, nil
	}
	return nil, auth.Invalid("bad "+s.prefix, nil)
}

// TestChainOwnership: how the chain decides whose credential it is.
func TestChainOwnership(t *testing.T) {
	x := &auth.Principal{Subject: "x"}
	y := &auth.Principal{Subject: "y"}
	anyBearer := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
		if r.Header.Get("Authorization") == "" {
			return nil, auth.ErrNoCredentials
		}
		return &auth.Principal{Subject: "any"}, nil // takes everything: not a Recognizer
	})
	tests := []struct {
		name    string
		chain   []auth.Authenticator
		bearer  string
		status  int
		subject string
		reason  string
	}{
		{"the owner is asked, not the catch-all before it", []auth.Authenticator{anyBearer, shaped{prefix: "x_", p: x}}, "x_good", 200, "x", ""},
		{"the owner's refusal ends the request", []auth.Authenticator{anyBearer, shaped{prefix: "x_", p: x}}, "x_bad", 401, "", "bad x_"},
		{"no owner: everyone in order", []auth.Authenticator{shaped{prefix: "x_", p: x}, anyBearer}, "opaque", 200, "any", ""},
		{"no owner, no taker: refused with the first reason", []auth.Authenticator{shaped{prefix: "x_", p: x}, shaped{prefix: "y_", p: y}}, "opaque", 401, "", "not x_"},
		{"an owner that disowns fails closed", []auth.Authenticator{shaped{prefix: "x_", p: x, disown: true}, anyBearer}, "x_good", 401, "", "recognized credential disowned"},
		{"two owners: credentials of two kinds", []auth.Authenticator{shaped{prefix: "x", p: x}, shaped{prefix: "x_", p: x}}, "x_good", 400, "", "credentials of several kinds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := auth.New(auth.Config{Authenticators: tc.chain})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.bearer)
			p, err := a.Authenticate(r)
			if tc.status == 200 {
				if err != nil || p.Subject != tc.subject {
					t.Fatalf("Authenticate = %v, %v; want %s", p, err, tc.subject)
				}
				return
			}
			var ce *auth.CredentialError
			if got := auth.StatusCode(err); got != tc.status || !errors.As(err, &ce) || ce.Reason != tc.reason {
				t.Fatalf("Authenticate = %v (status %d); want %d with reason %q", err, got, tc.status, tc.reason)
			}
		})
	}
}

// TestAttackHandlerMutatesCachedPrincipal: the JWT, introspection and API
// key authenticators cache what they verified, and used to hand every
// request the cached *Principal itself. A handler that changed it — by
// mistake, or a library appending a scope for its own use — changed it for
// every later request with the same credential: here a scope, a role, a
// claim and the subject are written, and the next request must not see
// them (nor pass a policy they would satisfy).
func TestAttackHandlerMutatesCachedPrincipal(t *testing.T) {
	f := newChainFixture(t)
	f.server.answers[chainOpaque]["roles"] = []string{"viewer"}
	f.server.answers[chainOpaque]["ext"] = map[string]any{"tenant": "acme"}
	for _, tc := range []struct {
		name string
		a    auth.Authenticator
		cred string
	}{
		{"jwt", f.jwt, signedJWT(t, `,"scope":"orders:read","roles":["viewer"],"ext":{"tenant":"acme"}`)},
		{"introspect", cachingIntrospector(t, f), chainOpaque},
		{"apikey", f.apikey, f.key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{tc.a}})
			if err != nil {
				t.Fatal(err)
			}
			admin, _ := auth.Compile("scope(admin) or role(admin)")
			var seen []string // what each request's handler saw, before it wrote
			h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := auth.PrincipalFromContext(r.Context())
				seen = append(seen, tampered(p))
				if err := a.Authorize(r, admin); err == nil {
					w.WriteHeader(http.StatusTeapot) // the tampered principal passed the admin policy
				}
				p.Subject = "root"
				p.Scopes = append(p.Scopes, "admin")
				if len(p.Scopes) > 1 {
					p.Scopes[0] = "admin"
				}
				p.Roles = append(p.Roles, "admin")
				if len(p.Roles) > 0 {
					p.Roles[0] = "admin"
				}
				p.Claims["role"] = "admin"
				for _, v := range p.Claims {
					if m, ok := v.(map[string]any); ok {
						m["tenant"] = "evil"
					}
				}
			}))
			for i := range 3 {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+tc.cred)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("request %d: status %d, want 200 (the principal as verified, without admin)", i+1, w.Code)
				}
				if got := seen[len(seen)-1]; got != "" {
					t.Fatalf("request %d sees an earlier handler's changes: %s", i+1, got)
				}
			}
		})
	}
}

// tampered describes what in p the handler above would have written, or
// "" if nothing.
func tampered(p *auth.Principal) string {
	var out []string
	if p.Subject == "root" {
		out = append(out, "subject root")
	}
	if slices.Contains(p.Scopes, "admin") {
		out = append(out, fmt.Sprintf("scopes %q", p.Scopes))
	}
	if slices.Contains(p.Roles, "admin") {
		out = append(out, fmt.Sprintf("roles %q", p.Roles))
	}
	if p.Claims["role"] != nil {
		out = append(out, "claim role")
	}
	for k, v := range p.Claims {
		if m, ok := v.(map[string]any); ok && m["tenant"] == "evil" {
			out = append(out, "claim "+k+".tenant")
		}
	}
	return strings.Join(out, ", ")
}

// cachingIntrospector is the fixture's introspector with its cache on.
func cachingIntrospector(t *testing.T, f *chainFixture) *introspect.Introspector {
	t.Helper()
	in, err := introspect.New(introspect.Config{
		Endpoint: f.server.URL, ClientID: "orders-api", ClientSecret: "secret", Audience: chainAudience,
		Now: func() time.Time { return chainNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}
