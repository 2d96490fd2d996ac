package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
)

// adminHandler serves the operations endpoints of a [Server]. It belongs
// on a separate, private listener (admin.listen), never on the public one.
func (s *Server) adminHandler() http.Handler {
	return adminMux(s.Gateway, s.Reload, s.draining.Load)
}

// adminMux serves /healthz, /readyz and /metrics for the gateway current
// returns, POST /denylist (backchannel.go), and POST /reload when reload is set; /readyz says 503 while
// draining reports true.
func adminMux(current func() *Gateway, reload func() error, draining func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		serveReadiness(w, r, current(), draining != nil && draining())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		current().metrics.handler().ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /denylist", func(w http.ResponseWriter, r *http.Request) {
		serveDeny(current(), w, r) // backchannel.go
	})
	if reload != nil {
		mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
			if err := reload(); err != nil {
				writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"reloaded": false, "errors": errorLines(err)})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"reloaded": true})
		})
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errorLines lists the problems of an error, one per line.
func errorLines(err error) []string { return strings.Split(err.Error(), "\n") }
