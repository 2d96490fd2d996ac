package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

func TestAcceptsEachAlgorithm(t *testing.T) {
	v := newVerifier(t, jwt.Config{})
	for _, kid := range []string{"rsa1", "ec1", "ed1", "hs1"} {
		t.Run(kid, func(t *testing.T) {
			p, err := v.Authenticate(bearer(token(t, kid, nil)))
			if err != nil {
				t.Fatalf("Authenticate = %v, want a principal", err)
			}
			if p.Subject != "user-1" || p.Issuer != testIssuer || p.Method != "jwt" {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	v := newVerifier(t, jwt.Config{})
	p, err := v.Verify(context.Background(), token(t, "rsa1", map[string]any{
		"scope":  "orders:read  orders:write",
		"scp":    []string{"admin:read"},
		"roles":  []string{"admin"},
		"tenant": "acme",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orders:read", "orders:write", "admin:read"}; !slices.Equal(p.Scopes, want) {
		t.Errorf("Scopes = %q, want %q", p.Scopes, want)
	}
	if !p.HasRole("admin") || p.Claims["tenant"] != "acme" {
		t.Errorf("principal = %+v", p)
	}
	if !p.ExpiresAt.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("ExpiresAt = %v, want %v", p.ExpiresAt, t0.Add(5*time.Minute))
	}
}

func TestClaimChecks(t *testing.T) {
	tests := []struct {
		name   string
		issuer func(*jwt.Issuer)
		cfg    func(*jwt.Config)
		over   map[string]any
		reason string // "" means accepted
	}{
		{"valid", nil, nil, nil, ""},
		{"expired within leeway", nil, nil, map[string]any{"exp": t0.Add(-59 * time.Second).Unix()}, ""},
		{"nbf within leeway", nil, nil, map[string]any{"nbf": t0.Add(59 * time.Second).Unix()}, ""},
		{"zero leeway is the default, not zero", nil, func(c *jwt.Config) { c.Leeway = 0 }, map[string]any{"exp": t0.Add(-30 * time.Second).Unix()}, ""},
		{"small leeway", nil, func(c *jwt.Config) { c.Leeway = time.Second }, map[string]any{"exp": t0.Add(-30 * time.Second).Unix()}, "expired"},
		{"aud array with ours", nil, nil, map[string]any{"aud": []string{"x", testAudience}}, ""},
		{"aud array with a number", nil, nil, map[string]any{"aud": []any{1, testAudience}}, "missing or invalid aud"},
		{"missing sub", nil, nil, map[string]any{"sub": nil}, "missing or invalid sub"},
		{"missing exp allowed", func(i *jwt.Issuer) { i.DangerouslyAllowMissingExp = true }, nil, map[string]any{"exp": nil}, ""},
		{"max lifetime ok", func(i *jwt.Issuer) { i.MaxLifetime = 10 * time.Minute }, nil, nil, ""},
		{"max lifetime exceeded", func(i *jwt.Issuer) { i.MaxLifetime = 5 * time.Minute }, nil, nil, "lifetime too long"},
		{"max lifetime without iat", func(i *jwt.Issuer) { i.MaxLifetime = time.Hour }, nil, map[string]any{"iat": nil}, "lifetime unknown"},
		{"required claim present", func(i *jwt.Issuer) { i.RequiredClaims = map[string][]string{"client_id": nil} }, nil, nil, ""},
		{"required claim missing", func(i *jwt.Issuer) { i.RequiredClaims = map[string][]string{"tenant": nil} }, nil, nil, "required claim missing"},
		{"required claim value", func(i *jwt.Issuer) { i.RequiredClaims = map[string][]string{"tenant": {"acme"}} }, nil, map[string]any{"tenant": "acme"}, ""},
		{"required claim in array", func(i *jwt.Issuer) { i.RequiredClaims = map[string][]string{"groups": {"ops"}} }, nil, map[string]any{"groups": []string{"dev", "ops"}}, ""},
		{"required claim wrong value", func(i *jwt.Issuer) { i.RequiredClaims = map[string][]string{"tenant": {"acme"}} }, nil, map[string]any{"tenant": "evil"}, "required claim mismatch"},
		{"scope not a string", nil, nil, map[string]any{"scope": []string{"a"}}, "invalid scope"},
		{"roles with a number", nil, nil, map[string]any{"roles": []any{"a", 2}}, "invalid roles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := staticIssuer(t)
			if tc.issuer != nil {
				tc.issuer(&is)
			}
			cfg := jwt.Config{Issuers: []jwt.Issuer{is}}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := newVerifier(t, cfg)
			_, err := v.Verify(context.Background(), token(t, "rsa1", tc.over))
			checkReason(t, err, tc.reason)
		})
	}
}

func checkReason(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Verify = %v, want success", err)
		}
		return
	}
	var ce *auth.CredentialError
	if !errors.As(err, &ce) || ce.Reason != reason {
		t.Fatalf("Verify = %v, want reason %q", err, reason)
	}
}

func TestTypeCheckSwitchableOffPerIssuer(t *testing.T) {
	k := keys(t)
	lax := jwt.Issuer{
		Issuer: "https://lax.example", Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
		Keys:                     []jwt.Key{{ID: "lax", Algorithm: "RS256", Key: &k.evil.PublicKey}},
		DangerouslySkipTypeCheck: true,
	}
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{staticIssuer(t), lax}})
	laxTok := signRaw(t, "RS256", k.evil, `{"alg":"RS256","kid":"lax","typ":"JWT"}`, claims(map[string]any{"iss": "https://lax.example"}))
	if _, err := v.Verify(context.Background(), laxTok); err != nil {
		t.Errorf("lax issuer, typ JWT: %v, want success", err)
	}
	strict := signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","typ":"JWT"}`, claims(nil))
	_, err := v.Verify(context.Background(), strict)
	checkReason(t, err, "typ is not at+jwt")
	// application/at+jwt is the full media type; case does not matter.
	full := signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","typ":"Application/AT+JWT"}`, claims(nil))
	if _, err := v.Verify(context.Background(), full); err != nil {
		t.Errorf("typ application/at+jwt: %v", err)
	}
}

func TestIssuersAreIsolated(t *testing.T) {
	k := keys(t)
	other := jwt.Issuer{
		Issuer: "https://other.example", Audiences: []string{"https://other-api.example"}, Algorithms: []string{"RS256"},
		Keys: []jwt.Key{{ID: "o1", Algorithm: "RS256", Key: &k.evil.PublicKey}},
	}
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{staticIssuer(t), other}})
	tests := []struct {
		name   string
		tok    string
		reason string
	}{
		{"other issuer's key, our kid", signRaw(t, "RS256", k.evil, header("RS256", "rsa1"), claims(nil)), "bad signature"},
		{"other issuer's kid on our issuer", signRaw(t, "RS256", k.evil, header("RS256", "o1"), claims(nil)), "unknown key id"},
		{"other issuer's audience", signRaw(t, "RS256", k.evil, header("RS256", "o1"), claims(map[string]any{"iss": "https://other.example"})), "wrong audience"},
		{"other issuer, its own audience", signRaw(t, "RS256", k.evil, header("RS256", "o1"), claims(map[string]any{"iss": "https://other.example", "aud": "https://other-api.example"})), ""},
		{"ES256 not allowed for other issuer", signRaw(t, "ES256", k.ec, header("ES256", "ec1"), claims(map[string]any{"iss": "https://other.example"})), "algorithm not allowed for issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.tok)
			checkReason(t, err, tc.reason)
		})
	}
}

func TestCache(t *testing.T) {
	clk := newClock()
	var revoked bool
	v := newVerifier(t, jwt.Config{Now: clk.Now, Revoked: func(_ context.Context, id jwt.TokenID) (bool, error) {
		if id.JTI != "id-1" || id.Issuer != testIssuer {
			return false, errors.New("unexpected token id")
		}
		return revoked, nil
	}})
	tk := token(t, "rsa1", map[string]any{"exp": t0.Add(2 * time.Minute).Unix()})
	p1, err := v.Verify(context.Background(), tk)
	if err != nil {
		t.Fatal(err)
	}
	cached := jwt.CachedPrincipal(v, tk)
	if cached == nil {
		t.Fatal("the verified token is not in the cache")
	}
	p2, err := v.Verify(context.Background(), tk)
	if err != nil || !reflect.DeepEqual(p2, cached) {
		t.Fatalf("second Verify = %+v, %v; want the cached principal %+v", p2, err, cached)
	}
	if p2 == cached || p2 == p1 {
		t.Fatal("Verify handed out the cached principal itself, not a copy")
	}
	revoked = true
	_, err = v.Verify(context.Background(), tk)
	checkReason(t, err, "revoked")
	revoked = false
	// The entry dies at exp, and then the token is judged again: expired
	// once past the leeway.
	clk.Advance(2*time.Minute + 61*time.Second)
	_, err = v.Verify(context.Background(), tk)
	checkReason(t, err, "expired")
}

func TestRevocationHookErrorFailsClosed(t *testing.T) {
	v := newVerifier(t, jwt.Config{Revoked: func(context.Context, jwt.TokenID) (bool, error) {
		return false, errors.New("deny-list store down")
	}})
	_, err := v.Verify(context.Background(), token(t, "rsa1", nil))
	if !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("Verify = %v, want ErrUnavailable", err)
	}
}

func TestTokenSources(t *testing.T) {
	good := token(t, "rsa1", nil)
	req := func(url string, hdr, cookie string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		if hdr != "" {
			r.Header.Set("Authorization", hdr)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "at", Value: cookie})
		}
		return r
	}
	tests := []struct {
		name string
		cfg  jwt.Config
		r    *http.Request
		want error // nil: accepted
	}{
		{"header", jwt.Config{}, req("/", "Bearer "+good, ""), nil},
		{"header, scheme case-insensitive", jwt.Config{}, req("/", "bearer "+good, ""), nil},
		{"other scheme is not ours", jwt.Config{}, req("/", "Basic dXNlcjpwYXNz", ""), auth.ErrNoCredentials},
		{"empty bearer", jwt.Config{}, req("/", "Bearer ", ""), auth.ErrInvalidRequest},
		{"cookie ignored by default", jwt.Config{}, req("/", "", good), auth.ErrNoCredentials},
		{"cookie when configured", jwt.Config{Cookie: "at"}, req("/", "", good), nil},
		{"cookie and header", jwt.Config{Cookie: "at"}, req("/", "Bearer "+good, good), auth.ErrInvalidRequest},
		{"query ignored by default", jwt.Config{}, req("/?access_token="+good, "", ""), auth.ErrNoCredentials},
		{"query when dangerously allowed", jwt.Config{DangerouslyAllowQueryToken: true}, req("/?access_token="+good, "", ""), nil},
		{"query and header", jwt.Config{DangerouslyAllowQueryToken: true}, req("/?access_token="+good, "Bearer "+good, ""), auth.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.cfg)
			_, err := v.Authenticate(tc.r)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Authenticate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	k := keys(t)
	ok := staticIssuer(t)
	tests := []struct {
		name  string
		cfg   jwt.Config
		field string
	}{
		{"no issuers", jwt.Config{}, "jwt.Config.Issuers"},
		{"http issuer", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.Issuer = "http://idp.example"; return i }()}}, "jwt.Config.Issuers[0].Issuer"},
		{"no audience", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.Audiences = nil; return i }()}}, "jwt.Config.Issuers[0].Audiences"},
		{"no algorithms", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer {
			i := ok
			i.Algorithms = nil
			i.Keys = nil
			i.JWKSURL = "https://idp.example/jwks"
			return i
		}()}}, "jwt.Config.Issuers[0].Algorithms"},
		{"alg none", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.Algorithms = append(i.Algorithms, "none"); return i }()}}, "jwt.Config.Issuers[0].Algorithms"},
		{"no key source", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.Keys = nil; return i }()}}, "jwt.Config.Issuers[0].Keys"},
		{"two key sources", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.Discovery = true; return i }()}}, "jwt.Config.Issuers[0].Keys"},
		{"HMAC with JWKS", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"HS256"}, JWKSURL: "https://idp.example/jwks"}}}, "jwt.Config.Issuers[0].Algorithms"},
		{"RSA key as HMAC secret", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Keys: []jwt.Key{{Algorithm: "HS256", Key: &k.rsa.PublicKey}}}}}, "jwt.Config.Issuers[0].Keys[0].Key"},
		{"short HMAC secret", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"HS256"}, Keys: []jwt.Key{{Algorithm: "HS256", Key: []byte("short")}}}}}, "jwt.Config.Issuers[0].Keys[0].Key"},
		{"EC key for RS256", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"RS256"}, Keys: []jwt.Key{{Algorithm: "RS256", Key: &k.ec.PublicKey}}}}}, "jwt.Config.Issuers[0].Keys[0].Key"},
		{"key alg not allowed", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"RS256"}, Keys: []jwt.Key{{Algorithm: "ES256", Key: &k.ec.PublicKey}}}}}, "jwt.Config.Issuers[0].Keys[0].Algorithm"},
		{"duplicate key id", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer {
			i := staticIssuer(t)
			i.Keys = append(i.Keys, jwt.Key{ID: "rsa1", Algorithm: "RS256", Key: &k.evil.PublicKey})
			return i
		}()}}, "jwt.Config.Issuers[0].Keys[4].ID"},
		{"duplicate issuer", jwt.Config{Issuers: []jwt.Issuer{ok, ok}}, "jwt.Config.Issuers[1].Issuer"},
		{"leeway too large", jwt.Config{Issuers: []jwt.Issuer{ok}, Leeway: time.Hour}, "jwt.Config.Leeway"},
		{"token size too large", jwt.Config{Issuers: []jwt.Issuer{ok}, MaxTokenSize: 1 << 20}, "jwt.Config.MaxTokenSize"},
		{"floor above ceiling", jwt.Config{Issuers: []jwt.Issuer{ok}, RefreshFloor: 2 * time.Hour}, "jwt.Config.RefreshFloor"},
		{"bad cookie name", jwt.Config{Issuers: []jwt.Issuer{ok}, Cookie: "a b"}, "jwt.Config.Cookie"},
		{"allowed JWKS host with a scheme", jwt.Config{Issuers: []jwt.Issuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"RS256"}, Discovery: true,
			AllowedJWKSHosts: []string{"https://keys.example"}}}}, "jwt.Config.Issuers[0].AllowedJWKSHosts"},
		{"allowed JWKS hosts with static keys", jwt.Config{Issuers: []jwt.Issuer{func() jwt.Issuer { i := ok; i.AllowedJWKSHosts = []string{"keys.example"}; return i }()}}, "jwt.Config.Issuers[0].AllowedJWKSHosts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := jwt.New(tc.cfg)
			if v != nil || err == nil {
				t.Fatalf("New = %v, %v; want an error", v, err)
			}
			var found bool
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *jwt.ConfigError
				if errors.As(e, &ce) && ce.Field == tc.field {
					found = true
				}
			}
			if !found {
				t.Errorf("New: %v; want a ConfigError for %s", err, tc.field)
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	v := newVerifier(t, jwt.Config{CacheSize: 32})
	toks := make([]string, 200)
	for i := range toks {
		toks[i] = token(t, "hs1", map[string]any{"jti": fmt.Sprint("t-", i)})
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(toks); i += 4 {
				for range 2 {
					p, err := v.Verify(context.Background(), toks[i])
					if err != nil || p.Claims["jti"] != fmt.Sprint("t-", i) {
						t.Errorf("Verify(token %d) = %v, %v", i, p, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := jwt.CacheLen(v); n == 0 || n > 32 {
		t.Errorf("cache holds %d entries, want 1..32", n)
	}
}

// TestTokenExtractor: a token read from where the caller says, judged as
// from the header: a value that is not a JWT is another authenticator's,
// and the extractor's own refusals stand.
func TestTokenExtractor(t *testing.T) {
	fromHeader := func(r *http.Request) (string, error) {
		switch v := r.Header.Values("X-Access-Token"); len(v) {
		case 0:
			return "", auth.ErrNoCredentials
		case 1:
			return v[0], nil
		}
		return "", auth.Malformed("several X-Access-Token headers")
	}
	v := newVerifier(t, jwt.Config{TokenExtractor: fromHeader})
	good := token(t, "rsa1", nil)
	tests := []struct {
		name string
		hdr  map[string][]string
		want error // nil: accepted
	}{
		{"the extractor's header", map[string][]string{"X-Access-Token": {good}}, nil},
		{"the Authorization header is not read", map[string][]string{"Authorization": {"Bearer " + good}}, auth.ErrNoCredentials},
		{"not a JWT", map[string][]string{"X-Access-Token": {"opaque"}}, auth.ErrNotMine},
		{"the extractor refuses", map[string][]string{"X-Access-Token": {good, good}}, auth.ErrInvalidRequest},
		{"a forged JWT", map[string][]string{"X-Access-Token": {good[:len(good)-4] + "AAAA"}}, auth.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, vs := range tc.hdr {
				r.Header[k] = vs
			}
			_, err := v.Authenticate(r)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Authenticate = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{staticIssuer(t)}, TokenExtractor: fromHeader, Cookie: "at"}); err == nil {
		t.Error("New accepted a TokenExtractor together with a Cookie")
	}
}

// TestAttackCaseVariantClaimFillsTypedField: encoding/json fills a field
// tagged "tenant" from a member "Tenant" when there is no "tenant", so a
// typed view of the claims would say tenant evil while Claims (and every
// check by name: RequiredClaims, policies, logs) saw no tenant at all.
// ClaimsAs decodes through the strict rules: names match exactly or the
// decode is refused.
func TestAttackCaseVariantClaimFillsTypedField(t *testing.T) {
	type orderClaims struct {
		Subject string `json:"sub"`
		Tenant  string `json:"tenant"`
		Ext     struct {
			Org string `json:"org"`
		} `json:"ext"`
		Exp int64 `json:"exp"`
	}
	v := newVerifier(t, jwt.Config{})
	tests := []struct {
		name   string
		over   map[string]any
		tenant string
		want   error
	}{
		{"exact names", map[string]any{"tenant": "acme", "ext": map[string]any{"org": "o"}}, "acme", nil},
		{"case-variant member", map[string]any{"Tenant": "evil"}, "", auth.ErrClaimsType},
		{"case-variant nested member", map[string]any{"ext": map[string]any{"ORG": "evil"}}, "", auth.ErrClaimsType},
		{"type mismatch", map[string]any{"tenant": 7}, "", auth.ErrClaimsType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), token(t, "rsa1", tc.over))
			if err != nil {
				t.Fatal(err)
			}
			c, err := jwt.ClaimsAs[orderClaims](auth.NewContext(context.Background(), p))
			if !errors.Is(err, tc.want) || (err == nil && (c.Tenant != tc.tenant || c.Subject != "user-1" || c.Exp != t0.Add(5*time.Minute).Unix())) {
				t.Fatalf("ClaimsAs = %+v, %v; want tenant %q, %v", c, err, tc.tenant, tc.want)
			}
		})
	}
	if _, err := jwt.ClaimsAs[orderClaims](context.Background()); !errors.Is(err, auth.ErrNoClaims) {
		t.Errorf("ClaimsAs without a principal = %v, want ErrNoClaims", err)
	}
	key := auth.NewContext(context.Background(), &auth.Principal{Subject: "apikey:x", Method: "api_key", Claims: map[string]any{"tenant": "acme"}})
	if _, err := jwt.ClaimsAs[orderClaims](key); !errors.Is(err, auth.ErrNoClaims) {
		t.Errorf("jwt.ClaimsAs of an API-key principal = %v, want ErrNoClaims", err)
	}
	if c, err := auth.ClaimsAs[orderClaims](key); err != nil || c.Tenant != "acme" {
		t.Errorf("auth.ClaimsAs of an API-key principal = %+v, %v; want tenant acme", c, err)
	}
}
