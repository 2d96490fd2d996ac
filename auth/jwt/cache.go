package jwt

import (
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/internal/bind"
)

// tokenCache maps SHA-256(token) to the principal it verified to. It is
// bounded, sharded to keep lock hold times short under parallel load, and
// each entry dies at the token's exp (or the configured TTL, whichever is
// sooner). An entry also remembers the key set that verified it: once that
// set is replaced (a key removed, say) the entry is ignored and the token
// verified afresh.
type tokenCache struct {
	shards   [cacheShards]cacheShard
	perShard int
}

const cacheShards = 16

type cacheShard struct {
	mu sync.Mutex
	m  map[[32]byte]*cacheEntry
}

type cacheEntry struct {
	p     *auth.Principal
	until time.Time
	iss   *issuer
	set   *keySet
	id    TokenID
	cnf   bind.Confirmation
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*cacheEntry)
	}
	return c
}

func (c *tokenCache) get(k [32]byte, now time.Time) *cacheEntry {
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	e := s.m[k]
	if e != nil && !now.Before(e.until) {
		delete(s.m, k)
		e = nil
	}
	s.mu.Unlock()
	return e
}

func (c *tokenCache) put(k [32]byte, e *cacheEntry, now time.Time) {
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		// Full: drop expired entries among a bounded sample, else one
		// arbitrary entry (map iteration starts at a random place, so an
		// attacker cannot steer which).
		dropped, seen := 0, 0
		for key, old := range s.m {
			if !now.Before(old.until) {
				delete(s.m, key)
				dropped++
			}
			if seen++; seen >= 32 {
				break
			}
		}
		if dropped == 0 {
			for key := range s.m {
				delete(s.m, key)
				break
			}
		}
	}
	s.m[k] = e
}
