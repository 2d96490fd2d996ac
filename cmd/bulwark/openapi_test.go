package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeFromOpenAPIDocument: `bulwark serve` with openapi: on a
// service and no routes serves the OpenAPI Initiative's expanded Petstore
// as the document says, and refuses what it does not describe.
func TestServeFromOpenAPIDocument(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"upstream":"` + r.Method + ` ` + r.URL.Path + `"}`))
	}))
	t.Cleanup(up.Close)
	doc, err := os.ReadFile("../../validate/openapi/testdata/petstore-expanded-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "petstore.yaml"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte("services:\n  pets:\n    targets: ["+up.URL+"]\n    openapi: petstore.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, _ := startServe(t, cfg)
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/pets?tags=a&tags=b&limit=3", "", 200},
		{"GET", "/pets/7", "", 200},
		{"POST", "/pets", `{"name":"Rex","tag":"dog"}`, 200},
		{"DELETE", "/pets/7", "", 200},
		{"GET", "/pets?limit=three", "", 400},
		{"GET", "/pets?limit=1&limit=2", "", 400},
		{"GET", "/pets?debug=1", "", 400},
		{"GET", "/pets/seven", "", 400},
		{"POST", "/pets", `{"tag":"dog"}`, 422},
		{"POST", "/pets", `{"name":"Rex","name":"Admin"}`, 400},
		{"PUT", "/pets/7", "", 405},
		{"GET", "/owners", "", 404},
	}
	for _, tc := range tests {
		var body *strings.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, base+tc.path, nil)
		if body != nil {
			req, err = http.NewRequest(tc.method, base+tc.path, body)
			req.Header.Set("Content-Type", "application/json")
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, got.String(), tc.status)
		}
		if tc.status == 200 && !strings.Contains(got.String(), `"upstream":"`+tc.method+` `) {
			t.Errorf("%s %s: %s did not come from the upstream", tc.method, tc.path, got.String())
		}
	}

	// -check reports a $ref that does not resolve, with its place.
	broken := strings.Replace(string(doc), "#/components/schemas/NewPet", "#/components/schemas/OldPet", 1)
	if err := os.WriteFile(filepath.Join(dir, "petstore.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := serveMain(context.Background(), serveOptions{configFile: cfg, check: true}, &out, &errOut); code == 0 {
		t.Fatalf("serve -check accepted a broken document: %s", out.String())
	}
	if s := errOut.String(); !strings.Contains(s, "services.pets.openapi") || !strings.Contains(s, "petstore.yaml line ") || !strings.Contains(s, "does not resolve") {
		t.Errorf("serve -check said %q", s)
	}
}
