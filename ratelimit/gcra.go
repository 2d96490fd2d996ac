package ratelimit

import "time"

// maxNow bounds the decision time accepted by the memory store (2^61 ns
// after the Unix epoch, in the year 2043+31). With tolerances at most
// [MaxTolerance] every sum below stays under 2^62, the eviction flag.
const maxNow = int64(1) << 61

// gcra decides cost units against one limit whose theoretical arrival time
// is tat (0 or anything <= now for a fresh key), at time now (ns). It
// returns the new TAT to store when allowed. All arithmetic is integer and
// cannot overflow for now < maxNow, tat < 2^62, Burst*Interval <= MaxTolerance
// and cost >= 1 (cost > Burst is refused before any multiplication by cost).
func gcra(tat, now, cost int64, l *Limit) (newTAT int64, r Result) {
	tau := l.Burst * l.Interval
	base := max(tat, now)
	used := base - now // time already owed, <= tau for any state we store
	if cost > l.Burst {
		r.Remaining = remaining(tau, used, l.Interval)
		r.ResetAfter = time.Duration(used)
		return tat, r
	}
	newTAT = base + cost*l.Interval
	owed := newTAT - now
	if owed > tau {
		r.Remaining = remaining(tau, used, l.Interval)
		r.ResetAfter = time.Duration(used)
		r.RetryAfter = time.Duration(owed - tau)
		return tat, r
	}
	r.Allowed = true
	r.Remaining = remaining(tau, owed, l.Interval)
	r.ResetAfter = time.Duration(owed)
	return newTAT, r
}

func remaining(tau, owed, interval int64) int64 {
	if owed >= tau {
		return 0
	}
	return (tau - owed) / interval
}

// unchargedResult describes a limit that would have allowed a request the
// decision refused: its state without the charge.
func unchargedResult(tat, now int64, l *Limit) Result {
	used := max(tat, now) - now
	return Result{
		Allowed:    true,
		Remaining:  remaining(l.Burst*l.Interval, used, l.Interval),
		ResetAfter: time.Duration(used),
	}
}
