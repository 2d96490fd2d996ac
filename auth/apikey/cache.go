package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/auth"
)

// entry is a looked-up record with the principal built from it once.
type entry struct {
	rec  Record
	p    *auth.Principal
	at   time.Time    // when it was read from the store
	used atomic.Int64 // Unix second of the last use passed to the tracker
}

// touch reports whether a use at now should be passed to the last-use
// tracker: at most once per second per entry, so that the hot path
// usually takes no lock at all.
func (e *entry) touch(now time.Time) bool {
	sec := now.Unix()
	old := e.used.Load()
	return sec > old && e.used.CompareAndSwap(old, sec)
}

// cache is a bounded map from digest to entry with a TTL. Reads take a
// read lock only; a full cache evicts expired entries, then arbitrary ones.
//
// Revocation is final through a generation: every forget advances it, and
// a lookup may cache what it read only if no forget happened since it
// began (put checks the generation under the same lock forget advances it
// under). So a record read before a revocation can never be put back after
// the revocation cleared the cache.
type cache struct {
	mu  sync.RWMutex
	m   map[Digest]*entry
	max int
	ttl time.Duration
	gen atomic.Uint64 // advanced by every forget
}

func newCache(size int, ttl time.Duration) *cache {
	if size < 0 {
		return nil
	}
	return &cache{m: make(map[Digest]*entry), max: size, ttl: ttl}
}

func (c *cache) get(d Digest, now time.Time) *entry {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e := c.m[d]
	c.mu.RUnlock()
	if e == nil || now.Sub(e.at) >= c.ttl || now.Before(e.at) {
		return nil
	}
	return e
}

// generation returns the current generation: take it before reading from
// the store, and hand it to put.
func (c *cache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// put caches e under d, unless a forget happened since generation gen was
// taken: then what e holds may be the state a revocation just replaced.
func (c *cache) put(d Digest, e *entry, gen uint64) {
	if c == nil || c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.m) >= c.max {
		for k, old := range c.m {
			if e.at.Sub(old.at) >= c.ttl {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[d] = e
}

// forget drops every entry of key id, so that a revocation, rotation or
// deletion on this instance takes effect on the next request, and advances
// the generation, so that no lookup already under way caches what it read.
// Call it after the store has changed.
func (c *cache) forget(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for k, e := range c.m {
		if e.rec.ID == id {
			delete(c.m, k)
		}
	}
}

// forgetAll drops every entry and advances the generation: after a
// channel that carries changes was lost, or told of a change it could not
// name.
func (c *cache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	clear(c.m)
}

// digester computes key digests without allocating: hash states are pooled
// and reset, and the key is copied into a pooled buffer (then wiped) rather
// than converted.
type digester struct {
	pool sync.Pool
}

type hstate struct {
	h   hash.Hash
	buf [MaxPrefixLen + 1 + tailLen]byte
	sum [sha256.Size]byte
}

func newDigester(pepper []byte) *digester {
	pepper = append([]byte(nil), pepper...)
	d := &digester{}
	d.pool.New = func() any {
		if len(pepper) == 0 {
			return &hstate{h: sha256.New()}
		}
		return &hstate{h: hmac.New(sha256.New, pepper)}
	}
	return d
}

// sum digests key, which the caller has checked is at most len(buf) bytes.
func (d *digester) sum(key string) Digest {
	s := d.pool.Get().(*hstate)
	s.h.Reset()
	n := copy(s.buf[:], key)
	_, _ = s.h.Write(s.buf[:n])
	clear(s.buf[:n])
	out := Digest(s.h.Sum(s.sum[:0]))
	d.pool.Put(s)
	return out
}
