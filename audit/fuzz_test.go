package audit_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/audit"
)

func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc-DEF_1.2", "../../etc", strings.Repeat("A", 100), "ok\n{}", "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		f.Add(s, s)
	}
	a, err := audit.New(audit.Config{Handler: slog.DiscardHandler})
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.Fuzz(func(t *testing.T, id, traceparent string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["X-Request-Id"] = []string{id}
		r.Header["Traceparent"] = []string{traceparent}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("X-Request-ID")
		if !audit.ValidRequestID(got) || (got != id && audit.ValidRequestID(id)) {
			t.Errorf("inbound %q gave request ID %q", id, got)
		}
		if tc, ok := audit.ParseTraceparent(traceparent); ok && (len(tc.TraceID) != 32 || len(tc.SpanID) != 16) {
			t.Errorf("ParseTraceparent(%q) = %+v", traceparent, tc)
		}
	})
}

// FuzzRedactorString checks that no control, format (bidi) or invalid
// character survives, and the cap holds.
func FuzzRedactorString(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\x1b[31m", "admin\u202euser", "a\xffb", "café", strings.Repeat("é", 100)} {
		f.Add(s)
	}
	r, err := audit.NewRedactor(audit.RedactConfig{MaxLen: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{r.String(s), r.Text(s)} {
			if len(out) > 64+len("…[truncated]") {
				t.Errorf("String(%q) is %d bytes", s, len(out))
			}
			if !utf8.ValidString(out) {
				t.Errorf("String(%q) = %q is not UTF-8", s, out)
			}
			for _, c := range out {
				if c < 0x20 || (c >= 0x7f && c < 0xa0) || unicode.Is(unicode.Cf, c) || c == '\u2028' || c == '\u2029' {
					t.Errorf("String(%q) = %q keeps %U", s, out, c)
				}
			}
		}
	})
}

// FuzzRedactJSON checks that the value of a sensitive field never
// survives the walk, wherever it is nested.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"password":"%s"}`, `[{"a":{"token":"%s"}}]`, `{"Authorization":"Bearer %s"}`, `{"x":1}`, `not json %s`} {
		f.Add(s, "hunter2zz")
	}
	r, err := audit.NewRedactor(audit.RedactConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc, secret string) {
		if len(secret) < 8 || strings.ContainsAny(secret, `"\%`) || !utf8.ValidString(secret) {
			return
		}
		for _, c := range secret {
			if c < 'a' || c > 'z' {
				return
			}
		}
		body := strings.ReplaceAll(doc, "%s", secret)
		out := encode(t, r, "body", body)
		// The same letters may also stand in the document outside a
		// sensitive field (the fuzzer found "aaaaaaaa\"token\":\"aaaaaaaa"):
		// those may stay. Every occurrence as a sensitive value must go.
		sensitive := strings.Count(body, `"password":"`+secret) + strings.Count(body, `"token":"`+secret)
		if sensitive > 0 && strings.Count(out, secret) > strings.Count(body, secret)-sensitive {
			t.Errorf("a secret under password or token survived: %s → %s", body, out)
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"a=1&sig=zz", "api%5Fkey=k", "token", "&&=&", "access_token=abc%zz"} {
		f.Add(s)
	}
	r, err := audit.NewRedactor(audit.RedactConfig{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := r.Query(q)
		if strings.HasPrefix(q, "access_token=zz") && !strings.HasPrefix(q, "access_token=zz&") && strings.Contains(out, "zz") {
			t.Errorf("Query(%q) = %q kept the token", q, out)
		}
	})
}

// FuzzVerify feeds arbitrary logs to Verify (no panic, only tamper or
// read errors), and checks that any change to a valid log is caught.
func FuzzVerify(f *testing.F) {
	var b bytes.Buffer
	ch, err := audit.NewChain(&b, audit.ChainConfig{Key: testKey})
	if err != nil {
		f.Fatal(err)
	}
	slog.New(ch).Info("one", "k", "v")
	slog.New(ch).Info("two")
	if err := ch.Close(); err != nil {
		f.Fatal(err)
	}
	valid := b.Bytes()
	f.Add(valid, 0, byte(0))
	f.Add(valid, 10, byte(1))
	f.Add([]byte("{}\n{\"chain.mac\":1}"), 3, byte(0xff))
	keys := map[string][]byte{"": testKey}
	f.Fuzz(func(t *testing.T, log []byte, at int, flip byte) {
		_, err := audit.Verify(bytes.NewReader(log), audit.VerifyConfig{Keys: keys})
		// A well-formed chain that stops without its end record is an
		// unclean end (a crash), a finding of its own: not tampering.
		if err != nil && !errors.Is(err, audit.ErrTampered) && !errors.Is(err, audit.ErrUnclean) {
			t.Fatalf("Verify(arbitrary) = %v, want nil, ErrTampered or ErrUnclean", err)
		}
		if flip == 0 || at < 0 {
			return
		}
		edited := bytes.Clone(valid)
		edited[at%len(edited)] ^= flip
		if bytes.Equal(edited, valid) {
			return
		}
		if _, err := audit.Verify(bytes.NewReader(edited), audit.VerifyConfig{Keys: keys}); err == nil {
			t.Errorf("Verify accepted a log with byte %d flipped by %#x", at%len(valid), flip)
		}
	})
}
