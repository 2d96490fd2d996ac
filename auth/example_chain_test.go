package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// JWT access tokens and API keys side by side, both in Authorization:
// Bearer, as the package documentation recommends. Each credential goes to
// the authenticator it belongs to by its shape, in whatever order the chain
// lists them.
func ExampleNew_chain() {
	idp := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	jwtVerifier, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: "https://idp.example", Audiences: []string{"https://orders.example"}, Algorithms: []string{"EdDSA"},
			Keys: []jwt.Key{{ID: "k1", Algorithm: "EdDSA", Key: idp.Public()}},
		}},
		Now: now,
	})
	if err != nil {
		panic(err)
	}
	defer jwtVerifier.Close()
	apiKeys, err := apikey.New(apikey.Config{
		Store: apikey.NewMemoryStore(), Prefix: "bwk_live",
		Pepper: []byte("a pepper from the secret store, 32+ bytes"), LastUsedInterval: -1,
	})
	if err != nil {
		panic(err)
	}
	defer apiKeys.Close(context.Background())
	key, _, _ := apiKeys.Create(context.Background(), apikey.Spec{Name: "nightly export"})

	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{jwtVerifier, apiKeys}})
	if err != nil {
		panic(err)
	}
	h := authn.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		fmt.Fprint(w, p.Method)
	}))
	forged := key[:len(key)-1] + "x" // the last character changed …
	if forged == key {
		forged = key[:len(key)-1] + "y" // … whatever it was
	}
	for _, tok := range []string{exampleJWT(idp, now()), key, forged, "guessed"} {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body)
		} else {
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	// Output:
	// 200 jwt
	// 200 api_key
	// 401 Bearer error="invalid_token"
	// 401 Bearer error="invalid_token"
}

func exampleJWT(k ed25519.PrivateKey, now time.Time) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(`{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}`)) + "." + enc.EncodeToString([]byte(fmt.Sprintf(
		`{"iss":"https://idp.example","sub":"checkout","aud":"https://orders.example","exp":%d}`, now.Add(time.Minute).Unix())))
	sig, _ := jwsbb.Sign(k, "EdDSA", []byte(in), rand.Reader)
	return in + "." + enc.EncodeToString(sig)
}
