package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// adminHandler serves the operations endpoints. It belongs on a separate,
// private listener (admin.listen), never on the public one.
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status := map[string]string{}
		code := http.StatusOK
		for _, c := range g.checks {
			if err := c.fn(ctx); err != nil {
				status[c.name] = "unavailable"
				code = http.StatusServiceUnavailable
				continue
			}
			status[c.name] = "ok"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": code == http.StatusOK, "checks": status})
	})
	mux.Handle("GET /metrics", g.metrics.handler())
	return mux
}
