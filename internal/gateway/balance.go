package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/clientip"
)

// balancer picks the target for a request among those in the rotation
// (available at now) and not yet tried, or nil when there is none.
type balancer func(r *http.Request, targets, tried []*target, now int64) *target

func newBalancer(lb string) (balancer, error) {
	switch lb {
	case "", "round_robin":
		return roundRobin(), nil
	case "least_requests":
		return leastRequests(), nil
	case "ip_hash":
		return ipHash(), nil
	}
	return nil, fmt.Errorf("unknown lb %q", lb)
}

// roundRobin hands requests to each target in turn, skipping those out of
// the rotation.
func roundRobin() balancer {
	var next atomic.Uint64
	return func(_ *http.Request, targets, tried []*target, now int64) *target {
		n := uint64(len(targets))
		start := next.Add(1)
		for i := range n {
			t := targets[(start+i)%n]
			if t.available(now) && !slices.Contains(tried, t) {
				return t
			}
		}
		return nil
	}
}

// leastRequests hands a request to the target with the fewest requests in
// flight; ties go round robin, so that an idle service still spreads.
func leastRequests() balancer {
	var next atomic.Uint64
	return func(_ *http.Request, targets, tried []*target, now int64) *target {
		n := uint64(len(targets))
		start := next.Add(1)
		var best *target
		for i := range n {
			t := targets[(start+i)%n]
			if !t.available(now) || slices.Contains(tried, t) {
				continue
			}
			if best == nil || t.inflight.Load() < best.inflight.Load() {
				best = t
			}
		}
		return best
	}
}

// ipHash sends each client (by the address clientip resolved, IPv6 by its
// /64) to the same target, by rendezvous hashing: when a target leaves the
// rotation only its own clients move. The hash has no per-process seed, so
// every instance of a fleet sends a client to the same target.
func ipHash() balancer {
	return func(r *http.Request, targets, tried []*target, now int64) *target {
		client := clientip.Aggregate(clientip.FromRequest(r), 64).String()
		var (
			best  *target
			score uint64
		)
		for _, t := range targets {
			if !t.available(now) || slices.Contains(tried, t) {
				continue
			}
			if s := fnv1a(fnv1a(fnvOffset, client+"\x00"), t.name); best == nil || s > score {
				best, score = t, s
			}
		}
		return best
	}
}

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

// fnv1a continues an FNV-1a 64 hash h over s.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}
