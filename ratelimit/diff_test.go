package ratelimit_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// TestDifferentialXTimeRate drives the GCRA memory store and
// golang.org/x/time/rate's Limiter (the reference token bucket) with the
// same rate, burst and random timelines, and requires the same decision
// for every request.
//
// x/time/rate computes in float64; a request landing within a few
// nanoseconds of the exact moment a token becomes available may round
// either way there. Such requests are moved 5 ns later, by a rule that
// looks only at the reference, so that the comparison is about the
// algorithm and not float rounding.
func TestDifferentialXTimeRate(t *testing.T) {
	timelines := 10_000
	if testing.Short() {
		timelines = 1_000
	}
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 2 * timelines})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	out := make([]ratelimit.Result, 1)
	var decisions, allowed, nudged int
	for tl := range timelines {
		quota := int64(1 + rng.IntN(100))
		period := time.Duration(1+rng.IntN(60)) * time.Second
		burst := int64(1 + rng.IntN(20))
		interval := (int64(period) + quota - 1) / quota
		l := ratelimit.Limit{Key: uint64(tl) + 100, Subject: uint64(tl), Policy: 1, Interval: interval, Burst: burst}
		ref := rate.NewLimiter(rate.Every(time.Duration(interval)), int(burst))
		at := t0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		ref.AllowN(at.Add(-time.Nanosecond), 0) // start the reference's clock
		for range 60 {
			switch rng.IntN(4) {
			case 0: // simultaneous
			case 1:
				at = at.Add(time.Duration(rng.Int64N(interval)))
			case 2:
				at = at.Add(time.Duration(rng.Int64N(4 * interval)))
			default:
				at = at.Add(time.Duration(rng.Int64N(int64(burst) * interval)))
			}
			cost := int64(1)
			if rng.IntN(5) == 0 {
				cost = 1 + rng.Int64N(burst+2) // sometimes more than the burst
			}
			if tokens := ref.TokensAt(at); cost <= burst && tokens < float64(burst) {
				deficitNs := (float64(cost) - tokens) * float64(interval)
				if deficitNs != 0 && math.Abs(deficitNs) < 3 {
					at = at.Add(5 * time.Nanosecond)
					nudged++
				}
			}
			want := ref.AllowN(at, int(cost))
			got, err := s.Take(ctx, at, cost, []ratelimit.Limit{l}, out)
			if err != nil {
				t.Fatal(err)
			}
			decisions++
			if got {
				allowed++
			}
			if got != want {
				t.Fatalf("timeline %d (interval %v, burst %d): Take(cost %d) = %v, x/time/rate AllowN = %v (tokens %.6f)",
					tl, time.Duration(interval), burst, cost, got, want, ref.TokensAt(at))
			}
			if !got && cost <= burst {
				// RetryAfter is the exact wait: x/time/rate agrees.
				wait := time.Duration((float64(cost) - ref.TokensAt(at)) * float64(interval))
				if d := out[0].RetryAfter - wait; d < -2 || d > 2 {
					t.Fatalf("timeline %d: RetryAfter = %v, reference wait %v", tl, out[0].RetryAfter, wait)
				}
			}
		}
	}
	if allowed == 0 || allowed == decisions {
		t.Fatalf("allowed %d of %d: the timelines do not exercise both outcomes", allowed, decisions)
	}
	t.Logf("%d timelines, %d decisions, %d allowed, %d nudged off float boundaries", timelines, decisions, allowed, nudged)
}
