package gateway

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const petsAPI = `
openapi: 3.1.0
info: {title: pets, version: "1"}
security:
  - keyAuth: [pets:read]
paths:
  /pets:
    get:
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses: {'200': {description: ok}}
    post:
      security:
        - keyAuth: [demo]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties:
                id: {type: integer, readOnly: true}
                name: {type: string, maxLength: 40}
      responses: {'201': {description: created}}
  /pets/{id}:
    get:
      security: []
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses: {'200': {description: ok}}
components:
  securitySchemes:
    keyAuth: {type: apiKey, in: header, name: X-API-Key}
`

// buildIn parses yaml with files written beside it, and builds it.
func buildIn(t *testing.T, yaml string, files map[string]string) (*Gateway, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Parse([]byte(yaml), dir)
	if err != nil {
		return nil, err
	}
	g, err := Build(cfg, Options{AuditWriter: &syncBuffer{}, Logf: t.Logf})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = g.Close() })
	return g, nil
}

// TestServeFromOpenAPI: a service with openapi: and no routes is served
// as its document says — paths, methods, parameters, bodies, and the
// operations' security requirements — with no per-route YAML.
func TestServeFromOpenAPI(t *testing.T) {
	up := upstreamEcho(t)
	g, err := buildIn(t, `
services:
  pets:
    targets: [`+up.URL+`]
    openapi: api.yaml
auth:
  api_keys: {store: memory}
`, map[string]string{"api.yaml": petsAPI})
	if err != nil {
		t.Fatal(err)
	}
	key, err := g.CreateDemoKey(context.Background()) // scopes: demo
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	withKey := map[string]string{"X-API-Key": key, "Content-Type": "application/json"}
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		reached            string // the path the upstream saw
	}{
		{"public operation", "GET", "/pets/7", nil, "", 200, "/pets/7"},
		{"public operation, type confusion in the path", "GET", "/pets/seven", nil, "", 400, ""},
		{"operation needing a key, none sent", "POST", "/pets", map[string]string{"Content-Type": "application/json"}, `{"name":"rex"}`, 401, ""},
		{"key with the scope the operation names", "POST", "/pets", withKey, `{"name":"rex"}`, 200, "/pets"},
		{"key without the document's default scope", "GET", "/pets", withKey, "", 403, ""},
		{"mass assignment", "POST", "/pets", withKey, `{"name":"rex","owner":"me"}`, 422, ""},
		{"readOnly member", "POST", "/pets", withKey, `{"name":"rex","id":1}`, 422, ""},
		{"strict JSON still first", "POST", "/pets", withKey, `{"name":"rex","name":"max"}`, 400, ""},
		{"method the path does not declare", "DELETE", "/pets/7", nil, "", 405, ""},
		{"path the document does not declare", "GET", "/pets/7/owner", nil, "", 404, ""},
		{"outside the derived route", "GET", "/admin", nil, "", 404, ""},
		{"unknown query parameter on a public operation", "GET", "/pets/7?debug=1", nil, "", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(h, tc.method, tc.path, tc.hdr, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.status)
			}
			if tc.status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("refusal is %q, want problem+json", rec.Header().Get("Content-Type"))
			}
			if tc.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if tc.reached != "" {
				var got struct{ Path string }
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Path != tc.reached {
					t.Errorf("upstream saw %q (%v), want %q", got.Path, err, tc.reached)
				}
			}
		})
	}
}

// TestOpenAPIYAMLOverride: a YAML route naming the service inherits its
// document, and its auth overrides the document's security.
func TestOpenAPIYAMLOverride(t *testing.T) {
	up := upstreamEcho(t)
	g, err := buildIn(t, `
services:
  pets:
    targets: [`+up.URL+`]
    openapi: api.yaml
routes:
  - {path: /pets, service: pets, auth: none}
`, map[string]string{"api.yaml": petsAPI})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	if rec := do(h, "GET", "/pets?limit=5", nil, ""); rec.Code != 200 {
		t.Errorf("GET /pets with auth: none = %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := do(h, "GET", "/pets?limit=500", nil, ""); rec.Code != 422 {
		t.Errorf("GET /pets?limit=500 = %d, want 422: the document still checks", rec.Code)
	}
}

// TestCheckOpenAPI: -check reports a document that does not parse, a $ref
// that does not resolve and a security scheme with no authenticator, each
// at the config key with its place in the document.
func TestCheckOpenAPI(t *testing.T) {
	tests := []struct {
		name, doc string
		auth      string
		want      []string
	}{
		{"does not parse", "openapi: [3.1", "", []string{"line 4: services.pets.openapi", "api.yaml", "does not parse"}},
		{"ref does not resolve", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Gone'}\n",
			"", []string{"api.yaml line 7 (/paths/~1a/get/responses/200/$ref)", "does not resolve"}},
		{"bearer without jwt", strings.Replace(petsAPI, "keyAuth: {type: apiKey, in: header, name: X-API-Key}", "keyAuth: {type: http, scheme: bearer}", 1),
			"auth:\n  api_keys: {store: memory}\n", []string{"api.yaml line ", "security scheme \"keyAuth\"", "configure auth.jwt"}},
		{"api key in another header", strings.Replace(petsAPI, "name: X-API-Key", "name: X-Key", 1),
			"auth:\n  api_keys: {store: memory}\n", []string{"reads the key from X-Key, auth.api_keys.header is X-API-Key"}},
		{"no authenticator at all", petsAPI, "", []string{"configure auth.api_keys"}},
		{"shadowed by a route", petsAPI, "auth:\n  api_keys: {store: memory}\nupstream: http://127.0.0.1:9\nroutes:\n  - {path: /, auth: none}\n", []string{"shadowed by routes[0]"}},
		{"methods beside a document", petsAPI, "auth:\n  api_keys: {store: memory}\nroutes:\n  - {path: /pets, service: pets, methods: [GET]}\n", []string{"routes[0].methods", "come from the openapi document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildIn(t, "services:\n  pets:\n    targets: [http://127.0.0.1:9]\n    openapi: api.yaml\n"+tc.auth, map[string]string{"api.yaml": tc.doc})
			if err == nil {
				t.Fatal("Parse accepted the configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestOpenAPISchemeDecidesTheCredential: an operation whose security names
// only a bearer scheme refuses an API key, however valid, and one that
// names an API key scheme accepts it.
func TestOpenAPISchemeDecidesTheCredential(t *testing.T) {
	up := upstreamEcho(t)
	idp := jwksServer(t, nil)
	doc := strings.Replace(petsAPI, "      security:\n        - keyAuth: [demo]\n", "      security:\n        - bearerAuth: []\n", 1)
	doc = strings.Replace(doc, "    keyAuth: {type: apiKey, in: header, name: X-API-Key}", "    keyAuth: {type: apiKey, in: header, name: X-API-Key}\n    bearerAuth: {type: http, scheme: bearer}", 1)
	doc = strings.Replace(doc, "  - keyAuth: [pets:read]", "  - keyAuth: [demo]", 1)
	g, err := buildIn(t, `
services:
  pets:
    targets: [`+up.URL+`]
    openapi: api.yaml
auth:
  jwt: [{issuer: `+idp.URL+`, audience: pets, jwks_url: `+idp.URL+`/jwks, algorithms: [EdDSA]}]
  api_keys: {store: memory}
`, map[string]string{"api.yaml": doc})
	if err != nil {
		t.Fatal(err)
	}
	key, err := g.CreateDemoKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler()
	hdr := map[string]string{"X-API-Key": key, "Content-Type": "application/json"}
	if rec := do(h, "POST", "/pets", hdr, `{"name":"rex"}`); rec.Code != 401 {
		t.Errorf("API key on a bearer-only operation = %d %s, want 401", rec.Code, rec.Body)
	}
	if rec := do(h, "GET", "/pets", hdr, ""); rec.Code != 200 {
		t.Errorf("API key with its scope on an API-key operation = %d %s, want 200", rec.Code, rec.Body)
	}
}
