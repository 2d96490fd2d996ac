package cors_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bulwark-go/bulwark/cors"
)

// Example stacks cors in front of the application (and in front of any
// authentication: preflights carry no credentials).
func Example() {
	c, err := cors.New(cors.Config{
		Origins:               []string{"https://app.example.com", "https://*.example.net"},
		AllowCredentials:      true,
		Methods:               []string{http.MethodGet, http.MethodPost, http.MethodPut},
		Headers:               []string{"Content-Type", "Authorization"},
		CrossOriginProtection: true,
	})
	if err != nil {
		panic(err) // a configuration error, at start-up
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"ok":true}`)
	})
	h := c.Handler(app) // with authentication: c.Handler(a.Handler(app))

	r := httptest.NewRequest(http.MethodOptions, "https://api.example.com/items", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Access-Control-Max-Age"))
	// Output: 204 https://app.example.com 600
}

// ExampleNew_incorrect shows configurations New refuses, and why.
func ExampleNew_incorrect() {
	_, err := cors.New(cors.Config{
		Origins:          []string{"*", "null", "https://*.co.uk", "http://app.example.com", "https://example.com/"},
		AllowCredentials: true,
	})
	var ce *cors.ConfigError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if errors.As(e, &ce) {
			fmt.Println(ce.Field, errors.Is(e, cors.ErrWildcardOrigin), errors.Is(e, cors.ErrNullOrigin),
				errors.Is(e, cors.ErrPublicSuffixWildcard), errors.Is(e, cors.ErrInsecureWithCredentials), errors.Is(e, cors.ErrNotSerialized))
		}
	}
	// Output:
	// Origins[0] true false false false false
	// Origins[1] false true false false false
	// Origins[2] false false true false false
	// Origins[3] false false false true false
	// Origins[4] false false false false true
}

// ExampleCORS_Allows matches origins byte for byte, on label boundaries.
func ExampleCORS_Allows() {
	c, _ := cors.New(cors.Config{Origins: []string{"https://*.example.com"}})
	for _, o := range []string{
		"https://api.example.com",
		"https://a.b.example.com",
		"https://example.com",
		"https://evil-example.com",
		"https://example.com.evil.net",
		"https://API.example.com",
		"http://api.example.com",
	} {
		fmt.Println(o, c.Allows(o))
	}
	// Output:
	// https://api.example.com true
	// https://a.b.example.com true
	// https://example.com false
	// https://evil-example.com false
	// https://example.com.evil.net false
	// https://API.example.com false
	// http://api.example.com false
}

// ExampleCORS_Check decides without a response writer.
func ExampleCORS_Check() {
	c, _ := cors.New(cors.Config{Origins: []string{"https://app.example.com"}, CrossOriginProtection: true})
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/transfer", nil)
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	err := c.Check(r)
	fmt.Println(errors.Is(err, cors.ErrCrossOriginRequest))
	// Output: true
}
