package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

// TestJSONLineIsSlogsBytes: the access record appended directly (the
// fast path of audit.NewJSONHandler) is byte for byte what slog's own
// JSONHandler writes for the same record, for awkward values too: so a
// reader, a SIEM parser and the chain's MAC see no difference. Both line
// paths are held to it: the direct one (no Attrs hook) and the one through
// the attributes (with a hook).
func TestJSONLineIsSlogsBytes(t *testing.T) {
	clock := time.Date(2026, 12, 2, 14, 30, 1, 123456789, time.FixedZone("x", 3600))
	hook := func(r *http.Request, at []slog.Attr) []slog.Attr {
		return append(at, slog.Int("x.n", -7), slog.Bool("x.ok", true), slog.Uint64("x.u", 1<<63),
			slog.Duration("x.d", 1500*time.Millisecond), slog.String("x.s", r.Header.Get("X-Note")))
	}
	run := func(h slog.Handler, withHook bool) *audit.Auditor {
		cfg := audit.Config{Handler: h, Now: func() time.Time { return clock }, LogHeaders: []string{"X-Tenant", "Authorization"}}
		if withHook {
			cfg.Attrs = hook
		}
		a, err := audit.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	notes := []string{"plain", "<script>&amp;</script>", "quote\" back\\slash", "ctl\x00\x01\x1f\x7f\n\r\t", "bad utf8 \xff\xfe",
		"line\u2028para\u2029", "é日本🙂", ""}
	cases := []struct {
		name     string
		withHook bool
		method   string
		remote   string
		identify bool
		panics   bool
	}{
		{name: "direct", method: "GET", remote: "[2001:db8::1]:443"},
		{name: "direct, identified, other method", method: "PROPFIND", remote: "192.0.2.7:1", identify: true},
		{name: "direct, panic", method: "POST", remote: "192.0.2.7:1", panics: true},
		{name: "hook", withHook: true, method: "GET", remote: "[2001:db8::1]:443", identify: true},
	}
	for _, c := range cases {
		for _, note := range notes {
			var fast, slow bytes.Buffer
			lines := &countLines{JSONLineHandler: audit.NewJSONHandler(&fast, nil).(audit.JSONLineHandler)}
			for i, h := range []slog.Handler{lines, slog.NewJSONHandler(&slow, nil)} {
				a := run(h, c.withHook)
				next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if c.identify {
						secevent.Identify(r.Context(), secevent.Identity{Subject: "alice" + note, Method: "jwt", Issuer: "https://idp.example/" + note})
					}
					if c.panics {
						panic(http.ErrAbortHandler)
					}
					w.WriteHeader(http.StatusTeapot)
					_, _ = w.Write([]byte("body"))
				})
				r := httptest.NewRequest(c.method, "/v1/x%20y?q="+url.QueryEscape(note)+"&access_token=secret", nil)
				r.Pattern = "/v1/{id}" + note
				r.Header.Set("X-Request-ID", "req-1")
				r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				r.Header.Set("User-Agent", note)
				r.Header.Set("X-Note", note)
				r.Header.Set("X-Tenant", note)
				r.Header.Add("X-Tenant", "second")
				r.Header.Set("Authorization", "Bearer secret")
				r.RemoteAddr = c.remote
				func() {
					defer func() { _ = recover() }()
					a.Handler(next).ServeHTTP(httptest.NewRecorder(), r)
				}()
				if i == 0 && fast.Len() == 0 {
					t.Fatalf("%s: nothing written", c.name)
				}
			}
			if lines.n != 1 {
				t.Errorf("%s, note %q: %d records took the JSON line path, want 1 (the comparison would prove nothing)", c.name, note, lines.n)
			}
			if fast.String() != slow.String() {
				t.Errorf("%s, note %q:\n fast %s\n slog %s", c.name, note, fast.String(), slow.String())
			}
			if strings.Contains(fast.String(), "secret") {
				t.Errorf("%s: a credential reached the record: %s", c.name, fast.String())
			}
		}
	}
}

// countLines counts the records a handler took as JSON lines.
type countLines struct {
	audit.JSONLineHandler
	n int
}

func (c *countLines) HandleJSONLine(ctx context.Context, l slog.Level, line []byte) error {
	c.n++
	return c.JSONLineHandler.HandleJSONLine(ctx, l, line)
}

// TestJSONLineFallsBackForEvents: a record with security events (an Any
// value) goes through slog, unchanged.
func TestJSONLineFallsBackForEvents(t *testing.T) {
	var fast, slow bytes.Buffer
	lines := &countLines{JSONLineHandler: audit.NewJSONHandler(&fast, nil).(audit.JSONLineHandler)}
	for _, h := range []slog.Handler{lines, slog.NewJSONHandler(&slow, nil)} {
		clock := time.Unix(1_800_000_000, 0)
		a, err := audit.New(audit.Config{Handler: h, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnLoginFail, Reason: "bad key"})
			w.WriteHeader(http.StatusUnauthorized)
		})
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.Header.Set("X-Request-ID", "req-2")
		a.Handler(next).ServeHTTP(httptest.NewRecorder(), r)
	}
	if lines.n != 0 {
		t.Errorf("a record with events took the JSON line path")
	}
	if fast.String() != slow.String() || !strings.Contains(fast.String(), "bad key") {
		t.Errorf("fast %s\nslog %s", fast.String(), slow.String())
	}
}

// TestChainTakesJSONLines: records handed to a Chain as JSON lines chain
// and verify like any other.
func TestChainTakesJSONLines(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	var out bytes.Buffer
	c, err := audit.NewChain(&out, audit.ChainConfig{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(audit.Config{Handler: c})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(bytes.NewReader(out.Bytes()), audit.VerifyConfig{Keys: map[string][]byte{"": key}})
	if err != nil || res.Records < 7 {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
}
