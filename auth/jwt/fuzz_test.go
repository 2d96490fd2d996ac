package jwt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// FuzzVerify throws arbitrary tokens at the parser and verifier: nothing
// panics, every refusal is a typed invalid-token error, and nothing but a
// token signed with a configured key is ever accepted.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	f.Add(token(f, "rsa1", nil))
	f.Add(token(f, "ec1", nil))
	f.Add(token(f, "ed1", nil))
	f.Add(token(f, "hs1", nil))
	f.Add(b64(`{"alg":"none"}`) + "." + b64(claims(nil)) + ".")
	f.Add(signRaw(f, "HS256", []byte("x"), header("HS256", "rsa1"), claims(nil)))
	f.Add(signRaw(f, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","typ":"at+jwt","crit":["x"]}`, claims(nil)))
	f.Add(signRaw(f, "RS256", k.rsa, header("RS256", "rsa1"), `{"iss":"a","ISS":"b"}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat("A", 9000))
	v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{staticIssuer(f)}, Now: newClock().Now, CacheSize: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify(%q) = %v, want an invalid-token error", tok, err)
			}
			return
		}
		if p.Issuer != "https://idp.example" || p.Subject == "" {
			t.Fatalf("Verify(%q) accepted %+v", tok, p)
		}
	})
}

// FuzzDPoPProof throws arbitrary DPoP headers at a DPoP-bound token:
// nothing panics, every refusal is a typed invalid-token error, and no
// proof is ever accepted twice.
func FuzzDPoPProof(f *testing.F) {
	k := newDPoPKey(f, "ES256")
	at := boundToken(f, k, nil)
	f.Add(k.proof(f, "GET", ordersURL, at, nil, nil))
	f.Add(k.proof(f, "GET", ordersURL, at, nil, map[string]any{"alg": "none"}))
	f.Add(k.proof(f, "GET", ordersURL, at, map[string]any{"iat": "soon"}, nil))
	f.Add(k.proof(f, "POST", ordersURL, at, nil, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}))
	f.Add(b64(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`) + "." + b64(`{}`) + ".AA")
	f.Add("..")
	f.Add(strings.Repeat("A.", 3000))
	v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{staticIssuer(f)}, Now: newClock().Now})
	if err != nil {
		f.Fatal(err)
	}
	accepted := map[string]bool{}
	f.Fuzz(func(t *testing.T, proof string) {
		_, err := v.Authenticate(dpopRequest("GET", ordersURL, at, proof))
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrInvalidRequest) {
				t.Fatalf("Authenticate(DPoP: %q) = %v, want a typed refusal", proof, err)
			}
			return
		}
		if accepted[proof] {
			t.Fatalf("proof %q accepted twice", proof)
		}
		accepted[proof] = true
	})
}

// FuzzVerifyLogoutToken throws arbitrary logout tokens at the
// back-channel logout verification: nothing panics, every refusal is a
// typed invalid-token error, and what is accepted names its issuer and
// sub or sid.
func FuzzVerifyLogoutToken(f *testing.F) {
	f.Add(logoutToken(f, "logout+jwt", nil))
	f.Add(logoutToken(f, "at+jwt", nil))
	f.Add(logoutToken(f, "", map[string]any{"events": "x", "nonce": "n"}))
	f.Add(logoutToken(f, "JWT", map[string]any{"sub": nil, "sid": nil}))
	f.Add(logoutToken(f, "logout+jwt", map[string]any{"iat": "yesterday", "aud": []any{1}}))
	f.Add(token(f, "ec1", nil))
	f.Add("..")
	f.Add(strings.Repeat("A", 9000))
	iss := staticIssuer(f)
	iss.LogoutAudiences = []string{logoutClient}
	v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{iss}, Now: newClock().Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = v.Close() })
	f.Fuzz(func(t *testing.T, tok string) {
		lt, err := v.VerifyLogoutToken(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("VerifyLogoutToken(%q) = %v, want an invalid-token error", tok, err)
			}
			return
		}
		if lt.Issuer != testIssuer || lt.JTI == "" || (lt.Subject == "" && lt.SessionID == "") {
			t.Fatalf("VerifyLogoutToken(%q) accepted %+v", tok, lt)
		}
	})
}
