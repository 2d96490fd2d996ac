package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// A per-client budget of 10 requests per second with bursts of 20, and
// 10 000 per day, decided together: a request refused by either policy is
// charged to neither.
func Example() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lim, err := ratelimit.New(ratelimit.Config{
		Policies: []ratelimit.Policy{
			{Name: "burst", Quota: 10, Period: time.Second, Burst: 20, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
			{Name: "daily", Quota: 10_000, Period: 24 * time.Hour, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
		},
		Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	h := lim.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	r := httptest.NewRequest(http.MethodGet, "/v1/items", nil)
	r.RemoteAddr = "203.0.113.7:51234"
	var w *httptest.ResponseRecorder
	for range 21 {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}
	fmt.Println(w.Code)
	fmt.Println("RateLimit-Policy:", w.Header().Get("RateLimit-Policy"))
	fmt.Println("RateLimit:", w.Header().Get("RateLimit"))
	fmt.Println("Retry-After:", w.Header().Get("Retry-After"))
	// Output:
	// 429
	// RateLimit-Policy: "burst";q=10;w=1, "daily";q=10000;w=86400
	// RateLimit: "burst";r=0;t=2, "daily";r=9980;t=173
	// Retry-After: 1
}

// Placement: an IP budget before authentication (it protects the login
// and token checks themselves), a per-principal tier after it. Principal
// reads the identity that auth stored; ratelimit does not import auth.
func Example_beforeAndAfterAuth() {
	type principalKey struct{}
	authenticate := func(next http.Handler) http.Handler { // stands in for auth
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), principalKey{}, r.Header.Get("X-Demo-User"))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	user := ratelimit.IdentityFunc(func(r *http.Request) (string, bool) {
		id, ok := r.Context().Value(principalKey{}).(string)
		return id, ok && id != ""
	})
	byIP, _ := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "ip", Quota: 100, Period: time.Minute, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	byUser, _ := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "user", Quota: 2, Period: time.Minute, Key: []ratelimit.KeyPart{ratelimit.Principal(user)}},
	}})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := byIP.Handler(authenticate(byUser.Handler(app)))

	for _, who := range []string{"alice", "alice", "alice", "bob"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Demo-User", who)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(who, w.Code)
	}
	// Output:
	// alice 200
	// alice 200
	// alice 429
	// bob 200
}

// Keying on a raw header is the classic mistake: every request can name a
// new bucket. New accepts Header keys (a trusted gateway may set one), but
// for client addresses use ClientIP, which believes X-Forwarded-For only
// from the proxies configured in clientip.
func Example_incorrect() {
	wrong, _ := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "ip", Quota: 1, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.Header("X-Forwarded-For")}},
	}})
	right, _ := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "ip", Quota: 1, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, l := range []*ratelimit.Limiter{wrong, right} {
		h := l.Handler(app)
		passed := 0
		for i := range 5 {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code == 200 {
				passed++
			}
		}
		fmt.Println(passed, "of 5 passed")
	}
	// Output:
	// 5 of 5 passed
	// 1 of 5 passed
}

// TakeKey is the decision without HTTP, e.g. for login attempts per
// account.
func ExampleLimiter_TakeKey() {
	lim, _ := ratelimit.New(ratelimit.Config{Policies: []ratelimit.Policy{
		{Name: "login", Quota: 5, Period: 15 * time.Minute, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}, Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	for range 6 {
		_, err := lim.TakeKey(context.Background(), "account:alice", 1)
		var le *ratelimit.LimitedError
		if errors.As(err, &le) {
			fmt.Println("refused by", le.Policy, "retry in", le.RetryAfter)
		}
	}
	// Output:
	// refused by login retry in 3m0s
}
