package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

type principalCtxKey struct{}

// principalFromContext stands in for auth.PrincipalFromContext.
var principal = ratelimit.IdentityFunc(func(r *http.Request) (string, bool) {
	p, ok := r.Context().Value(principalCtxKey{}).(string)
	return p, ok && p != ""
})

func TestKeyParts(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{
			{Name: "user", Quota: 1, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.Principal(principal)}, Optional: true},
			{Name: "tenant", Quota: 2, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.Header("X-Tenant"), ratelimit.Route()}},
		},
		Now: newClock().Now,
	})
	mux := http.NewServeMux()
	mux.Handle("GET /a", l.Handler(okHandler))
	mux.Handle("GET /b", l.Handler(okHandler))
	do := func(path, user, tenant string) int {
		r := httptest.NewRequest("GET", path, nil)
		if tenant != "" {
			r.Header.Set("X-Tenant", tenant)
		}
		if user != "" {
			r = r.WithContext(context.WithValue(r.Context(), principalCtxKey{}, user))
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	steps := []struct {
		path, user, tenant string
		want               int
	}{
		{"/a", "", "", 400},        // the tenant header is required
		{"/a", "", "t1", 200},      // anonymous: the user policy does not apply
		{"/a", "", "t1", 200},      //
		{"/a", "", "t1", 429},      // tenant t1 on route /a: 2 per hour
		{"/b", "", "t1", 200},      // another route, another bucket
		{"/b", "alice", "t2", 200}, //
		{"/b", "alice", "t3", 429}, // alice: 1 per hour
		{"/b", "bob", "t3", 200},   //
	}
	for i, s := range steps {
		if got := do(s.path, s.user, s.tenant); got != s.want {
			t.Errorf("step %d %+v: %d, want %d", i, s, got, s.want)
		}
	}
}

func TestTakeKeyWithoutHTTP(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{perIP("login", 3, time.Hour, 0)}, Now: newClock().Now})
	for i := range 4 {
		d, err := l.TakeKey(context.Background(), "user@example.com", 1)
		if (i < 3) != (err == nil) || d.Allowed != (err == nil) || len(d.Results()) != 1 {
			t.Errorf("TakeKey #%d = %+v, %v", i, d, err)
		}
	}
	var le *ratelimit.LimitedError
	if _, err := l.TakeKey(context.Background(), "user@example.com", 1); !errors.As(err, &le) || le.Policy != "login" || le.RetryAfter != 20*time.Minute {
		t.Errorf("TakeKey error %v, want LimitedError{login, 20m}", err)
	}
}

// TestMissingKeyRefused: a policy whose key cannot be formed refuses the
// request rather than falling back to one shared bucket.
func TestMissingKeyRefused(t *testing.T) {
	tests := []struct {
		name   string
		part   ratelimit.KeyPart
		status int
	}{
		{"route outside a mux is a deployment error", ratelimit.Route(), 500},
		{"no principal", ratelimit.Principal(principal), 400},
		{"no header", ratelimit.Header("X-Tenant"), 400},
		{"func without key", ratelimit.Func(func(*http.Request) (string, bool) { return "", false }), 400},
		{"unix socket peer", ratelimit.ClientIP(), 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, ratelimit.Config{Policies: []ratelimit.Policy{{Name: "p", Quota: 1, Period: time.Second, Key: []ratelimit.KeyPart{tc.part}}}})
			w := get(l.Handler(okHandler), "@")
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			_, err := l.Check(httptest.NewRequest("GET", "/", nil))
			if tc.status == 400 && !errors.Is(err, ratelimit.ErrMissingKey) {
				t.Errorf("Check = %v, want ErrMissingKey", err)
			}
		})
	}
}

// TestClientIPKeyHashUnchanged pins the hash of ClientIP keys to the values
// the streaming hash gave before ClientIP-only keys took a straight-line
// path: fleets sharing Redis keep their keys across versions.
func TestClientIPKeyHashUnchanged(t *testing.T) {
	sk := ratelimit.NewSipKey(0x0706050403020100, 0x0f0e0d0c0b0a0908)
	for _, c := range []struct {
		remote       string
		ip, prefix48 uint64
	}{
		{"192.0.2.1:1", 0xc8c47d4553b411b7, 0xc8c47d4553b411b7},
		{"[2001:db8::1]:443", 0xc8b476ffbaf2bf01, 0x603fa2b002f04315},
		{"[2001:db8:1:2:3:4:5:6]:1", 0x9ca6c1911802db5e, 0x948910301cbbbb2d},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.remote
		k, missing := ratelimit.SubjectKey(sk, []ratelimit.KeyPart{ratelimit.ClientIP()}, r)
		k48, _ := ratelimit.SubjectKey(sk, []ratelimit.KeyPart{ratelimit.ClientIPPrefix(48)}, r)
		if missing != nil || k != c.ip || k48 != c.prefix48 {
			t.Errorf("%s: key %#x, /48 %#x (missing %v); want %#x, %#x", c.remote, k, k48, missing, c.ip, c.prefix48)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "not an address"
	if _, missing := ratelimit.SubjectKey(sk, []ratelimit.KeyPart{ratelimit.ClientIP()}, r); missing == nil {
		t.Error("an unparsable RemoteAddr gave a key")
	}
}
