package openapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// TestNewRefuses: a document or setting that cannot be enforced as
// written is refused by New, every problem listed, with its place.
func TestNewRefuses(t *testing.T) {
	head := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\n"
	tests := []struct {
		name  string
		cfg   openapi.Config
		want  []string // substrings of the error, one per problem
		line  int      // of the first ConfigError, when known
		where string
	}{
		{name: "empty", cfg: openapi.Config{}, want: []string{"Document", "empty"}},
		{name: "not YAML", cfg: openapi.Config{Document: []byte("openapi: [3.0")}, want: []string{"does not parse"}},
		{name: "Swagger 2.0", cfg: openapi.Config{Document: []byte("swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths: {}\n")}, want: []string{"Document"}},
		{name: "3.2", cfg: openapi.Config{Document: []byte("openapi: 3.2.0\ninfo: {title: t, version: \"1\"}\npaths: {}\n")}, want: []string{"not supported"}},
		{name: "external ref", cfg: openapi.Config{Document: []byte(head + "paths:\n  /a:\n    $ref: 'other.yaml#/a'\n")}, want: []string{"not local"}, line: 5, where: "/paths/~1a/$ref"},
		{name: "ref does not resolve", cfg: openapi.Config{Document: []byte(head + "paths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n")}, want: []string{"does not resolve"}, line: 7, where: "/paths/~1a/get/responses/200/$ref"},
		{name: "content parameter", cfg: openapi.Config{Document: []byte(head + "paths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: query, content: {application/json: {schema: {type: object}}}}\n      responses: {'200': {description: ok}}\n")}, want: []string{"content instead of schema"}, line: 7, where: "/paths/~1a/get"},
		{name: "two parameters in a segment", cfg: openapi.Config{Document: []byte(head + "paths:\n  /a/{x}-{y}:\n    get:\n      parameters:\n        - {name: x, in: path, required: true, schema: {type: string}}\n        - {name: y, in: path, required: true, schema: {type: string}}\n      responses: {'200': {description: ok}}\n")}, want: []string{"more than one parameter"}},
		{name: "bad base path and bad mode, both listed", cfg: openapi.Config{Document: []byte(head + "paths: {}\n"), BasePath: "v1/", Responses: 9}, want: []string{"BasePath", "Responses"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := openapi.New(tc.cfg)
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v; want it to mention %q", err, w)
				}
			}
			var ce *openapi.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New: %v is not a *ConfigError", err)
			}
			if tc.line != 0 && (ce.Line != tc.line || ce.Where != tc.where) {
				t.Errorf("New: at line %d %q, want line %d %q", ce.Line, ce.Where, tc.line, tc.where)
			}
		})
	}
}

// TestBasePath: requests carry the server URL's path before the
// document's paths.
func TestBasePath(t *testing.T) {
	cfg := fromFile(t, "petstore-3.0.yaml")
	cfg.BasePath = "/v1"
	next := &reached{}
	h := mustSpec(t, cfg).Handler(next)
	for req, want := range map[string]int{"GET /v1/pets": 204, "GET /pets": 404, "GET /v2/pets": 404, "GET /v1/pets/7": 204} {
		if w, _ := call(t, h, req, ""); w.Code != want {
			t.Errorf("%s = %d, want %d", req, w.Code, want)
		}
	}
}

// TestOperations lists what the gateway derives routes and security from.
func TestOperations(t *testing.T) {
	s := mustSpec(t, fromFile(t, "tictactoe-3.1.yaml"))
	ops := s.Operations()
	if len(ops) != 3 {
		t.Fatalf("Operations() = %d operations, want 3", len(ops))
	}
	put := ops[2]
	if put.Method != "PUT" || put.Path != "/board/{row}/{column}" || put.ID != "put-square" || !put.Body {
		t.Errorf("Operations()[2] = %+v", put)
	}
	if len(put.Security) != 2 || put.Security[1]["user2AppOauth"][0] != "board:write" {
		t.Errorf("Operations()[2].Security = %v", put.Security)
	}
	ss := s.SecuritySchemes()
	if b := ss["bearerHttpAuthentication"]; b.Type != "http" || b.Scheme != "bearer" || b.Line == 0 {
		t.Errorf("SecuritySchemes()[bearerHttpAuthentication] = %+v", b)
	}
	if k := ss["defaultApiKey"]; k.Type != "apiKey" || k.In != "header" || k.Param != "api-key" {
		t.Errorf("SecuritySchemes()[defaultApiKey] = %+v", k)
	}
}

// TestWebhooksOnly: the OpenAPI Initiative's 3.1 webhook example has no
// paths; every request is refused as matching no operation.
func TestWebhooksOnly(t *testing.T) {
	s := mustSpec(t, fromFile(t, "webhook-example-3.1.yaml"))
	if ops := s.Operations(); len(ops) != 0 {
		t.Errorf("Operations() = %v, want none (webhooks are requests the API sends)", ops)
	}
	if w, _ := call(t, s.Handler(&reached{}), "POST /newPet", `{"id":1,"name":"rex"}`); w.Code != 404 {
		t.Errorf("POST /newPet = %d, want 404", w.Code)
	}
}
