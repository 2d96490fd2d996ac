package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
)

func newRedactor(t *testing.T, cfg audit.RedactConfig) *audit.Redactor {
	t.Helper()
	r, err := audit.NewRedactor(cfg)
	if err != nil {
		t.Fatalf("NewRedactor: %v", err)
	}
	return r
}

// encode renders a walked value as the JSON handler would.
func encode(t *testing.T, r *audit.Redactor, key string, v any) string {
	t.Helper()
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).LogAttrs(t.Context(), slog.LevelInfo, "m", r.Attr(slog.Any(key, v)))
	return b.String()
}

type loginForm struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Profile  struct {
		APIKey string `json:"apiKey"`
	} `json:"profile"`
}

func TestRedactNestedSecrets(t *testing.T) {
	const secret = "hunter2-SECRET"
	form := loginForm{User: "alice", Password: secret}
	form.Profile.APIKey = secret
	tests := []struct {
		name string
		key  string
		v    any
		keep string // a non-secret that must survive
	}{
		{"http.Header group", "headers", http.Header{"Authorization": {"Bearer " + secret}, "Accept": {"text/plain"}}, "text/plain"},
		{"Cookie header", "headers", http.Header{"Cookie": {"sid=" + secret}}, "Cookie"},
		{"Set-Cookie header", "h", http.Header{"Set-Cookie": {"sid=" + secret + "; HttpOnly"}}, "Set-Cookie"},
		{"X-API-Key header", "h", http.Header{"X-Api-Key": {secret}}, "X-Api-Key"},
		{"query values", "q", url.Values{"access_token": {secret}, "page": {"2"}}, `"page":"2"`},
		{"url userinfo", "u", &url.URL{Scheme: "https", User: url.UserPassword("bob", secret), Host: "db.example", Path: "/x"}, "db.example"},
		{"url signature param", "u", mustURL("https://s3.example/o?X-Amz-Signature=" + secret + "&v=1"), "v=1"},
		{"nested JSON body string", "body", `{"user":"alice","creds":{"password":"` + secret + `","list":[{"token":"` + secret + `"}]}}`, "alice"},
		{"JSON RawMessage", "body", json.RawMessage(`{"data":{"client_secret":"` + secret + `"}}`), "data"},
		{"JSON bytes", "body", []byte(`[{"Password":"` + secret + `"}]`), "Password"},
		{"struct by JSON field names", "form", form, "alice"},
		{"map any", "m", map[string]any{"deep": map[string]any{"api_key": secret}}, "deep"},
		{"map string", "m", map[string]string{"session": secret, "ok": "yes"}, "yes"},
		{"sensitive attribute key", "password", secret, "password"},
		{"group attribute", "g", slog.GroupValue(slog.String("token", secret), slog.Int("n", 1)), `"n":1`},
		{"error string bearer", "err", errors.New("upstream said no to Authorization: Bearer " + secret), "upstream"},
		{"error string key=value", "err", fmt.Errorf("dial postgres://app:%s@db:5432/x failed; password=%s", secret, secret), "db:5432"},
		{"error string JSON", "err", fmt.Errorf(`decode {"api_key": "%s"}: bad`, secret), "decode"},
		{"free text basic", "note", "got Basic " + secret + " from client", "from client"},
	}
	r := newRedactor(t, audit.RedactConfig{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := encode(t, r, tc.key, tc.v)
			if strings.Contains(out, secret) || strings.Contains(out, "hunter2") {
				t.Errorf("Attr(%s) leaked the secret: %s", tc.name, out)
			}
			if !strings.Contains(out, tc.keep) {
				t.Errorf("Attr(%s) = %s, want %q kept", tc.name, out, tc.keep)
			}
		})
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// slog escapes newlines but its ReplaceAttr never sees inside an
// http.Header logged as a value: the Redactor's handler does.
func TestRedactHandlerStopsHeaderLeak(t *testing.T) {
	var b bytes.Buffer
	r := newRedactor(t, audit.RedactConfig{Headers: []string{"X-Internal-Auth"}})
	log := slog.New(r.Handler(slog.NewJSONHandler(&b, nil)))
	h := http.Header{"Authorization": {"Bearer tok-123"}, "X-Internal-Auth": {"internal-456"}}
	log.With("pre", h).WithGroup("req").Info("call", "headers", h, "msg2", "token=tok-789 ok")
	for _, s := range []string{"tok-123", "internal-456", "tok-789"} {
		if strings.Contains(b.String(), s) {
			t.Errorf("log leaked %q: %s", s, b.String())
		}
	}
}

func TestPseudonymCorrelates(t *testing.T) {
	r := newRedactor(t, audit.RedactConfig{PseudonymKey: testKey})
	a := r.Value("authorization", slog.StringValue("Bearer same")).String()
	b := r.Value("Authorization", slog.StringValue("Bearer same")).String()
	c := r.Value("authorization", slog.StringValue("Bearer other")).String()
	if !strings.HasPrefix(a, "hmac:") || a != b || a == c || strings.Contains(a, "same") {
		t.Errorf("pseudonyms %q %q %q: want equal for the same secret, different otherwise, hiding the secret", a, b, c)
	}
}

func TestSanitizeCRLFAndANSIAndBidi(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"CRLF log forging", "a\r\n{\"msg\":\"forged\"}", `a\x0d\x0a{"msg":"forged"}`},
		{"ANSI escape", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bidi override Trojan Source", "admin\u202euser", `admin\u202euser`},
		{"bidi isolate", "a\u2066b\u2069", `a\u2066b\u2069`},
		{"zero width", "a\u200bb", `a\u200bb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"C1 control", "a\u0085b", `a\x85b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"plain unicode kept", "café ☕", "café ☕"},
	}
	r := newRedactor(t, audit.RedactConfig{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Attack: CRLF, ANSI and bidi sequences in the path, headers and user
// agent must not reach the log as themselves.
func TestRequestWithCRLFANSIBidiInPathHeadersUserAgent(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{LogHeaders: []string{"X-Note"}})
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.Path = "/a\r\n\x1b[2J\u202e"
	r.URL.RawQuery = "q=%0d%0a&x=\x1b"
	r.Header.Set("User-Agent", "evil\r\n\x1b]0;title\x07\u202egnp.exe")
	r.Header["X-Note"] = []string{"n\x1b[1m\u2067"}
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	out := buf.Bytes()
	// JSON escapes \r \n and ESC itself; what matters is that the decoded
	// values hold none of them either, so a viewer printing them is safe.
	for _, rec := range records(t, out) {
		for k, v := range rec {
			s := fmt.Sprint(v)
			if strings.ContainsAny(s, "\r\n\x1b\x07\u202e\u2067") {
				t.Errorf("decoded %s = %q still holds a control or bidi character", k, s)
			}
		}
	}
	if bytes.Count(out, []byte("\n")) != 1 {
		t.Errorf("record spans %d lines, want 1", bytes.Count(out, []byte("\n")))
	}
}

// Attack: a 1 MiB header value must not make a 1 MiB log record.
func TestOneMiBHeaderValues(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{LogHeaders: []string{"X-Big"}})
	big := strings.Repeat("A", 1<<20)
	r := httptest.NewRequest("GET", "/"+big, nil)
	r.Header.Set("User-Agent", big)
	r.Header.Set("X-Big", big)
	r.Header.Set("X-Request-ID", big)
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
	if n := len(buf.Bytes()); n > 4*audit.DefaultMaxLen+1024 {
		t.Errorf("record is %d bytes for 1 MiB inputs, want it capped", n)
	}
	rec := records(t, buf.Bytes())[0]
	if ua := rec["user_agent.original"].(string); len(ua) > audit.DefaultUserAgentLen+len("…[truncated]") {
		t.Errorf("user_agent.original is %d bytes", len(ua))
	}
}

func TestQueryRedaction(t *testing.T) {
	r := newRedactor(t, audit.RedactConfig{QueryParams: []string{"otp_code"}})
	tests := []struct{ in, want string }{
		{"a=1&b=2", "a=1&b=2"},
		{"sig=abc&x=1", "sig=" + audit.Redacted + "&x=1"},
		{"Signature=abc", "Signature=" + audit.Redacted},
		{"AWSAccessKeyId=AKIA&X-Goog-Signature=zz", "AWSAccessKeyId=" + audit.Redacted + "&X-Goog-Signature=" + audit.Redacted},
		{"api%5Fkey=k1", "api%5Fkey=" + audit.Redacted},
		{"ACCESS_TOKEN=t", "ACCESS_TOKEN=" + audit.Redacted},
		{"otp_code=123456", "otp_code=" + audit.Redacted},
		{"token", "token"},
		{"a=%0d%0a", "a=%0d%0a"},
	}
	for _, tc := range tests {
		if got := r.Query(tc.in); got != tc.want {
			t.Errorf("Query(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
