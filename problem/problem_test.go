package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/problem"
)

func TestConstructors(t *testing.T) {
	tests := []struct {
		name   string
		d      *problem.Details
		status int
	}{
		{"400", problem.BadRequest("x"), http.StatusBadRequest},
		{"401", problem.Unauthorized("x"), http.StatusUnauthorized},
		{"403", problem.Forbidden("x"), http.StatusForbidden},
		{"404", problem.NotFound("x"), http.StatusNotFound},
		{"405", problem.MethodNotAllowed("x"), http.StatusMethodNotAllowed},
		{"413", problem.ContentTooLarge("x"), http.StatusRequestEntityTooLarge},
		{"415", problem.UnsupportedMediaType("x"), http.StatusUnsupportedMediaType},
		{"421", problem.MisdirectedRequest("x"), http.StatusMisdirectedRequest},
		{"422", problem.UnprocessableContent("x"), http.StatusUnprocessableEntity},
		{"429", problem.TooManyRequests("x"), http.StatusTooManyRequests},
		{"500", problem.InternalServerError("x"), http.StatusInternalServerError},
		{"503", problem.ServiceUnavailable("x"), http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, tc.d)
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			want := map[string]any{
				"type":   "about:blank",
				"title":  http.StatusText(tc.status),
				"status": float64(tc.status),
				"detail": "x",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("member %q = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestWriteHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "3")
	rec.Header().Set("Content-Length", "999")
	rec.Header().Set("Content-Encoding", "gzip")
	rec.Header().Set("Content-Type", "text/html")
	problem.Write(rec, problem.TooManyRequests(""))
	h := rec.Result().Header
	for k, v := range map[string]string{
		"Content-Type":           "application/problem+json",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
		"Retry-After":            "3",
		"Content-Length":         "",
		"Content-Encoding":       "",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

// A detail that carries markup or control characters must not become
// markup or a second log line anywhere the body ends up.
func TestEscapesHostileText(t *testing.T) {
	d := &problem.Details{
		Status: 400,
		Title:  "t",
		Detail: "<script>alert(1)</script>\r\nX-Injected: 1 \u2028 \x00 \xff & \"q\" \\",
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<", ">", "&", "\r", "\n", "\u2028", "\x00", "\xff"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("encoded problem %s contains raw %q", b, bad)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v (%s)", err, b)
	}
	if got, want := m["detail"], viaStdlib(t, d.Detail); got != want {
		t.Errorf("detail round trip = %q, want %q", got, want)
	}
}

func TestExtensions(t *testing.T) {
	base := problem.UnprocessableContent("invalid fields")
	d := base.With("errors", []map[string]string{{"pointer": "/name", "rule": "required"}}).
		With("status", 200) // standard member names cannot be overridden
	if base.Extensions != nil {
		t.Errorf("With modified its receiver: %v", base.Extensions)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != float64(422) {
		t.Errorf("status = %v, want 422 (%s)", m["status"], b)
	}
	errs, ok := m["errors"].([]any)
	if !ok || len(errs) != 1 {
		t.Errorf("errors = %v, want one entry (%s)", m["errors"], b)
	}
}

func TestUnmarshalableExtensionStillAnswers(t *testing.T) {
	rec := httptest.NewRecorder()
	problem.Write(rec, problem.BadRequest("x").With("bad", make(chan int)))
	if rec.Code != 400 {
		t.Errorf("status = %d, want 400", rec.Code)
	}
	if !json.Valid(rec.Body.Bytes()) || strings.Contains(rec.Body.String(), "bad") {
		t.Errorf("body = %s, want valid JSON without the broken member", rec.Body)
	}
}

type limitedError struct{ policy string }

func (e *limitedError) Error() string { return "secret internal text: " + e.policy }
func (e *limitedError) Problem() *problem.Details {
	return problem.TooManyRequests("Rate limit exceeded.").With("policy", e.policy)
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"problem error", &limitedError{"burst"}, 429},
		{"wrapped problem error", fmt.Errorf("ctx: %w", &limitedError{"burst"}), 429},
		{"joined", errors.Join(errors.New("internal"), &limitedError{"burst"}), 429},
		{"plain error is 500 without its text", errors.New("secret internal text"), 500},
		{"nil", nil, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Or(nil)(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body leaks error text: %s", rec.Body)
			}
		})
	}
}

func TestStatusCodeOutOfRange(t *testing.T) {
	for _, s := range []int{0, 200, 302, 600, -1} {
		rec := httptest.NewRecorder()
		problem.Write(rec, &problem.Details{Status: s})
		if rec.Code != 500 {
			t.Errorf("Write(Status: %d) answered %d, want 500", s, rec.Code)
		}
	}
}

// viaStdlib returns s as encoding/json reads it back after writing it: each
// invalid byte becomes U+FFFD.
func viaStdlib(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func FuzzMarshal(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>&</b>", "\xff\xfe", "line\nbreak", "\u2028\u2029", `"\`} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, title, detail string) {
		d := &problem.Details{Title: title, Detail: detail, Status: 400, Instance: detail}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		if want := viaStdlib(t, detail); detail != "" && m["detail"] != want {
			t.Fatalf("detail = %q, want %q", m["detail"], want)
		}
		if strings.ContainsAny(string(b), "<>&\n\r") {
			t.Fatalf("unescaped markup or newline in %q", b)
		}
	})
}
