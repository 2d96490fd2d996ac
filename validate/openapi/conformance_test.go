package openapi_test

import (
	"net/http"
	"testing"
)

// TestPetstoreConformance runs the OpenAPI Initiative's own examples:
// requests they describe pass, and each kind of violation is refused with
// the right pointer or parameter and rule.
func TestPetstoreConformance(t *testing.T) {
	tests := []struct {
		file, req, body string
		headers         []string
		status          int
		where, rule     string // one expected violation: "/pointer" or "?param"
	}{
		// OpenAPI 3.0: petstore.yaml
		{file: "petstore-3.0.yaml", req: "GET /pets", status: 204},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=100", status: 204},
		{file: "petstore-3.0.yaml", req: "HEAD /pets?limit=1", status: 204},
		{file: "petstore-3.0.yaml", req: "GET /pets/any-name", status: 204},
		{file: "petstore-3.0.yaml", req: "POST /pets", status: 204},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=2147483647", status: 204},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=-2147483649", status: 422, where: "?limit", rule: "format"},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=ten", status: 400, where: "?limit", rule: "type"},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=1.5", status: 400, where: "?limit", rule: "type"},
		{file: "petstore-3.0.yaml", req: "GET /pets?limit=1&limit=2", status: 400, where: "?limit", rule: "repeated"},
		{file: "petstore-3.0.yaml", req: "GET /pets?offset=1", status: 400, where: "", rule: "unknown"},
		{file: "petstore-3.0.yaml", req: "POST /pets", body: `{"id":1,"name":"rex"}`, status: 400, where: "", rule: "no_body"},
		{file: "petstore-3.0.yaml", req: "DELETE /pets", status: 405},
		{file: "petstore-3.0.yaml", req: "GET /dogs", status: 404},
		{file: "petstore-3.0.yaml", req: "GET /pets/1/toys", status: 404},
		{file: "petstore-3.0.yaml", req: "GET /pets/", status: 404},

		// OpenAPI 3.0: petstore-expanded.yaml (allOf, arrays, int64 path, a body)
		{file: "petstore-expanded-3.0.yaml", req: "GET /pets?tags=a&tags=b&limit=3", status: 204},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", body: `{"name":"rex","tag":"dog"}`, status: 204},
		{file: "petstore-expanded-3.0.yaml", req: "GET /pets/12", status: 204},
		{file: "petstore-expanded-3.0.yaml", req: "DELETE /pets/12", status: 204},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", body: `{"tag":"dog"}`, status: 422, where: "/name", rule: "required"},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", body: `{"name":5}`, status: 400, where: "/name", rule: "type"},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", status: 400, where: "", rule: "missing"},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", body: `{"name":"a","name":"b"}`, status: 400, where: "", rule: "duplicate_key"},
		{file: "petstore-expanded-3.0.yaml", req: "POST /pets", body: `{"Name":"a"}`, status: 400, where: "", rule: "case_variant_key"},
		{file: "petstore-expanded-3.0.yaml", req: "GET /pets/twelve", status: 400, where: "?id", rule: "type"},
		{file: "petstore-expanded-3.0.yaml", req: "GET /pets/99999999999999999999", status: 422, where: "?id", rule: "format"},
		{file: "petstore-expanded-3.0.yaml", req: "GET /pets?limit=x&tags=a", status: 400, where: "?limit", rule: "type"},

		// OpenAPI 3.1: tictactoe.yaml ($ref'd path-item parameters, a header, a string body)
		{file: "tictactoe-3.1.yaml", req: "GET /board", status: 204},
		{file: "tictactoe-3.1.yaml", req: "GET /board/1/3", status: 204},
		{file: "tictactoe-3.1.yaml", req: "PUT /board/2/2", body: `"X"`, headers: []string{"progressUrl: https://example.test/p"}, status: 204},
		{file: "tictactoe-3.1.yaml", req: "GET /board/0/1", status: 422, where: "?row", rule: "minimum"},
		{file: "tictactoe-3.1.yaml", req: "GET /board/1/x", status: 400, where: "?column", rule: "type"},
		{file: "tictactoe-3.1.yaml", req: "PUT /board/2/2", body: `"Z"`, status: 422, where: "", rule: "enum"},
		{file: "tictactoe-3.1.yaml", req: "PUT /board/2/2", body: `{"mark":"X"}`, status: 400, where: "", rule: "type"},
		{file: "tictactoe-3.1.yaml", req: "PUT /board/2/2", body: `"X"`, headers: []string{"progressUrl: a", "progressUrl: b"}, status: 400, where: "?progressUrl", rule: "repeated"},
		{file: "tictactoe-3.1.yaml", req: "PUT /board/2/2", status: 400, where: "", rule: "missing"},
		{file: "tictactoe-3.1.yaml", req: "POST /board", status: 405},
	}
	specs := map[string]http.Handler{}
	for _, tc := range tests {
		t.Run(tc.file+" "+tc.req+" "+tc.body, func(t *testing.T) {
			h, ok := specs[tc.file]
			if !ok {
				h = mustSpec(t, fromFile(t, tc.file)).Handler(&reached{})
				specs[tc.file] = h
			}
			w, a := call(t, h, tc.req, tc.body, tc.headers...)
			if w.Code != tc.status {
				t.Fatalf("%s = %d %s, want %d", tc.req, w.Code, w.Body, tc.status)
			}
			if tc.rule != "" && !has(a.Errors, tc.where, tc.rule) {
				t.Errorf("%s: errors %+v, want %q at %q", tc.req, a.Errors, tc.rule, tc.where)
			}
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Errorf("%s: 405 without Allow", tc.req)
			}
		})
	}
}
