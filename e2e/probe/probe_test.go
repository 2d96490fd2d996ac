package probe

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/go-chi/httprate"
	rscors "github.com/rs/cors"
	"github.com/unrolled/secure"

	"github.com/bulwark-go/bulwark/internal/gateway"
	"github.com/bulwark-go/bulwark/probe"
)

const origin = "https://app.example.com"

// idp is a local identity provider: one RSA key, its JWKS.
type idp struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newIDP(t *testing.T) *idp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
		b64(key.N.Bytes()), b64(big.NewInt(int64(key.E)).Bytes()))
	s := &idp{key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, jwks)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *idp) token(t *testing.T) string {
	b64 := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": s.URL, "aud": "api", "sub": "alice", "iat": now, "exp": now + 600})
	in := b64([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`)) + "." + b64(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

// app is the upstream all three front: a typical application that trusts
// its gateway to have authenticated, reads the user its proxy names,
// resolves dot segments as nginx does, decodes JSON with encoding/json and
// shows its errors.
func app(t *testing.T) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "gunicorn/21.2.0")
		p := path.Clean("/" + strings.ReplaceAll(r.URL.Path, "\\", "/"))
		switch {
		case p == "/v1/hello" || p == "/public/health":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"hello": r.Header.Get("X-Forwarded-User") + r.Header.Get("X-Bulwark-Subject")})
		case p == "/v1/echo" && r.Method == http.MethodPost:
			var v any
			if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
				http.Error(w, "Traceback (most recent call last):\n  File \"/app/api.py\", line 42, in echo", http.StatusInternalServerError)
				return
			}
			_ = json.NewEncoder(w).Encode(v)
		default:
			http.Error(w, "<center>nginx/1.22.1</center> no route on upstream 10.0.3.7:8080", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

// bulwarkServe is the gateway with routes, a JWT issuer and CORS.
func bulwarkServe(t *testing.T, up *url.URL, id *idp) string {
	cfg, err := gateway.Parse([]byte(`
upstream: `+up.String()+`
auth:
  jwt: [{issuer: `+id.URL+`, audience: api, jwks_url: `+id.URL+`/jwks, algorithms: [RS256]}]
cors: {allowed_origins: [`+origin+`]}
ratelimit:
  policies: [{name: per-ip, key: ip, limit: 3000, period: 1m, burst: 1000}]
  default: [per-ip]
routes:
  - {path: /public/, auth: none, methods: [GET]}
  - {path: /v1/, auth: required, methods: [GET, POST], json: true, max_body: 64KiB}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Build(cfg, gateway.Options{AuditWriter: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// bareProxy is httputil.ReverseProxy and nothing else.
func bareProxy(t *testing.T, up *url.URL) string {
	srv := httptest.NewServer(httputil.NewSingleHostReverseProxy(up))
	t.Cleanup(srv.Close)
	return srv.URL
}

// peerStack is what a careful team assembles from the popular libraries:
// unrolled/secure for headers, rs/cors, go-chi/httprate keyed on the
// connection's address, auth0/go-jwt-middleware on /v1/, then
// httputil.ReverseProxy.
func peerStack(t *testing.T, up *url.URL, id *idp) string {
	v, err := validator.New(func(context.Context) (any, error) { return &id.key.PublicKey, nil },
		validator.RS256, id.URL, []string{"api"})
	if err != nil {
		t.Fatal(err)
	}
	jwt := jwtmiddleware.New(v.ValidateToken)
	proxy := httputil.NewSingleHostReverseProxy(up)
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			jwt.CheckJWT(proxy).ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	limit := httprate.LimitBy(3000, time.Minute, func(r *http.Request) (string, error) {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		return httprate.CanonicalizeIP(ip), err
	})
	sec := secure.New(secure.Options{FrameDeny: true, ContentTypeNosniff: true, STSSeconds: 31536000, ReferrerPolicy: "no-referrer"})
	c := rscors.New(rscors.Options{AllowedOrigins: []string{origin}, AllowCredentials: true,
		AllowedMethods: []string{http.MethodGet, http.MethodPost}, AllowedHeaders: []string{"Authorization", "Content-Type"}})
	srv := httptest.NewServer(sec.Handler(c.Handler(limit(router))))
	t.Cleanup(srv.Close)
	return srv.URL
}

func options(id *idp, tok, target string) probe.Options {
	return probe.Options{Target: target, Rate: 1000, Protected: []string{"/v1/hello"}, Public: []string{"/public/health"},
		Token: tok, Issuer: id.URL, JWKSURL: id.URL + "/jwks", Audience: "api", SigningKey: id.key, SigningKeyID: "k1",
		SigningAlg: "RS256", AllowedOrigin: origin, JSONPath: "/v1/echo"}
}

func statuses(t *testing.T, o probe.Options) (map[string]probe.Status, *probe.Report) {
	rep, err := probe.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]probe.Status{}
	for _, r := range rep.Results {
		m[r.Check.ID] = r.Status
	}
	return m, rep
}

func report(rep *probe.Report) string {
	var b strings.Builder
	_ = rep.WriteTable(&b)
	return b.String()
}

// TestSideBySide probes the three with the same options.
func TestSideBySide(t *testing.T) {
	up, id := app(t), newIDP(t)
	tok := id.token(t)

	t.Run("bulwark serve", func(t *testing.T) {
		got, rep := statuses(t, options(id, tok, bulwarkServe(t, up, id)))
		for cid, s := range got {
			if s == probe.Fail || s == probe.Errored {
				t.Errorf("%s: %s", cid, s)
			}
		}
		if t.Failed() {
			t.Log(report(rep))
		}
	})

	// What each of the others misses, asserted: the suite tells them
	// apart from bulwark serve, check by check.
	for _, tc := range []struct {
		name   string
		target func() string
		misses []string
	}{
		{"bare httputil.ReverseProxy", func() string { return bareProxy(t, up) }, []string{
			"authn.required", "spoof.identity-header", "smuggling.cl-te", "smuggling.te-cl",
			"headers.nosniff", "headers.framing", "headers.fingerprint", "headers.cache-control",
			"input.duplicate-keys", "input.case-variant-keys", "input.trailing-data", "input.content-type",
			"input.depth-bomb", "input.width-bomb", "input.oversize-body",
			"leak.error-details", "leak.internal-address", "leak.version-in-body", "ratelimit.signalled",
		}},
		{"peer stack (secure + rs/cors + httprate + go-jwt-middleware)", func() string { return peerStack(t, up, id) }, []string{
			"jwt.typ", "jwt.case-variant-claims", "authn.challenge",
			"path.dot-segment-bypass", "spoof.identity-header", "smuggling.cl-te", "smuggling.te-cl",
			"headers.fingerprint", "headers.cache-control",
			"input.duplicate-keys", "input.case-variant-keys", "input.invalid-utf8", "input.trailing-data", "input.content-type",
			"input.depth-bomb", "input.width-bomb", "input.oversize-body",
			"leak.error-details", "leak.internal-address", "leak.version-in-body",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rep := statuses(t, options(id, tok, tc.target()))
			for _, cid := range tc.misses {
				if got[cid] != probe.Fail {
					t.Errorf("%s: %s, want FAIL", cid, got[cid])
				}
			}
			var failed []string
			for cid, s := range got {
				if s == probe.Fail {
					failed = append(failed, cid)
				}
			}
			sort.Strings(failed)
			t.Logf("%d failures: %s", len(failed), strings.Join(failed, " "))
			if len(rep.Failures(probe.High)) == 0 {
				t.Error("no failure at high or above: bulwark probe would exit 0")
			}
			if t.Failed() {
				t.Log(report(rep))
			}
		})
	}
}
