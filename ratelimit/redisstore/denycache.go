package redisstore

import (
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

const denyShards = 16

// denyCache remembers, per limit key, a lower bound of the time (local
// clock, ns) at which the limit is back to full: its theoretical arrival
// time. GCRA state only moves later when charged and a refusal charges
// nothing, so a bound once learnt stays a bound; from it the cache can tell,
// without asking Redis, that a request would certainly be refused.
type denyCache struct {
	shards [denyShards]denyShard
	per    int
}

type denyShard struct {
	mu sync.Mutex
	m  map[uint64]int64 // limit key -> reset time (Unix ns, local clock)
}

func newDenyCache(n int) *denyCache {
	c := &denyCache{per: max(n/denyShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]int64)
	}
	return c
}

func (c *denyCache) shard(key uint64) *denyShard { return &c.shards[(key*0x9e3779b97f4a7c15)>>60] }

func (c *denyCache) get(key uint64) (int64, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	v, ok := sh.m[key]
	sh.mu.Unlock()
	return v, ok
}

// refuse reports whether the request is certainly refused at local time
// now, filling out if so. Limits without an entry are reported as full
// (the bound the cache has for them).
func (c *denyCache) refuse(now, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) bool {
	var resets [maxLimits]int64
	refused := false
	for i := range limits {
		r, ok := c.get(limits[i].Key)
		if !ok || r <= now {
			resets[i] = now
			continue
		}
		resets[i] = r
		step := micros(limits[i].Interval) * 1000
		if r-now+cost*step > step*limits[i].Burst {
			refused = true
		}
	}
	if !refused {
		return false
	}
	for i := range limits {
		step := micros(limits[i].Interval) * 1000
		tau := step * limits[i].Burst
		used := resets[i] - now
		res := ratelimit.Result{Allowed: true, ResetAfter: time.Duration(used)}
		if owed := used + cost*step; owed > tau {
			res.Allowed = false
			res.RetryAfter = time.Duration(owed - tau)
		}
		if used < tau {
			res.Remaining = (tau - used) / step
		}
		out[i] = res
	}
	return true
}

// record learns the reset times from a refused decision made by Redis no
// earlier than local time start.
func (c *denyCache) record(start int64, limits []ratelimit.Limit, out []ratelimit.Result) {
	for i := range limits {
		// An allowed limit of a refused request reports its uncharged
		// state too: ResetAfter is its TAT minus Redis's now.
		reset := start + int64(out[i].ResetAfter)
		if reset <= start {
			continue
		}
		sh := c.shard(limits[i].Key)
		sh.mu.Lock()
		if old, ok := sh.m[limits[i].Key]; !ok || old < reset {
			if !ok && len(sh.m) >= c.per {
				sh.evict(start)
			}
			sh.m[limits[i].Key] = reset
		}
		sh.mu.Unlock()
	}
}

// evict drops the expired entries among up to 64 (map order is random),
// or the first one seen when none has expired, so the shard stays within
// its bound with bounded work.
func (sh *denyShard) evict(now int64) {
	var first uint64
	seen, dropped := 0, 0
	for k, r := range sh.m {
		if seen == 0 {
			first = k
		}
		if r <= now {
			delete(sh.m, k)
			dropped++
		}
		if seen++; seen == 64 {
			break
		}
	}
	if dropped == 0 && seen > 0 {
		delete(sh.m, first)
	}
}
