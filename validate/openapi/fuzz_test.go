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

// FuzzNew: no document, however malformed, makes New panic or hang.
func FuzzNew(f *testing.F) {
	f.Add([]byte(usersDoc))
	f.Add([]byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {/a/{x}: {get: {parameters: [{name: x, in: path, required: true, schema: {$ref: '#/components/schemas/A'}}], responses: {'200': {description: ok}}}}}\ncomponents: {schemas: {A: {type: [integer, 'null'], minimum: 1}}}\n"))
	f.Add([]byte(`{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{"/":{"post":{"requestBody":{"content":{"*/*":{"schema":{"items":{"$ref":"#/paths/~1/post/requestBody/content/*~1*/schema"}}}}},"responses":{"default":{"description":"x"}}}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<14 {
			return
		}
		_, _ = openapi.New(openapi.Config{Document: doc, Responses: openapi.ResponsesLog})
	})
}
