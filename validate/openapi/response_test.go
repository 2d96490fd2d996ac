package openapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/secevent"
	"github.com/bulwark-go/bulwark/validate/openapi"
)

const accountDoc = `
openapi: 3.1.0
info: {title: accounts, version: "1"}
paths:
  /me:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                properties:
                  name: {type: string}
                  password: {type: string, writeOnly: true}
        '404': {description: none}
`

// TestResponsesExcessiveDataExposure: a response carrying a member the
// document does not declare (OWASP API3), a writeOnly member, or a status
// it does not list is logged, and replaced by a 502 when enforced.
func TestResponsesExcessiveDataExposure(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		bad    bool
	}{
		{"declared", 200, `{"name":"ann"}`, false},
		{"undeclared member", 200, `{"name":"ann","ssn":"123-45-6789"}`, true},
		{"writeOnly member", 200, `{"name":"ann","password":"x"}`, true},
		{"undocumented status", 500, `{"trace":"at main.go:12"}`, true},
		{"declared status without body", 404, ``, false},
	}
	for _, mode := range []openapi.ResponseMode{openapi.ResponsesOff, openapi.ResponsesLog, openapi.ResponsesEnforce} {
		s := mustSpec(t, openapi.Config{Document: []byte(accountDoc), Responses: mode})
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					if tc.body != "" {
						w.Header().Set("Content-Type", "application/json")
					}
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
				})
				var events []secevent.Event
				ctx := secevent.NewContext(context.Background(), secevent.RecorderFunc(func(_ context.Context, e secevent.Event) { events = append(events, e) }))
				r := httptest.NewRequest("GET", "/me", nil).WithContext(ctx)
				w := httptest.NewRecorder()
				s.Handler(app).ServeHTTP(w, r)
				wantStatus := tc.status
				if tc.bad && mode == openapi.ResponsesEnforce {
					wantStatus = http.StatusBadGateway
				}
				if w.Code != wantStatus {
					t.Errorf("mode %d: status %d, want %d", mode, w.Code, wantStatus)
				}
				if logged := len(events) > 0; logged != (tc.bad && mode != openapi.ResponsesOff) {
					t.Errorf("mode %d: events %v, want logged = %v", mode, events, !logged)
				}
				if w.Code == http.StatusBadGateway && w.Body.Len() > 0 && (strings.Contains(w.Body.String(), "ssn") || strings.Contains(w.Body.String(), "trace")) {
					t.Errorf("the refused response leaked: %s", w.Body)
				}
			})
		}
	}
}
