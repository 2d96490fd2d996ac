package gateway

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
)

// demoAPI is the small API served when no upstream is configured, so that
// `bulwark serve` with no flags answers something a newcomer can call.
func demoAPI(now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /public/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/hello", func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		writeJSON(w, map[string]any{
			"message": "hello from behind bulwark",
			"subject": p.Subject,
			"method":  p.Method,
			"time":    now().UTC().Format(time.RFC3339),
		})
	})
	mux.HandleFunc("POST /v1/echo", func(w http.ResponseWriter, r *http.Request) {
		var body any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest) // unreachable behind validate
			return
		}
		writeJSON(w, map[string]any{"received": body})
	})
	return mux
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultConfig returns the configuration `bulwark serve` uses without
// -config: loopback only, the demo API, API keys in memory, a per-IP
// limit. It is a YAML file so that it doubles as a starting point.
func DefaultConfig() []byte { return bytes.Clone(defaultYAML) }

// CreateDemoKey creates an API key in the in-memory store of the default
// configuration and returns it. It is shown once, to the operator.
func (g *Gateway) CreateDemoKey(ctx context.Context) (string, error) {
	if g.keys == nil {
		return "", errors.New("no API keys configured")
	}
	key, _, err := g.keys.Create(ctx, apikey.Spec{Name: "demo", Owner: "bulwark serve", Scopes: []string{"demo"}})
	if err != nil {
		return "", err
	}
	return key, nil
}

// APIKeyHeader is the header API keys are read from.
func (g *Gateway) APIKeyHeader() string {
	if g.cfg.Auth.APIKeys == nil || g.cfg.Auth.APIKeys.Header == "" {
		return "X-API-Key"
	}
	return g.cfg.Auth.APIKeys.Header
}
