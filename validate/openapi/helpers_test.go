package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// reached answers 204 and records that the request got through.
type reached struct{ n int }

func (h *reached) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.n++
	w.WriteHeader(http.StatusNoContent)
}

func mustSpec(t testing.TB, cfg openapi.Config) *openapi.Spec {
	t.Helper()
	s, err := openapi.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func fromFile(t testing.TB, name string) openapi.Config {
	t.Helper()
	doc, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return openapi.Config{Document: doc, Name: name}
}

type answer struct {
	Status int                 `json:"status"`
	Errors []openapi.Violation `json:"errors"`
}

// call sends one request: "METHOD /target", a JSON body if not empty, and
// extra header lines "Name: value".
func call(t *testing.T, h http.Handler, req, body string, headers ...string) (*httptest.ResponseRecorder, answer) {
	t.Helper()
	method, target, _ := strings.Cut(req, " ")
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for _, hl := range headers {
		k, v, _ := strings.Cut(hl, ": ")
		if v == "" {
			r.Header.Del(k)
			continue
		}
		r.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var a answer
	if w.Code != http.StatusNoContent {
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: body %q is not a problem: %v", req, w.Body, err)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type = %q, want application/problem+json", req, ct)
		}
	}
	return w, a
}

// has reports whether vs holds a violation with this pointer or
// parameter ("?name" for a parameter) and rule.
func has(vs []openapi.Violation, where, rule string) bool {
	for _, v := range vs {
		got := v.Pointer
		if v.Parameter != "" {
			got = "?" + v.Parameter
		}
		if got == where && v.Rule == rule {
			return true
		}
	}
	return false
}
