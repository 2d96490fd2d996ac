package ratelimit

import (
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

const inflightShards = 16

// inflight counts requests inside the next handler, in total and per key.
// Per-key entries exist only while a request of that key is in flight, so
// the maps are bounded by the number of concurrent requests.
type inflight struct {
	max, perKey int64
	parts       []KeyPart
	total       atomic.Int64
	shards      [inflightShards]struct {
		mu sync.Mutex
		m  map[uint64]int64
		_  [48]byte
	}
}

func newInflight(max, perKey int, parts []KeyPart) *inflight {
	f := &inflight{max: int64(max), perKey: int64(perKey), parts: parts}
	for i := range f.shards {
		f.shards[i].m = make(map[uint64]int64)
	}
	return f
}

// acquire takes a slot; cause is non-empty when the request must be shed.
// A request whose per-key key cannot be formed counts against the global
// limit only. key is what release needs.
func (f *inflight) acquire(sk sipKey, r *http.Request) (key uint64, cause string) {
	if f.max > 0 && f.total.Add(1) > f.max {
		f.total.Add(-1)
		return 0, "in_flight"
	}
	if f.perKey > 0 {
		s, missing := subject(sk, f.parts, r)
		if missing == nil {
			key = storeKey(s)
			sh := &f.shards[key%inflightShards]
			sh.mu.Lock()
			n := sh.m[key]
			if n >= f.perKey {
				sh.mu.Unlock()
				if f.max > 0 {
					f.total.Add(-1)
				}
				return 0, "in_flight_per_key"
			}
			sh.m[key] = n + 1
			sh.mu.Unlock()
		}
	}
	return key, ""
}

func (f *inflight) release(key uint64) {
	if f.max > 0 {
		f.total.Add(-1)
	}
	if key == 0 {
		return
	}
	sh := &f.shards[key%inflightShards]
	sh.mu.Lock()
	if n := sh.m[key]; n <= 1 {
		delete(sh.m, key)
	} else {
		sh.m[key] = n - 1
	}
	sh.mu.Unlock()
}

// newPrefixes validates exemption prefixes.
func newPrefixes(field string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		switch {
		case !p.IsValid():
			return nil, &ConfigError{Field: field, Value: p.String(), Reason: "not a valid prefix"}
		case p.Bits() == 0:
			return nil, &ConfigError{Field: field, Value: p.String(), Reason: "exempting every address disables the limits"}
		}
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		out = append(out, netip.PrefixFrom(a.WithZone(""), bits).Masked())
	}
	return out, nil
}
