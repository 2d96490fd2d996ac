package validate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
	"github.com/bulwark-go/bulwark/validate"
)

// account is the target of most tests: a role an attacker wants to set,
// and fields whose zero values are meaningful.
type account struct {
	Name   string   `json:"name" validate:"required,min=1,max=64"`
	Role   string   `json:"role" validate:"omitempty,oneof=user viewer"`
	Skip   bool     `json:"skip"`
	Kind   string   `json:"kind"`
	Age    int      `json:"age" validate:"omitempty,min=0,max=150"`
	Accept *bool    `json:"accept"`
	Extra  any      `json:"extra"`
	Tags   []string `json:"tags" validate:"max=8,dive,max=32"`
}

// recorded is what one request produced.
type recorded struct {
	status int
	header http.Header
	body   string
	err    error // the error handed to the ErrorHandler
	got    *account
	events []secevent.Event
}

type harness struct {
	mu   sync.Mutex
	last recorded
	h    http.Handler
}

// newHarness builds validate.JSON[account] with cfg, capturing the error
// the handler refused with and the value it accepted.
func newHarness(t *testing.T, cfg validate.Config) *harness {
	t.Helper()
	hs := &harness{}
	cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		hs.mu.Lock()
		hs.last.err = err
		hs.mu.Unlock()
		problem.WriteError(w, r, err)
	}
	v, err := validate.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, a account) {
		hs.mu.Lock()
		hs.last.got = &a
		hs.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	hs.h = h
	return hs
}

// do serves r in process and returns what happened.
func (hs *harness) do(r *http.Request) recorded {
	var mu sync.Mutex
	var events []secevent.Event
	rec := secevent.RecorderFunc(func(_ context.Context, e secevent.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	r = r.WithContext(secevent.NewContext(r.Context(), rec))
	hs.mu.Lock()
	hs.last = recorded{}
	hs.mu.Unlock()
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	out := hs.last
	out.status, out.header, out.body, out.events = w.Code, w.Header(), w.Body.String(), events
	return out
}

func jsonRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/accounts", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// wantRefused checks a refusal: status, sentinel, a problem+json body that
// contains none of the submitted values in secrets, and one
// input_validation_fail event.
func wantRefused(t *testing.T, got recorded, status int, sentinel error, secrets ...string) {
	t.Helper()
	if got.status != status {
		t.Errorf("status = %d, want %d (body %s)", got.status, status, got.body)
	}
	if !errors.Is(got.err, sentinel) {
		t.Errorf("error = %v, want %v", got.err, sentinel)
	}
	if got.got != nil {
		t.Errorf("handler ran with %+v, want it not called", *got.got)
	}
	if ct := got.header.Get("Content-Type"); ct != problem.MediaType {
		t.Errorf("Content-Type = %q, want %q", ct, problem.MediaType)
	}
	for _, s := range secrets {
		if strings.Contains(got.body, s) {
			t.Errorf("body %s echoes submitted %q", got.body, s)
		}
	}
	if len(got.events) != 1 || got.events[0].Name != secevent.InputValidationFail {
		t.Errorf("events = %+v, want one %s", got.events, secevent.InputValidationFail)
	}
}

// countingReader counts the bytes read from an endless or long source.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros is an endless reader of a repeated pattern.
type repeatReader struct{ pattern []byte }

func (z repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = z.pattern[i%len(z.pattern)]
	}
	return len(p), nil
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// fieldRules renders an error's fields as "pointer=rule" pairs.
func fieldRules(err error) string {
	var ie *validate.InputError
	if !errors.As(err, &ie) {
		return ""
	}
	parts := make([]string, 0, len(ie.Fields))
	for _, f := range ie.Fields {
		where := f.Pointer
		if f.Parameter != "" {
			where = "?" + f.Parameter
		}
		parts = append(parts, where+"="+f.Rule)
	}
	return strings.Join(parts, " ")
}

// newDecoder builds a Decoder for T on a Validator built from cfg.
func newDecoder[T any](t testing.TB, cfg validate.Config) *validate.Decoder[T] {
	t.Helper()
	v, err := validate.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d, err := validate.NewDecoder[T](v)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	return d
}
