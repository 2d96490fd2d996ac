package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// TestDenyCacheHammeringClient: a client hammering a limited key is
// refused locally, without a round trip, until the limit lets one request
// through again; the local answers never say "retry sooner" than Redis.
func TestDenyCacheHammeringClient(t *testing.T) {
	_, c := singleClient(t)
	var h callCounter
	c.AddHook(&h)
	clock := newFakeClock()
	s := newStore(t, redisstore.Config{Client: c, DenyCacheKeys: 64, Now: clock.Now})
	ctx := context.Background()
	limited := ratelimit.Limit{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Hour), Burst: 2}
	other := ratelimit.Limit{Key: 2, Subject: 1, Policy: 2, Interval: int64(time.Second), Burst: 100}
	both := []ratelimit.Limit{limited, other}
	out := make([]ratelimit.Result, 2)
	for i := range 2 {
		if ok, err := s.Take(ctx, time.Now(), 1, both, out); !ok || err != nil {
			t.Fatalf("take %d = %v, %v", i, ok, err)
		}
	}
	ok, err := s.Take(ctx, time.Now(), 1, both, out) // refused by Redis: learnt
	if ok || err != nil || out[0].Allowed || !out[1].Allowed {
		t.Fatalf("third take = %v, %v, %+v", ok, err, out)
	}
	redisRetry := out[0].RetryAfter
	calls := h.n.Load()
	for i := range 50 {
		ok, err := s.Take(ctx, time.Now(), 1, both, out)
		if ok || err != nil || out[0].Allowed || out[0].Remaining != 0 || out[0].RetryAfter <= 0 || out[0].RetryAfter > redisRetry {
			t.Fatalf("hammering %d = %v, %v, %+v; want refused, 0 < RetryAfter <= %v", i, ok, err, out[0], redisRetry)
		}
		if !out[1].Allowed || out[1].Remaining != 98 {
			t.Fatalf("hammering %d: other limit %+v, want its last known state (98 left)", i, out[1])
		}
	}
	if n := h.n.Load() - calls; n != 0 {
		t.Fatalf("%d round trips while the key was known to be limited, want 0", n)
	}
	// The other limit alone is not limited: it still goes to Redis.
	if ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{other}, out); !ok || err != nil {
		t.Fatalf("other limit alone = %v, %v", ok, err)
	}
	if n := h.n.Load() - calls; n != 1 {
		t.Fatalf("%d round trips for the unlimited key, want 1", n)
	}
	// Once the local clock passes the time a unit frees up, Redis is asked
	// again (its clock has not moved as far, so it still refuses).
	clock.Advance(time.Hour)
	if ok, err := s.Take(ctx, time.Now(), 1, both, out); ok || err != nil {
		t.Fatalf("after expiry = %v, %v; want Redis's refusal", ok, err)
	}
	if n := h.n.Load() - calls; n != 2 {
		t.Fatalf("%d round trips after the entry expired, want 2", n)
	}
}
