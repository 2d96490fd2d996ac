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
