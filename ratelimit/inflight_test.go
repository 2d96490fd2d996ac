package ratelimit_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// TestInFlightLoadShedding holds requests inside the handler and checks
// that the global and per-key concurrency limits shed the excess with 503
// and Retry-After, and free their slots when requests finish.
func TestInFlightLoadShedding(t *testing.T) {
	tests := []struct {
		name     string
		cfg      ratelimit.Config
		remotes  []string // held requests, in order
		want     []int    // their statuses (0: held, i.e. admitted)
		extra    string   // one more request while they are held
		extraWas int
	}{
		{"global", ratelimit.Config{MaxInFlight: 2}, []string{"192.0.2.1:1", "192.0.2.2:1"}, []int{0, 0}, "192.0.2.3:1", 503},
		{"per key", ratelimit.Config{MaxInFlightPerKey: 1, InFlightKey: []ratelimit.KeyPart{ratelimit.ClientIP()}},
			[]string{"192.0.2.1:1", "192.0.2.2:1"}, []int{0, 0}, "192.0.2.1:2", 503},
		{"per key lets other keys in", ratelimit.Config{MaxInFlightPerKey: 1, InFlightKey: []ratelimit.KeyPart{ratelimit.ClientIP()}},
			[]string{"192.0.2.1:1"}, []int{0}, "192.0.2.2:1", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			entered := make(chan struct{}, 8)
			hold := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Hold") != "" {
					entered <- struct{}{}
					<-release
				}
				w.WriteHeader(200)
			})
			h := mustNew(t, tc.cfg).Handler(hold)
			var wg sync.WaitGroup
			codes := make([]int, len(tc.remotes))
			for i, ra := range tc.remotes {
				wg.Go(func() { codes[i] = get(h, ra, "X-Hold", "1").Code })
				<-entered
			}
			w := get(h, tc.extra)
			if w.Code != tc.extraWas {
				t.Errorf("request while %d are held: %d, want %d", len(tc.remotes), w.Code, tc.extraWas)
			}
			if w.Code == 503 && w.Header().Get("Retry-After") != "1" {
				t.Errorf("503 Retry-After = %q, want 1", w.Header().Get("Retry-After"))
			}
			close(release)
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Errorf("held request %d: %d", i, c)
				}
			}
			if w := get(h, tc.extra); w.Code != 200 {
				t.Errorf("after the held requests finished: %d, want 200", w.Code)
			}
		})
	}
}

// TestHugeContentLengthRefused: a declared body over the limit is refused
// with 413 before the handler runs.
func TestHugeContentLengthRefused(t *testing.T) {
	called := false
	h := mustNew(t, ratelimit.Config{MaxBodyBytes: 1024}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	for _, cl := range []int64{1025, 1 << 40, 1<<63 - 1} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
		r.ContentLength = cl
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge || called {
			t.Errorf("Content-Length %d: %d (handler called %v), want 413", cl, w.Code, called)
		}
	}
}

// TestChunkedBodyOverLimit: a body without Content-Length (chunked) that
// grows past the limit fails to read with *http.MaxBytesError, and the
// caller's request keeps its own body.
func TestChunkedBodyOverLimit(t *testing.T) {
	var readErr error
	var n int64
	h := mustNew(t, ratelimit.Config{MaxBodyBytes: 1024}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, readErr = io.Copy(io.Discard, r.Body)
	}))
	body := iotest.HalfReader(strings.NewReader(strings.Repeat("a", 4096)))
	r := httptest.NewRequest(http.MethodPost, "/", body)
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	orig := r.Body
	h.ServeHTTP(httptest.NewRecorder(), r)
	var mbe *http.MaxBytesError
	if !errors.As(readErr, &mbe) || n > 1024 {
		t.Errorf("reading a 4096-byte chunked body: %d bytes, err %v; want <= 1024 and *http.MaxBytesError", n, readErr)
	}
	if r.Body != orig {
		t.Error("the caller's request was modified")
	}
	// Within the limit it passes untouched.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", 1024)))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if readErr != nil || n != 1024 {
		t.Errorf("1024-byte body: %d bytes, err %v", n, readErr)
	}
}

func TestGlobalRateSheds(t *testing.T) {
	c := newClock()
	h := mustNew(t, ratelimit.Config{GlobalRate: 2, Now: c.Now}).Handler(okHandler)
	codes := [3]int{get(h, "192.0.2.1:1").Code, get(h, "192.0.2.2:1").Code, get(h, "192.0.2.3:1").Code}
	if codes != [3]int{200, 200, 503} {
		t.Errorf("global 2/s burst 2: %v, want [200 200 503]", codes)
	}
	c.Advance(500_000_000)
	if w := get(h, "192.0.2.4:1"); w.Code != 200 {
		t.Errorf("after 0.5 s: %d, want 200", w.Code)
	}
}
