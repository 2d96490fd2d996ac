package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/ratelimit"
)

// limitSet holds the policies by name and the store they share.
type limitSet struct {
	policies map[string]RateLimitPolicy
	*limitStore
	now   func() time.Time
	hooks ratelimit.Hooks
}

// limitStore is the rate-limit state: kept across reloads while
// ratelimit.store does not change, so that the counters of every policy
// whose definition did not change go on (a policy's state is keyed by its
// name, rate and burst).
type limitStore struct {
	store   ratelimit.Store
	shared  bool // a fleet-wide store: fall back to local limits when it fails
	hashKey []byte
	ping    func(context.Context) error
}

func (g *Gateway) buildRateLimits(cfg *Config, o Options, prev *parts) (*limitSet, error) {
	m := g.metrics
	ls := &limitSet{policies: map[string]RateLimitPolicy{}, now: o.Now, hooks: ratelimit.Hooks{
		OnStoreLatency: func(d time.Duration, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.store.WithLabelValues(result).Observe(d.Seconds())
		},
		OnDecision: func(policy string, o ratelimit.Outcome) {
			m.decisions.WithLabelValues(policy, outcomeName(o)).Inc()
			switch o {
			case ratelimit.FailedLocal:
				m.fallback.Set(1)
			case ratelimit.Allowed, ratelimit.Denied:
				m.fallback.Set(0)
			}
		},
	}}
	for _, p := range cfg.RateLimit.Policies {
		ls.policies[p.Name] = p
	}
	store := cfg.RateLimit.Store
	if store == "" {
		store = "memory"
	}
	if v, ok := g.parts.take(prev, "ratelimit", store); ok {
		ls.limitStore = v.(*limitStore)
	} else if store == "memory" {
		ms, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			return nil, err
		}
		st := &limitStore{store: ms, hashKey: make([]byte, 16)}
		_, _ = rand.Read(st.hashKey)
		ls.limitStore = st
		g.parts.add("ratelimit", store, st, nil)
	} else {
		s, closeFn, ping, err := newRedisStore(store)
		if err != nil {
			return nil, err
		}
		// Instances sharing Redis must share the key that spreads request
		// keys over buckets. It is derived from the store URL, which holds
		// the Redis credentials when there are any.
		sum := sha256.Sum256([]byte("bulwark ratelimit hash key\x00" + store))
		ls.limitStore = &limitStore{store: s, shared: true, hashKey: sum[:16], ping: ping}
		g.parts.add("ratelimit", store, ls.limitStore, closeFn)
	}
	if ls.ping != nil {
		g.addDependency(dependency{name: "ratelimit store", check: ls.ping, fallback: "limits kept per instance"})
	}
	return ls, nil
}

// limiters builds the route's two limiters: policies keyed by the client
// (before authentication) and by the principal (after it). route names
// the route for route-keyed policies.
func (ls *limitSet) limiters(names []string, authenticates bool, route string) (before, after *ratelimit.Limiter, err error) {
	var pre, post []ratelimit.Policy
	for _, n := range names {
		p := ls.policies[n]
		rp := ratelimit.Policy{Name: p.Name, Quota: int64(p.Limit), Period: time.Duration(p.Period), Burst: int64(p.Burst)}
		if ls.shared {
			// Redis down: keep limiting, per instance, rather than refusing
			// every request (FailClosed) or none (FailOpen).
			rp.OnStoreError = ratelimit.FailLocal
		}
		switch {
		case p.Key == "ip":
			rp.Key = []ratelimit.KeyPart{ratelimit.ClientIPPrefix(64)}
			pre = append(pre, rp)
		case strings.HasPrefix(p.Key, "header:"):
			rp.Key = []ratelimit.KeyPart{ratelimit.Header(strings.TrimPrefix(p.Key, "header:"))}
			pre = append(pre, rp)
		case p.Key == "route":
			// The configured route, never the raw path: a client must not be
			// able to mint new buckets by varying the URL.
			rp.Key = []ratelimit.KeyPart{ratelimit.Func(func(*http.Request) (string, bool) { return route, true })}
			pre = append(pre, rp)
		case p.Key == "subject" || p.Key == "api_key":
			if !authenticates {
				continue // no principal on an auth: none route
			}
			rp.Key = []ratelimit.KeyPart{ratelimit.Principal(subjectIdentity{})}
			post = append(post, rp)
		}
	}
	mk := func(ps []ratelimit.Policy) (*ratelimit.Limiter, error) {
		if len(ps) == 0 {
			return nil, nil
		}
		return ratelimit.New(ratelimit.Config{Policies: ps, Store: ls.store, HashKey: ls.hashKey, Now: ls.now, Hooks: ls.hooks})
	}
	if before, err = mk(pre); err != nil {
		return nil, nil, err
	}
	after, err = mk(post)
	return before, after, err
}

// subjectIdentity reads the authenticated subject for per-principal limits.
type subjectIdentity struct{}

func (subjectIdentity) RateLimitID(r *http.Request) (string, bool) { return auth.Subject(r.Context()) }

// outcomeName labels a rate-limit decision.
func outcomeName(o ratelimit.Outcome) string {
	switch o {
	case ratelimit.Allowed:
		return "allowed"
	case ratelimit.Denied:
		return "denied"
	case ratelimit.ShadowDenied:
		return "shadow_denied"
	case ratelimit.FailedOpen:
		return "failed_open"
	case ratelimit.FailedLocal:
		return "failed_local"
	case ratelimit.FailedClosed:
		return "failed_closed"
	}
	return "other"
}
