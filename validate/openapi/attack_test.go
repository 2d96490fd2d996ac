package openapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/validate"
	"github.com/bulwark-go/bulwark/validate/openapi"
)

const usersDoc = `
openapi: 3.0.3
info: {title: users, version: "1"}
paths:
  /users/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, format: int64}}
    get:
      parameters:
        - {name: X-Request-ID, in: header, schema: {type: string, format: uuid}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: dry, in: query, schema: {type: boolean}}
        - {name: ids, in: query, explode: false, schema: {type: array, items: {type: integer}}}
        - {name: tags, in: query, schema: {type: array, items: {type: string}}}
        - name: filter
          in: query
          style: deepObject
          schema: {type: object, properties: {role: {type: string, enum: [user, admin]}}, additionalProperties: false}
      responses: {'200': {description: ok}}
    patch:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/UserPatch'}
      responses: {'200': {description: ok}}
  /tree:
    post:
      requestBody:
        content:
          application/merge-patch+json:
            schema: {$ref: '#/components/schemas/Node'}
      responses: {'200': {description: ok}}
components:
  schemas:
    UserPatch:
      type: object
      additionalProperties: false
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, maxLength: 20, nullable: true}
        email: {type: string, format: email}
        age: {type: integer, minimum: 0, exclusiveMinimum: true}
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
`

func usersSpec(t *testing.T, cfg openapi.Config) (http.Handler, *reached) {
	t.Helper()
	cfg.Document = []byte(usersDoc)
	next := &reached{}
	return mustSpec(t, cfg).Handler(next), next
}

type attackCase struct {
	name, req, body string
	headers         []string
	status          int
	where, rule     string
}

func runAttacks(t *testing.T, h http.Handler, next *reached, tests []attackCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := next.n
			w, a := call(t, h, tc.req, tc.body, tc.headers...)
			if w.Code != tc.status {
				t.Fatalf("%s = %d %s, want %d", tc.req, w.Code, w.Body, tc.status)
			}
			if passed := next.n > before; passed != (tc.status == http.StatusNoContent) {
				t.Fatalf("%s reached the handler = %v, want %v", tc.req, passed, !passed)
			}
			if tc.rule != "" && !has(a.Errors, tc.where, tc.rule) {
				t.Errorf("%s: errors %+v, want %q at %q", tc.req, a.Errors, tc.rule, tc.where)
			}
		})
	}
}

// TestAttackParameterPollution: ?id=1&id=2 is read as 1 by one parser and
// 2 (or "1,2") by another; a parameter that is not an array given twice is
// refused, in the query, the headers and the cookies.
func TestAttackParameterPollution(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{})
	runAttacks(t, h, next, []attackCase{
		{name: "single boolean", req: "GET /users/1?dry=true", status: 204},
		{name: "boolean twice", req: "GET /users/1?dry=false&dry=true", status: 400, where: "?dry", rule: "repeated"},
		{name: "exploded array twice is an array", req: "GET /users/1?tags=a&tags=b", status: 204},
		{name: "unexploded array", req: "GET /users/1?ids=1,2,3", status: 204},
		{name: "unexploded array twice", req: "GET /users/1?ids=1&ids=2", status: 400, where: "?ids", rule: "repeated"},
		{name: "deepObject member twice", req: "GET /users/1?filter[role]=user&filter[role]=admin", status: 400, where: "?filter", rule: "repeated"},
		{name: "header twice", req: "GET /users/1", headers: []string{"X-Request-ID: 7c9e6679-7425-40de-944b-e07fc1f90ae7", "X-Request-ID: 7c9e6679-7425-40de-944b-e07fc1f90ae8"}, status: 400, where: "?X-Request-ID", rule: "repeated"},
		{name: "cookie twice", req: "GET /users/1", headers: []string{"Cookie: session=a; session=b"}, status: 400, where: "?session", rule: "repeated"},
		{name: "semicolon separator", req: "GET /users/1?dry=true;dry=false", status: 400, where: "", rule: "malformed"},
		{name: "undeclared parameter", req: "GET /users/1?admin=true", status: 400, where: "", rule: "unknown"},
		{name: "undeclared deepObject member", req: "GET /users/1?filter[owner]=me", status: 422, where: "?filter", rule: "additionalProperties"},
	})
}

// TestAttackTypeConfusion: a string where a number or boolean is declared,
// in the query and in the path, never reaches the handler.
func TestAttackTypeConfusion(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{})
	runAttacks(t, h, next, []attackCase{
		{name: "path integer", req: "GET /users/42", status: 204},
		{name: "path word", req: "GET /users/admin", status: 400, where: "?id", rule: "type"},
		{name: "path fraction", req: "GET /users/1.5", status: 400, where: "?id", rule: "type"},
		{name: "path hex", req: "GET /users/0x10", status: 400, where: "?id", rule: "type"},
		{name: "path leading plus", req: "GET /users/+1", status: 400, where: "?id", rule: "type"},
		{name: "path encoded slash", req: "GET /users/1%2F2", status: 400, where: "?id", rule: "type"},
		{name: "path beyond int64", req: "GET /users/9223372036854775808", status: 422, where: "?id", rule: "format"},
		{name: "path dot segment", req: "GET /users/%2e%2e", status: 404},
		{name: "query boolean as number", req: "GET /users/1?dry=1", status: 400, where: "?dry", rule: "type"},
		{name: "query array item", req: "GET /users/1?ids=1,x", status: 400, where: "?ids", rule: "type"},
		{name: "query enum", req: "GET /users/1?filter[role]=root", status: 422, where: "?filter", rule: "enum"},
		{name: "header format", req: "GET /users/1", headers: []string{"X-Request-ID: not-a-uuid"}, status: 422, where: "?X-Request-ID", rule: "format"},
	})
}

// TestAttackMassAssignment: members the schema does not declare
// (additionalProperties: false), readOnly members, and keys that differ
// from a declared one only in case are refused.
func TestAttackMassAssignment(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{})
	runAttacks(t, h, next, []attackCase{
		{name: "declared members", req: "PATCH /users/1", body: `{"name":"ann","email":"ann@example.test","age":30}`, status: 204},
		{name: "nullable (3.0)", req: "PATCH /users/1", body: `{"name":null}`, status: 204},
		{name: "undeclared member", req: "PATCH /users/1", body: `{"name":"ann","role":"admin"}`, status: 422, where: "", rule: "additionalProperties"},
		{name: "readOnly member", req: "PATCH /users/1", body: `{"id":7,"name":"ann"}`, status: 422, where: "/id", rule: "read_only"},
		{name: "case variant", req: "PATCH /users/1", body: `{"NAME":"ann"}`, status: 400, where: "", rule: "case_variant_key"},
		{name: "unicode fold variant", req: "POST /tree", body: `{"ſame":"x","children":[{"nAme":"y"}]}`, headers: []string{"Content-Type: ", "Content-Type: application/merge-patch+json"}, status: 400, where: "/children/0", rule: "case_variant_key"},
		{name: "exclusiveMinimum (3.0 boolean)", req: "PATCH /users/1", body: `{"age":0}`, status: 422, where: "/age", rule: "exclusiveMinimum"},
		{name: "format", req: "PATCH /users/1", body: `{"email":"ann"}`, status: 422, where: "/email", rule: "format"},
		{name: "every violation listed", req: "PATCH /users/1?x=1", body: `{"email":"ann","age":0}`, status: 400, where: "/age", rule: "exclusiveMinimum"},
	})
}

// TestAttackBodyWhereNoneDeclared: a body sent to an operation that
// declares none (a GET with a body a cache or upstream may read) is
// refused, unread.
func TestAttackBodyWhereNoneDeclared(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{})
	runAttacks(t, h, next, []attackCase{
		{name: "GET with a body", req: "GET /users/1", body: `{"id":2}`, status: 400, where: "", rule: "no_body"},
	})
}

// TestAttackContentTypeTricks: a body must come with exactly one
// Content-Type field line that names a JSON type the operation lists.
func TestAttackContentTypeTricks(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{})
	ct := func(v ...string) []string {
		out := []string{"Content-Type: "}
		for _, s := range v {
			out = append(out, "Content-Type: "+s)
		}
		return out
	}
	runAttacks(t, h, next, []attackCase{
		{name: "json", req: "PATCH /users/1", body: `{}`, status: 204},
		{name: "json utf-8", req: "PATCH /users/1", body: `{}`, headers: ct("application/json; charset=UTF-8"), status: 204},
		{name: "none", req: "PATCH /users/1", body: `{}`, headers: ct(), status: 415},
		{name: "text/plain", req: "PATCH /users/1", body: `{}`, headers: ct("text/plain"), status: 415},
		{name: "form", req: "PATCH /users/1", body: `{}`, headers: ct("application/x-www-form-urlencoded"), status: 415},
		{name: "two lines", req: "PATCH /users/1", body: `{}`, headers: ct("application/json", "text/plain"), status: 415},
		{name: "two values", req: "PATCH /users/1", body: `{}`, headers: ct("application/json, text/plain"), status: 415},
		{name: "utf-16", req: "PATCH /users/1", body: `{}`, headers: ct("application/json; charset=utf-16"), status: 415},
		{name: "lookalike", req: "PATCH /users/1", body: `{}`, headers: ct("application/jsonx"), status: 415},
		{name: "json where merge-patch declared", req: "POST /tree", body: `{}`, status: 415},
		{name: "merge-patch", req: "POST /tree", body: `{}`, headers: ct("application/merge-patch+json"), status: 204},
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestAttackHugeBody: a 10 MB body against a schema of a few hundred bytes
// is refused with 413 having read at most MaxBodyBytes of it: none at all
// when Content-Length says so, and no more than the cap when it is chunked.
func TestAttackHugeBody(t *testing.T) {
	v, err := validate.New(validate.Config{MaxBodyBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	h, next := usersSpec(t, openapi.Config{Validator: v})
	huge := `{"name":"` + strings.Repeat("a", 10<<20) + `"}`
	for _, declared := range []bool{true, false} {
		t.Run(fmt.Sprintf("Content-Length declared %v", declared), func(t *testing.T) {
			cr := &countingReader{r: strings.NewReader(huge)}
			r := httptest.NewRequest("PATCH", "/users/1", io.NopCloser(cr))
			r.Header.Set("Content-Type", "application/json")
			r.ContentLength = -1
			if declared {
				r.ContentLength = int64(len(huge))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", w.Code)
			}
			if limit := int64(1<<10) + 64<<10; cr.n > limit {
				t.Errorf("read %d bytes of a 10 MB body, want at most %d", cr.n, limit)
			}
			if declared && cr.n != 0 {
				t.Errorf("read %d bytes of a body declared too large, want 0", cr.n)
			}
			if next.n != 0 {
				t.Error("the handler was reached")
			}
		})
	}
}

// TestAttackRecursiveRefs: documents whose schemas refer to themselves,
// directly, mutually or through arrays, are built without hanging, and
// nested bodies are checked at every depth.
func TestAttackRecursiveRefs(t *testing.T) {
	docs := map[string]string{
		"tree": usersDoc,
		"mutual": `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}
      responses: {'200': {description: ok}}
components:
  schemas:
    A: {type: object, properties: {b: {$ref: '#/components/schemas/B'}, n: {type: integer}}}
    B: {type: object, properties: {a: {$ref: '#/components/schemas/A'}}}
`,
		"self": `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}
      responses: {'200': {description: ok}}
components:
  schemas:
    A: {$ref: '#/components/schemas/A'}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := openapi.New(openapi.Config{Document: []byte(doc)})
				done <- err
			}()
			select {
			case err := <-done:
				t.Logf("New: %v", err) // building or refusing are both fine; hanging is not
			case <-time.After(20 * time.Second):
				t.Fatal("New did not return within 20 s on a recursive document")
			}
		})
	}
	h, next := usersSpec(t, openapi.Config{})
	deep := `{"name":"a","children":[{"children":[{"children":[{"name":7}]}]}]}`
	runAttacks(t, h, next, []attackCase{
		{name: "nested valid", req: "POST /tree", body: `{"name":"a","children":[{"name":"b","children":[]}]}`, headers: []string{"Content-Type: ", "Content-Type: application/merge-patch+json"}, status: 204},
		{name: "nested invalid", req: "POST /tree", body: deep, headers: []string{"Content-Type: ", "Content-Type: application/merge-patch+json"}, status: 400, where: "/children/0/children/0/children/0/name", rule: "type"},
	})
	m := mustSpec(t, openapi.Config{Document: []byte(docs["mutual"])}).Handler(next)
	runAttacks(t, m, next, []attackCase{
		{name: "mutual nested", req: "POST /a", body: `{"b":{"a":{"b":{"a":{"n":"x"}}}}}`, status: 400, where: "/b/a/b/a/n", rule: "type"},
	})
}

// TestNoEcho: a refusal names pointers and parameters, never the values
// sent nor keys the client made up.
func TestNoEcho(t *testing.T) {
	h, _ := usersSpec(t, openapi.Config{})
	for _, tc := range []struct{ req, body string }{
		{"GET /users/s3cr3t?dry=s3cr3t&s3cr3t=1", ""},
		{"PATCH /users/1", `{"s3cr3t":"x","email":"s3cr3t","age":"s3cr3t"}`},
		{"POST /tree", `{"children":[{"s3cr3t":{"name":1}}]}`},
	} {
		w, _ := call(t, h, tc.req, tc.body)
		if w.Code < 400 || bytes.Contains(w.Body.Bytes(), []byte("s3cr3t")) {
			t.Errorf("%s %s = %d %s: want a refusal without the input", tc.req, tc.body, w.Code, w.Body)
		}
	}
}

// TestUnknownQueryAllowed: DangerouslyAllowUnknownQuery lets undeclared
// query parameters through, and only those.
func TestUnknownQueryAllowed(t *testing.T) {
	h, next := usersSpec(t, openapi.Config{DangerouslyAllowUnknownQuery: true})
	runAttacks(t, h, next, []attackCase{
		{name: "undeclared", req: "GET /users/1?utm_source=x", status: 204},
		{name: "declared still checked", req: "GET /users/1?dry=x&utm=1", status: 400, where: "?dry", rule: "type"},
	})
}

// TestNumberBeyondBigRatIsRefusedNotPanicked: a number whose exponent
// math/big cannot read (1e1000001) made jsonschema/v6 dereference a nil
// big.Rat under minimum/maximum/multipleOf — a panic from user input — in a
// body, in a query parameter and in a path parameter. It is refused with a
// 400 naming where it is, and the handler is never reached.
func TestNumberBeyondBigRatIsRefusedNotPanicked(t *testing.T) {
	for _, c := range []struct {
		doc, req, body, where string
	}{
		{"keywords-3.0.yaml", "POST /things", `{"name":"a","qty":5,"price":1e1000001}`, "/price"},
		{"keywords-3.1.yaml", "POST /things", `{"name":"a","qty":5,"price":-1E+1000001}`, "/price"},
		{"keywords-3.0.yaml", "POST /any", `1e-1000001`, ""},
		{"petstore-expanded-3.0.yaml", "GET /pets?limit=1e1000001", "", "?limit"},
	} {
		h := &reached{}
		w, a := func() (w *httptest.ResponseRecorder, a answer) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s %s %s: panic: %v", c.doc, c.req, c.body, p)
				}
			}()
			return call(t, mustSpec(t, fromFile(t, c.doc)).Handler(h), c.req, c.body)
		}()
		if w.Code != http.StatusBadRequest || h.n != 0 || !has(a.Errors, c.where, "number_range") {
			t.Errorf("%s %s %s: %d %+v (reached %d); want 400 with number_range at %q", c.doc, c.req, c.body, w.Code, a.Errors, h.n, c.where)
		}
	}
}
