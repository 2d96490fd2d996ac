package apikey_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

func ExampleKeys() {
	ctx := context.Background()
	keys, err := apikey.New(apikey.Config{
		Store:  apikey.NewMemoryStore(),
		Prefix: "acme_live",
		Pepper: []byte("load-me-from-a-secret-manager-not-from-source"),
	})
	if err != nil {
		panic(err)
	}
	defer func() { _ = keys.Close(ctx) }()

	key, rec, err := keys.Create(ctx, apikey.Spec{Name: "billing export", Scopes: []string{"invoices:read"}})
	if err != nil {
		panic(err)
	}
	// Show key to its owner once; keep rec.ID to manage it.

	r := httptest.NewRequest(http.MethodGet, "/invoices", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	p, err := keys.Authenticate(r)
	fmt.Println(err, p.Subject == "apikey:"+rec.ID, p.Method, p.Scopes)

	_ = keys.Revoke(ctx, rec.ID)
	_, err = keys.Authenticate(r)
	fmt.Println(err)
	// Output:
	// <nil> true api_key [invoices:read]
	// auth: invalid token: revoked key: apikey: key revoked
}

func ExampleParseKey() {
	key, _ := apikey.GenerateKey("acme_test")
	p, err := apikey.ParseKey("acme_test", key)
	fmt.Println(err, len(key), strings.HasPrefix(key, p.Start), len(p.ID))

	typo := key[:20] + "!" + key[21:]
	_, err = apikey.ParseKey("acme_test", typo)
	fmt.Println(err)

	_, err = apikey.ParseKey("acme_live", key)
	fmt.Println(err)
	// Output:
	// <nil> 49 true 11
	// apikey: malformed key
	// apikey: key has another prefix
}

// ExampleKeys_Handler protects an API with keys sent in X-API-Key.
func ExampleKeys_Handler() {
	keys, err := apikey.New(apikey.Config{
		Store:            apikey.NewMemoryStore(),
		Prefix:           "acme_live",
		Pepper:           []byte("load-me-from-a-secret-manager-not-from-source"),
		Header:           "X-API-Key",
		LastUsedInterval: -1,
	})
	if err != nil {
		panic(err)
	}
	api := keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))

	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "acme_live_not-a-real-key")
	api.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Println(rec.Body.String())
	// Output:
	// 401 Bearer error="invalid_token"
	// {"type":"about:blank","title":"Unauthorized","status":401,"detail":"The access token is invalid."}
}

// ExampleKeys_incorrect shows the mistake this package exists to prevent:
// keys stored in plaintext and compared with ==, which leaks through
// timing how many leading characters match, and exposes every key to
// whoever reads the table.
func ExampleKeys_incorrect() {
	stored := map[string]string{"billing": "sk_live_abc123"} // plaintext at rest
	presented := "sk_live_abc124"
	ok := false
	for _, k := range stored {
		if k == presented { // early-exit comparison
			ok = true
		}
	}
	fmt.Println(ok)
	// Output:
	// false
}
