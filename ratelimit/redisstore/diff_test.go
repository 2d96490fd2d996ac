package redisstore_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// t0 is where replayed timelines start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestDifferentialMemoryStore replays the same random request sequences
// against the Redis store (on a real single node) and ratelimit's memory
// store, and requires identical decisions and identical results for every
// limit. See diffTimelines.
func TestDifferentialMemoryStore(t *testing.T) {
	_, c := singleClient(t)
	diffTimelines(t, c)
}

// diffTimelines drives both stores with the same timelines at the same
// instants: times and intervals are whole microseconds (the Redis store's
// granularity), so the decisions must be identical, as must Remaining,
// ResetAfter and RetryAfter. A timeline has one to three limits whose
// subjects are shared or distinct (on a Cluster, distinct subjects live in
// different slots), costs that sometimes exceed a burst, simultaneous
// requests and long gaps. The Redis store is told to use the caller's time
// (a test-only switch) so that timelines can span hours.
func diffTimelines(t *testing.T, c redis.UniversalClient) {
	timelines := 400
	if testing.Short() {
		timelines = 100
	}
	rs := newStore(t, redisstore.Config{Client: c, Prefix: "diff:"})
	redisstore.UseCallerClock(rs)
	ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 8 * timelines})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	ctx := context.Background()
	var decisions, allowed, multi int
	for tl := range timelines {
		n := 1 + rng.IntN(3)
		limits := make([]ratelimit.Limit, n)
		subj := rng.Uint64()
		for i := range limits {
			if rng.IntN(2) == 0 {
				subj = rng.Uint64() // a different subject: another slot
			}
			micros := 1 + rng.Int64N(2_000_000)
			limits[i] = ratelimit.Limit{Key: rng.Uint64(), Subject: subj, Policy: uint64(i + 1), Interval: micros * 1000, Burst: 1 + rng.Int64N(20)}
		}
		if n > 1 {
			multi++
		}
		at := t0.Add(time.Duration(rng.Int64N(int64(time.Hour))) / time.Microsecond * time.Microsecond)
		wantOut := make([]ratelimit.Result, n)
		gotOut := make([]ratelimit.Result, n)
		for range 40 {
			iv := limits[rng.IntN(n)].Interval / 1000
			switch rng.IntN(4) {
			case 0: // simultaneous
			case 1:
				at = at.Add(time.Duration(rng.Int64N(iv)) * time.Microsecond)
			case 2:
				at = at.Add(time.Duration(rng.Int64N(4*iv)) * time.Microsecond)
			default:
				at = at.Add(time.Duration(rng.Int64N(25*iv)) * time.Microsecond)
			}
			cost := int64(1)
			if rng.IntN(5) == 0 {
				cost = 1 + rng.Int64N(limits[0].Burst+2)
			}
			want, err := ms.Take(ctx, at, cost, limits, wantOut)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rs.Take(ctx, at, cost, limits, gotOut)
			if err != nil {
				t.Fatal(err)
			}
			decisions++
			if got {
				allowed++
			}
			if got != want {
				t.Fatalf("timeline %d: Take(cost %d) = %v, memory store %v\nlimits %+v\nredis  %+v\nmemory %+v", tl, cost, got, want, limits, gotOut, wantOut)
			}
			for i := range limits {
				if gotOut[i] != wantOut[i] {
					t.Fatalf("timeline %d limit %d: result %+v, memory store %+v", tl, i, gotOut[i], wantOut[i])
				}
			}
		}
	}
	if allowed == 0 || allowed == decisions || multi == 0 {
		t.Fatalf("allowed %d of %d, %d multi-limit timelines: the timelines do not exercise both outcomes", allowed, decisions, multi)
	}
	t.Logf("%d timelines (%d multi-limit), %d decisions, %d allowed", timelines, multi, decisions, allowed)
}

// TestDifferentialRedisClock lets Redis decide on its own clock (TIME),
// with intervals short enough that real time refills the limits between
// requests, and replays each decision on the memory store at the Redis
// time it was made: the decisions and results must be identical. This is
// the production path: nothing is injected.
func TestDifferentialRedisClock(t *testing.T) {
	_, c := singleClient(t)
	rs := newStore(t, redisstore.Config{Client: c, Prefix: "clock:"})
	ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	ctx := context.Background()
	var decisions, allowed int
	for tl := range 40 {
		limits := []ratelimit.Limit{
			{Key: rng.Uint64(), Subject: 1, Policy: 1, Interval: (50 + rng.Int64N(2000)) * 1000, Burst: 1 + rng.Int64N(8)},
			{Key: rng.Uint64(), Subject: 1, Policy: 2, Interval: (50 + rng.Int64N(2000)) * 1000, Burst: 1 + rng.Int64N(8)},
		}[:1+rng.IntN(2)]
		gotOut := make([]ratelimit.Result, len(limits))
		wantOut := make([]ratelimit.Result, len(limits))
		last := int64(0)
		for range 50 {
			got, now, err := redisstore.TakeRedisTime(ctx, rs, 1, limits, gotOut)
			if err != nil {
				t.Fatal(err)
			}
			if now < last {
				t.Fatalf("Redis time went backwards: %d after %d", now, last)
			}
			last = now
			want, err := ms.Take(ctx, time.UnixMicro(now), 1, limits, wantOut)
			if err != nil {
				t.Fatal(err)
			}
			decisions++
			if got {
				allowed++
			}
			if got != want {
				t.Fatalf("timeline %d at %d: Redis allowed %v, memory store %v (%+v / %+v)", tl, now, got, want, gotOut, wantOut)
			}
			for i := range limits {
				if gotOut[i] != wantOut[i] {
					t.Fatalf("timeline %d limit %d: result %+v, memory store %+v", tl, i, gotOut[i], wantOut[i])
				}
			}
		}
	}
	if allowed == 0 || allowed == decisions {
		t.Fatalf("allowed %d of %d: both outcomes must occur", allowed, decisions)
	}
	t.Logf("%d decisions on Redis's clock, %d allowed", decisions, allowed)
}
