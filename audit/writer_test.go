package audit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
)

func TestResponseWriterPassThrough(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		wantStatus float64
		wantBytes  float64
	}{
		{"implicit 200", func(http.ResponseWriter, *http.Request) {}, 200, 0},
		{"flush via ResponseController", func(w http.ResponseWriter, _ *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush = %v", err)
			}
			_, _ = io.WriteString(w, "abc")
		}, 200, 3},
		{"ReadFrom counts bytes", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.Copy(w, strings.NewReader(strings.Repeat("x", 1000)))
		}, 200, 1000},
		{"informational then final", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, 202, 0},
		{"hijacked", func(w http.ResponseWriter, _ *http.Request) {
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack = %v", err)
				return
			}
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
			_ = rw.Flush()
			_ = c.Close()
		}, 101, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, buf := newAuditor(t, audit.Config{})
			// done closes once the auditor's handler returned, hence wrote
			// its record: httptest.Server.Close does not wait for hijacked
			// connections.
			done := make(chan struct{})
			ah := a.Handler(tc.h)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				ah.ServeHTTP(w, r)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			<-done
			recs := records(t, buf.Bytes())
			if len(recs) != 1 || recs[0]["http.response.status_code"] != tc.wantStatus || recs[0]["http.response.body.size"] != tc.wantBytes {
				t.Errorf("records = %v, want status %v and %v bytes", recs, tc.wantStatus, tc.wantBytes)
			}
		})
	}
}

// A router other than ServeMux reports its route through Config.Route,
// read after the next handler ran (chi fills its route context while
// routing).
func TestRouteHook(t *testing.T) {
	type routeKey struct{}
	a, buf := newAuditor(t, audit.Config{Route: func(r *http.Request) string {
		p, _ := r.Context().Value(routeKey{}).(*string)
		if p == nil {
			return ""
		}
		return *p
	}})
	route := new(string)
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { *route = "/users/{id}" }))
	r := httptest.NewRequest("GET", "/users/7", nil)
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(contextWith(r, routeKey{}, route)))
	if got := records(t, buf.Bytes())[0]["http.route"]; got != "/users/{id}" {
		t.Errorf("http.route = %v, want /users/{id}", got)
	}
}
