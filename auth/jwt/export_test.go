package jwt

import "github.com/bulwark-go/bulwark/auth"

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

// CachedPrincipal returns the principal v's cache holds for tok, or nil.
func CachedPrincipal(v *Verifier, tok string) *auth.Principal {
	if e := v.cache.get(v.hash(tok), v.now()); e != nil {
		return e.p
	}
	return nil
}
