package redisstore_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

var failModes = []struct {
	name string
	mode ratelimit.FailMode
}{
	{"FailClosed", ratelimit.FailClosed},
	{"FailLocal", ratelimit.FailLocal},
	{"FailOpen", ratelimit.FailOpen},
}

// TestHugeCostFromQueryIsNeverAllowed: a cost the client chooses
// (?count=) far beyond the burst — up to 2^51 and past it, where the Redis
// script's exact integers end — is a 429 "never" on every store and under
// every failure mode, as on the memory store. It was a store error, which a
// FailOpen policy let through (200 ×10) and a FailClosed one answered 503.
func TestHugeCostFromQueryIsNeverAllowed(t *testing.T) {
	_, c := singleClient(t)
	store := newStore(t, redisstore.Config{Client: c})
	cost := func(r *http.Request) int64 {
		n, _ := strconv.ParseInt(r.URL.Query().Get("count"), 10, 64)
		return n
	}
	for _, fm := range failModes {
		for _, st := range []struct {
			name  string
			store ratelimit.Store
		}{{"redis", store}, {"memory", nil}} {
			t.Run(st.name+"/"+fm.name, func(t *testing.T) {
				l, err := ratelimit.New(ratelimit.Config{
					Store: st.store, HashKey: hashKey, Cost: cost,
					Policies: []ratelimit.Policy{{Name: "items", Quota: 10, Period: time.Hour, OnStoreError: fm.mode, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
				})
				if err != nil {
					t.Fatal(err)
				}
				h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				remote := "192.0.2." + strconv.Itoa(1+int(fm.mode)) + ":1"
				for _, count := range []string{"11", "2251799813685248", "4503599627370496", "9223372036854775807"} {
					for i := range 10 {
						r := httptest.NewRequest(http.MethodGet, "/items?count="+count, nil)
						r.RemoteAddr = remote
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "" {
							t.Fatalf("count=%s, request %d: %d Retry-After=%q, want 429 without Retry-After", count, i, w.Code, w.Header().Get("Retry-After"))
						}
					}
					r := httptest.NewRequest(http.MethodGet, "/items?count="+count, nil)
					r.RemoteAddr = remote
					if _, err := l.Check(r); !errors.Is(err, ratelimit.ErrCostTooHigh) {
						t.Fatalf("Check(count=%s) = %v, want ErrCostTooHigh", count, err)
					}
				}
				// None of it was charged: the whole burst is still there.
				r := httptest.NewRequest(http.MethodGet, "/items?count=10", nil)
				r.RemoteAddr = remote
				if d, err := l.Check(r); err != nil || !d.Allowed {
					t.Fatalf("count=10 after the refusals: %+v, %v; want the full burst", d, err)
				}
			})
		}
	}
}
