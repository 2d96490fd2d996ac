package redisstore

import (
	"sync/atomic"
	"time"
)

// breaker is a consecutive-failure circuit breaker: threshold failures in
// a row open it for cooldown; then one call at a time probes, and the
// first success closes it. Closed, it costs two atomic loads per call.
type breaker struct {
	threshold int64
	cooldown  int64 // ns
	now       func() time.Time
	onChange  func(open bool)

	fails     atomic.Int64
	openUntil atomic.Int64 // Unix ns; 0 while closed
	probing   atomic.Bool
}

// allow reports whether a call may go to Redis, and whether it is the
// half-open probe.
func (b *breaker) allow() (probe, ok bool) {
	until := b.openUntil.Load()
	if until == 0 {
		return false, true
	}
	if b.now().UnixNano() < until {
		return false, false
	}
	if b.probing.CompareAndSwap(false, true) {
		return true, true
	}
	return false, false
}

// done records the outcome of a call allowed by allow.
func (b *breaker) done(probe bool, err error) {
	if err == nil {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		if b.openUntil.Load() != 0 && b.openUntil.Swap(0) != 0 && b.onChange != nil {
			b.onChange(false)
		}
		if probe {
			b.probing.Store(false)
		}
		return
	}
	if probe {
		b.openUntil.Store(b.now().UnixNano() + b.cooldown)
		b.probing.Store(false)
		return
	}
	if b.fails.Add(1) >= b.threshold && b.openUntil.CompareAndSwap(0, b.now().UnixNano()+b.cooldown) {
		b.fails.Store(0)
		if b.onChange != nil {
			b.onChange(true)
		}
	}
}

// abandon releases a probe whose caller gave up before Redis answered.
func (b *breaker) abandon(probe bool) {
	if probe {
		b.probing.Store(false)
	}
}
