package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// TestConcurrentDecisionsSharePipelines: 64 goroutines deciding at once on
// one key share round trips (pipelines of several scripts), yet each
// decision is still its own: exactly the burst is allowed, and the allowed
// decisions' Remaining counts are each of burst-1 … 0 once — no reply went
// to another caller, none was decided twice.
func TestConcurrentDecisionsSharePipelines(t *testing.T) {
	_, c := singleClient(t)
	var h callCounter
	c.AddHook(&h)
	s := newStore(t, redisstore.Config{Client: c})
	const burst, goroutines, each = 300, 64, 10
	l := ratelimit.Limit{Key: 7, Subject: 7, Policy: 1, Interval: int64(time.Hour), Burst: burst}
	var mu sync.Mutex
	seen := make(map[int64]int)
	refused := 0
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			out := make([]ratelimit.Result, 1)
			for range each {
				ok, err := s.Take(context.Background(), time.Now(), 1, []ratelimit.Limit{l}, out)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if ok {
					seen[out[0].Remaining]++
				} else {
					refused++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != burst || refused != goroutines*each-burst {
		t.Fatalf("%d distinct Remaining among the allowed, %d refused; want %d and %d", len(seen), refused, burst, goroutines*each-burst)
	}
	for r := range int64(burst) {
		if seen[r] != 1 {
			t.Fatalf("Remaining %d reported %d times, want once", r, seen[r])
		}
	}
	if h.widest.Load() < 2 || h.trips.Load() >= goroutines*each {
		t.Fatalf("%d round trips for %d decisions, widest pipeline %d: concurrent decisions did not share round trips",
			h.trips.Load(), goroutines*each, h.widest.Load())
	}
}

// TestQueuedDecisionsEndAtTheirTimeout: with Redis not answering, decisions
// queued behind the calls on the way end with ErrTimeout like the ones
// sent — none waits for Redis beyond the store's Timeout and its queue.
func TestQueuedDecisionsEndAtTheirTimeout(t *testing.T) {
	srv, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c, Timeout: 200 * time.Millisecond, BreakerThreshold: 1000})
	ctx := context.Background()
	l := []ratelimit.Limit{{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Second), Burst: 10}}
	if _, err := s.Take(ctx, time.Now(), 1, l, make([]ratelimit.Result, 1)); err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := s.Take(ctx, time.Now(), 1, l, make([]ratelimit.Result, 1))
			errs <- err
		}()
	}
	guard := time.After(30 * time.Second) // a hang, not a speed: the Timeout is 200 ms
	for i := range 16 {
		select {
		case err := <-errs:
			if !errors.Is(err, redisstore.ErrTimeout) {
				t.Errorf("decision %d on a paused Redis: %v, want ErrTimeout", i, err)
			}
		case <-guard:
			t.Fatalf("%d of 16 decisions still waiting on a paused Redis", 16-i)
		}
	}
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, time.Now(), 1, l, make([]ratelimit.Result, 1)); err != nil {
		t.Fatalf("after UNPAUSE: %v", err)
	}
}

// TestCallersGoingAwayMidPipeline: callers whose contexts are cancelled
// while their decisions are queued or on the way get either their own
// decision or context.Canceled, never another caller's reply, and the
// limit still allows no more than its burst (run with -race: a queued
// command's arguments must stay untouched until its reply is read).
func TestCallersGoingAwayMidPipeline(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	const burst = 200
	l := ratelimit.Limit{Key: 9, Subject: 9, Policy: 1, Interval: int64(time.Hour), Burst: burst}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Go(func() {
			out := make([]ratelimit.Result, 1)
			for i := range 10 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%3 == 0 {
					go cancel()
				}
				ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{l}, out)
				cancel()
				switch {
				case err != nil && !errors.Is(err, context.Canceled):
					t.Error(err)
					return
				case err == nil && ok:
					if out[0].Remaining < 0 || out[0].Remaining >= burst {
						t.Errorf("Remaining %d out of range", out[0].Remaining)
					}
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n > burst {
		t.Fatalf("%d allowed, burst %d", n, burst)
	}
}
