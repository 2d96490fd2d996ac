package auth_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

func TestMetadataHandler(t *testing.T) {
	h, err := auth.NewMetadataHandler(auth.ProtectedResourceMetadata{
		Resource:             "https://api.example/orders",
		AuthorizationServers: []string{"https://idp.example"},
		ScopesSupported:      []string{"orders:read", "orders:write"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Path() != "/.well-known/oauth-protected-resource/orders" {
		t.Errorf("Path() = %q", h.Path())
	}
	if h.URL() != "https://api.example/.well-known/oauth-protected-resource/orders" {
		t.Errorf("URL() = %q", h.URL())
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", h.Path(), nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["resource"] != "https://api.example/orders" || doc["bearer_methods_supported"].([]any)[0] != "header" {
		t.Errorf("document = %v", doc)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", h.Path(), nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow=%q, want 405 with Allow", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestMetadataErrors(t *testing.T) {
	for _, m := range []auth.ProtectedResourceMetadata{
		{},
		{Resource: "http://api.example"},
		{Resource: "https://api.example/?q=1"},
		{Resource: "https://api.example", AuthorizationServers: []string{"http://idp.example"}},
		{Resource: "https://api.example", BearerMethodsSupported: []string{"cookie"}},
	} {
		if _, err := auth.NewMetadataHandler(m); err == nil {
			t.Errorf("NewMetadataHandler(%+v) succeeded", m)
		}
	}
}
