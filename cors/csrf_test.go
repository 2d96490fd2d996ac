package cors_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// TestCrossSiteRequestForgery: unsafe-method requests that skip preflight
// (form posts, text/plain fetches) from other sites are refused when
// CrossOriginProtection is on, and allowed from the allow-list.
func TestCrossSiteRequestForgery(t *testing.T) {
	cfg := cors.Config{
		Origins:               []string{listed, "https://*.example.net"},
		AllowCredentials:      true,
		CrossOriginProtection: true,
	}
	c := mustNew(t, cfg)
	tests := []struct {
		name     string
		req      *http.Request
		wantErr  error
		wantCode int
	}{
		{"cross-site form POST", request("POST", unlisted, "Sec-Fetch-Site", "cross-site", "Content-Type", "application/x-www-form-urlencoded"), cors.ErrCrossOriginRequest, 403},
		{"cross-site text/plain POST", request("POST", unlisted, "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"), cors.ErrCrossOriginRequest, 403},
		{"same-site sibling DELETE", request("DELETE", "https://blog.example.com", "Sec-Fetch-Site", "same-site"), cors.ErrCrossOriginRequest, 403},
		{"old browser cross-site POST without Sec-Fetch-Site", request("POST", unlisted), cors.ErrCrossOriginRequest, 403},
		{"null origin POST from a sandboxed frame", request("POST", "null", "Sec-Fetch-Site", "cross-site"), cors.ErrCrossOriginRequest, 403},
		{"listed origin POST", request("POST", listed, "Sec-Fetch-Site", "same-site"), nil, 200},
		{"wildcard origin PUT", request("PUT", "https://a.example.net", "Sec-Fetch-Site", "cross-site"), nil, 200},
		{"same-origin POST", request("POST", "https://api.example.com", "Sec-Fetch-Site", "same-origin"), nil, 200},
		{"non-browser POST", request("POST", ""), nil, 200},
		{"cross-site GET is safe", request("GET", unlisted, "Sec-Fetch-Site", "cross-site"), cors.ErrOriginNotAllowed, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(tc.req)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Check = %v, want %v", err, tc.wantErr)
			}
			w, a, rec := do(c, tc.req)
			if w.Code != tc.wantCode {
				t.Errorf("status = %d, want %d", w.Code, tc.wantCode)
			}
			if a.called != (tc.wantCode == 200) {
				t.Errorf("next handler called = %v, want %v", a.called, tc.wantCode == 200)
			}
			if tc.wantCode == 403 {
				if ct := w.Result().Header.Get("Content-Type"); ct != problem.MediaType {
					t.Errorf("Content-Type = %q, want %q", ct, problem.MediaType)
				}
				if len(rec.events) != 1 || rec.events[0].Name != secevent.MaliciousCORS {
					t.Errorf("events = %+v, want one %s", rec.events, secevent.MaliciousCORS)
				}
			}
		})
	}
}

// TestCrossSiteRequestForgeryOff: without the option, CORS alone lets a
// cross-site form POST through to the handler (it only hides the answer),
// which is why the option exists.
func TestCrossSiteRequestForgeryOff(t *testing.T) {
	c := mustNew(t, cors.Config{Origins: []string{listed}})
	_, a, _ := do(c, request("POST", unlisted, "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"))
	if !a.called {
		t.Fatal("handler not called; CORS without CrossOriginProtection does not block simple requests")
	}
}

// TestCustomErrorHandler: refusals go through Config.ErrorHandler with a
// *RequestError.
func TestCustomErrorHandler(t *testing.T) {
	var got error
	c := mustNew(t, cors.Config{
		Origins:                 []string{listed},
		RejectRefusedPreflights: true,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		},
	})
	w, _, _ := do(c, preflight(unlisted, "GET"))
	var re *cors.RequestError
	if w.Code != http.StatusTeapot || !errors.As(got, &re) || !re.Preflight || !errors.Is(got, cors.ErrOriginNotAllowed) {
		t.Fatalf("status %d, error %#v; want 418 and a preflight *RequestError for ErrOriginNotAllowed", w.Code, got)
	}
}

// TestCrossSiteRequestForgeryAllowAll: allowing every origin to read does
// not make every origin trusted to write.
func TestCrossSiteRequestForgeryAllowAll(t *testing.T) {
	c := mustNew(t, cors.Config{DangerouslyAllowAllOrigins: true, CrossOriginProtection: true})
	if err := c.Check(request("POST", unlisted, "Sec-Fetch-Site", "cross-site")); !errors.Is(err, cors.ErrCrossOriginRequest) {
		t.Errorf("Check(cross-site POST) = %v, want %v", err, cors.ErrCrossOriginRequest)
	}
	w, a, _ := do(c, request("GET", unlisted, "Sec-Fetch-Site", "cross-site"))
	if !a.called || w.Result().Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("cross-site GET: called %v, ACAO %q; want the handler and *", a.called, w.Result().Header.Get("Access-Control-Allow-Origin"))
	}
}
