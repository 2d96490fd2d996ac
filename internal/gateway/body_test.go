package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ordersSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["item", "qty"],
  "additionalProperties": false,
  "properties": {
    "item": {"type": "string", "maxLength": 32},
    "qty": {"type": "integer", "minimum": 1}
  }
}`

func TestBodyPolicy(t *testing.T) {
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "orders.schema.json")
	if err := os.WriteFile(schemaFile, []byte(ordersSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
		}
		_, _ = w.Write(b)
	})
	withSchema, err := newBodyPolicy(Route{JSON: true, Schema: "orders.schema.json", MaxBody: 1024}, schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := newBodyPolicy(Route{MaxBody: 16}, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy *bodyPolicy
		ctype  string
		body   string
		status int
	}{
		{"valid order", withSchema, "application/json", `{"item":"tea","qty":2}`, 200},
		{"unknown field refused by additionalProperties", withSchema, "application/json", `{"item":"tea","qty":2,"price":0}`, 422},
		{"rule violation", withSchema, "application/json", `{"item":"tea","qty":0}`, 422},
		{"missing required", withSchema, "application/json", `{"item":"tea"}`, 422},
		{"duplicate key", withSchema, "application/json", `{"item":"tea","qty":2,"qty":-1}`, 400},
		{"trailing data", withSchema, "application/json", `{"item":"tea","qty":2} {}`, 400},
		{"text/plain", withSchema, "text/plain", `{"item":"tea","qty":2}`, 415},
		{"too large", withSchema, "application/json", `{"item":"` + strings.Repeat("a", 2000) + `","qty":2}`, 413},
		// math/big cannot read 1e1000001: jsonschema/v6 panicked on it under minimum.
		{"exponent past big.Rat under minimum", withSchema, "application/json", `{"item":"tea","qty":1e1000001}`, 400},
		{"five-digit exponent under minimum", withSchema, "application/json", `{"item":"tea","qty":1e99999}`, 400},
		{"plain route within the cap", plain, "text/plain", "0123456789", 200},
		{"plain route over the cap", plain, "text/plain", strings.Repeat("x", 17), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/orders", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			rec := httptest.NewRecorder()
			tc.policy.wrap(echo).ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if tc.status == 200 && rec.Body.String() != tc.body {
				t.Errorf("forwarded body %q, want %q", rec.Body, tc.body)
			}
			if tc.status == 422 {
				var p map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["errors"] == nil {
					t.Errorf("422 body %s lacks errors", rec.Body)
				}
				if strings.Contains(rec.Body.String(), "tea") || strings.Contains(rec.Body.String(), "price") {
					t.Errorf("422 body echoes input: %s", rec.Body)
				}
			}
		})
	}
}

func TestSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"type": 12}`), 0o600)
	remote := filepath.Join(dir, "remote.json")
	_ = os.WriteFile(remote, []byte(`{"$ref": "https://example.com/schema.json"}`), 0o600)
	for _, f := range []string{bad, remote, filepath.Join(dir, "missing.json")} {
		if _, err := newBodyPolicy(Route{JSON: true}, f); err == nil {
			t.Errorf("schema %s compiled", filepath.Base(f))
		}
	}
}
