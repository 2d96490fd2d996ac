package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
)

func replayKey(i uint64) auth.ReplayKey {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return sha256.Sum256(b[:])
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryReplayStore(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: 1024, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := clock.Now().Add(time.Minute)
	if err := s.Use(ctx, replayKey(1), until); err != nil {
		t.Fatalf("first use = %v", err)
	}
	if err := s.Use(ctx, replayKey(1), until); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("second use = %v, want ErrReplayed", err)
	}
	if err := s.Use(ctx, replayKey(2), until); err != nil {
		t.Fatalf("another value = %v", err)
	}
	clock.Advance(61 * time.Second)
	if err := s.Use(ctx, replayKey(3), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 1 {
		t.Errorf("Len after the first values' time ended = %d, want 1 (they are forgotten)", n)
	}
	if _, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: 3}); err == nil {
		t.Error("Capacity 3 accepted")
	}
}

// TestAttackReplayStoreFlood: 100 000 distinct proofs a second for 3 s
// against a store sized for far fewer. Memory stays within the capacity,
// no value is ever accepted twice (each is replayed at once, and again
// after the flood), and proofs made after the flood are still accepted.
func TestAttackReplayStoreFlood(t *testing.T) {
	const (
		capacity = 20_000
		perSec   = 100_000
		seconds  = 3
		window   = time.Minute
	)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: capacity, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var accepted []uint64
	untilOf := map[uint64]time.Time{}
	var i uint64
	for sec := 0; sec < seconds; sec++ {
		for n := 0; n < perSec; n++ {
			i++
			// iat spread over the window, as a flood of valid proofs would be.
			until := clock.Now().Add(window - time.Duration(n%50)*time.Second)
			err := s.Use(ctx, replayKey(i), until)
			if err == nil {
				accepted = append(accepted, i)
				untilOf[i] = until
				if err := s.Use(ctx, replayKey(i), until); !errors.Is(err, auth.ErrReplayed) {
					t.Fatalf("value %d accepted twice in a row: %v", i, err)
				}
			} else if !errors.Is(err, auth.ErrReplayed) {
				t.Fatalf("Use = %v", err)
			}
			if n%10_000 == 0 {
				if l := s.Len(); l > capacity {
					t.Fatalf("store holds %d values, capacity %d", l, capacity)
				}
			}
			if n%1000 == 0 {
				clock.Advance(10 * time.Millisecond)
			}
		}
	}
	if l := s.Len(); l > capacity {
		t.Fatalf("store holds %d values after the flood, capacity %d", l, capacity)
	}
	for _, a := range accepted {
		if err := s.Use(ctx, replayKey(a), untilOf[a]); err == nil && clock.Now().Before(untilOf[a]) {
			t.Fatalf("value %d accepted again after the flood, while still within its time", a)
		}
	}
	// A proof made now is accepted: the flood shrank the window from its
	// old end, not for fresh proofs.
	if err := s.Use(ctx, replayKey(1<<40), clock.Now().Add(window)); err != nil {
		t.Fatalf("fresh value after the flood = %v, want accepted", err)
	}
	if len(accepted) < capacity/2 {
		t.Errorf("only %d of %d values accepted: the store should keep serving fresh ones", len(accepted), perSec*seconds)
	}
}

func TestMemoryReplayStoreConcurrent(t *testing.T) {
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: 1 << 12})
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[uint64]int{}
	for g := range 8 {
		wg.Go(func() {
			for i := range uint64(500) {
				if s.Use(context.Background(), replayKey(i), until) == nil {
					mu.Lock()
					wins[i]++
					mu.Unlock()
				}
			}
			_ = g
		})
	}
	wg.Wait()
	for i, n := range wins {
		if n != 1 {
			t.Fatalf("value %d accepted %d times by concurrent users", i, n)
		}
	}
}

// TestMemoryReplayStoreCollision: two values whose keys share the 64 bits
// the store keeps are one value to it. The later is refused while the
// earlier is live (an honest proof asked to try again), is accepted once
// the earlier's time has ended, and neither is ever accepted twice.
func TestMemoryReplayStoreCollision(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: 1024, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, b := replayKey(1), replayKey(2)
	copy(b[8:16], a[8:16])
	if err := s.Use(ctx, a, clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, b, clock.Now().Add(time.Minute)); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("colliding value while the first is live = %v, want ErrReplayed", err)
	}
	if err := s.Use(ctx, a, clock.Now().Add(time.Minute)); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("replay of the first after a collision = %v, want ErrReplayed", err)
	}
	clock.Advance(61 * time.Second)
	if err := s.Use(ctx, b, clock.Now().Add(time.Minute)); err != nil {
		t.Fatalf("colliding value after the first's time = %v, want accepted", err)
	}
	for _, k := range []auth.ReplayKey{a, b} {
		if err := s.Use(ctx, k, clock.Now().Add(time.Minute)); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("replay = %v, want ErrReplayed", err)
		}
	}
}

// TestMemoryReplayStoreTimeBeyondReach: a value whose time ends further
// from the store's creation than it counts is refused, never remembered
// for less time than asked.
func TestMemoryReplayStoreTimeBeyondReach(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: 1024, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Use(ctx, replayKey(1), clock.Now().Add(100*365*24*time.Hour)); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("value ending in 100 years = %v, want refused", err)
	}
	if err := s.Use(ctx, replayKey(2), clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("value ending in an hour = %v, want accepted", err)
	}
}

// TestMemoryReplayStoreConcurrentFlood: goroutines racing over the same
// values, in a store too small for them, with the clock moving on: each
// value is accepted at most once within its time, and the store stays
// within its capacity. Run with -race.
func TestMemoryReplayStoreConcurrentFlood(t *testing.T) {
	const capacity = 256
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: capacity, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	var mu sync.Mutex
	wins := map[uint64]int{}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range uint64(3000) {
				if g == 0 && i%100 == 0 {
					clock.Advance(time.Second)
				}
				// Every value's time ends long after the test's clock does.
				if s.Use(context.Background(), replayKey(i), start.Add(time.Hour+time.Duration(i)*time.Millisecond)) == nil {
					mu.Lock()
					wins[i]++
					mu.Unlock()
				}
				if i%500 == 0 {
					if l := s.Len(); l > capacity {
						t.Errorf("store holds %d values, capacity %d", l, capacity)
					}
				}
			}
		})
	}
	wg.Wait()
	for i, n := range wins {
		if n > 1 {
			t.Fatalf("value %d accepted %d times", i, n)
		}
	}
	if len(wins) < capacity/2 {
		t.Errorf("%d values accepted, want at least %d", len(wins), capacity/2)
	}
}
