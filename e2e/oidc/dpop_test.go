package oidc_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/bulwark-go/bulwark/internal/gateway"
)

// A real DPoP client: the OAuth client of bluesky-social/indigo
// (atproto/auth/oauth, ClientSession.DoWithAuth), which makes its own
// ES256 key and proofs (RFC 9449 §4, ath included) and follows the
// resource server's use_dpop_nonce challenges (§9). The proofs it sends
// are the library's; the tests only mint the access token, bound by
// cnf.jkt to the library's key, since its provider would be a Bluesky PDS.

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// edIssuer serves an Ed25519 JWKS and signs access tokens with it.
type edIssuer struct {
	url  string
	priv ed25519.PrivateKey
}

func newEdIssuer(t *testing.T) *edIssuer {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	body := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e1","alg":"EdDSA","use":"sig","x":"` + b64u(pub) + `"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &edIssuer{url: srv.URL, priv: priv}
}

func (is *edIssuer) token(claims map[string]any) string {
	now := time.Now()
	c := map[string]any{"iss": is.url, "aud": apiAudience, "sub": "did:example:alice", "client_id": "https://app.example/client.json",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": b64u([]byte(now.String()))}
	for k, v := range claims {
		c[k] = v
	}
	hb, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "e1"})
	cb, _ := json.Marshal(c)
	in := b64u(hb) + "." + b64u(cb)
	return in + "." + b64u(ed25519.Sign(is.priv, []byte(in)))
}

// jkt is the RFC 7638 thumbprint of an EC public JWK, from the RFC's rule
// (not from the code under test).
func jkt(t *testing.T, k atcrypto.PrivateKey) string {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	j, err := pub.JWK()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(`{"crv":"` + j.Curve + `","kty":"` + j.KeyType + `","x":"` + j.X + `","y":"` + j.Y + `"}`))
	return b64u(sum[:])
}

// recorder keeps the DPoP headers the client sent.
type recorder struct {
	mu     sync.Mutex
	proofs []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.proofs = append(r.proofs, req.Header.Get("DPoP"))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func startGateway(t *testing.T, yaml string) string {
	t.Helper()
	cfg, err := gateway.Parse([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	g, err := gateway.Build(cfg, gateway.Options{AuditWriter: io.Discard, Logf: t.Logf})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRealDPoPClientThroughGateway(t *testing.T) {
	is := newEdIssuer(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "orders for "+r.Header.Get("X-Bulwark-Subject"))
	}))
	t.Cleanup(upstream.Close)
	base := "upstream: " + upstream.URL + "\nauth:\n  jwt: [{issuer: " + is.url + ", audience: " + apiAudience + ", jwks_url: " + is.url + "/jwks, algorithms: [EdDSA]}]\n"
	routes := "routes: [{path: /v1/, auth: required, binding: dpop}]\n"

	for _, tc := range []struct {
		name, yaml string
		tries      int // requests the client sends for one call
	}{
		{"proofs without nonce", base + routes, 1},
		{"server-provided nonce (use_dpop_nonce, DPoP-Nonce)", strings.Replace(base, "auth:\n", "auth:\n  dpop: {nonce_secret_env: E2E_DPOP_NONCE_SECRET}\n", 1) + routes, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("E2E_DPOP_NONCE_SECRET", "e2e-nonce-secret-0123456789abcdef0123456789")
			api := startGateway(t, tc.yaml)
			key, err := atcrypto.GeneratePrivateKeyP256()
			if err != nil {
				t.Fatal(err)
			}
			sess := &oauth.ClientSession{
				Config:         &oauth.ClientConfig{ClientID: "https://app.example/client.json"},
				Data:           &oauth.ClientSessionData{AccessToken: is.token(map[string]any{"cnf": map[string]any{"jkt": jkt(t, key)}}), AuthServerURL: is.url},
				DPoPPrivateKey: key,
			}
			rec := &recorder{}
			hc := &http.Client{Transport: rec}
			req, _ := http.NewRequest("GET", api+"/v1/orders?page=2", nil)
			resp, err := sess.DoWithAuth(hc, req, syntax.NSID("com.example.orders.list"))
			if err != nil {
				t.Fatalf("DoWithAuth: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "did:example:alice") {
				t.Fatalf("DoWithAuth = %d %q (WWW-Authenticate %q), want 200", resp.StatusCode, body, resp.Header.Values("WWW-Authenticate"))
			}
			if len(rec.proofs) != tc.tries {
				t.Errorf("client sent %d requests, want %d", len(rec.proofs), tc.tries)
			}

			// attack: the library's own proof, copied off the wire, replayed.
			replay, _ := http.NewRequest("GET", api+"/v1/orders?page=2", nil)
			replay.Header.Set("Authorization", "DPoP "+sess.Data.AccessToken)
			replay.Header.Set("DPoP", rec.proofs[len(rec.proofs)-1])
			r2, err := http.DefaultClient.Do(replay)
			if err != nil {
				t.Fatal(err)
			}
			_ = r2.Body.Close()
			if r2.StatusCode != 401 {
				t.Errorf("attack: replayed proof of the real client = %d, want 401", r2.StatusCode)
			}
			// attack: the token sent as a bearer token.
			stolen, _ := http.NewRequest("GET", api+"/v1/orders", nil)
			stolen.Header.Set("Authorization", "Bearer "+sess.Data.AccessToken)
			r3, err := http.DefaultClient.Do(stolen)
			if err != nil {
				t.Fatal(err)
			}
			_ = r3.Body.Close()
			if r3.StatusCode != 401 {
				t.Errorf("attack: bound token as Bearer = %d, want 401", r3.StatusCode)
			}
			// A second call with the same session works (a fresh proof).
			req2, _ := http.NewRequest("GET", api+"/v1/orders", nil)
			resp2, err := sess.DoWithAuth(hc, req2, syntax.NSID("com.example.orders.list"))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp2.Body.Close()
			if resp2.StatusCode != 200 {
				t.Errorf("second call = %d, want 200", resp2.StatusCode)
			}
		})
	}
}
