package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
)

// tokens stands in for auth/jwt or auth/apikey in these examples.
var tokens = auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
	switch r.Header.Get("Authorization") {
	case "":
		return nil, auth.ErrNoCredentials
	case "Bearer reader-token":
		return &auth.Principal{Subject: "reporting-job", Method: "jwt", Scopes: []string{"orders:read"}}, nil
	case "Bearer writer-token":
		return &auth.Principal{Subject: "checkout", Method: "jwt", Scopes: []string{"orders:read", "orders:write"}}, nil
	}
	return nil, auth.Invalid("signature mismatch", nil)
})

func call(h http.Handler, method, token string) {
	r := httptest.NewRequest(method, "/orders", strings.NewReader(""))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(strings.TrimSpace(fmt.Sprint(method, " ", token, " ", rec.Code, " ", rec.Header().Get("WWW-Authenticate"))))
}

// Per-route authorization with the standard library's ServeMux.
func Example() {
	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{tokens}, Realm: "orders"})
	if err != nil {
		panic(err)
	}
	read, _ := auth.RequireScopes("orders:read")
	write, _ := auth.RequireScopes("orders:write")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

	mux := http.NewServeMux()
	mux.Handle("GET /orders", authn.Require(read)(ok))
	mux.Handle("POST /orders", authn.Require(write)(ok))
	h := authn.Handler(mux) // authenticate every request, authorize per route

	call(h, "GET", "")
	call(h, "GET", "forged")
	call(h, "GET", "reader-token")
	call(h, "POST", "reader-token")
	call(h, "POST", "writer-token")
	// Output:
	// GET  401 Bearer realm="orders"
	// GET forged 401 Bearer error="invalid_token", realm="orders"
	// GET reader-token 200
	// POST reader-token 403 Bearer error="insufficient_scope", scope="orders:write", realm="orders"
	// POST writer-token 200
}

// With chi or gorilla/mux, Handler and the result of Require are ordinary
// func(http.Handler) http.Handler middleware: r.Use(authn.Handler), and
// r.With(authn.Require(pol)).Get(...) in chi. Here the same chain is built
// by hand.
func ExampleAuth_Handler_use() {
	authn, _ := auth.New(auth.Config{Authenticators: []auth.Authenticator{tokens}})
	pol, _ := auth.RequireScopes("orders:read")

	use := []func(http.Handler) http.Handler{authn.Handler, authn.Require(pol)}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		fmt.Println("handler sees", p.Subject)
	})
	for i := len(use) - 1; i >= 0; i-- {
		h = use[i](h)
	}
	call(h, "GET", "reader-token")
	// Output:
	// handler sees reporting-job
	// GET reader-token 200
}

func ExampleCompile() {
	pol, err := auth.Compile("orders:read and (orders:write or role(admin))")
	if err != nil {
		panic(err)
	}
	support := &auth.Principal{Subject: "bob", Scopes: []string{"orders:read"}, Roles: []string{"admin"}}
	job := &auth.Principal{Subject: "job", Scopes: []string{"orders:read"}}
	fmt.Println(pol.Allows(support), pol.Allows(job), pol.Scopes())

	_, err = auth.Compile("orders:read and")
	fmt.Println(err)
	// Output:
	// true false [orders:read orders:write]
	// auth: policy "orders:read and": unexpected end of expression
}
