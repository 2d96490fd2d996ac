package audit

import (
	"net/netip"
	"sync"
	"time"
)

// floodKey identifies "the same denial": the first security event's name,
// the status, the route (or path, or an out-of-request event's reason) and
// the client's aggregated address.
type floodKey struct {
	client netip.Prefix
	event  string
	route  string
	status int
}

type floodEntry struct {
	start      time.Time
	suppressed int
}

// summary is one "audit.aggregate" record to write.
type summary struct {
	key        floodKey
	start, end time.Time
	count      int
}

// flood is the aggregation table. Entries live for one interval; a sweep
// at most once per interval writes the summaries of expired entries and
// drops them, so the table holds only the keys seen in the last two
// intervals and never more than maxKeys (+1 overflow entry per event).
type flood struct {
	mu        sync.Mutex
	every     time.Duration
	maxKeys   int
	m         map[floodKey]*floodEntry
	lastSweep time.Time
}

func newFlood(every time.Duration, maxKeys int) *flood {
	return &flood{every: every, maxKeys: maxKeys, m: make(map[floodKey]*floodEntry)}
}

// allow reports whether a denial with key k seen at now is written (the
// first of its window) rather than counted, and returns the summaries that
// became due.
func (f *flood) allow(k floodKey, now time.Time) (bool, []summary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sums := f.sweepLocked(now, false)
	e, ok := f.m[k]
	if !ok && len(f.m) >= f.maxKeys {
		// Table full: fold this key into its event's overflow entry.
		k = floodKey{event: k.event, status: k.status, route: "*"}
		e, ok = f.m[k]
	}
	switch {
	case !ok:
		f.m[k] = &floodEntry{start: now}
		return true, sums
	case now.Sub(e.start) < f.every:
		e.suppressed++
		return false, sums
	default:
		if e.suppressed > 0 {
			sums = append(sums, summary{key: k, start: e.start, end: now, count: e.suppressed})
		}
		*e = floodEntry{start: now}
		return true, sums
	}
}

// sweep returns due summaries; with all, every pending one (Close).
func (f *flood) sweep(now time.Time, all bool) []summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sweepLocked(now, all)
}

func (f *flood) sweepLocked(now time.Time, all bool) []summary {
	if !all && now.Sub(f.lastSweep) < f.every {
		return nil
	}
	f.lastSweep = now
	var sums []summary
	for k, e := range f.m {
		if all || now.Sub(e.start) >= f.every {
			if e.suppressed > 0 {
				sums = append(sums, summary{key: k, start: e.start, end: now, count: e.suppressed})
			}
			delete(f.m, k)
		}
	}
	return sums
}
