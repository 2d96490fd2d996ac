package openapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// FuzzCheck: no request, however malformed, makes Check panic, and every
// answer is either a pass or a refusal with a 4xx status.
func FuzzCheck(f *testing.F) {
	h := mustSpec(f, openapi.Config{Document: []byte(usersDoc)}).Handler(&reached{})
	for _, seed := range [][3]string{
		{"GET", "/users/1?dry=true&ids=1,2&filter[role]=user", ""},
		{"PATCH", "/users/1", `{"name":"a","age":1}`},
		{"PATCH", "/users/%zz", `{"NAME":1,"ſ":[]}`},
		{"POST", "/tree", `{"children":[{"children":[{}]}]}`},
		{"GET", "/users/1?filter[=&=&&;", `x`},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") || strings.ContainsAny(method, " \r\n") || method == "" {
			return
		}
		r, err := http.NewRequest(method, "http://x"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", "application/merge-patch+json")
		if strings.HasPrefix(target, "/users") {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("%s %s %q: status %d", method, target, body, w.Code)
		}
	})
}
