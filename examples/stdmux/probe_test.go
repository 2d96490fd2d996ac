package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/probe"
)

// TestProbe runs bulwark's attack suite against this example's handler,
// in process, as a test of your own would: every check that applies
// (forged and altered API keys, CORS tricks, path and header spoofing,
// JSON input, error leaks, client-IP spoofing against the per-IP limit)
// must pass. Copy it, point it at your handler, give it your paths.
func TestProbe(t *testing.T) {
	keys, err := apikey.New(apikey.Config{
		Store: apikey.NewMemoryStore(), Prefix: "demo_test", Header: "X-API-Key",
		Pepper: []byte("test-only-pepper-0123456789abcdef"), LastUsedInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.Create(context.Background(), apikey.Spec{Scopes: []string{"orders:read", "orders:write"}})
	if err != nil {
		t.Fatal(err)
	}
	// The probe sends a few hundred requests from one address: a clock
	// that moves a second each time it is read keeps the example's small
	// limits (per address 20 at once, per key 10) from answering 429 to
	// every later check. (ratelimit.client-ip-spoofing then cannot watch
	// an allowance fall, and says so.)
	var mu sync.Mutex
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	var log bytes.Buffer
	h, closeAll, err := newHandler(keys, &log, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeAll() })

	rep := probe.Handler(t, h, probe.Options{
		Protected:     []string{"/v1/orders/42"},
		Public:        []string{"/healthz"},
		APIKey:        key,
		AllowedOrigin: "https://app.example.com",
		JSONPath:      "/v1/orders",
	})
	if s := rep.Summary(); s.Passed < 40 {
		t.Errorf("only %d checks passed: %+v", s.Passed, s)
	}
}
