package introspect_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/introspect"
)

func Example() {
	// The authorization server's introspection endpoint (here a stand-in).
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ans := map[string]any{"active": false}
		if r.PostForm.Get("token") == "2YotnFZFEjr1zCsicMWpAA" {
			ans = map[string]any{"active": true, "sub": "reporting-job", "scope": "orders:read"}
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	defer as.Close()

	in, err := introspect.New(introspect.Config{
		Endpoint:     as.URL, // https in production; http is accepted for loopback only
		ClientID:     "orders-api",
		ClientSecret: "from-your-secret-store",
	})
	if err != nil {
		panic(err)
	}
	authn, _ := auth.New(auth.Config{Authenticators: []auth.Authenticator{in}})
	h := authn.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		fmt.Fprint(w, p.Subject, " ", p.Scopes)
	}))

	for _, tok := range []string{"2YotnFZFEjr1zCsicMWpAA", "guessed"} {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("WWW-Authenticate"))))
		if rec.Code == 200 {
			fmt.Println(rec.Body)
		}
	}
	// Output:
	// 200
	// reporting-job [orders:read]
	// 401 Bearer error="invalid_token", error_description="token not active"
}
