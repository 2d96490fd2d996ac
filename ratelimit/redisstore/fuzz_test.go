package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// FuzzScriptMatchesMemoryStore feeds arbitrary limits (up to ~2^48 µs of
// tolerance), costs and gaps to the Lua script and the memory store and
// requires the same decisions and results: the script's double-precision
// arithmetic must stay exact wherever the store lets values go.
func FuzzScriptMatchesMemoryStore(f *testing.F) {
	_, c := singleClient(f)
	rs := newStore(f, redisstore.Config{Client: c, Prefix: "fuzz:"})
	redisstore.UseCallerClock(rs)
	ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{MaxKeys: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	// Seeds: the shapes of the table and differential tests.
	f.Add(uint32(1_000_000), uint16(5), uint32(7), []byte{0, 0, 0, 0, 0, 0, 16, 16})            // burst then refill
	f.Add(uint32(1), uint16(1), uint32(1), []byte{0, 1, 2, 3})                                  // 1 µs interval
	f.Add(uint32(0xffffffff), uint16(0xffff), uint32(0xffff), []byte{255, 0, 255, 0})           // huge tolerance
	f.Add(uint32(3_600_000_000), uint16(100), uint32(101), []byte{0x81, 0x81, 0x03})            // cost over burst
	f.Add(uint32(60_000_000), uint16(3), uint32(2), []byte{0x10, 0x10, 0x10, 0x10, 0x10, 0x10}) // multi-limit
	var next atomic.Uint64
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, interval uint32, burst uint16, second uint32, steps []byte) {
		if len(steps) > 64 {
			steps = steps[:64]
		}
		key := next.Add(4)
		iv := int64(interval)%(1<<32) + 1
		limits := []ratelimit.Limit{{Key: key, Subject: key, Policy: 1, Interval: iv * 1000, Burst: int64(burst) + 1}}
		if second%2 == 0 {
			// A second limit from the other parameters.
			limits = append(limits, ratelimit.Limit{Key: key + 1, Subject: key, Policy: 2, Interval: (int64(second>>8) + 1) * 1000, Burst: int64(second&0xff) + 1})
		}
		at := t0
		want := make([]ratelimit.Result, len(limits))
		got := make([]ratelimit.Result, len(limits))
		for i, b := range steps {
			at = at.Add(time.Duration(int64(b&0x3f)*iv/16) * time.Microsecond)
			cost := int64(1)
			if b&0x80 != 0 {
				cost = int64(b&0x3f) + 1
			}
			wok, werr := ms.Take(ctx, at, cost, limits, want)
			gok, gerr := rs.Take(ctx, at, cost, limits, got)
			if werr != nil || gerr != nil {
				t.Fatalf("step %d: errors memory %v, redis %v", i, werr, gerr)
			}
			if gok != wok {
				t.Fatalf("step %d (cost %d, limits %+v): redis %v, memory %v", i, cost, limits, gok, wok)
			}
			for j := range limits {
				if got[j] != want[j] {
					t.Fatalf("step %d limit %d: redis %+v, memory %+v", i, j, got[j], want[j])
				}
			}
		}
	})
}
