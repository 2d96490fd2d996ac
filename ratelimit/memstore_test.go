package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newStore(t testing.TB, cfg ratelimit.MemoryConfig) *ratelimit.MemoryStore {
	t.Helper()
	s, err := ratelimit.NewMemoryStore(cfg)
	if err != nil {
		t.Fatalf("NewMemoryStore: %v", err)
	}
	return s
}

// lim is a limit of `burst` at once and one unit per `every`.
func lim(key uint64, every time.Duration, burst int64) ratelimit.Limit {
	return ratelimit.Limit{Key: key, Subject: key, Policy: 7, Interval: int64(every), Burst: burst}
}

func take(t testing.TB, s ratelimit.Store, at time.Time, cost int64, ls ...ratelimit.Limit) (bool, []ratelimit.Result) {
	t.Helper()
	out := make([]ratelimit.Result, len(ls))
	ok, err := s.Take(context.Background(), at, cost, ls, out)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return ok, out
}

func TestMemoryStoreGCRA(t *testing.T) {
	l := lim(1, 100*time.Millisecond, 3)
	type step struct {
		at        time.Duration
		cost      int64
		allowed   bool
		remaining int64
		retry     time.Duration
		reset     time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"burst then refusal", []step{
			{0, 1, true, 2, 0, 100 * time.Millisecond},
			{0, 1, true, 1, 0, 200 * time.Millisecond},
			{0, 1, true, 0, 0, 300 * time.Millisecond},
			{0, 1, false, 0, 100 * time.Millisecond, 300 * time.Millisecond},
		}},
		{"refill is exact to the nanosecond", []step{
			{0, 3, true, 0, 0, 300 * time.Millisecond},
			{100*time.Millisecond - 1, 1, false, 0, 1, 200*time.Millisecond + 1},
			{100 * time.Millisecond, 1, true, 0, 0, 300 * time.Millisecond},
		}},
		{"denials are not charged", []step{
			{0, 3, true, 0, 0, 300 * time.Millisecond},
			{10 * time.Millisecond, 1, false, 0, 90 * time.Millisecond, 290 * time.Millisecond},
			{20 * time.Millisecond, 1, false, 0, 80 * time.Millisecond, 280 * time.Millisecond},
			{100 * time.Millisecond, 1, true, 0, 0, 300 * time.Millisecond},
		}},
		{"cost weighted", []step{
			{0, 2, true, 1, 0, 200 * time.Millisecond},
			{0, 2, false, 1, 100 * time.Millisecond, 200 * time.Millisecond},
			{100 * time.Millisecond, 2, true, 0, 0, 300 * time.Millisecond},
		}},
		{"cost larger than the burst is refused outright", []step{
			{0, 4, false, 3, 0, 0},
			{time.Hour, 4, false, 3, 0, 0},
			{time.Hour, 3, true, 0, 0, 300 * time.Millisecond},
		}},
		{"idle time does not bank more than the burst", []step{
			{0, 1, true, 2, 0, 100 * time.Millisecond},
			{24 * time.Hour, 3, true, 0, 0, 300 * time.Millisecond},
			{24 * time.Hour, 1, false, 0, 100 * time.Millisecond, 300 * time.Millisecond},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, ratelimit.MemoryConfig{})
			for i, st := range tc.steps {
				ok, out := take(t, s, t0.Add(st.at), st.cost, l)
				r := out[0]
				if ok != st.allowed || r.Allowed != st.allowed || r.Remaining != st.remaining || r.RetryAfter != st.retry || r.ResetAfter != st.reset {
					t.Errorf("step %d: Take(+%v, %d) = %v %+v, want %v remaining=%d retry=%v reset=%v",
						i, st.at, st.cost, ok, r, st.allowed, st.remaining, st.retry, st.reset)
				}
			}
		})
	}
}

// TestClockGoingBackwards: a clock stepped back (NTP, VM migration, a
// fake clock) must never hand out more than the burst.
func TestClockGoingBackwards(t *testing.T) {
	s := newStore(t, ratelimit.MemoryConfig{})
	l := lim(1, time.Second, 2)
	if ok, _ := take(t, s, t0, 2, l); !ok {
		t.Fatal("first burst refused")
	}
	for _, back := range []time.Duration{time.Millisecond, time.Second, time.Hour} {
		ok, out := take(t, s, t0.Add(-back), 1, l)
		if ok {
			t.Errorf("Take(now-%v) allowed after the burst was used", back)
		}
		// The wait grows by the step back: never shorter than the truth.
		if want := time.Second + back; out[0].RetryAfter != want {
			t.Errorf("Take(now-%v).RetryAfter = %v, want %v", back, out[0].RetryAfter, want)
		}
	}
	if ok, _ := take(t, s, t0.Add(time.Second), 1, l); !ok {
		t.Error("refused once the clock is back and a unit has refilled")
	}
}

func TestMultiPolicyAllOrNothing(t *testing.T) {
	s := newStore(t, ratelimit.MemoryConfig{})
	perSecond := lim(10, 100*time.Millisecond, 10)                                      // 10/s, burst 10
	perDay := ratelimit.Limit{Key: 11, Policy: 8, Interval: int64(time.Hour), Burst: 3} // 3 then 1/h
	for i := range 3 {
		if ok, _ := take(t, s, t0, 1, perSecond, perDay); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, out := take(t, s, t0, 1, perSecond, perDay)
	if ok || !out[0].Allowed || out[0].Remaining != 7 || out[1].Allowed {
		t.Fatalf("4th request = %v %+v, want refused by the daily policy only", ok, out)
	}
	// The refused request consumed nothing from the per-second policy.
	_, out = take(t, s, t0, 1, perSecond)
	if out[0].Remaining != 10-3-1 {
		t.Errorf("per-second remaining = %d, want %d (refused request charged)", out[0].Remaining, 10-3-1)
	}
}

// TestConcurrentRaceOnOneKey: many goroutines racing on one key let
// through exactly the burst.
func TestConcurrentRaceOnOneKey(t *testing.T) {
	for _, multi := range []bool{false, true} {
		name := "one policy"
		if multi {
			name = "two policies"
		}
		t.Run(name, func(t *testing.T) {
			s := newStore(t, ratelimit.MemoryConfig{})
			a := lim(1, time.Hour, 300)
			b := ratelimit.Limit{Key: 2, Policy: 9, Interval: int64(time.Hour), Burst: 500}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					out := make([]ratelimit.Result, 2)
					for range 50 {
						ls := []ratelimit.Limit{a}
						if multi {
							ls = []ratelimit.Limit{b, a}
						}
						ok, err := s.Take(context.Background(), t0, 1, ls, out)
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got != 300 {
				t.Errorf("allowed %d of 1600 racing requests, want exactly 300", got)
			}
		})
	}
}

func TestMemoryStoreRejectsBadCalls(t *testing.T) {
	s := newStore(t, ratelimit.MemoryConfig{})
	good := lim(1, time.Second, 1)
	tests := []struct {
		name   string
		now    time.Time
		cost   int64
		limits []ratelimit.Limit
	}{
		{"zero cost", t0, 0, []ratelimit.Limit{good}},
		{"no limits", t0, 1, nil},
		{"zero interval", t0, 1, []ratelimit.Limit{{Key: 1, Burst: 1}}},
		{"zero burst", t0, 1, []ratelimit.Limit{{Key: 1, Interval: 1}}},
		{"tolerance overflow", t0, 1, []ratelimit.Limit{{Key: 1, Interval: 1 << 40, Burst: 1 << 30}}},
		{"time before 1970", time.Unix(-1, 0), 1, []ratelimit.Limit{good}},
		{"time after 2043", time.Unix(1<<40, 0), 1, []ratelimit.Limit{good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]ratelimit.Result, 1)
			if _, err := s.Take(context.Background(), tc.now, tc.cost, tc.limits, out); !errors.Is(err, ratelimit.ErrInvalidTake) {
				t.Errorf("Take = %v, want ErrInvalidTake", err)
			}
		})
	}
}

func TestMemoryStoreZeroAllocs(t *testing.T) {
	s := newStore(t, ratelimit.MemoryConfig{MaxKeys: 1 << 12})
	ls := []ratelimit.Limit{lim(1, time.Nanosecond, 1<<20)}
	two := []ratelimit.Limit{lim(1, time.Nanosecond, 1<<20), lim(2, time.Nanosecond, 1<<20)}
	out := make([]ratelimit.Result, 2)
	ctx := context.Background()
	var k uint64
	if a := testing.AllocsPerRun(1000, func() {
		k++
		ls[0].Key = k % 8192 // existing and new keys, evictions
		_, _ = s.Take(ctx, t0.Add(time.Duration(k)), 1, ls, out)
		_, _ = s.Take(ctx, t0.Add(time.Duration(k)), 1, two, out)
	}); a != 0 {
		t.Errorf("Take allocates %v times per decision, want 0", a)
	}
}
