package jwt_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// The examples stand in for an identity provider with a fixed Ed25519 key
// and a fixed clock, so their output is stable.
var (
	exampleKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	exampleNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// exampleToken is what the provider would issue.
func exampleToken(scope string) string {
	hdr := `{"alg":"EdDSA","kid":"2026-01","typ":"at+jwt"}`
	claims := fmt.Sprintf(`{"iss":"https://idp.example","sub":"checkout","aud":"https://orders.example",`+
		`"client_id":"checkout","iat":%d,"exp":%d,"jti":"t-1","scope":%q}`,
		exampleNow.Unix(), exampleNow.Add(5*time.Minute).Unix(), scope)
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(claims))
	sig, _ := jwsbb.Sign(exampleKey, "EdDSA", []byte(in), rand.Reader)
	return in + "." + enc.EncodeToString(sig)
}

func exampleVerifier() *jwt.Verifier {
	v, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     "https://idp.example",
			Audiences:  []string{"https://orders.example"},
			Algorithms: []string{"EdDSA"},
			// In production: Discovery: true (or JWKSURL), and no Keys.
			Keys: []jwt.Key{{ID: "2026-01", Algorithm: "EdDSA", Key: exampleKey.Public()}},
		}},
		Now: func() time.Time { return exampleNow },
	})
	if err != nil {
		panic(err)
	}
	return v
}

func get(h http.Handler, method, token string) {
	r := httptest.NewRequest(method, "/orders", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(strings.TrimSpace(fmt.Sprint(method, " ", w.Code, " ", w.Header().Get("WWW-Authenticate"))))
}

// Bearer access tokens on the standard library's ServeMux: the verifier
// plugs into auth.New, which answers 401/403 per RFC 6750.
func Example() {
	v := exampleVerifier()
	defer v.Close()
	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}, Realm: "orders"})
	if err != nil {
		panic(err)
	}
	read, _ := auth.RequireScopes("orders:read")
	write, _ := auth.RequireScopes("orders:write")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("GET /orders", authn.Require(read)(ok))
	mux.Handle("POST /orders", authn.Require(write)(ok))
	h := authn.Handler(mux)

	reader := exampleToken("orders:read")
	get(h, "GET", reader)
	get(h, "POST", reader)
	get(h, "GET", reader[:len(reader)-4]+"AAAA") // tampered signature
	get(h, "GET", "")
	// Output:
	// GET 200
	// POST 403 Bearer error="insufficient_scope", scope="orders:write", realm="orders"
	// GET 401 Bearer error="invalid_token", realm="orders"
	// GET 401 Bearer realm="orders"
}

// With chi or gorilla/mux the same values are plain middleware:
// r.Use(authn.Handler) and r.With(authn.Require(pol)). Here the chain is
// built by hand, as a router's Use would.
func Example_use() {
	v := exampleVerifier()
	defer v.Close()
	authn, _ := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}})
	pol, _ := auth.RequireScopes("orders:read")
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		fmt.Println("subject:", p.Subject, "scopes:", p.Scopes, "client:", p.Claims["client_id"])
	})
	for _, mw := range []func(http.Handler) http.Handler{authn.Require(pol), authn.Handler} {
		h = mw(h)
	}
	get(h, "GET", exampleToken("orders:read orders:write"))
	// Output:
	// subject: checkout scopes: [orders:read orders:write] client: checkout
	// GET 200
}

// A scope expression compiled once at start-up, checked per route against
// the verified token.
func Example_scopeExpression() {
	v := exampleVerifier()
	defer v.Close()
	authn, _ := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}})
	pol, err := auth.Compile("orders:read and (orders:write or orders:admin)")
	if err != nil {
		panic(err)
	}
	h := authn.Handler(authn.Require(pol)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	get(h, "DELETE", exampleToken("orders:read"))
	get(h, "DELETE", exampleToken("orders:read orders:admin"))
	// Output:
	// DELETE 403 Bearer error="insufficient_scope", scope="orders:read orders:write orders:admin"
	// DELETE 200
}

// Verify judges a token from anywhere, without HTTP: a message queue, a
// WebSocket handshake. Errors are auth's typed errors.
func ExampleVerifier_Verify() {
	v := exampleVerifier()
	defer v.Close()
	p, err := v.Verify(context.Background(), exampleToken("orders:read"))
	fmt.Println(p.Subject, err)

	_, err = v.Verify(context.Background(), strings.Replace(exampleToken("orders:read"), ".", "..", 1))
	var ce *auth.CredentialError
	fmt.Println(errors.Is(err, auth.ErrInvalidToken), errors.As(err, &ce) && ce.Reason == "not a compact JWS")
	// Output:
	// checkout <nil>
	// true true
}

// The wrong way: an issuer with no audience and no algorithm allow-list
// would accept tokens minted for any API with any algorithm. New refuses
// it, naming every problem.
func ExampleNew_incorrect() {
	_, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{{Issuer: "http://idp.example", Discovery: true}}})
	fmt.Println(err)
	// Output:
	// auth: jwt.Config.Issuers[0].Issuer "http://idp.example": must use https (http only for loopback addresses)
	// auth: jwt.Config.Issuers[0].Audiences: required: tokens for other APIs must not be accepted
	// auth: jwt.Config.Issuers[0].Algorithms: required: an explicit allow-list
}

// Typed claims: the verified claims decoded into the application's own
// type, member names matched exactly.
func ExampleClaimsAs() {
	v := exampleVerifier()
	defer v.Close()
	authn, _ := auth.New(auth.Config{Authenticators: []auth.Authenticator{v}})
	type orderClaims struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		Expires  int64  `json:"exp"`
	}
	h := authn.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := jwt.ClaimsAs[orderClaims](r.Context())
		fmt.Println(c.ClientID, c.Scope, time.Unix(c.Expires, 0).UTC().Format(time.Kitchen), err)
	}))
	get(h, "GET", exampleToken("orders:read"))
	// Output:
	// checkout orders:read 3:09AM <nil>
	// GET 200
}
