package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

const (
	ordersURL      = "https://api.example/orders"
	invalidProof   = `DPoP error="invalid_dpop_proof"`
	invalidBinding = `DPoP error="invalid_token"`
)

// checkRefused asserts a 401 whose challenge starts with challenge and
// whose security event names reason.
func checkRefused(t *testing.T, v *jwt.Verifier, req *http.Request, challenge, reason string) {
	t.Helper()
	w, events := serve(t, v, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 (body %s)", w.Code, w.Body)
	}
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, challenge) {
		t.Errorf("WWW-Authenticate = %q, want it to start with %q", got, challenge)
	}
	if len(events) != 1 || events[0].Reason != reason {
		t.Errorf("events = %+v, want one with reason %q", events, reason)
	}
}

func checkAccepted(t *testing.T, v *jwt.Verifier, req *http.Request) {
	t.Helper()
	w, events := serve(t, v, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %q (events %+v), want 200", w.Code, w.Header().Get("WWW-Authenticate"), events)
	}
}

// TestDPoPBoundTokenAccepted: the honest path, for each proof algorithm
// a client may use, and the principal says how it was bound.
func TestDPoPBoundTokenAccepted(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			v := newVerifier(t, jwt.Config{})
			k := newDPoPKey(t, alg)
			at := boundToken(t, k, nil)
			r := dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil))
			p, err := v.Authenticate(r)
			if err != nil {
				t.Fatalf("Authenticate = %v", err)
			}
			if p.Binding != auth.BoundDPoP {
				t.Errorf("Binding = %q, want %q", p.Binding, auth.BoundDPoP)
			}
			// The cached principal serves the next request, which still
			// needs its own proof.
			r = dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil))
			if _, err := v.Authenticate(r); err != nil {
				t.Fatalf("second request (token cached) = %v", err)
			}
			r = dpopRequest("GET", ordersURL, at, "")
			if _, err := v.Authenticate(r); !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("cached token without a proof = %v, want refused", err)
			}
		})
	}
}

// TestAttackDPoPProofs: each forgery or misuse of a proof a thief could
// try with a stolen DPoP-bound token (and, where the row says, a proof
// seen on the wire) is refused, with the challenge and the reason that
// name it.
func TestAttackDPoPProofs(t *testing.T) {
	k := newDPoPKey(t, "ES256")
	other := newDPoPKey(t, "ES256") // the thief's own key
	at := boundToken(t, k, nil)
	evilEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	tests := []struct {
		name      string
		req       func(t *testing.T) *http.Request
		challenge string
		reason    string
	}{
		{"bound token sent as Bearer (downgrade)", func(t *testing.T) *http.Request {
			r := bearer(at)
			r.Header.Set("DPoP", k.proof(t, "GET", ordersURL, at, nil, nil))
			return r
		}, invalidBinding, "DPoP-bound token presented as a bearer token"},
		{"bound token without a proof", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, "")
		}, invalidProof, "DPoP-bound token without a DPoP proof"},
		{"token bound to one key, proof from another", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, other.proof(t, "GET", ordersURL, at, nil, nil))
		}, invalidBinding, "DPoP proof key does not match the token's cnf.jkt"},
		{"proof signed with a key other than its jwk", func(t *testing.T) *http.Request {
			p := other.proof(t, "GET", ordersURL, at, nil, map[string]any{"jwk": k.jwk})
			return dpopRequest("GET", ordersURL, at, p)
		}, invalidProof, "DPoP proof bad signature"},
		{"proof for another method", func(t *testing.T) *http.Request {
			return dpopRequest("DELETE", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil))
		}, invalidProof, "DPoP proof htm is not the request's method"},
		{"proof for another URL", func(t *testing.T) *http.Request {
			return dpopRequest("GET", "https://api.example/admin", at, k.proof(t, "GET", ordersURL, at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"proof for another host", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", "https://evil.example/orders", at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"proof for http used over https", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", "http://api.example/orders", at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"canonical-path trick: a proof for /orders on /orders/../admin", func(t *testing.T) *http.Request {
			return dpopRequest("GET", "https://api.example/orders/../admin", at, k.proof(t, "GET", ordersURL, at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"canonical-path trick: an encoded slash in htu", func(t *testing.T) *http.Request {
			return dpopRequest("GET", "https://api.example/orders/admin", at, k.proof(t, "GET", "https://api.example/orders%2Fadmin", at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"canonical-path trick: htu above the root", func(t *testing.T) *http.Request {
			return dpopRequest("GET", "https://api.example/admin", at, k.proof(t, "GET", "https://api.example/../admin", at, nil, nil))
		}, invalidProof, "DPoP proof htu is not the request's URL"},
		{"stale iat", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"iat": t0.Add(-61 * time.Second).Unix()}, nil))
		}, invalidProof, "DPoP proof iat too old"},
		{"future iat", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"iat": t0.Add(61 * time.Second).Unix()}, nil))
		}, invalidProof, "DPoP proof iat in the future"},
		{"ath of another token", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, "another token", nil, nil))
		}, invalidProof, "DPoP proof ath is not the hash of the access token"},
		{"no ath", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"ath": nil}, nil))
		}, invalidProof, "DPoP proof ath is not the hash of the access token"},
		{"HMAC proof", func(t *testing.T) *http.Request {
			secret := []byte("0123456789abcdef0123456789abcdef")
			hdr := `{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"` + b64u(secret) + `"}}`
			return dpopRequest("GET", ordersURL, at, signRaw(t, "HS256", secret, hdr, `{"jti":"x","htm":"GET","htu":"`+ordersURL+`","iat":1800000000}`))
		}, invalidProof, "DPoP proof algorithm not allowed"},
		{"none proof", func(t *testing.T) *http.Request {
			p := k.proof(t, "GET", ordersURL, at, nil, map[string]any{"alg": "none"})
			return dpopRequest("GET", ordersURL, at, p[:strings.LastIndexByte(p, '.')+1])
		}, invalidProof, "DPoP proof is not a compact JWS"},
		{"alg none with a signature", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"alg": "none"}))
		}, invalidProof, "DPoP proof algorithm not allowed"},
		{"private key material in the jwk", func(t *testing.T) *http.Request {
			d, err := evilEC.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			jwk := map[string]any{"d": b64u(d)}
			for n, v := range k.jwk {
				jwk[n] = v
			}
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"jwk": jwk}))
		}, invalidProof, "DPoP proof jwk holds private key material"},
		{"a symmetric jwk", func(t *testing.T) *http.Request {
			p := k.proof(t, "GET", ordersURL, at, nil, map[string]any{"jwk": map[string]any{"kty": "oct"}})
			return dpopRequest("GET", ordersURL, at, p)
		}, invalidProof, "DPoP proof jwk is not a valid public key"},
		{"a jwk point off the curve", func(t *testing.T) *http.Request {
			jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": k.jwk["x"], "y": k.jwk["x"]}
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"jwk": jwk}))
		}, invalidProof, "DPoP proof jwk is not a valid public key"},
		{"alg of another key type", func(t *testing.T) *http.Request {
			p := k.proof(t, "GET", ordersURL, at, nil, map[string]any{"alg": "RS256"})
			return dpopRequest("GET", ordersURL, at, p)
		}, invalidProof, "DPoP proof alg does not fit its jwk"},
		{"wrong typ (an access token as proof)", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"typ": "at+jwt"}))
		}, invalidProof, "DPoP proof typ is not dpop+jwt"},
		{"key from jku, not jwk", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"jwk": nil, "jku": "https://evil.example/jwks"}))
		}, invalidProof, "DPoP proof jwk is not a valid public key"},
		{"unknown crit", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, map[string]any{"crit": []string{"x"}, "x": 1}))
		}, invalidProof, "DPoP proof header invalid"},
		{"oversized proof", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"pad": strings.Repeat("A", 5000)}, nil))
		}, invalidProof, "DPoP proof too large"},
		{"two DPoP headers", func(t *testing.T) *http.Request {
			r := dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil))
			r.Header.Add("DPoP", k.proof(t, "GET", ordersURL, at, nil, nil))
			return r
		}, invalidProof, "several DPoP headers"},
		{"garbage proof", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, "not a jwt")
		}, invalidProof, "DPoP proof is not a compact JWS"},
		{"proof without jti", func(t *testing.T) *http.Request {
			return dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"jti": nil}, nil))
		}, invalidProof, "DPoP proof claims invalid"},
		{"DPoP scheme for a bearer token", func(t *testing.T) *http.Request {
			plain := token(t, "ec1", nil)
			return dpopRequest("GET", ordersURL, plain, k.proof(t, "GET", ordersURL, plain, nil, nil))
		}, invalidBinding, "DPoP scheme for a token not bound to a key"},
		{"cnf of an unsupported method", func(t *testing.T) *http.Request {
			return bearer(token(t, "ec1", map[string]any{"cnf": map[string]any{"jwk": k.jwk}}))
		}, `Bearer error="invalid_token"`, "token bound by an unsupported confirmation method"},
		{"malformed cnf.jkt", func(t *testing.T) *http.Request {
			return bearer(token(t, "ec1", map[string]any{"cnf": map[string]any{"jkt": "short"}}))
		}, `Bearer error="invalid_token"`, "invalid cnf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, jwt.Config{})
			checkRefused(t, v, tc.req(t), tc.challenge, tc.reason)
		})
	}
}

// TestAttackDPoPReplayedProof: a proof seen on the wire (a log, a proxy)
// is refused the second time, on the cached token path too.
func TestAttackDPoPReplayedProof(t *testing.T) {
	v := newVerifier(t, jwt.Config{})
	k := newDPoPKey(t, "ES256")
	at := boundToken(t, k, nil)
	p := k.proof(t, "GET", ordersURL, at, nil, nil)
	checkAccepted(t, v, dpopRequest("GET", ordersURL, at, p))
	checkRefused(t, v, dpopRequest("GET", ordersURL, at, p), invalidProof, "DPoP proof replayed")
	// A refused proof takes no room: the honest retry with a fresh jti
	// works.
	checkAccepted(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil)))
}

// TestDPoPCanonicalPathsAgree: the proof and the request are compared in
// canonical form, so an honest client whose URL is spelled differently
// (case of scheme and host, a default port, an escaped unreserved
// character, a dot-segment) is not refused, and the query is ignored.
func TestDPoPCanonicalPathsAgree(t *testing.T) {
	k := newDPoPKey(t, "ES256")
	at := boundToken(t, k, nil)
	for _, c := range []struct{ req, htu string }{
		{ordersURL, "HTTPS://API.EXAMPLE/orders"},
		{ordersURL, "https://api.example:443/orders"},
		{ordersURL, "https://api.example/%6Frders"},
		{ordersURL, "https://api.example/x/../orders"},
		{ordersURL + "?page=2", ordersURL},
		{ordersURL, ordersURL + "?page=2#top"},
	} {
		v := newVerifier(t, jwt.Config{})
		r := dpopRequest("GET", c.req, at, k.proof(t, "GET", c.htu, at, nil, nil))
		if _, err := v.Authenticate(r); err != nil {
			t.Errorf("request %s with htu %s: %v, want accepted", c.req, c.htu, err)
		}
	}
}

// TestDPoPBindingPolicy: binding per issuer. With dpop, a bearer token is
// refused (and 401s challenge for DPoP); with none it is accepted; the
// challenge names the proof algorithms.
func TestDPoPBindingPolicy(t *testing.T) {
	k := newDPoPKey(t, "EdDSA")
	bound := boundToken(t, k, nil)
	plain := token(t, "ec1", nil)
	iss := staticIssuer(t)
	iss.Binding = auth.BindingDPoP
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{iss}, DPoP: auth.DPoPOptions{Algorithms: []string{"EdDSA", "ES256"}}})
	checkRefused(t, v, bearer(plain), invalidBinding, "issuer requires DPoP-bound tokens")
	w, _ := serve(t, v, bearer(plain))
	if got := w.Header().Get("WWW-Authenticate"); got != `DPoP error="invalid_token", algs="EdDSA ES256", realm="api"` {
		t.Errorf("challenge = %q", got)
	}
	w, _ = serve(t, v, httptestRequest())
	if got := w.Header().Values("WWW-Authenticate"); len(got) != 2 || got[1] != `DPoP algs="EdDSA ES256", realm="api"` {
		t.Errorf("bare challenges = %q, want Bearer and DPoP with algs", got)
	}
	checkAccepted(t, v, dpopRequest("GET", ordersURL, bound, k.proof(t, "GET", ordersURL, bound, nil, nil)))
	if _, err := v.Verify(t.Context(), plain); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify of a dpop-only issuer's token without its request = %v, want refused", err)
	}

	iss.Binding = auth.BindingNone
	v = newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{iss}})
	checkAccepted(t, v, bearer(plain))
	if _, err := v.Verify(t.Context(), bound); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify(bound token) = %v, want refused: no proof can be checked", err)
	}
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest("GET", ordersURL, nil)
	return r
}

// TestDPoPNonce: with server nonces on, a proof without one is answered
// use_dpop_nonce with a DPoP-Nonce, the retry with it passes, and a nonce
// past its lifetime (or made up) is answered the same way.
func TestDPoPNonce(t *testing.T) {
	clock := newClock()
	v := newVerifier(t, jwt.Config{Now: clock.Now, DPoP: auth.DPoPOptions{NonceSecret: []byte("0123456789abcdef0123456789abcdef"), NonceLifetime: time.Minute}})
	k := newDPoPKey(t, "ES256")
	at := boundToken(t, k, map[string]any{"exp": t0.Add(time.Hour).Unix()})
	w, events := serve(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, nil, nil)))
	nonce := w.Header().Get("DPoP-Nonce")
	if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP error="use_dpop_nonce"`) || nonce == "" {
		t.Fatalf("no nonce: %d %q nonce %q (%+v)", w.Code, w.Header().Get("WWW-Authenticate"), nonce, events)
	}
	checkAccepted(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"nonce": nonce}, nil)))

	checkRefused(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"nonce": "made-up-nonce-made-up-nonce-1234"}, nil)),
		`DPoP error="use_dpop_nonce"`, "DPoP proof with a stale or foreign nonce")
	clock.Advance(2 * time.Minute)
	iat := map[string]any{"nonce": nonce, "iat": clock.Now().Unix()}
	checkRefused(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, iat, nil)),
		`DPoP error="use_dpop_nonce"`, "DPoP proof with a stale or foreign nonce")
	// Another instance with the same secret accepts this one's nonce.
	v2 := newVerifier(t, jwt.Config{Now: clock.Now, DPoP: auth.DPoPOptions{NonceSecret: []byte("0123456789abcdef0123456789abcdef")}})
	w, _ = serve(t, v2, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"iat": clock.Now().Unix()}, nil)))
	fresh := w.Header().Get("DPoP-Nonce")
	checkAccepted(t, v, dpopRequest("GET", ordersURL, at, k.proof(t, "GET", ordersURL, at, map[string]any{"nonce": fresh, "iat": clock.Now().Unix()}, nil)))
}

// TestAttackDPoPReplayAcrossInstances: two verifiers sharing one replay
// store (as a fleet shares Redis) refuse a proof the other accepted.
func TestAttackDPoPReplayAcrossInstances(t *testing.T) {
	clock := newClock()
	store, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a := newVerifier(t, jwt.Config{Now: clock.Now, DPoP: auth.DPoPOptions{Replay: store}})
	b := newVerifier(t, jwt.Config{Now: clock.Now, DPoP: auth.DPoPOptions{Replay: store}})
	k := newDPoPKey(t, "ES256")
	at := boundToken(t, k, nil)
	p := k.proof(t, "GET", ordersURL, at, nil, nil)
	checkAccepted(t, v(a), dpopRequest("GET", ordersURL, at, p))
	checkRefused(t, v(b), dpopRequest("GET", ordersURL, at, p), invalidProof, "DPoP proof replayed")
}

func v(x *jwt.Verifier) *jwt.Verifier { return x }

// TestDPoPConfigChecked: bad DPoP and mTLS settings are refused by New,
// all at once.
func TestDPoPConfigChecked(t *testing.T) {
	_, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{staticIssuer(t)},
		DPoP:    auth.DPoPOptions{Algorithms: []string{"HS256", "none"}, ProofWindow: time.Hour, NonceSecret: []byte("short")},
		MTLS:    auth.MTLSOptions{CertificateHeader: "Client-Cert"},
	})
	for _, field := range []string{"DPoP.Algorithms", "DPoP.ProofWindow", "DPoP.NonceSecret", "MTLS.TrustedProxies"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New = %v, want a problem with %s", err, field)
		}
	}
}
