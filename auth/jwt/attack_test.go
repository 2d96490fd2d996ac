package jwt_test

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/secevent"
)

const invalidToken = `Bearer error="invalid_token", realm="api"`

// invalidBecause is the challenge of a refusal the client can act on: with
// a fixed RFC 6750 error_description.
func invalidBecause(description string) string {
	return `Bearer error="invalid_token", error_description="` + description + `", realm="api"`
}

// attack is one row of the attack table: a request an attacker sends, and
// the refusal it must get.
type attack struct {
	name      string
	req       func(t *testing.T) *http.Request
	status    int
	challenge string
	reason    string // the secevent reason: which check caught it
}

func tok(f func(t *testing.T) string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return bearer(f(t)) }
}

func TestAttacks(t *testing.T) {
	k := keys(t)
	// A server standing for the attacker's: any key URL pointed at it
	// must never be fetched.
	var attackerHits atomic.Int32
	evilSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerHits.Add(1)
		_, _ = w.Write(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.evil.PublicKey}))
	}))
	defer evilSrv.Close()
	evilJWK := string(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.evil.PublicKey}))
	evilJWK = evilJWK[strings.Index(evilJWK, "[")+1 : strings.LastIndex(evilJWK, "]")]
	evilCert := base64.StdEncoding.EncodeToString([]byte("not really a certificate, never parsed"))
	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	evilSigned := func(hdr string) func(t *testing.T) string {
		return func(t *testing.T) string { return signRaw(t, "RS256", k.evil, hdr, claims(nil)) }
	}
	rs := func(hdr, payload string) func(t *testing.T) string {
		return func(t *testing.T) string { return signRaw(t, "RS256", k.rsa, hdr, payload) }
	}
	valid := func(over map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return token(t, "rsa1", over) }
	}
	ecSig := func(sig []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			good := token(t, "ec1", nil)
			return good[:strings.LastIndexByte(good, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
		}
	}
	derSig := func(t *testing.T) string {
		// A DER (ASN.1) ECDSA signature, as crypto/ecdsa.SignASN1 makes:
		// JWS needs the fixed-length r||s form.
		in := b64(header("ES256", "ec1")) + "." + b64(claims(nil))
		sum := sha256Sum([]byte(in))
		der, err := k.ec.Sign(rand.Reader, sum[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(der)
	}
	oversized := func(t *testing.T) string {
		return token(t, "rsa1", map[string]any{"pad": strings.Repeat("x", 8<<10)})
	}
	withTyp := func(typ string) string {
		if typ == "" {
			return `{"alg":"RS256","kid":"rsa1"}`
		}
		return `{"alg":"RS256","kid":"rsa1","typ":"` + typ + `"}`
	}
	full := claims(nil)
	body := full[1 : len(full)-1] // the members, to splice duplicates into

	tests := []attack{
		// alg none: the token asks not to be verified.
		{"alg none, no signature", tok(func(t *testing.T) string {
			return b64(`{"alg":"none","typ":"at+jwt"}`) + "." + b64(claims(nil)) + "."
		}), 401, invalidToken, "missing signature"},
		{"alg none, with a signature", tok(func(t *testing.T) string {
			return b64(`{"alg":"none","typ":"at+jwt","kid":"rsa1"}`) + "." + b64(claims(nil)) + ".AAAA"
		}), 401, invalidBecause("algorithm not allowed"), "algorithm not allowed"},
		{"alg None, case variant", tok(func(t *testing.T) string {
			return b64(`{"alg":"None","typ":"at+jwt"}`) + "." + b64(claims(nil)) + ".AAAA"
		}), 401, invalidBecause("algorithm not allowed"), "algorithm not allowed"},

		// Algorithm confusion: HMAC keyed with the RSA public key, which
		// the attacker knows.
		{"HS256 signed with the RSA public key (PEM)", tok(func(t *testing.T) string {
			return signRaw(t, "HS256", pubPEM, header("HS256", "rsa1"), claims(nil))
		}), 401, invalidToken, "unknown key id"},
		{"HS256 signed with the RSA public key (DER), no kid", tok(func(t *testing.T) string {
			return signRaw(t, "HS256", pubDER, `{"alg":"HS256","typ":"at+jwt"}`, claims(nil))
		}), 401, invalidToken, "unknown key id"},
		{"RS256 header on the HMAC key id", tok(func(t *testing.T) string {
			return signRaw(t, "RS256", k.evil, header("RS256", "hs1"), claims(nil))
		}), 401, invalidToken, "unknown key id"},

		// kid injection: the kid is a lookup key, never a path or query.
		{"kid path traversal", tok(evilSigned(header("RS256", "../../../../../dev/null"))), 401, invalidToken, "unknown key id"},
		{"kid SQL injection", tok(evilSigned(header("RS256", "x' UNION SELECT 'secret' --"))), 401, invalidToken, "unknown key id"},
		{"kid with NUL byte", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1\u0000HS256"}`)), 401, invalidToken, "unknown key id"},
		{"kid command injection", tok(evilSigned(header("RS256", "rsa1|cat /etc/passwd"))), 401, invalidToken, "unknown key id"},
		{"kid very long", tok(evilSigned(header("RS256", strings.Repeat("k", 300)))), 401, invalidToken, "invalid kid"},
		{"kid not a string", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":1}`)), 401, invalidToken, "invalid kid"},

		// Keys the token brings along are never used.
		{"jku injection", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"evil","jku":"` + evilSrv.URL + `"}`)), 401, invalidToken, "unknown key id"},
		{"jku injection with a known kid", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","jku":"` + evilSrv.URL + `"}`)), 401, invalidToken, "bad signature"},
		{"x5u injection", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","x5u":"` + evilSrv.URL + `"}`)), 401, invalidToken, "bad signature"},
		{"jwk injection", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","jwk":` + evilJWK + `}`)), 401, invalidToken, "unknown key id"},
		{"jwk injection with a known kid", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","jwk":` + evilJWK + `}`)), 401, invalidToken, "bad signature"},
		{"x5c injection", tok(evilSigned(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","x5c":["` + evilCert + `"]}`)), 401, invalidToken, "bad signature"},

		// ECDSA signatures that are not signatures (CVE-2022-21449 class).
		{"ECDSA r=s=0", tok(ecSig(make([]byte, 64))), 401, invalidToken, "bad signature"},
		{"ECDSA signature too short", tok(ecSig(make([]byte, 63))), 401, invalidToken, "bad signature"},
		{"ECDSA signature too long", tok(ecSig(make([]byte, 65))), 401, invalidToken, "bad signature"},
		{"ECDSA r=s=n (the group order)", tok(ecSig(append(p256N(), p256N()...))), 401, invalidToken, "bad signature"},
		{"ECDSA DER-encoded signature", tok(derSig), 401, invalidToken, "bad signature"},
		{"signature from another key", tok(func(t *testing.T) string {
			return signRaw(t, "ES256", k.evilEC, header("ES256", "ec1"), claims(nil))
		}), 401, invalidToken, "bad signature"},

		// Time.
		{"expired", tok(valid(map[string]any{"exp": t0.Add(-61 * time.Second).Unix()})), 401, invalidBecause("token expired"), "expired"},
		{"not yet valid", tok(valid(map[string]any{"nbf": t0.Add(2 * time.Minute).Unix()})), 401, invalidBecause("token not yet valid"), "not yet valid"},
		{"iat in the future", tok(valid(map[string]any{"iat": t0.Add(2 * time.Minute).Unix()})), 401, invalidBecause("token issued in the future"), "issued in the future"},
		{"missing exp", tok(valid(map[string]any{"exp": nil})), 401, invalidBecause("token has no exp"), "missing exp"},
		{"exp as a string", tok(valid(map[string]any{"exp": "99999999999"})), 401, invalidBecause("invalid exp, nbf or iat"), "invalid exp"},

		// Audience and issuer.
		{"wrong aud", tok(valid(map[string]any{"aud": "https://other-api.example"})), 401, invalidBecause("wrong audience"), "wrong audience"},
		{"aud array without ours", tok(valid(map[string]any{"aud": []string{"https://a.example", "https://b.example"}})), 401, invalidBecause("wrong audience"), "wrong audience"},
		{"missing aud", tok(valid(map[string]any{"aud": nil})), 401, invalidBecause("missing or invalid aud"), "missing or invalid aud"},
		{"wrong iss", tok(valid(map[string]any{"iss": "https://evil.example"})), 401, invalidBecause("unknown issuer"), "unknown issuer"},
		{"iss case variant", tok(valid(map[string]any{"iss": "https://IDP.example"})), 401, invalidBecause("unknown issuer"), "unknown issuer"},

		// An ID token is not an access token (RFC 9068 §4).
		{"ID token (typ JWT) as access token", tok(rs(withTyp("JWT"), claims(nil))), 401, invalidBecause("typ must be at+jwt"), "typ is not at+jwt"},
		{"token without typ", tok(rs(withTyp(""), claims(nil))), 401, invalidBecause("typ must be at+jwt"), "typ is not at+jwt"},

		// One decode, one meaning: duplicates and case variants refused.
		{"duplicate claim iss", tok(rs(header("RS256", "rsa1"), `{`+body+`,"iss":"https://evil.example"}`)), 401, invalidToken, "invalid claims JSON"},
		{"case-variant claim ISS", tok(rs(header("RS256", "rsa1"), `{`+body+`,"ISS":"https://evil.example"}`)), 401, invalidToken, "invalid claims JSON"},
		{"case-variant claim via KELVIN SIGN", tok(rs(header("RS256", "rsa1"), `{`+body+`,"\u212Aid":"x","kid":"y"}`)), 401, invalidToken, "invalid claims JSON"},
		{"duplicate header alg", tok(rs(`{"alg":"HS256","typ":"at+jwt","kid":"rsa1","alg":"RS256"}`, claims(nil))), 401, invalidToken, "invalid JOSE header JSON"},
		{"case-variant header Alg", tok(rs(`{"Alg":"none","typ":"at+jwt","kid":"rsa1","alg":"RS256"}`, claims(nil))), 401, invalidToken, "invalid JOSE header JSON"},
		{"invalid UTF-8 in claims", tok(rs(header("RS256", "rsa1"), `{`+body+`,"name":"`+"\xff\xfe"+`"}`)), 401, invalidToken, "invalid claims JSON"},
		{"lone surrogate in claims", tok(rs(header("RS256", "rsa1"), `{`+body+`,"name":"\ud800"}`)), 401, invalidToken, "invalid claims JSON"},

		// Extensions this verifier does not understand.
		{"unknown crit", tok(rs(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","crit":["exp"],"exp":1}`, claims(nil))), 401, invalidToken, "unsupported crit header"},
		{"crit b64 false", tok(rs(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","crit":["b64"],"b64":false}`, claims(nil))), 401, invalidToken, "unsupported crit header"},
		{"b64 without crit", tok(rs(`{"alg":"RS256","typ":"at+jwt","kid":"rsa1","b64":false}`, claims(nil))), 401, invalidToken, "unsupported b64 header"},

		// Size and shape, before any decoding.
		{"oversized token", tok(oversized), 401, invalidToken, "token too large"},
		{"extra dot", tok(func(t *testing.T) string { return token(t, "rsa1", nil) + ".x" }), 401, invalidToken, "not a compact JWS"},
		{"trailing dot", tok(func(t *testing.T) string { return token(t, "rsa1", nil) + "." }), 401, invalidToken, "not a compact JWS"},
		{"leading dot", tok(func(t *testing.T) string { return "." + token(t, "rsa1", nil) }), 401, invalidToken, "not a compact JWS"},
		{"two dots in a row", tok(func(t *testing.T) string { return strings.Replace(token(t, "rsa1", nil), ".", "..", 1) }), 401, invalidToken, "not a compact JWS"},
		{"base64 padding", tok(func(t *testing.T) string { return token(t, "rsa1", nil) + "==" }), 401, invalidToken, "not a compact JWS"},
		{"standard base64 alphabet", tok(func(t *testing.T) string {
			return strings.NewReplacer("-", "+", "_", "/").Replace(token(t, "rsa1", nil)) + "+/"
		}), 401, invalidToken, "not a compact JWS"},
		{"JWE (five segments)", tok(func(t *testing.T) string { return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d" }), 401, invalidToken, "not a compact JWS"},
		{"non-canonical base64 in signature", tok(func(t *testing.T) string {
			good := token(t, "ed1", nil) // 64-byte signature: last char carries 4 unused bits
			return good[:len(good)-1] + nextB64(good[len(good)-1])
		}), 401, invalidToken, "bad base64 in signature"},

		// How the token is presented.
		{"two Authorization headers", func(t *testing.T) *http.Request {
			r := bearer(token(t, "rsa1", nil))
			r.Header.Add("Authorization", "Bearer "+token(t, "ec1", nil))
			return r
		}, 400, `Bearer error="invalid_request", error_description="several Authorization headers", realm="api"`, "several Authorization headers"},
		{"token in the query string (not enabled)", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "https://api.example/orders?access_token="+token(t, "rsa1", nil), nil)
		}, 401, `Bearer realm="api"`, ""},
	}
	v := newVerifier(t, jwt.Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, events := serve(t, v, tc.req(t))
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d (body %s)", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			if tc.reason == "" {
				if len(events) != 0 {
					t.Errorf("events = %v, want none", events)
				}
				return
			}
			if len(events) != 1 || events[0].Name != secevent.AuthnTokenInvalid || events[0].Reason != tc.reason {
				t.Errorf("events = %+v, want one %s with reason %q", events, secevent.AuthnTokenInvalid, tc.reason)
			}
			var pd map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &pd); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if strings.Contains(w.Body.String(), tc.reason) {
				t.Errorf("body %s reveals the reason %q", w.Body, tc.reason)
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the attacker's key URL was fetched %d times, want 0", n)
	}
}

// nextB64 returns another base64url character decoding to the same high
// bits: a non-canonical encoding of the same bytes.
func nextB64(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[(i&^3)|((i+1)&3)])
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// p256N is the order of the P-256 group, big-endian in 32 bytes.
func p256N() []byte { return elliptic.P256().Params().N.FillBytes(make([]byte, 32)) }
