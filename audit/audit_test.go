package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

func newAuditor(t *testing.T, cfg audit.Config) (*audit.Auditor, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	if cfg.Handler == nil {
		cfg.Handler = jsonHandler(buf)
	}
	a, err := audit.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, buf
}

func TestRequestRecord(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, LogHeaders: []string{"Accept", "Authorization"}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(1500000) // 1.5 ms
		secevent.Identify(r.Context(), secevent.Identity{Subject: "svc-7", Issuer: "https://idp.example", Method: "jwt"})
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "hello")
	})
	r := httptest.NewRequest("GET", "http://api.example/items/42?x=1&token=s3cr3t", nil)
	r.RemoteAddr = "198.51.100.9:4000"
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer abc.def")
	r.Header.Set("X-Request-ID", "req-123")
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	w := httptest.NewRecorder()
	a.Handler(mux).ServeHTTP(w, r)

	if got := w.Header().Get("X-Request-ID"); got != "req-123" {
		t.Errorf("response X-Request-ID = %q, want req-123", got)
	}
	recs := records(t, buf.Bytes())
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1: %s", len(recs), buf.Bytes())
	}
	want := map[string]any{
		"msg":                               audit.MsgRequest,
		"level":                             "INFO",
		"time":                              "2026-03-01T12:00:00.0015Z",
		"request_id":                        "req-123",
		"http.request.method":               "GET",
		"url.path":                          "/items/42",
		"url.query":                         "x=1&token=" + audit.Redacted,
		"http.route":                        "GET /items/{id}",
		"http.response.status_code":         float64(201),
		"http.response.body.size":           float64(5),
		"http.server.request.duration_ns":   float64(1500000),
		"client.address":                    "198.51.100.9",
		"user_agent.original":               "curl/8",
		"trace_id":                          "4bf92f3577b34da6a3ce929d0e0e4736",
		"span_id":                           "00f067aa0ba902b7",
		"user.id":                           "svc-7",
		"bulwark.authn.method":              "jwt",
		"bulwark.authn.issuer":              "https://idp.example",
		"http.request.header.accept":        "application/json",
		"http.request.header.authorization": audit.Redacted,
	}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("record[%q] = %#v, want %#v", k, recs[0][k], v)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name    string
		inbound []string
		keep    bool
	}{
		{"well-formed", []string{"abc-DEF_1.2"}, true},
		{"64 characters", []string{strings.Repeat("a", 64)}, true},
		{"spoofed path traversal", []string{"../../etc"}, false},
		{"spoofed 10 KB", []string{strings.Repeat("A", 10<<10)}, false},
		{"spoofed newline log forging", []string{"ok\n{\"msg\":\"forged\"}"}, false},
		{"spoofed CRLF", []string{"ok\r\nX-Evil: 1"}, false},
		{"65 characters", []string{strings.Repeat("a", 65)}, false},
		{"empty", []string{""}, false},
		{"two headers", []string{"a", "b"}, false},
		{"none", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, buf := newAuditor(t, audit.Config{})
			var fromCtx string
			h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fromCtx, _ = audit.RequestIDFromContext(r.Context())
			}))
			r := httptest.NewRequest("GET", "/", nil)
			if tc.inbound != nil {
				r.Header["X-Request-Id"] = tc.inbound
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get("X-Request-ID")
			if tc.keep && got != tc.inbound[0] {
				t.Errorf("request ID = %q, want the inbound %q", got, tc.inbound[0])
			}
			if !tc.keep && (!audit.ValidRequestID(got) || len(got) != 32 || (len(tc.inbound) > 0 && got == tc.inbound[0])) {
				t.Errorf("request ID = %q, want a fresh 32-hex-digit ID", got)
			}
			if fromCtx != got {
				t.Errorf("RequestIDFromContext = %q, response header %q", fromCtx, got)
			}
			recs := records(t, buf.Bytes())
			if len(recs) != 1 || recs[0]["request_id"] != got {
				t.Errorf("record request_id = %v, want %q", recs, got)
			}
		})
	}
}

func TestIgnoreInboundRequestID(t *testing.T) {
	a, _ := newAuditor(t, audit.Config{IgnoreInboundRequestID: true, RequestIDHeader: "X-Correlation-ID"})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Correlation-ID", "chosen-by-client")
	w := httptest.NewRecorder()
	a.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	if got := w.Header().Get("X-Correlation-ID"); got == "chosen-by-client" || !audit.ValidRequestID(got) {
		t.Errorf("X-Correlation-ID = %q, want a fresh ID", got)
	}
}

func TestRequestIDFromContextOutsideAuditor(t *testing.T) {
	if id, ok := audit.RequestIDFromContext(context.Background()); ok || id != "" {
		t.Errorf("RequestIDFromContext(background) = %q, %v; want \"\", false", id, ok)
	}
}

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want audit.TraceContext
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true,
			audit.TraceContext{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true,
			audit.TraceContext{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", true,
			audit.TraceContext{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Sampled: true}},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false, audit.TraceContext{}},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, audit.TraceContext{}},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, audit.TraceContext{}},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, audit.TraceContext{}},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false, audit.TraceContext{}},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n", false, audit.TraceContext{}},
		{"", false, audit.TraceContext{}},
	}
	for _, tc := range tests {
		got, ok := audit.ParseTraceparent(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseTraceparent(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSecurityEventsInRecord(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{MaxEvents: 2})
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthzFail, Reason: "scope missing",
				Attrs: []slog.Attr{slog.String("scope", "admin")}})
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/x", nil))
	recs := records(t, buf.Bytes())
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	evs, _ := recs[0]["events"].([]any)
	if len(evs) != 2 || recs[0]["events_dropped"] != float64(1) || recs[0]["level"] != "WARN" {
		t.Fatalf("record = %v, want 2 events, 1 dropped, WARN", recs[0])
	}
	ev := evs[0].(map[string]any)
	if ev["name"] != "authz_fail" || ev["reason"] != "scope missing" || ev["attrs"].(map[string]any)["scope"] != "admin" {
		t.Errorf("event = %v", ev)
	}
}

func TestPanicIsRecorded(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{})
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want the handler's panic passed on", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	recs := records(t, buf.Bytes())
	if len(recs) != 1 || recs[0]["http.response.status_code"] != float64(500) || recs[0]["bulwark.panic"] != true || recs[0]["level"] != "ERROR" {
		t.Errorf("records = %v, want one 500 ERROR record marked bulwark.panic", recs)
	}
}

func TestUnknownMethod(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{})
	r := httptest.NewRequest("GET", "/", nil)
	r.Method = "BREW\x1b" // a handler can be called with any method string
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	recs := records(t, buf.Bytes())
	if recs[0]["http.request.method"] != "_OTHER" || recs[0]["http.request.method_original"] != `BREW\x1b` {
		t.Errorf("record = %v, want _OTHER and the escaped original", recs[0])
	}
}

func TestRecordOutsideRequest(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now})
	ctx := secevent.NewContext(context.Background(), a)
	secevent.Emit(ctx, secevent.Event{Name: secevent.SysMonitorEnabled, Reason: "signing key rotated",
		Attrs: []slog.Attr{slog.String("kid", "2026-03"), slog.String("private_key", "-----BEGIN")}})
	recs := records(t, buf.Bytes())
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	r := recs[0]
	attrs, _ := r["event.attrs"].(map[string]any)
	if r["msg"] != audit.MsgEvent || r["event.name"] != "sys_monitor_enabled" || r["event.reason"] != "signing key rotated" ||
		attrs["kid"] != "2026-03" || attrs["private_key"] != audit.Redacted {
		t.Errorf("record = %v", r)
	}
}

func TestEventAfterResponseIsNotLost(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{})
	var ctx context.Context
	a.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	secevent.Emit(ctx, secevent.Event{Name: secevent.SequenceFail, Reason: "late"})
	recs := records(t, buf.Bytes())
	if len(recs) != 2 || recs[1]["msg"] != audit.MsgEvent || recs[1]["request_id"] != recs[0]["request_id"] {
		t.Errorf("records = %v, want the late event on its own with the request ID", recs)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   audit.Config
		field string
	}{
		{"bad request ID header", audit.Config{RequestIDHeader: "X Bad"}, "RequestIDHeader"},
		{"bad log header", audit.Config{LogHeaders: []string{"a:b"}}, "LogHeaders"},
		{"max events", audit.Config{MaxEvents: -1}, "MaxEvents"},
		{"user agent len", audit.Config{UserAgentLen: 1 << 20}, "UserAgentLen"},
		{"flood interval", audit.Config{FloodInterval: -1}, "FloodInterval"},
		{"flood interval without a rate", audit.Config{FloodInterval: 60e9}, "FloodInterval"},
		{"negative flood rate", audit.Config{FloodAfter: -1}, "FloodAfter"},
		{"flood keys", audit.Config{FloodMaxKeys: -5}, "FloodMaxKeys"},
		{"flood contradiction", audit.Config{DangerouslyDisableFloodAggregation: true, FloodAfter: 5}, "DangerouslyDisableFloodAggregation"},
		{"short pseudonym key", audit.Config{Redact: audit.RedactConfig{PseudonymKey: []byte("short")}}, "Redact.PseudonymKey"},
		{"max len", audit.Config{Redact: audit.RedactConfig{MaxLen: 3}}, "Redact.MaxLen"},
		{"empty field name", audit.Config{Redact: audit.RedactConfig{Fields: []string{"--"}}}, "Redact.Fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.New(tc.cfg)
			var ce *audit.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("New(%s) = %v, want a *ConfigError for %s", tc.name, err, tc.field)
			}
		})
	}
	// Every problem is reported, not only the first.
	_, err := audit.New(audit.Config{MaxEvents: -1, FloodInterval: -1})
	if n := strings.Count(err.Error(), "audit:"); n != 2 {
		t.Errorf("New with two problems reported %d: %v", n, err)
	}
}

// With middleware between the auditor and the mux (which derives new
// requests), r.Pattern never reaches the auditor; ServeMuxRoute does.
func TestServeMuxRouteThroughMiddleware(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	derive := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeTestKey{}, 1)))
		})
	}
	for _, tc := range []struct {
		name  string
		route func(*http.Request) string
		want  any
	}{
		{"default r.Pattern is lost behind middleware", nil, nil},
		{"ServeMuxRoute", audit.ServeMuxRoute(mux), "GET /items/{id}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			a, err := audit.New(audit.Config{Handler: slog.NewJSONHandler(&buf, nil), Route: tc.route})
			if err != nil {
				t.Fatal(err)
			}
			a.Handler(derive(mux)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["http.route"] != tc.want {
				t.Errorf("http.route = %v, want %v", rec["http.route"], tc.want)
			}
		})
	}
}

type routeTestKey struct{}

// Attrs adds a program's own attributes to each record, redacted like the
// rest.
func TestAttrsHook(t *testing.T) {
	var buf bytes.Buffer
	a, err := audit.New(audit.Config{
		Handler: slog.NewJSONHandler(&buf, nil),
		Attrs: func(r *http.Request, at []slog.Attr) []slog.Attr {
			return append(at, slog.String("bulwark.service", "orders"), slog.String("authorization", "Bearer secret-token"))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if s := buf.String(); !strings.Contains(s, `"bulwark.service":"orders"`) || strings.Contains(s, "secret-token") {
		t.Errorf("record %s: want the service, and the secret redacted", s)
	}
}
