package canonical_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"

	"github.com/bulwark-go/bulwark/canonical"
)

// A reverse proxy that routes on the canonical path and forwards exactly
// that path: "/public/%2e%2e/admin/x" is "/admin/x" to the router and to
// the upstream alike, so the upstream can never serve a path no route's
// checks saw.
func Example() {
	canon, err := canonical.New(canonical.Config{
		StripHeaders: []string{"X-User"}, // the identity header the proxy writes
	})
	if err != nil {
		log.Fatal(err) // every configuration problem, listed
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("upstream got %s, X-User %q\n", r.RequestURI, r.Header.Get("X-User"))
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}

	h := canon.Handler(proxy)
	for _, path := range []string{"/public/%2e%2e/admin/x", "/public/..%2fadmin/x"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X_User", "admin") // what WSGI would read as X-User
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Println(path, "→", rec.Code)
	}
	// Output:
	// upstream got /admin/x, X-User ""
	// /public/%2e%2e/admin/x → 200
	// /public/..%2fadmin/x → 400
}

// The path functions on their own, for a router of your own.
func ExampleCanonicalizer_Path() {
	canon, _ := canonical.New(canonical.Config{})
	for _, p := range []string{"/v1//orders/./42", "/caf%c3%a9/%7euser", "/a%2fb", "/../etc/passwd"} {
		escaped, decoded, err := canon.Path(p)
		fmt.Printf("%-20s %q %q %v\n", p, escaped, decoded, err)
	}
	// Output:
	// /v1//orders/./42     "/v1/orders/42" "/v1/orders/42" <nil>
	// /caf%c3%a9/%7euser   "/caf%C3%A9/~user" "/café/~user" <nil>
	// /a%2fb               "" "" canonical: encoded slash
	// /../etc/passwd       "" "" canonical: dot-segments above the root
}
