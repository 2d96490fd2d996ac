package ratelimit_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// TestKeyFloodBoundedMemory is the "10 million distinct keys" attack,
// scaled to run in seconds under -race: a table of 2 048 keys is flooded
// with 120 000 fresh keys (58× its size; 10 million keys against the
// default 100 000 is 100×). It shows that
//   - memory stays at the fixed table size: no allocation during the flood,
//     and Len never exceeds MaxKeys;
//   - keys that were limited before the flood are still limited after it
//     (they are not evicted while owing time, so they get no fresh burst);
//   - a key that had spent part of its burst keeps exactly what it had left;
//   - new keys that find no room share one overflow bucket per policy
//     instead of getting a fresh burst each.
func TestKeyFloodBoundedMemory(t *testing.T) {
	const maxKeys = 2048
	flood := 120_000
	if testing.Short() {
		flood = 30_000
	}
	var evictions, overflows int
	s := newStore(t, ratelimit.MemoryConfig{
		MaxKeys:    maxKeys,
		OnEvict:    func(n int) { evictions += n },
		OnOverflow: func() { overflows++ },
	})
	_, tableBytes := s.Capacity()
	ctx := context.Background()
	out := make([]ratelimit.Result, 1)
	// 5 requests at once, then one per hour: a login-style limit.
	limit := func(key uint64) []ratelimit.Limit {
		return []ratelimit.Limit{{Key: key, Subject: key, Policy: 42, Interval: int64(time.Hour), Burst: 5}}
	}
	now := t0

	// 1000 attackers exhaust their burst; one victim spends 3 of 5.
	const attackers = 1000
	for k := range uint64(attackers) {
		for range 5 {
			if ok, _ := s.Take(ctx, now, 1, limit(k+1), out); !ok {
				t.Fatalf("attacker %d refused within its burst", k)
			}
		}
	}
	const partial = 1_000_000_007
	if ok, _ := s.Take(ctx, now, 3, limit(partial), out); !ok {
		t.Fatal("partial key refused")
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	allowedFresh := 0
	for i := range flood {
		now = now.Add(time.Millisecond) // 120 s of flood: nobody refills
		if ok, _ := s.Take(ctx, now, 1, limit(uint64(10_000_000+i)), out); ok {
			allowedFresh++
		}
	}
	runtime.ReadMemStats(&after)
	if n := s.Len(); n > maxKeys {
		t.Errorf("Len() = %d after the flood, want <= MaxKeys %d", n, maxKeys)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("the flood allocated %d bytes; the table is fixed at %d", grew, tableBytes)
	}
	for k := range uint64(attackers) {
		if ok, _ := s.Take(ctx, now, 1, limit(k+1), out); ok {
			t.Fatalf("attacker %d allowed after the flood: it got a fresh burst", k)
		}
	}
	if ok, out := take(t, s, now, 1, limit(partial)...); !ok || out[0].Remaining != 1 {
		t.Errorf("partial key after the flood: allowed %v remaining %d, want allowed with 1 left (of the 2 it had)", ok, out[0].Remaining)
	}
	// Every flood key that was allowed took a free slot (the table was
	// never full of refilled keys) or drew on the one overflow bucket of
	// the policy (burst 5, no refill within the flood): exactly that many,
	// not one burst per key.
	if want := (maxKeys - attackers - 1) + 5; allowedFresh != want {
		t.Errorf("flood: %d fresh keys allowed, want exactly %d (free slots + one overflow burst)", allowedFresh, want)
	}
	if overflows == 0 {
		t.Error("no flood key went to the overflow bucket")
	}
	t.Logf("flood of %d keys: table %d bytes (%d B/key), %d allowed, %d evictions, %d overflowed, %d B allocated",
		flood, tableBytes, tableBytes/maxKeys, allowedFresh, evictions, overflows, after.TotalAlloc-before.TotalAlloc)
}

// TestEvictionOnlyOfRefilledKeys: once keys have refilled, the flood may
// evict them, which costs them nothing (their state equals a fresh one).
func TestEvictionOnlyOfRefilledKeys(t *testing.T) {
	const maxKeys = 256
	evictions := 0
	s := newStore(t, ratelimit.MemoryConfig{MaxKeys: maxKeys, OnEvict: func(n int) { evictions += n }})
	l := func(key uint64) ratelimit.Limit {
		return ratelimit.Limit{Key: key, Policy: 1, Interval: int64(time.Second), Burst: 2}
	}
	now := t0
	for k := range uint64(maxKeys) {
		take(t, s, now, 1, l(k))
	}
	now = now.Add(time.Minute) // all refilled
	for k := range uint64(4 * maxKeys) {
		if ok, _ := take(t, s, now, 1, l(1000+k)); !ok && k < maxKeys/2 {
			t.Fatalf("new key %d refused although refilled keys could be evicted", k)
		}
	}
	if evictions == 0 {
		t.Error("no refilled key was evicted")
	}
	if n := s.Len(); n > maxKeys {
		t.Errorf("Len() = %d, want <= %d", n, maxKeys)
	}
}
