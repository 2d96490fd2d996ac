package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/auth"
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
