package jwt

// CacheLen reports the number of entries in v's verified-token cache.
func CacheLen(v *Verifier) int {
	n := 0
	for i := range v.cache.shards {
		s := &v.cache.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
